import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { test } from 'node:test';
import { Batch, columnFromValues, Dictionary, join, MemoryBudget, pipeline, run, type DType, type JoinFigures, type JoinType, type Source } from '../../../src/index.ts';
import { formatSummary } from '../../../src/runtime/format-summary.ts';
import { collect, fromBatches, tempDir } from '../../support/fakes.ts';
import { keyValue } from '../../support/key-values.ts';
import { random } from '../../support/random.ts';

type Row = Record<string, unknown>;

function batchesOf(rows: Row[], dtypes: Record<string, DType>, dictionary: Dictionary, batchRows = 2000): Batch[] {
  const batches: Batch[] = [];
  for (let from = 0; from < rows.length || (from === 0 && batches.length === 0); from += batchRows) {
    const slice = rows.slice(from, from + batchRows);
    const columns = Object.fromEntries(Object.entries(dtypes).map(([name, dtype]) => [name, columnFromValues(dtype, slice.map((row) => row[name]), dtype === 'dictionary' ? dictionary : undefined)]));
    batches.push(new Batch(columns, slice.length));
    if (rows.length === 0) break;
  }
  return batches;
}

interface Sides {
  left: Row[];
  right: Row[];
  leftBatches: Batch[];
  rightBatches: Batch[];
}

/**
 * Two sides joined on (k, n) ↔ (rk, rn): `k` of the dtype under test, `n` an int32 that spreads the
 * keys, both with nulls. Both sides draw their keys from one pool, so keys repeat on both sides; a third
 * of the left's are drawn elsewhere and mostly match nothing. Most right keys are distinct (~150,000
 * of 200,000 rows): more than a 4 MB budget holds a table of, even of keys alone.
 */
function sides(dtype: DType, leftRows: number, rightRows: number, seed: number): Sides {
  const next = random(seed);
  const fresh = () => ({ k: keyValue(dtype, Math.floor(next() * 2500)), n: Math.floor(next() * 1_000_000) });
  const pool = Array.from({ length: Math.round(rightRows * 2.5) }, fresh);
  const key = (fromPool: boolean) => {
    const { k, n } = fromPool ? pool[Math.floor(next() * pool.length)] : fresh();
    return { k: next() < 0.05 ? null : k, n: next() < 0.05 ? null : n };
  };
  const left: Row[] = [];
  for (let i = 0; i < leftRows; i++) left.push({ ...key(next() < 0.7), s: ['north', 'south', null][Math.floor(next() * 3)], v: i });
  const right: Row[] = [];
  for (let i = 0; i < rightRows; i++) {
    const { k, n } = key(true);
    right.push({
      rk: k,
      rn: n,
      name: next() < 0.1 ? null : `customer number ${i}`,
      score: Math.floor(next() * 1000) / 8,
      flag: next() < 0.5,
      day: new Date((20000 + (i % 300)) * 86_400_000),
      grade: ['gold', 'silver', 'bronze'][i % 3],
    });
  }
  const dictionary = new Dictionary();
  return {
    left,
    right,
    leftBatches: batchesOf(left, { k: dtype, n: 'int32', s: 'dictionary', v: 'int32' }, dictionary),
    rightBatches: batchesOf(right, { rk: dtype, rn: 'int32', name: 'string', score: 'float64', flag: 'bool', day: 'date', grade: 'dictionary' }, dictionary),
  };
}

/** A value as the reference compares and prints it: -0 is 0, NaN is NaN, Dates by time; null matches nothing. */
function canonical(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (value instanceof Date) return `d${value.getTime()}`;
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : `n${value === 0 ? 0 : value}`;
  return `${typeof value}:${String(value)}`;
}

const ADDED = ['name', 'score', 'flag', 'day', 'grade'];

/**
 * The plain-JS reference: a nested loop over both sides (each left row against every right row), in
 * left order, each left row's matches in right order; the output of every join type from one loop.
 */
