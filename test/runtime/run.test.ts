import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { csv, MemoryBudget, pipeline, run, runOrThrow, type RunSummary, SluiceError, toCsv } from '../../src/index.ts';
import { formatSummary } from '../../src/runtime/format-summary.ts';
import { collect, counting, fromRows, tempDir } from '../support/fakes.ts';

const dir = await tempDir('sluice-run-');
const MB = 1024 * 1024;

function assertAccounted(summary: RunSummary): void {
  const { read, written, dropped, rejected } = summary.rows;
  assert.equal(read, written + dropped + rejected, `read ${read} = written ${written} + dropped ${dropped} + rejected ${rejected}`);
}

const Row = z.object({ id: z.int().min(0).max(100_000), group: z.enum(['a', 'b', 'c']), amount: z.number() });
const csvPath = join(dir, 'rows.csv');
const csvRows = 5_000;
{
  const lines = ['id,group,amount'];
  for (let i = 0; i < csvRows; i++) {
    // Every 1000th row breaks the schema (group "z").
    lines.push(`${i},${i % 1000 === 999 ? 'z' : 'abc'[i % 3]},${(i * 0.25).toFixed(2)}`);
  }
  await writeFile(csvPath, `${lines.join('\n')}\n`);
}

describe('run', () => {
  test('every row is accounted for: read = written + dropped + rejected, on several pipelines', async () => {
    const source = () => csv(csvPath, { engine: 'csv-parse', schema: Row });
    const rejects = (name: string) => ({ path: join(dir, `${name}.rejects.ndjson`) });
    const cases = [
      pipeline({ rejects: rejects('plain') }).from(source()).to(collect()),
      pipeline({ rejects: rejects('filter') })
        .from(source())
        .filter((r) => r.group !== 'b')
        .derive({ double: (r) => r.amount * 2 })
        .filter((r) => r.double > 100)
        .to(collect()),
      pipeline({ rejects: rejects('take') }).from(source()).filter((r) => r.id % 2 === 0).take(1234).to(collect()),
      pipeline({ rejects: rejects('csv') }).from(source()).select('id').to(toCsv(join(dir, 'out.csv'))),
      pipeline().from(counting(10, 100)).filter((r) => r.n % 7 === 0).to(collect()),
    ];
    const summaries = await run(cases, { concurrency: 2 });
    for (const summary of summaries) {
      assert.equal(summary.status, 'succeeded', summary.error?.message);
      assertAccounted(summary);
    }
    assert.deepEqual(summaries[0].rows, { read: csvRows, written: csvRows - 5, dropped: 0, rejected: 5 });
    assert.equal(summaries[2].rows.written, 1234);
    assert.deepEqual(summaries[4].rows, { read: 1000, written: 143, dropped: 857, rejected: 0 });
  });

  test('reserved bytes never exceed the budget at any batch, with a small budget and a slow sink', async () => {
    const budget = new MemoryBudget(4 * MB);
    let batches = 0;
    const sink = collect({
      delayMs: 2,
      keep: false,
      onBatch() {
        batches++;
        assert.ok(budget.reserved <= budget.limit, `reserved ${budget.reserved} > limit ${budget.limit}`);
        assert.ok(budget.reserved > 0, 'the batch being written is still reserved');
      },
    });
    // 40 batches of 100k rows: 400KB of uint32 values and 400KB of line numbers each, 32MB in all.
    const summary = await runOrThrow(pipeline().from(counting(40, 100_000)).to(sink), { budget });
    assert.equal(batches, 40);
    assert.equal(summary.rows.written, 4_000_000);
    assert.ok(summary.memory.peakReserved <= 4 * MB, `peak ${summary.memory.peakReserved}`);
    assert.ok(summary.memory.peakReserved >= 800_000, 'at least one batch was reserved');
    assert.equal(summary.memory.budget, 4 * MB);
    assert.equal(budget.reserved, 0, 'every reservation was returned');
    assert.ok(summary.batches.columnarBytes === 40 * 800_000);
  });

  test('a file source adapts its batch size to the budget and stays within it', async () => {
    const budget = new MemoryBudget(4 * MB);
    const sink = collect({
      delayMs: 1,
      keep: false,
      onBatch() {
        assert.ok(budget.reserved <= budget.limit);
      },
    });
    const summary = await runOrThrow(
      pipeline({ batchRows: 512, rejects: { path: join(dir, 'budget.rejects.ndjson') } })
        .from(csv(csvPath, { engine: 'csv-parse', schema: Row }))
        .filter((r) => r.group === 'a')
        .to(sink),
      { budget },
    );
    assertAccounted(summary);
    assert.ok(summary.memory.peakReserved <= budget.limit);
    assert.ok(summary.batches.count >= 5);
    assert.equal(budget.reserved, 0);
  });

  test('all reservations are returned after a failed run', async () => {
    const budget = new MemoryBudget(4 * MB);
    let seen = 0;
    const summary = await run(
      pipeline()
        .from(counting(20, 50_000))
        .tap(() => {
          if (++seen === 5) throw new Error('stop');
        })
        .to(collect({ delayMs: 1 })),
      { budget },
    );
    assert.equal(summary.status, 'failed');
    assert.equal(budget.reserved, 0);
  });

  test('all reservations are returned after a sink that fails', async () => {
    const budget = new MemoryBudget(4 * MB);
    let seen = 0;
    const summary = await run(
      pipeline()
        .from(counting(20, 50_000))
        .to(
          collect({
            onBatch() {
              if (++seen === 3) throw new SluiceError('OUTPUT_WRITE', 'disk full');
            },
          }),
        ),
      { budget },
    );
    assert.equal(summary.status, 'failed');
    assert.equal(summary.error?.code, 'OUTPUT_WRITE');
    assert.equal(budget.reserved, 0);
  });

  test('limit stops each source after that many rows', async () => {
    const sink = collect();
    const source = fromRows(
      Array.from({ length: 1000 }, (_, i) => ({ i })),
      undefined,
      { batchRows: 100 },
    );
    const summary = await runOrThrow(pipeline().from(source).to(sink), { limit: 150 });
    assert.equal(sink.rows.length, 150);
    assert.equal(source.probe.rowsYielded, 150);
    assert.deepEqual(summary.rows, { read: 150, written: 150, dropped: 0, rejected: 0 });
  });

  test('a budget below the minimum is refused with MEMORY_BUDGET_TOO_SMALL', async () => {
    await assert.rejects(run(pipeline().from(counting(1, 1)).to(collect()), { memory: '1MB' }), { code: 'MEMORY_BUDGET_TOO_SMALL' });
  });

  test('runOrThrow throws the run\'s SluiceError', async () => {
    await assert.rejects(
      runOrThrow(
        pipeline()
          .from(counting(1, 1))
          .tap(() => {
            throw new Error('bad tap');
          })
          .to(collect()),
      ),
      (error: unknown) => error instanceof SluiceError && error.code === 'STAGE_FAILED' && error.details.stage === 'tap',
    );
  });

  test('an aborted run fails with ABORTED and returns its reservations', async () => {
    const budget = new MemoryBudget(4 * MB);
    const controller = new AbortController();
    let seen = 0;
    const summary = await run(
      pipeline()
        .from(counting(50, 10_000))
        .to(
          collect({
            delayMs: 1,
            onBatch() {
              if (++seen === 3) controller.abort();
            },
          }),
        ),
      { budget, signal: controller.signal },
    );
    assert.equal(summary.status, 'failed');
    assert.equal(summary.error?.code, 'ABORTED');
    assert.equal(budget.reserved, 0);
  });
});

