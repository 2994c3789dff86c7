// Invariants of the memory budget on small data: reserved ≤ budget at every batch, one budget over many
// pipelines, every byte given back (also after a failure), oversized records, stalls.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Batch } from '../../src/batch/batch.ts';
import { Column } from '../../src/batch/column.ts';
import { MemoryBudget, mapBatches, pipeline, run, type Source, type Stage } from '../../src/index.ts';
import { collect, counting } from '../support/fakes.ts';

const MB = 1024 * 1024;

/** Rows of `{ n }` as uint32 plus a line number: 8 bytes a row, so 131072 rows are 1 MB. */
function batchesOf(batches: number, rowsPerBatch: number) {
  return counting(batches, rowsPerBatch);
}

test('with a slow sink, bytes reserved stay within the budget at every batch', async () => {
  const budget = new MemoryBudget(4 * MB);
  let checked = 0;
  const sink = collect({
    delayMs: 5,
    onBatch: () => {
      checked++;
      assert.ok(budget.reserved <= budget.limit, `reserved ${budget.reserved} > limit ${budget.limit}`);
    },
  });
  // mapBatches with 8 in flight would hold 8 × 1 MB: the budget must make the source wait instead.
  const summary = await run(
    pipeline({ name: 'slow' })
      .from(batchesOf(30, 131072))
      .pipe(mapBatches(async (batch) => batch, { concurrency: 8 }))
      .to(sink),
    { budget },
  );
  assert.equal(summary.status, 'succeeded', summary.error?.message);
  assert.equal(checked, 30);
  assert.ok(summary.memory.peakReserved <= budget.limit);
  assert.ok(summary.memory.peakReserved >= 3 * MB, `the budget was used: ${summary.memory.peakReserved}`);
  assert.equal(budget.reserved, 0);
});

test('eight pipelines asked at once under a 4 MB budget never exceed it, and give every byte back', async () => {
  const budget = new MemoryBudget(4 * MB);
  let worst = 0;
  const pipelines = Array.from({ length: 8 }, (_, k) =>
    pipeline({ name: `p${k}` })
      .from(batchesOf(10, 65536))
      .pipe(mapBatches(async (batch) => batch, { concurrency: 3 }))
      .to(
        collect({
          delayMs: 1,
          onBatch: () => {
            worst = Math.max(worst, budget.reserved);
            assert.ok(budget.reserved <= budget.limit);
          },
        }),
      ),
  );
  const summaries = await run(pipelines, { budget, concurrency: 8 });
  assert.deepEqual(
    summaries.map((summary) => summary.status),
    Array(8).fill('succeeded'),
  );
  assert.ok(budget.peakReserved <= budget.limit, `peak ${budget.peakReserved}`);
  assert.ok(worst > MB, 'the budget was used');
  assert.equal(budget.reserved, 0);
  // 4 MB holds the fixed costs of one pipeline at a time: the others waited their turn, and each summary says so.
  for (const summary of summaries) assert.ok(summary.warnings.some((warning) => warning.code === 'CONCURRENCY_CAPPED'), summary.pipeline);
});

test('more pipelines at once than the budget holds the fixed costs of are run fewer at a time, and told', async () => {
  let running = 0;
  let most = 0;
  /** Counts the pipelines reading at once: from the first batch asked for to the source's end. */
  const source = (): Source => {
    const inner = batchesOf(3, 1000);
    return {
      ...inner,
      async *read(context) {
        running++;
        most = Math.max(most, running);
        try {
          for await (const batch of inner.read(context)) {
            await new Promise((resolve) => setTimeout(resolve, 5));
            yield batch;
          }
        } finally {
          running--;
        }
      },
    };
  };
  for (const [memory, held] of [['32MB', 2], ['128MB', 8]] as const) {
    running = 0;
    most = 0;
    const summaries = await run(
      Array.from({ length: 16 }, (_, k) => pipeline({ name: `many${k}` }).from(source()).to(collect())),
      { memory, concurrency: 16 },
    );
    assert.deepEqual(new Set(summaries.map((summary) => summary.status)), new Set(['succeeded']));
    assert.equal(most, held, `${memory}: at most ${held} at once (8 MB of fixed costs each, in half the budget)`);
    const warning = summaries[0].warnings.find((w) => w.code === 'CONCURRENCY_CAPPED');
    assert.match(warning?.message ?? '', new RegExp(`concurrency 16 asked, ${held} run at once`));
  }
  // Enough memory for all: no cap, no warning.
  const roomy = await run(
    Array.from({ length: 4 }, (_, k) => pipeline({ name: `few${k}` }).from(source()).to(collect())),
    { memory: '256MB', concurrency: 4 },
  );
  assert.ok(roomy.every((summary) => summary.warnings.length === 0));
});