function nestedLoop(left: Row[], right: Row[], pairs: [string, string][]): Record<JoinType, Row[]> {
  const keyText = (row: Row, names: string[]) => (names.some((name) => row[name] === null) ? undefined : names.map((name) => canonical(row[name])).join('|'));
  const rightKeys = right.map((row) => keyText(row, pairs.map(([, b]) => b)));
  const out: Record<JoinType, Row[]> = { inner: [], left: [], semi: [], anti: [] };
  for (const l of left) {
    const key = keyText(l, pairs.map(([a]) => a));
    const matches: Row[] = [];
    if (key !== undefined) for (let r = 0; r < right.length; r++) if (rightKeys[r] === key) matches.push(right[r]);
    for (const m of matches) out.inner.push({ ...l, ...Object.fromEntries(ADDED.map((name) => [name, m[name]])) });
    if (matches.length === 0) out.left.push({ ...l, ...Object.fromEntries(ADDED.map((name) => [name, null])) });
    else for (const m of matches) out.left.push({ ...l, ...Object.fromEntries(ADDED.map((name) => [name, m[name]])) });
    (matches.length > 0 ? out.semi : out.anti).push(l);
  }
  return out;
}

function rowText(row: Row): string {
  return Object.keys(row)
    .sort()
    .map((name) => `${name}=${canonical(row[name])}`)
    .join(',');
}

async function runJoin(leftSource: Source<any>, rightSource: Source<any>, type: JoinType, memory: number, on: [string, string][] = [['k', 'rk'], ['n', 'rn']]) {
  const figures: JoinFigures = { buildRows: 0, spilledBytes: 0, spilledPartitions: 0, spillMs: 0 };
  const budget = new MemoryBudget(memory);
  let overBudget = 0;
  const check = () => {
    if (budget.reserved > budget.limit) overBudget++;
  };
  const sink = collect<Row>();
  const spillRoot = await tempDir('sluice-join-spill-');
  const previous = process.env.SLUICE_TEMP_DIR;
  process.env.SLUICE_TEMP_DIR = spillRoot;
  try {
    const stage = join<any, any, any, any>(rightSource, { on, type, ...(type === 'semi' || type === 'anti' ? {} : { select: ADDED }), figures });
    const summary = await run(pipeline({ name: 'join' }).from(leftSource).tap(check).pipe(stage).tap(check).to(sink), { budget });
    return { summary, rows: sink.rows, batches: sink.batches, figures, overBudget, leftInTemp: await readdir(spillRoot) };
  } finally {
    if (previous === undefined) delete process.env.SLUICE_TEMP_DIR;
    else process.env.SLUICE_TEMP_DIR = previous;
  }
}

const KEY_TYPES: DType[] = ['bool', 'int8', 'uint16', 'int32', 'float64', 'timestamp', 'date', 'string', 'dictionary'];
const TYPES: JoinType[] = ['inner', 'left', 'semi', 'anti'];

