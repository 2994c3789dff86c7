import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { test } from 'node:test';
import {
  Batch,
  Column,
  columnFromValues,
  count,
  countDistinct,
  Dictionary,
  first,
  groupBy,
  last,
  max,
  mean,
  MemoryBudget,
  min,
  pipeline,
  reduce,
  run,
  sum,
  type DType,
  type GroupByFigures,
  type Source,
  type Stage,
} from '../../../src/index.ts';
import { formatSummary } from '../../../src/runtime/format-summary.ts';
import { collect, fromBatches, tempDir } from '../../support/fakes.ts';
import { keyValue } from '../../support/key-values.ts';
import { random } from '../../support/random.ts';

type Row = Record<string, unknown>;

/** Values of each key dtype, with nulls, NaN and -0 where the dtype has them. */
function valueFor(dtype: DType, next: () => number, groups: number): unknown {
  const pick = Math.floor(next() * groups);
  if (next() < 0.05) return null;
  return keyValue(dtype, pick);
}

interface Dataset {
  rows: Row[];
  batches: Batch[];
}

/** Rows with a key `k` of `keyType`, a second key `s` (dictionary strings), and values to aggregate. */
function dataset(keyType: DType, rowCount: number, groups: number, seed: number, batchRows = 2000): Dataset {
  const next = random(seed);
  const rows: Row[] = [];
  for (let i = 0; i < rowCount; i++) {
    rows.push({
      k: valueFor(keyType, next, groups),
      s: next() < 0.1 ? null : ['north', 'south', 'east'][Math.floor(next() * 3)],
      // Quarters: every sum is exact, so spilled and in-memory sums are equal to the bit.
      v: next() < 0.1 ? null : Math.floor(next() * 400) / 4,
      q: Math.floor(next() * 100),
      name: `n${Math.floor(next() * 50)}`,
    });
  }
  const dictionary = new Dictionary();
  const batches: Batch[] = [];
  for (let from = 0; from < rowCount; from += batchRows) {
    const slice = rows.slice(from, from + batchRows);
    const columns: Record<string, Column> = {
      k: columnFromValues(keyType, slice.map((row) => row.k), keyType === 'dictionary' ? dictionary : undefined),
      s: columnFromValues('dictionary', slice.map((row) => row.s), dictionary),
      v: columnFromValues('float64', slice.map((row) => row.v)),
      q: columnFromValues('int32', slice.map((row) => row.q)),
      name: columnFromValues('string', slice.map((row) => row.name)),
    };
    batches.push(new Batch(columns, slice.length));
  }
  return { rows, batches };
}

/** The key as the reference groups it: -0 is 0, NaN is NaN, null is null, Dates by time. */
function canonical(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (value instanceof Date) return `d${value.getTime()}`;
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : `n${value === 0 ? 0 : value}`;
  return `${typeof value}:${String(value)}`;
}

/** The plain-JS reference: a Map of groups, each aggregation computed the obvious way. */
function reference(rows: Row[], keys: string[]): Map<string, Row> {
  const groups = new Map<string, Row[]>();
  for (const row of rows) {
    const key = keys.map((k) => canonical(row[k])).join('|');
    let list = groups.get(key);
    if (list === undefined) groups.set(key, (list = []));
    list.push(row);
  }
  const out = new Map<string, Row>();
  for (const [key, list] of groups) {
    const values = list.map((row) => row.v).filter((v): v is number => v !== null);
    const greater = (a: number, b: number) => (Number.isNaN(a) ? !Number.isNaN(b) : a > b);
    const result: Row = {};
    for (const k of keys) result[k] = list[0][k];
    Object.assign(result, {
      rows: list.length,
      values: values.length,
      total: values.length === 0 ? null : values.reduce((a, b) => a + b),
      items: list.reduce((a, row) => a + (row.q as number), 0),
      average: values.length === 0 ? null : values.reduce((a, b) => a + b) / values.length,
      lowest: values.length === 0 ? null : values.reduce((a, b) => (greater(a, b) ? b : a)),
      highest: values.length === 0 ? null : values.reduce((a, b) => (greater(b, a) ? b : a)),
      firstName: list[0].name,
      lastValue: list[list.length - 1].v,
      names: new Set(list.map((row) => row.name)).size,
      longest: list.reduce((a, row) => Math.max(a, (row.name as string).length), 0),
    });
    out.set(key, result);
  }
  return out;
}

