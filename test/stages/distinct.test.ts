import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { test } from 'node:test';
import { Batch, columnFromValues, dedupe, Dictionary, distinct, MemoryBudget, pipeline, run, type DType, type GroupByFigures, type Stage } from '../../src/index.ts';
import { collect, fromBatches, tempDir } from '../support/fakes.ts';
import { random } from '../support/random.ts';

type Row = Record<string, unknown>;

const KEY_TYPES: DType[] = ['bool', 'int16', 'uint32', 'float64', 'timestamp', 'date', 'string', 'dictionary'];

function keyValue(dtype: DType, pick: number): unknown {
  switch (dtype) {
    case 'bool':
      return pick % 2 === 0;
    case 'int16':
      return (pick % 30000) - 15000;
    case 'uint32':
      return pick * 13;
    case 'float64':
      return pick % 7 === 0 ? -0 : pick % 7 === 1 ? 0 : pick % 11 === 0 ? NaN : pick / 8;
    case 'timestamp':
      return new Date(1_650_000_000_000 + pick * 60_000);
    case 'date':
      return new Date((17_000 + pick) * 86_400_000);
    default:
      return `v${pick}`;
  }
}

/** Rows with a key `k`, a small dictionary key `s`, the input position `id` and a value `v`. */
function dataset(dtype: DType, rows: number, distinctKeys: number, seed: number): { rows: Row[]; batches: Batch[] } {
  const next = random(seed);
  const list: Row[] = [];
  for (let id = 0; id < rows; id++) {
    list.push({ k: next() < 0.05 ? null : keyValue(dtype, Math.floor(next() * distinctKeys)), s: next() < 0.05 ? null : ['a', 'b', 'c'][Math.floor(next() * 3)], id, v: next() < 0.1 ? null : Math.floor(next() * 100) });
  }
  const keys = new Dictionary();
  const letters = new Dictionary();
  const batches: Batch[] = [];
  for (let from = 0; from < rows; from += 2500) {
    const slice = list.slice(from, from + 2500);
    batches.push(
      new Batch(
        {
          k: columnFromValues(dtype, slice.map((row) => row.k), dtype === 'dictionary' ? keys : undefined),
          s: columnFromValues('dictionary', slice.map((row) => row.s), letters),
          id: columnFromValues('int32', slice.map((row) => row.id)),
          v: columnFromValues('int16', slice.map((row) => row.v)),
        },
        slice.length,
      ),
    );
  }
  return { rows: list, batches };
}

/** Keys as the reference compares them: -0 is 0, NaN is NaN, Dates by time. */
function canonical(value: unknown): string {
  if (value === null) return 'null';
  if (value instanceof Date) return `d${value.getTime()}`;
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : `n${value === 0 ? 0 : value}`;
  return `${typeof value}:${String(value)}`;
}

const keyOf = (row: Row, keys: readonly string[]) => keys.map((key) => canonical(row[key])).join('|');

async function runStage(batches: Batch[], stage: (figures: GroupByFigures) => Stage<any, any>, memory: number) {
  const figures: GroupByFigures = { groups: 0, peakGroups: 0, spilledBytes: 0, spilledPartitions: 0, spillMs: 0 };
  const budget = new MemoryBudget(memory);
  let overBudget = 0;
  const check = () => {
    if (budget.reserved > budget.limit) overBudget++;
  };
  const folder = await tempDir('sluice-distinct-');
  const sink = collect<Row>();
  const summary = await run(pipeline({ name: 'distinct', tempDir: folder }).from(fromBatches(batches)).tap(check).pipe(stage(figures)).tap(check).to(sink), { budget });
  assert.equal(summary.status, 'succeeded', summary.error?.message);
  assert.equal(overBudget, 0, 'reserved stays within the budget at every batch');
  assert.deepEqual(await readdir(folder), [], 'no temporary file is left');
  return { summary, sink, figures };
}

