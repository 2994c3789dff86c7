// Stages that consume more than they pass on (issue 12): a batch a stage drops gives its bytes back when
// the stage asks for its next input, so a selective filter or a fold over an input many times the budget
// runs through, with reserved ≤ budget at every batch, instead of stalling the source.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Batch } from '../../src/batch/batch.ts';
import { Column } from '../../src/batch/column.ts';
import { MemoryBudget, pipeline, run, type RunSummary, type Source, type Stage } from '../../src/index.ts';
import { collect } from '../support/fakes.ts';

const MB = 1024 * 1024;
const BUDGET = 4 * MB;
/** 131072 rows of a float64 column `n`: 1 MB a batch, a quarter of the budget. */
const ROWS_PER_BATCH = 131_072;
/** 100 batches: 100 MB, 25 times the budget, 13.1M rows (a million rows are 7.6 MB, nearly twice the budget). */
const BATCHES = 100;
const BATCH_BYTES = ROWS_PER_BATCH * 8;

/** A source of typed batches of `n` = 0, 1, 2, … made directly (no per-row decoding). */
function generated(batches = BATCHES): Source<{ n: number }> {
  return {
    kind: 'generated',
    location: `${batches}x${ROWS_PER_BATCH} rows`,
    async describe() {
      return { kind: 'generated', location: `${batches}x${ROWS_PER_BATCH} rows` };
    },
    async *read() {
      for (let b = 0; b < batches; b++) {
        const data = new Float64Array(ROWS_PER_BATCH);
        for (let i = 0; i < ROWS_PER_BATCH; i++) data[i] = b * ROWS_PER_BATCH + i;
        yield new Batch({ n: new Column('float64', ROWS_PER_BATCH, data, null) }, ROWS_PER_BATCH, {}) as Batch<{ n: number }>;
      }
    },
  };
}

/** Reads the budget at every batch that passes it. */
function budgetProbe(budget: MemoryBudget) {
  const probe = { batches: 0, worst: 0 };
  const check = () => {
    probe.batches++;
    probe.worst = Math.max(probe.worst, budget.reserved);
    assert.ok(budget.reserved <= budget.limit, `reserved ${budget.reserved} > budget ${budget.limit} at batch ${probe.batches}`);
  };
  return { probe, check };
}

function assertAccounted(summary: RunSummary): void {
  assert.equal(summary.status, 'succeeded', summary.error?.message);
  const { read, written, dropped, rejected } = summary.rows;
  assert.equal(read, BATCHES * ROWS_PER_BATCH);
  assert.equal(read, written + dropped + rejected, `read ${read} = written ${written} + dropped ${dropped} + rejected ${rejected}`);
  assert.ok(summary.memory.peakReserved <= summary.memory.budget, `peak reserved ${summary.memory.peakReserved}`);
}

test('a filter that keeps nothing runs through an input 25x the budget', async () => {
  const budget = new MemoryBudget(BUDGET);
  const before = budgetProbe(budget);
  const sink = collect({ onBatch: before.check });
  const summary = await run(
    pipeline({ name: 'none', stallTimeoutMs: 2000 })
      .from(generated())
      .tap(before.check)
      .filter((row) => row.n > 1e12)
      .to(sink),
    { budget },
  );
  assertAccounted(summary);
  assert.equal(summary.rows.written, 0);
  assert.equal(before.probe.batches, BATCHES + 1, 'every batch was seen, and the empty one at the end');
  assert.equal(budget.reserved, 0);
});

test('a filter that keeps one row in a million runs through, each kept row written', async () => {
  const budget = new MemoryBudget(BUDGET);
  const { probe, check } = budgetProbe(budget);
  const sink = collect<{ n: number }>({ onBatch: check });
  const summary = await run(
    pipeline({ name: 'one-in-a-million', stallTimeoutMs: 2000 })
      .from(generated())
      .tap(check)
      .filter((row) => row.n % 1_000_000 === 0)
      .to(sink),
    { budget },
  );
  assertAccounted(summary);
  assert.deepEqual(
    sink.rows.map((row) => row.n),
    Array.from({ length: 14 }, (_, k) => k * 1_000_000),
  );
  assert.equal(probe.batches, BATCHES + 14);
  assert.equal(budget.reserved, 0);
});

test('a folding stage that yields once at the end runs through, holding nothing it dropped', async () => {
  const budget = new MemoryBudget(BUDGET);
  const { probe, check } = budgetProbe(budget);
  let heldWhileFolding = 0;
  const total: Stage<{ n: number }, { sum: number }> = async function* total(input, context) {
    let sum = 0;
    for await (const batch of input) {
      const n = batch.column('n').data as Float64Array;
      for (let i = 0; i < batch.length; i++) sum += n[i];
      heldWhileFolding = Math.max(heldWhileFolding, budget.reserved);
    }
    assert.equal(context.memory.held, 0);
    yield new Batch({ sum: new Column('float64', 1, Float64Array.of(sum), null) }, 1, {}) as Batch<{ sum: number }>;
  };
  total.stageName = 'total';
  const sink = collect<{ sum: number }>({ onBatch: check });
  const summary = await run(pipeline({ name: 'fold', stallTimeoutMs: 2000 }).from(generated()).tap(check).pipe(total).to(sink), { budget });
  assertAccounted(summary);
  const rows = BATCHES * ROWS_PER_BATCH;
  assert.deepEqual(sink.rows, [{ sum: (rows * (rows - 1)) / 2 }]);
  assert.deepEqual(summary.rows, { read: rows, written: 1, dropped: rows - 1, rejected: 0 });
  assert.equal(probe.batches, BATCHES + 1);
  // The fold holds at most the batch it is summing and the ones on their way to it.
  assert.ok(heldWhileFolding <= 2 * BATCH_BYTES, `held ${heldWhileFolding} while folding`);
  assert.equal(summary.stages.find((stage) => stage.name === 'total')!.peakBytesHeld, BATCH_BYTES);
  assert.equal(budget.reserved, 0);
});

test('under memory pressure for the whole run, a filter that keeps nothing still makes progress', async () => {
  const budget = new MemoryBudget(BUDGET);
  // As if RSS stayed above the budget throughout: sources wait while batches are in flight.
  budget.setPressure(true);
  const summary = await run(
    pipeline({ name: 'pressed', stallTimeoutMs: 300 })
      .from(generated(30))
      .filter((row) => row.n > 1e12)
      .to(collect()),
    { budget },
  );
  assert.equal(summary.status, 'succeeded', summary.error?.message);
  assert.equal(summary.rows.dropped, 30 * ROWS_PER_BATCH);
  assert.equal(budget.reserved, 0);
});