const aggregations = {
  rows: count(),
  values: count('v'),
  total: sum('v'),
  items: sum('q'),
  average: mean('v'),
  lowest: min('v'),
  highest: max('v'),
  firstName: first('name'),
  lastValue: last('v'),
  names: countDistinct('name'),
  longest: reduce({ init: () => 0, step: (state: number, row: any) => Math.max(state, row.name.length), merge: (a: number, b: number) => Math.max(a, b) }),
};

function emptyFigures(): GroupByFigures {
  return { groups: 0, peakGroups: 0, spilledBytes: 0, spilledPartitions: 0, spillMs: 0 };
}

async function runGroupBy(source: Source<any>, keys: string[], memory: number) {
  const figures = emptyFigures();
  const budget = new MemoryBudget(memory);
  let overBudget = 0;
  const sink = collect<Row>();
  const spillRoot = await tempDir('sluice-spill-');
  const previous = process.env.SLUICE_TEMP_DIR;
  process.env.SLUICE_TEMP_DIR = spillRoot;
  try {
    const summary = await run(
      pipeline({ name: 'group-by' })
        .from(source)
        .tap(() => {
          if (budget.reserved > budget.limit) overBudget++;
        })
        .pipe(groupBy(keys, aggregations, { figures }))
        .tap(() => {
          if (budget.reserved > budget.limit) overBudget++;
        })
        .to(sink),
      { budget },
    );
    return { summary, rows: sink.rows, figures, overBudget, leftInTemp: await readdir(spillRoot) };
  } finally {
    if (previous === undefined) delete process.env.SLUICE_TEMP_DIR;
    else process.env.SLUICE_TEMP_DIR = previous;
  }
}

function assertSameGroups(actual: Row[], expected: Map<string, Row>, keys: string[], label: string) {
  assert.equal(actual.length, expected.size, `${label}: number of groups`);
  for (const row of actual) {
    const key = keys.map((k) => canonical(row[k])).join('|');
    const want = expected.get(key);
    assert.ok(want !== undefined, `${label}: unexpected group ${key}`);
    for (const name of Object.keys(want)) {
      const got: unknown = row[name];
      const wanted: unknown = want[name];
      if (keys.includes(name) && typeof wanted === 'number' && wanted === 0) assert.equal(got, 0, `${label}: ${key}.${name}`);
      else assert.deepEqual(canonical(got), canonical(wanted), `${label}: group ${key}, ${name}: got ${String(got)}, expected ${String(wanted)}`);
    }
  }
}

const KEY_TYPES: DType[] = ['bool', 'int8', 'uint16', 'int32', 'float64', 'timestamp', 'date', 'string', 'dictionary'];