test('run(pipelines, { memory, concurrency }) makes one budget for all of them', async () => {
  const summaries = await run(
    Array.from({ length: 3 }, (_, k) => pipeline({ name: `q${k}` }).from(batchesOf(4, 1000)).to(collect())),
    { memory: '8MB', concurrency: 3 },
  );
  for (const summary of summaries) assert.equal(summary.memory.budget, 8 * MB);
});

test('every reserved byte is given back when the sink fails', async () => {
  const budget = new MemoryBudget(4 * MB);
  const summary = await run(
    pipeline({ name: 'failing' })
      .from(batchesOf(10, 65536))
      .pipe(mapBatches(async (batch) => batch, { concurrency: 4 }))
      .to(
        collect({
          onBatch: (batch) => {
            if ((batch.column('n').data[0] as number) >= 3 * 65536) throw new Error('disk full');
          },
        }),
      ),
    { budget },
  );
  assert.equal(summary.status, 'failed');
  assert.match(summary.error!.message, /disk full/);
  assert.equal(budget.reserved, 0);
});

test('every reserved byte is given back when a stage fails', async () => {
  const budget = new MemoryBudget(4 * MB);
  let seen = 0;
  const summary = await run(
    pipeline({ name: 'stage-fails' })
      .from(batchesOf(10, 65536))
      .tap(() => {
        if (++seen === 4) throw new Error('bad batch');
      })
      .to(collect()),
    { budget },
  );
  assert.equal(summary.status, 'failed');
  assert.equal(summary.error!.code, 'STAGE_FAILED');
  assert.equal(budget.reserved, 0);
});

/** A source of one batch from a file, with a string column, as a CSV source would make it. */
function stringSource(values: string[], file = 'wide.csv'): Source {
  return {
    kind: 'test',
    location: file,
    async describe() {
      return { kind: 'test', location: file };
    },
    async *read() {
      const lines = Int32Array.from(values, (_, i) => i + 2);
      yield new Batch({ text: new Column('string', values.length, values, null) }, values.length, { file }, lines);
    },
  };
}

test('a single record larger than the budget fails with RECORD_EXCEEDS_BUDGET naming file and line', async () => {
  const values = ['small', 'small', 'x'.repeat(5 * MB), 'small'];
  const summary = await run(pipeline({ name: 'huge' }).from(stringSource(values)).to(collect()), { memory: '4MB' });
  assert.equal(summary.status, 'failed');
  assert.equal(summary.error!.code, 'RECORD_EXCEEDS_BUDGET');
  assert.equal(summary.error!.file, 'wide.csv');
  assert.equal(summary.error!.line, 4);
  assert.match(summary.error!.message, /wide\.csv:4 takes about 5\.0 MB in memory, more than the whole memory budget of 4\.0 MB; raise --memory above 5\.0 MB/);
});

test('a batch larger than the budget whose rows fit goes on in pieces, within the budget', async () => {
  const budget = new MemoryBudget(4 * MB);
  const values = Array.from({ length: 12 }, (_, i) => `${i}`.padEnd(512 * 1024, '.'));
  const sink = collect({ onBatch: () => assert.ok(budget.reserved <= budget.limit) });
  const summary = await run(pipeline({ name: 'wide' }).from(stringSource(values)).to(sink), { budget });
  assert.equal(summary.status, 'succeeded', summary.error?.message);
  assert.equal(sink.rows.length, 12);
  assert.ok(sink.batches.length > 1);
  assert.deepEqual(
    sink.rows.map((row) => (row.text as string).split('.')[0]),
    values.map((_, i) => `${i}`),
  );
  assert.ok(budget.peakReserved <= budget.limit);
});