test('a failed run counts rows still in a stage as in flight, not dropped', async () => {
  const rows = Array.from({ length: 6 }, (_, i) => ({ id: i }));
  const summary = await run(
    pipeline()
      .from(fromRows(rows, z.object({ id: z.number() }), { batchRows: 2 }))
      .filter((row) => row.id !== 1)
      .pipe(async function* explode(input) {
        for await (const batch of input) {
          if (batch.toObjects().some((row) => row.id === 4)) throw new Error('boom');
          yield batch;
        }
      })
      .to(collect()),
  );
  assert.equal(summary.status, 'failed');
  // filter dropped row 1; rows 4 and 5 were in the failing stage when the run stopped.
  assert.equal(summary.rows.dropped, 1);
  assert.equal(summary.rows.read, summary.rows.written + summary.rows.dropped + summary.rows.rejected + (summary.rows.inFlight ?? 0));
  assert.ok((summary.rows.inFlight ?? 0) >= 2);
});

test('run([...]) runs `concurrency` pipelines at a time, in order of the list, and a long one does not hold the next back', async () => {
  let active = 0;
  let maxActive = 0;
  const started: string[] = [];
  const sinkFor = (name: string, ms: number) => {
    const memory = collect();
    return {
      ...memory,
      async write(input: AsyncIterable<any>, context: any) {
        active++;
        maxActive = Math.max(maxActive, active);
        started.push(name);
        try {
          await new Promise((resolve) => setTimeout(resolve, ms));
          return await memory.write(input, context);
        } finally {
          active--;
        }
      },
    };
  };
  const durations = [300, 20, 20, 20];
  const summaries = await run(
    durations.map((ms, k) => pipeline({ name: `p${k}` }).from(counting(1, 10)).to(sinkFor(`p${k}`, ms))),
    { concurrency: 2 },
  );
  assert.deepEqual(
    summaries.map((summary) => summary.pipeline),
    ['p0', 'p1', 'p2', 'p3'],
  );
  assert.equal(maxActive, 2);
  assert.deepEqual(started, ['p0', 'p1', 'p2', 'p3']);
  assert.ok(Date.parse(summaries[3].endedAt) < Date.parse(summaries[0].endedAt), 'p2 and p3 ran while p0 was still going');
});

test('a 60-row input is one batch of 60 in both the report and the summary, which also names the batch size', async () => {
  const summary = await runOrThrow(pipeline().from(counting(1, 60)).to(collect()));
  assert.equal(summary.batches.count, 1);
  assert.equal(summary.batches.meanRows, 60);
  assert.ok(summary.batches.rowsPerBatch >= 60, `size ${summary.batches.rowsPerBatch}`);
  assert.match(formatSummary(summary), new RegExp(`batches +1 × ~60 rows \\(size ${summary.batches.rowsPerBatch.toLocaleString('en-US')}\\):`));
});