for (const keyType of KEY_TYPES) {
  test(`groupBy on a ${keyType} key and a dictionary key equals the plain-JS reference, in memory and spilled`, async () => {
    const { rows, batches } = dataset(keyType, 40_000, 20_000, KEY_TYPES.indexOf(keyType) + 1);
    const expected = reference(rows, ['k', 's']);
    const roomy = await runGroupBy(fromBatches(batches), ['k', 's'], 256 * 1024 * 1024);
    assert.equal(roomy.summary.status, 'succeeded', roomy.summary.error?.message);
    assert.equal(roomy.figures.spilledBytes, 0, 'a roomy budget does not spill');
    assertSameGroups(roomy.rows, expected, ['k', 's'], `${keyType}, in memory`);

    const tight = await runGroupBy(fromBatches(batches), ['k', 's'], 4 * 1024 * 1024);
    assert.equal(tight.summary.status, 'succeeded', tight.summary.error?.message);
    if (expected.size > 5000) {
      assert.ok(tight.figures.spilledBytes > 0, `${keyType}: ${expected.size} groups in a 4 MB budget must spill`);
      assert.ok(tight.figures.spilledPartitions > 0);
    }
    assertSameGroups(tight.rows, expected, ['k', 's'], `${keyType}, spilled`);
    for (const result of [roomy, tight]) {
      assert.equal(result.overBudget, 0, 'reserved stays within the budget at every batch');
      assert.ok(result.summary.memory.peakReserved <= result.summary.memory.budget);
      assert.deepEqual(result.leftInTemp, [], 'no temporary file is left');
    }
  });
}

test('groupBy: every key distinct, spilled more than one level deep, still exact', async () => {
  const rows: Row[] = Array.from({ length: 120_000 }, (_, i) => ({ k: i * 7919, s: 'x', v: (i % 8) / 4, q: i % 5, name: `n${i % 3}` }));
  const batches: Batch[] = [];
  for (let from = 0; from < rows.length; from += 4000) {
    const slice = rows.slice(from, from + 4000);
    batches.push(
      new Batch(
        {
          k: columnFromValues('float64', slice.map((row) => row.k)),
          s: columnFromValues('string', slice.map((row) => row.s)),
          v: columnFromValues('float64', slice.map((row) => row.v)),
          q: columnFromValues('int32', slice.map((row) => row.q)),
          name: columnFromValues('string', slice.map((row) => row.name)),
        },
        slice.length,
      ),
    );
  }
  const result = await runGroupBy(fromBatches(batches), ['k'], 4 * 1024 * 1024);
  assert.equal(result.summary.status, 'succeeded', result.summary.error?.message);
  assert.ok(result.figures.spilledBytes > 0);
  assert.equal(result.figures.groups, rows.length);
  assertSameGroups(result.rows, reference(rows, ['k']), ['k'], 'all distinct');
  assert.deepEqual(result.leftInTemp, []);
  assert.equal(result.overBudget, 0);
  // The summary shows what the stage held and spilled.
  const stage = result.summary.stages[1];
  assert.equal(stage.name, 'groupBy');
  assert.equal(stage.groups, rows.length);
  assert.equal(stage.spilledBytes, result.figures.spilledBytes);
  assert.ok(stage.spilledPartitions! >= 16 && stage.peakGroups! > 0 && stage.peakStateBytes > 0);
  assert.match(formatSummary(result.summary), /stage {6}groupBy .*groups held [\d,]+, spilled [\d.]+ [KM]B in \d+ partitions/);
});

test('groupBy says what it groups by for --dry-run', () => {
  assert.equal(groupBy<any, any, any>(['country', 'status'], { orders: count(), items: sum('quantity') }).stageDetail, 'by country, status → orders = count(), items = sum(quantity)');
});

test('groupBy: one group, and an empty input (no groups, the output columns still there)', async () => {
  const { rows, batches } = dataset('int8', 5000, 1, 99);
  const one = rows.map((row) => ({ ...row, k: 7, s: 'x' }));
  const oneBatches = batches.map((batch) => batch.withColumns({ ...batch.columns, k: columnFromValues('int8', new Array(batch.length).fill(7)), s: columnFromValues('string', new Array(batch.length).fill('x')) }));
  const single = await runGroupBy(fromBatches(oneBatches), ['k', 's'], 64 * 1024 * 1024);
  assertSameGroups(single.rows, reference(one, ['k', 's']), ['k', 's'], 'one group');

  const empty = new Batch(Object.fromEntries(Object.entries(batches[0].columns).map(([name, column]) => [name, column.take(new Uint32Array(0), 0)])), 0);
  const sink = collect<Row>();
  const summary = await run(pipeline({ name: 'empty' }).from(fromBatches([empty])).groupBy(['k'], { n: count(), total: sum('q') }).to(sink));
  assert.equal(summary.status, 'succeeded', summary.error?.message);
  assert.equal(sink.rows.length, 0);
  assert.deepEqual(sink.batches[0].names, ['k', 'n', 'total']);
});