for (const dtype of KEY_TYPES) {
  test(`join on a ${dtype} key and an int32 key (nulls, duplicates on both sides) equals a nested loop, in memory and spilled, for every join type`, async () => {
    const data = sides(dtype, 300, 60_000, KEY_TYPES.indexOf(dtype) + 7);
    const reference = nestedLoop(data.left, data.right, [['k', 'rk'], ['n', 'rn']]);
    assert.ok(reference.semi.length > 0 && reference.inner.length > reference.semi.length && reference.anti.length > 0, 'the data has matches, repeated ones, and rows without');
    for (const type of TYPES) {
      const expected = reference[type];
      const roomy = await runJoin(fromBatches(data.leftBatches), fromBatches(data.rightBatches), type, 256 * 1024 * 1024);
      assert.equal(roomy.summary.status, 'succeeded', roomy.summary.error?.message);
      assert.equal(roomy.figures.spilledBytes, 0, `${type}: a roomy budget does not spill`);
      // In memory the output is in probe order, each row's matches in build order: the reference's order.
      assert.deepEqual(roomy.rows.map(rowText), expected.map(rowText), `${dtype} ${type}, in memory`);

      const tight = await runJoin(fromBatches(data.leftBatches), fromBatches(data.rightBatches), type, 4 * 1024 * 1024);
      assert.equal(tight.summary.status, 'succeeded', tight.summary.error?.message);
      // The rows of inner and left joins do not fit 4 MB; the keys alone of semi and anti joins do (see below).
      if (type === 'inner' || type === 'left') assert.ok(tight.figures.spilledBytes > 0 && tight.figures.spilledPartitions > 0, `${dtype} ${type}: 60,000 build rows in a 4 MB budget must spill`);
      assert.deepEqual(tight.rows.map(rowText).sort(), expected.map(rowText).sort(), `${dtype} ${type}, spilled`);
      for (const result of [roomy, tight]) {
        assert.equal(result.overBudget, 0, 'reserved stays within the budget at every batch');
        assert.ok(result.summary.memory.peakReserved <= result.summary.memory.budget);
        assert.deepEqual(result.leftInTemp, [], 'no temporary file is left');
        const stage = result.summary.stages[1];
        assert.equal(stage.rowsIn, data.left.length);
        assert.equal(stage.rowsOut, expected.length);
        assert.equal(result.summary.rows.written, expected.length);
        assert.equal(stage.sideSource?.rowsRead, data.right.length, 'every build row was read');
        assert.equal(stage.buildRows, data.right.filter((row) => row.rk !== null && row.rn !== null).length, 'build rows with no null key are kept');
      }
    }
  });
}

// One number key takes the probe's typed-array path; one text key the general one.
for (const dtype of ['int8', 'float64', 'date', 'string'] as DType[]) {
  test(`join on one ${dtype} key equals a nested loop, in memory and spilled`, async () => {
    const data = sides(dtype, 200, 60_000, KEY_TYPES.indexOf(dtype) + 40);
    const reference = nestedLoop(data.left, data.right, [['k', 'rk']]);
    assert.ok(reference.inner.length > reference.semi.length && reference.anti.length > 0);
    for (const type of TYPES) {
      const roomy = await runJoin(fromBatches(data.leftBatches), fromBatches(data.rightBatches), type, 256 * 1024 * 1024, [['k', 'rk']]);
      assert.deepEqual(roomy.rows.map(rowText), reference[type].map(rowText), `${dtype} ${type}, in memory`);
      const tight = await runJoin(fromBatches(data.leftBatches), fromBatches(data.rightBatches), type, 4 * 1024 * 1024, [['k', 'rk']]);
      // Semi and anti joins keep ~2,500 keys here, which fit; the rows of inner and left joins do not.
      if (type === 'inner' || type === 'left') assert.ok(tight.figures.spilledBytes > 0, `${dtype} ${type}: spilled`);
      assert.deepEqual(tight.rows.map(rowText).sort(), reference[type].map(rowText).sort(), `${dtype} ${type}, spilled`);
      assert.deepEqual(tight.leftInTemp, []);
      assert.equal(tight.overBudget, 0);
    }
  });
}

test('semi and anti joins, which keep only the keys, spill too when the keys do not fit, and stay exact', async () => {
  for (const dtype of ['int32', 'string'] as DType[]) {
    const data = sides(dtype, 300, 200_000, KEY_TYPES.indexOf(dtype) + 70);
    const reference = nestedLoop(data.left, data.right, [['k', 'rk'], ['n', 'rn']]);
    for (const type of ['semi', 'anti'] as JoinType[]) {
      const tight = await runJoin(fromBatches(data.leftBatches), fromBatches(data.rightBatches), type, 4 * 1024 * 1024);
      assert.equal(tight.summary.status, 'succeeded', tight.summary.error?.message);
      assert.ok(tight.figures.spilledBytes > 0, `${dtype} ${type}: ~150,000 keys in a 4 MB budget must spill`);
      assert.deepEqual(tight.rows.map(rowText).sort(), reference[type].map(rowText).sort(), `${dtype} ${type}, spilled`);
      assert.deepEqual(tight.leftInTemp, []);
      assert.equal(tight.overBudget, 0);
    }
  }
});
