import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryBudget, mapBatches, orderedMap, pipeline, run } from '../../src/index.ts';
import { collect, counting } from '../support/fakes.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('mapBatches keeps input order with at most `concurrency` calls in flight', async () => {
  let inFlight = 0;
  let maxInFlight = 0;
  const sink = collect<{ n: number }>();
  const summary = await run(
    pipeline({ name: 'ordered', batchRows: 10 })
      .from(counting(20, 10))
      .pipe(
        mapBatches(
          async (batch) => {
            inFlight++;
            maxInFlight = Math.max(maxInFlight, inFlight);
            // Later batches finish first: order must still hold.
            await sleep(20 - ((batch.column('n').data[0] as number) / 10) % 7);
            inFlight--;
            return batch;
          },
          { concurrency: 3 },
        ),
      )
      .to(sink),
  );
  assert.equal(summary.status, 'succeeded', summary.error?.message);
  assert.deepEqual(
    sink.rows.map((row) => row.n),
    Array.from({ length: 200 }, (_, i) => i),
  );
  assert.equal(maxInFlight, 3);
});

test('mapBatches: a failing call fails the run, closes the source and gives the memory back', async () => {
  const budget = new MemoryBudget(8 * 1024 * 1024);
  const source = counting(50, 100);
  const summary = await run(
    pipeline({ name: 'fails' })
      .from(source)
      .pipe(
        mapBatches(
          async (batch) => {
            if ((batch.column('n').data[0] as number) === 500) throw new Error('lookup failed');
            await sleep(1);
            return batch;
          },
          { concurrency: 4 },
        ),
      )
      .to(collect()),
    { budget },
  );
  assert.equal(summary.status, 'failed');
  assert.equal(summary.error!.code, 'STAGE_FAILED');
  assert.match(summary.error!.message, /stage mapBatches failed: lookup failed/);
  assert.ok(source.probe.closed);
  assert.ok(source.probe.batchesYielded < 50);
  assert.equal(budget.reserved, 0);
});

test('mapBatches: batches in flight stay reserved while the sink writes an earlier one', async () => {
  const budget = new MemoryBudget(64 * 1024 * 1024);
  const heldAtSink: number[] = [];
  await run(
    pipeline({ name: 'carry' })
      .from(counting(12, 1000))
      .pipe(mapBatches(async (batch) => batch.head(batch.length), { concurrency: 4 }))
      .to(collect({ delayMs: 2, onBatch: () => heldAtSink.push(budget.reserved) })),
    { budget },
  );
  // Each batch is 8000 bytes (uint32 + line number). With 4 in flight, the reserved total at the sink
  // stays a few batches; if the first result carried all four, the others would ride free (lower figures).
  assert.ok(heldAtSink.every((reserved) => reserved % 8000 === 0 && reserved >= 8000), JSON.stringify(heldAtSink));
  assert.equal(budget.reserved, 0);
});

test('mapBatches validates concurrency at once', () => {
  assert.throws(() => mapBatches(async (batch) => batch, { concurrency: 0 }), {
    code: 'INVALID_OPTION',
    message: /mapBatches\(\): expected `concurrency` to be a whole number from 1 and up; got 0/,
  });
});

test('orderedMap stops pulling when the consumer stops', async () => {
  let pulled = 0;
  async function* numbers() {
    for (let i = 0; i < 100; i++) {
      pulled++;
      yield i;
    }
  }
  const seen: number[] = [];
  for await (const value of orderedMap(numbers(), async (n) => n * 2, { concurrency: 2 })) {
    seen.push(value);
    if (seen.length === 3) break;
  }
  assert.deepEqual(seen, [0, 2, 4]);
  assert.ok(pulled <= 6, `pulled ${pulled}`);
});
