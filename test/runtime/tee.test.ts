import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { type Batch, csv, pipeline, run, runOrThrow, type Sink, tee, toCsv, toNdjson } from '../../src/index.ts';
import { MemoryBudget } from '../../src/runtime/budget.ts';
import { collect, tempDir } from '../support/fakes.ts';

const dir = await tempDir('sluice-tee-');
const input = join(dir, 'in.csv');
await writeFile(input, `n,label\n${Array.from({ length: 5000 }, (_, k) => `${k},l${k % 7}`).join('\n')}\n`);

test('tee writes every batch to each sink: CSV and NDJSON of the same run, rows counted once', async () => {
  const csvPath = join(dir, 'out.csv');
  const ndjsonPath = join(dir, 'out.ndjson');
  const summary = await runOrThrow(pipeline({ batchRows: 500 }).from(csv(input)).filter((row) => row.n % 2 === 0).to(tee(toCsv(csvPath), toNdjson(ndjsonPath))));
  assert.equal(summary.rows.written, 2500);
  assert.equal(summary.rows.read, summary.rows.written + summary.rows.dropped + summary.rows.rejected);
  const csvLines = (await readFile(csvPath, 'utf8')).trim().split('\n');
  const ndjsonLines = (await readFile(ndjsonPath, 'utf8')).trim().split('\n').map((line) => JSON.parse(line));
  assert.equal(csvLines.length, 2501);
  assert.deepEqual(ndjsonLines.slice(0, 2), [{ n: 0, label: 'l0' }, { n: 2, label: 'l2' }]);
  assert.deepEqual(csvLines.slice(1).map((line) => Number(line.split(',')[0])), ndjsonLines.map((row) => row.n));
});

test('the sinks go in lockstep: no sink is more than one batch ahead, and the budget sees one batch', async () => {
  const seen: number[][] = [[], []];
  const budget = new MemoryBudget(64 * 1024 * 1024);
  let peakReserved = 0;
  const probe = (k: number) => collect({ keep: false, delayMs: k === 0 ? 0 : 2, onBatch: (batch) => {
    seen[k].push(batch.length);
    assert.ok(Math.abs(seen[0].length - seen[1].length) <= 1, 'one sink ran ahead of the other');
    // Only the batch both sinks are writing is reserved: nothing is read ahead for the faster one.
    assert.ok(budget.reserved <= batch.byteSize, `${budget.reserved} reserved for a batch of ${batch.byteSize} bytes`);
    peakReserved = Math.max(peakReserved, budget.reserved);
  } });
  const summary = await runOrThrow(pipeline({ batchRows: 250 }).from(csv(input)).to(tee(probe(0), probe(1))), { budget });
  assert.equal(seen[0].length, seen[1].length);
  assert.ok(seen[0].length >= 10);
  assert.equal(summary.rows.written, 5000);
  assert.ok(peakReserved > 0 && peakReserved <= summary.memory.peakReserved);
});

test('when one sink fails, the others do not commit: no output file is left, and the run fails with that error', async () => {
  const csvPath = join(dir, 'failed.csv');
  const failing: Sink = {
    kind: 'failing',
    describe: () => ({ kind: 'failing', location: 'nowhere' }),
    async write(batches) {
      let count = 0;
      for await (const batch of batches as AsyncIterable<Batch>) if ((count += batch.length) > 1000) throw new Error('disk on fire');
      return { rowsWritten: count, location: 'nowhere' };
    },
  };
  const summary = await run(pipeline({ batchRows: 500 }).from(csv(input)).to(tee(toCsv(csvPath), failing)));
  assert.equal(summary.status, 'failed');
  assert.match(summary.error?.message ?? '', /disk on fire/);
  assert.deepEqual((await readdir(dir)).filter((name) => name.includes('failed.csv')), []);
});

test('tee() without sinks is refused', () => {
  assert.throws(() => tee(), { code: 'INVALID_OPTION' });
});