test('groupBy output dtypes follow the inputs: keys and min/max keep theirs, integer sums int32, means float64, counts uint32', async () => {
  const { batches } = dataset('int8', 3000, 30, 5);
  const sink = collect<Row>();
  await run(pipeline({ name: 'dtypes' }).from(fromBatches(batches)).groupBy(['k', 's'], { n: count(), items: sum('q'), total: sum('v'), average: mean('q'), lowest: min('q'), name: first('name'), distinct: countDistinct('name') }).to(sink));
  const columns = sink.batches[0].columns;
  assert.deepEqual(
    Object.fromEntries(Object.entries(columns).map(([name, column]) => [name, column.dtype])),
    { k: 'int8', s: 'dictionary', n: 'uint32', items: 'int32', total: 'float64', average: 'float64', lowest: 'int32', name: 'string', distinct: 'uint32' },
  );
});

test('groupBy: a missing key, a missing aggregated column and a sum over strings fail with a clear SluiceError before a row is aggregated', async () => {
  const { batches } = dataset('int32', 100, 10, 3);
  const cases: [string, () => Stage<any, any>, RegExp][] = [
    ['missing key', () => groupBy(['nope'], { n: count() }), /no column "nope" to group by; the input has k, s, v, q, name/],
    ['missing column', () => groupBy(['k'], { total: sum('amount') }), /no column "amount" to aggregate as total \(sum\)/],
    ['sum of strings', () => groupBy(['k'], { total: sum('name') }), /total is sum\("name"\) but name is a string column; sum takes a number column/],
  ];
  for (const [label, stage, message] of cases) {
    const source = fromBatches(batches);
    const summary = await run(pipeline({ name: 'bad' }).from(source).pipe(stage()).to(collect()));
    assert.equal(summary.status, 'failed', label);
    assert.equal(summary.error!.code, 'STAGE_FAILED', label);
    assert.match(summary.error!.message, message, label);
    assert.equal(summary.stages[0].rowsOut, 0);
    assert.ok(source.probe.batchesYielded <= 1, `${label}: failed on the first batch`);
  }
  assert.throws(() => groupBy<any, any, any>(['k'], { k: count() }), /"k" is both a key and an aggregation/);
});

test('groupBy removes its spill files when the run fails mid-way and when a later take stops it early', async () => {
  const { batches } = dataset('int32', 40_000, 30_000, 11);
  const failing: Source<any> = {
    ...fromBatches(batches),
    async *read(context) {
      let n = 0;
      for await (const batch of fromBatches(batches).read(context)) {
        if (++n === batches.length) throw new Error('disk went away');
        yield batch;
      }
    },
  };
  const failed = await runGroupBy(failing, ['k'], 4 * 1024 * 1024);
  assert.equal(failed.summary.status, 'failed');
  assert.ok(failed.figures.spilledBytes > 0, 'it had spilled before the failure');
  assert.deepEqual(failed.leftInTemp, []);

  const spillRoot = await tempDir('sluice-spill-');
  process.env.SLUICE_TEMP_DIR = spillRoot;
  const figures = emptyFigures();
  try {
    const sink = collect<Row>();
    const summary = await run(pipeline({ name: 'take' }).from(fromBatches(batches)).pipe(groupBy(['k'], aggregations, { figures })).take(3).to(sink), { memory: '4MB' });
    assert.equal(summary.status, 'succeeded', summary.error?.message);
    assert.equal(sink.rows.length, 3);
    assert.ok(figures.spilledBytes > 0);
    assert.deepEqual(await readdir(spillRoot), []);
  } finally {
    delete process.env.SLUICE_TEMP_DIR;
  }
});