for (const dtype of KEY_TYPES) {
  test(`distinct and dedupe on a ${dtype} key equal the plain-JS reference, in memory and spilled`, async () => {
    const { rows, batches } = dataset(dtype, 100_000, 50_000, KEY_TYPES.indexOf(dtype) + 1);
    const firstOf = new Map<string, Row>();
    const lastOf = new Map<string, Row>();
    for (const row of rows) {
      const key = keyOf(row, ['k', 's']);
      if (!firstOf.has(key)) firstOf.set(key, row);
      lastOf.set(key, row);
    }
    for (const memory of [256 * 1024 * 1024, 4 * 1024 * 1024]) {
      const where = `${dtype} at ${memory >> 20} MB`;
      // A 4 MB budget holds some 130,000 keys of distinct's table, and half that of dedupe's (it keeps two more columns).
      const spills = memory < 8 * 1024 * 1024 && firstOf.size > 70_000;

      const unique = await runStage(batches, (figures) => distinct<any, any>(['k', 's'], { figures }), memory);
      assert.deepEqual(unique.sink.batches[0].names, ['k', 's'], `${where}: distinct(keys) keeps the key columns`);
      assert.ok(unique.sink.rows.map((row) => keyOf(row, ['k', 's'])).sort().join('\n') === [...firstOf.keys()].sort().join('\n'), `${where}: distinct finds each key once`);

      for (const keep of ['first', 'last'] as const) {
        const kept = await runStage(batches, (figures) => dedupe<any, any>(['k', 's'], { keep, figures }), memory);
        const expected = keep === 'first' ? firstOf : lastOf;
        assert.deepEqual(kept.sink.batches[0].names, ['k', 's', 'id', 'v'], `${where}: dedupe keeps the input's columns in order`);
        assert.equal(kept.sink.rows.length, expected.size, `${where}: dedupe keep ${keep}`);
        for (const row of kept.sink.rows) {
          const want = expected.get(keyOf(row, ['k', 's']))!;
          assert.equal(row.id, want.id, `${where}: keep ${keep} of ${keyOf(row, ['k', 's'])}`);
          assert.equal(row.v, want.v, `${where}: the other columns come from the same row`);
        }
        if (spills) assert.ok(kept.figures.spilledBytes > 0, `${where}: dedupe must spill`);
        if (kept.figures.spilledBytes === 0 && keep === 'first') {
          // Compared as one string: a failing deepEqual of 100,000 ids would make a diff of them all.
          const ids = kept.sink.rows.map((row) => row.id).join(',');
          assert.ok(ids === [...firstOf.values()].map((row) => row.id).join(','), `${where}: not spilled, keep first comes out in input order`);
        }
      }
    }
  });
}

test('distinct on 300,000 distinct keys spills under a 4 MB budget and still finds each once', async () => {
  const batches: Batch[] = [];
  for (let from = 0; from < 600_000; from += 5000) {
    const ids = Array.from({ length: 5000 }, (_, i) => ((from + i) * 7919) % 300_000);
    batches.push(new Batch({ k: columnFromValues('uint32', ids), v: columnFromValues('uint8', ids.map((id) => id % 200)) }, 5000));
  }
  const result = await runStage(batches, (figures) => distinct<any, any>('k', { figures }), 4 * 1024 * 1024);
  assert.ok(result.figures.spilledBytes > 0, 'it spilled');
  assert.equal(result.sink.rows.length, 300_000);
  assert.equal(new Set(result.sink.rows.map((row) => row.k)).size, 300_000);
  assert.deepEqual(result.sink.batches[0].names, ['k']);
});

test('distinct() of whole rows keeps every column, one row per distinct row', async () => {
  const { rows, batches } = dataset('int16', 20_000, 200, 42);
  const withoutId = batches.map((batch) => batch.withColumns({ k: batch.column('k'), s: batch.column('s'), v: batch.column('v') }));
  const expected = new Set(rows.map((row) => keyOf(row, ['k', 's', 'v'])));
  for (const memory of [256 * 1024 * 1024, 4 * 1024 * 1024]) {
    const result = await runStage(withoutId, (figures) => distinct<any, any>(['k', 's', 'v'], { figures }), memory);
    const whole = await runStage(withoutId, () => distinct<any>(), memory);
    assert.deepEqual(whole.sink.batches[0].names, ['k', 's', 'v']);
    assert.equal(whole.sink.rows.length, expected.size);
    assert.deepEqual(new Set(whole.sink.rows.map((row) => keyOf(row, ['k', 's', 'v']))), expected);
    assert.equal(result.sink.rows.length, expected.size);
  }
});

test('distinct and dedupe say their keys for --dry-run, refuse a missing key column on the first batch and bad options when called', async () => {
  assert.equal(distinct<any, any>(['country', 'status']).stageDetail, 'by country, status');
  assert.equal(distinct<any>().stageDetail, 'of whole rows');
  assert.equal(dedupe<any, any>('order_id', { keep: 'last' }).stageDetail, 'by order_id, keep last');
  const { batches } = dataset('int16', 10_000, 100, 3);
  for (const stage of [distinct<any, any>(['nope']), dedupe<any, any>('nope')]) {
    const source = fromBatches(batches);
    const summary = await run(pipeline({ name: 'bad' }).from(source).pipe(stage).to(collect()));
    assert.equal(summary.status, 'failed');
    assert.equal(summary.error!.code, 'STAGE_FAILED');
    assert.match(summary.error!.message, /^(distinct|dedupe): no column "nope" to (distinct|dedupe) by; the input has k, s, id, v/);
    assert.ok(source.probe.batchesYielded <= 1, 'failed on the first batch');
  }
  assert.throws(() => dedupe<any, any>('k', { kep: 'last' } as never), /dedupe\(\): unknown option `kep`. Did you mean `keep`\?/);
  assert.throws(() => dedupe<any, any>('k', { keep: 'any' } as never), /dedupe\(\): expected `keep` to be 'first' or 'last'; got "any"/);
  assert.throws(() => dedupe<any, any>([]), /dedupe\(\): expected `keys` to be a column name or a non-empty array of column names; got \[\]/);
});