test('a stage that buffers every batch fails with NO_PROGRESS naming it, instead of hanging', async () => {
  // It says it keeps them (context.memory.keep), as a stage that buffers batches on purpose must.
  const hoard: Stage = async function* hoard(input, { memory }) {
    const kept: Batch[] = [];
    for await (const batch of input) {
      memory.keep(batch);
      kept.push(batch);
    }
    yield* kept;
  };
  hoard.stageName = 'hoard';
  const budget = new MemoryBudget(4 * MB);
  const source = batchesOf(100, 131072);
  const summary = await run(pipeline({ name: 'stuck', stallTimeoutMs: 200 }).from(source).pipe(hoard).to(collect()), { budget });
  assert.equal(summary.status, 'failed');
  assert.equal(summary.error!.code, 'NO_PROGRESS');
  assert.equal(summary.error!.stage, 'hoard');
  assert.match(summary.error!.message, /stage hoard holds \d+ bytes/);
  assert.ok(source.probe.closed, 'the source was closed');
  assert.ok(source.probe.batchesYielded < 100);
  assert.equal(budget.reserved, 0);
});

test('a budget too small is refused at start with the minimum', async () => {
  await assert.rejects(run(pipeline().from(batchesOf(1, 10)).to(collect()), { memory: '1KB' }), {
    code: 'MEMORY_BUDGET_TOO_SMALL',
    message: /1\.0 KB is too small to run: Sluice needs at least 4\.0 MB/,
  });
  await assert.rejects(run(pipeline().from(batchesOf(1, 10)).to(collect()), { memory: 'abc' }), { code: 'INVALID_OPTION' });
});

test('batch size adapts to the measured bytes per row', async () => {
  const summary = await run(pipeline({ name: 'adapt' }).from(widthSource(2000, 8 * 1024)).to(collect()), { memory: '16MB' });
  assert.equal(summary.status, 'succeeded', summary.error?.message);
  // (16 MB less the pipeline's fixed costs, at most half the budget: 8 MB) / 8 batches in flight / ~8 KB a row ≈ 127 rows, far below the 16384 default.
  assert.ok(summary.batches.rowsPerBatch < 150 && summary.batches.rowsPerBatch > 100, `rows per batch ${summary.batches.rowsPerBatch}`);
});

/** A source that asks the run for its batch size, with rows of `width` characters. */
function widthSource(rows: number, width: number): Source {
  return {
    kind: 'test',
    location: 'wide rows',
    async describe() {
      return { kind: 'test', location: 'wide rows' };
    },
    async *read(context) {
      let made = 0;
      while (made < rows) {
        const count = Math.min(context.batchRows(), rows - made);
        const values = Array.from({ length: count }, () => 'y'.repeat(width));
        made += count;
        yield new Batch({ text: new Column('string', count, values, null) }, count, {});
      }
    },
  };
}

test('tryReserve takes only what fits now: never past the limit, not under pressure', () => {
  const budget = new MemoryBudget(4 * MB);
  assert.equal(budget.tryReserve(4 * MB + 1), false, 'an empty budget does not grant more than its limit');
  assert.equal(budget.tryReserve(3 * MB), true);
  assert.equal(budget.tryReserve(MB + 1), false);
  assert.equal(budget.reserved, 3 * MB);
  budget.setPressure(true);
  assert.equal(budget.tryReserve(1), false, 'under pressure a stage spills rather than grows');
  budget.setPressure(false);
  assert.equal(budget.tryReserve(MB), true);
  assert.equal(budget.reserved, 4 * MB);
  budget.release(4 * MB, 'state');
  assert.equal(budget.reserved, 0);
  assert.equal(budget.reservedForState, 0);
});

test('under pressure a source waits for batches in flight, not for state a stage keeps', async () => {
  const budget = new MemoryBudget(8 * MB);
  await budget.reserve(2 * MB, undefined, 'state');
  budget.setPressure(true);
  await budget.reserve(MB); // only state is reserved: granted
  let granted = false;
  const next = budget.reserve(MB).then(() => (granted = true));
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(granted, false, 'a batch is in flight: wait until it is written');
  budget.release(MB);
  await next;
  assert.equal(granted, true);
  assert.equal(budget.reserved, 3 * MB);
});
