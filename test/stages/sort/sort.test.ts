import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { test } from 'node:test';
import { Batch, columnFromValues, Dictionary, MemoryBudget, pipeline, run, sort, type DType, type SortFigures, type SortKey, type Source } from '../../../src/index.ts';
import { formatSummary } from '../../../src/runtime/format-summary.ts';
import { collect, fromBatches, tempDir } from '../../support/fakes.ts';
import { random } from '../../support/random.ts';

type Row = Record<string, unknown>;

/** A key value of `dtype`: few distinct values (so ties are common), nulls, and NaN, ±0 and ±Infinity for floats. */
function keyValue(dtype: DType, next: () => number, distinct: number): unknown {
  if (next() < 0.08) return null;
  const pick = Math.floor(next() * distinct);
  switch (dtype) {
    case 'bool':
      return pick % 2 === 1;
    case 'int8':
      return (pick % 250) - 125;
    case 'uint16':
      return (pick * 37) % 65536;
    case 'int32':
      return pick * 1000 - 2_000_000;
    case 'float64':
      return [NaN, -0, 0, Infinity, -Infinity][pick % 9] ?? (pick - distinct / 2) / 8;
    case 'timestamp':
      return new Date(1_600_000_000_000 + pick * 3_600_000);
    case 'date':
      return new Date((18_000 + pick) * 86_400_000);
    default:
      return ['', 'a', 'B', 'ab', 'é', 'z', 'Zebra', 'a b'][pick % 8] + (pick >= 8 ? String(pick) : '');
  }
}

/** Rows with a key `k` of `dtype`, a dictionary key `s`, the row's input position `id`, and a payload. */
function dataset(dtype: DType, rows: number, distinct: number, seed: number, batchRows = 3000): { rows: Row[]; batches: Batch[] } {
  const next = random(seed);
  const list: Row[] = [];
  for (let id = 0; id < rows; id++) {
    list.push({ k: keyValue(dtype, next, distinct), s: next() < 0.1 ? null : ['north', 'south', 'east', 'west'][Math.floor(next() * 4)], id, note: `note ${Math.floor(next() * 1000)} ${'·'.repeat(60)}` });
  }
  const keys = new Dictionary();
  const names = new Dictionary();
  const batches: Batch[] = [];
  for (let from = 0; from < rows; from += batchRows) {
    const slice = list.slice(from, from + batchRows);
    batches.push(
      new Batch(
        {
          k: columnFromValues(dtype, slice.map((row) => row.k), dtype === 'dictionary' ? keys : undefined),
          s: columnFromValues('dictionary', slice.map((row) => row.s), names),
          id: columnFromValues('int32', slice.map((row) => row.id)),
          note: columnFromValues('string', slice.map((row) => row.note)),
        },
        slice.length,
      ),
    );
  }
  return { rows: list, batches };
}

/** The reference order: the same keys compared the obvious way, with JavaScript's stable Array#sort. */
function referenceOrder(rows: Row[], keys: SortKey[]): number[] {
  const rank = (value: unknown): [number, unknown] => {
    if (value instanceof Date) return [1, value.getTime()];
    if (typeof value === 'boolean') return [1, value ? 1 : 0];
    if (typeof value === 'number' && Number.isNaN(value)) return [2, 0]; // NaN above every number
    return [1, value];
  };
  const compareValues = (a: unknown, b: unknown, key: SortKey): number => {
    if (a === null || b === null) {
      if (a === b) return 0;
      return (a === null) === (key.nulls === 'first') ? -1 : 1;
    }
    const [ra, va] = rank(a);
    const [rb, vb] = rank(b);
    let order = ra !== rb ? ra - rb : (va as number) < (vb as number) ? -1 : (va as number) > (vb as number) ? 1 : 0;
    if (key.descending) order = -order;
    return order;
  };
  return [...rows]
    .sort((a, b) => {
      for (const key of keys) {
        const order = compareValues(a[key.column], b[key.column], key);
        if (order !== 0) return order;
      }
      return 0;
    })
    .map((row) => row.id as number);
}

/** The same ids in the same order; on a difference, the first one (a deepEqual of 50,000 ids would diff them all). */
function assertSameOrder(actual: number[], expected: number[], label: string): void {
  assert.equal(actual.length, expected.length, `${label}: rows`);
  const at = actual.findIndex((id, i) => id !== expected[i]);
  assert.equal(at, -1, `${label}: first difference at row ${at}: id ${actual[at]}, expected ${expected[at]}`);
}

async function runSort(source: Source<any>, keys: SortKey[], memory: number, options: { tempDir?: string } = {}) {
  const figures: SortFigures = { peakRows: 0, spilledBytes: 0, spilledRuns: 0, spillMs: 0 };
  const budget = new MemoryBudget(memory);
  let overBudget = 0;
  const check = () => {
    if (budget.reserved > budget.limit) overBudget++;
  };
  const spillRoot = options.tempDir ?? (await tempDir('sluice-sort-'));
  const sink = collect<Row>();
  const summary = await run(pipeline({ name: 'sort', tempDir: spillRoot }).from(source).tap(check).pipe(sort(keys, { figures })).tap(check).to(sink), { budget });
  return { summary, sink, ids: sink.rows.map((row) => row.id as number), figures, overBudget, leftInTemp: await readdir(spillRoot) };
}

const KEY_TYPES: DType[] = ['bool', 'int8', 'uint16', 'int32', 'float64', 'timestamp', 'date', 'string', 'dictionary'];

for (const dtype of KEY_TYPES) {
  test(`sort by a ${dtype} key and a dictionary key equals a stable plain-JS sort, in memory and spilled`, async () => {
    const { rows, batches } = dataset(dtype, 50_000, 400, KEY_TYPES.indexOf(dtype) + 1);
    const specs: SortKey[][] = [
      [{ column: 'k' }, { column: 's', descending: true }],
      [{ column: 'k', descending: true, nulls: 'first' }, { column: 's', nulls: 'first' }],
    ];
    for (const keys of specs) {
      const expected = referenceOrder(rows, keys);
      const label = `${dtype} ${JSON.stringify(keys)}`;
      const roomy = await runSort(fromBatches(batches), keys, 256 * 1024 * 1024);
      assert.equal(roomy.summary.status, 'succeeded', roomy.summary.error?.message);
      assert.equal(roomy.figures.spilledBytes, 0, `${label}: a roomy budget does not spill`);
      assertSameOrder(roomy.ids, expected, `${label}, in memory`);

      const tight = await runSort(fromBatches(batches), keys, 4 * 1024 * 1024);
      assert.equal(tight.summary.status, 'succeeded', tight.summary.error?.message);
      assert.ok(tight.figures.spilledRuns >= 2, `${label}: 50,000 rows in a 4 MB budget must spill more than one run`);
      assertSameOrder(tight.ids, expected, `${label}, spilled`);
      for (const result of [roomy, tight]) {
        assert.equal(result.overBudget, 0, 'reserved stays within the budget at every batch');
        assert.ok(result.summary.memory.peakReserved <= result.summary.memory.budget);
        assert.deepEqual(result.leftInTemp, [], 'no temporary file is left');
        assert.equal(result.summary.rows.read, result.summary.rows.written + result.summary.rows.dropped + result.summary.rows.rejected);
        assert.equal(result.summary.rows.written, rows.length);
      }
    }
  });
}

test('sort keeps every column and its dtype, values and nulls: the output rows are the input rows reordered', async () => {
  const { rows, batches } = dataset('float64', 20_000, 50, 77);
  for (const memory of [256 * 1024 * 1024, 4 * 1024 * 1024]) {
    const result = await runSort(fromBatches(batches), [{ column: 'id', descending: true }], memory);
    assert.equal(result.summary.status, 'succeeded', result.summary.error?.message);
    const byId = new Map(rows.map((row) => [row.id, row]));
    assert.equal(result.sink.rows.length, rows.length);
    result.sink.rows.forEach((row, i) => {
      assert.equal(row.id, rows.length - 1 - i);
      const want = byId.get(row.id)!;
      assert.ok(Object.is(row.k, want.k) || (row.k === 0 && want.k === 0 && Object.is(row.k, want.k)), `k of ${row.id}: ${String(row.k)} vs ${String(want.k)}`);
      assert.equal(row.s, want.s);
      assert.equal(row.note, want.note);
    });
    assert.deepEqual(
      Object.fromEntries(Object.entries(result.sink.batches[0].columns).map(([name, column]) => [name, column.dtype])),
      { k: 'float64', s: 'dictionary', id: 'int32', note: 'string' },
    );
  }
});

test('sort: all keys equal keeps the input order (stable), all distinct, many runs merged in several passes, and an empty input', async () => {
  const { rows, batches } = dataset('int32', 40_000, 1, 5);
  const same = batches.map((batch) => batch.withColumns({ ...batch.columns, k: columnFromValues('int32', new Array(batch.length).fill(7)) }));
  const equal = await runSort(fromBatches(same), [{ column: 'k' }], 4 * 1024 * 1024);
  assert.ok(equal.figures.spilledRuns >= 2);
  assertSameOrder(equal.ids, rows.map((row) => row.id as number), 'all equal');

  // Long strings: ~60 MB of rows through a 4 MB budget make more runs than one merge reads at once.
  const wide = dataset('string', 60_000, 60_000, 6, 2000);
  const padded = wide.batches.map((batch) =>
    batch.withColumns({ ...batch.columns, note: columnFromValues('string', Array.from({ length: batch.length }, (_, i) => `${'x'.repeat(900)}${i}`)) }),
  );
  const many = await runSort(fromBatches(padded), [{ column: 'k', descending: true }], 4 * 1024 * 1024);
  assert.equal(many.summary.status, 'succeeded', many.summary.error?.message);
  assert.ok(many.figures.spilledRuns > 20, `${many.figures.spilledRuns} runs written`);
  assertSameOrder(many.ids, referenceOrder(wide.rows, [{ column: 'k', descending: true }]), 'many runs');
  assert.deepEqual(many.leftInTemp, []);
  assert.equal(many.overBudget, 0);

  const empty = new Batch(Object.fromEntries(Object.entries(batches[0].columns).map(([name, column]) => [name, column.take(new Uint32Array(0), 0)])), 0);
  const sink = collect<Row>();
  const summary = await run(pipeline({ name: 'empty' }).from(fromBatches([empty])).sort('k').to(sink));
  assert.equal(summary.status, 'succeeded', summary.error?.message);
  assert.equal(sink.rows.length, 0);
  assert.deepEqual(sink.batches[0].names, ['k', 's', 'id', 'note'], 'the empty output still has the columns');
});

test('sort shows its keys for --dry-run, and the summary shows rows held and runs spilled', async () => {
  assert.equal(sort<any>(['country', { column: 'unit_price', descending: true }, { column: 'note', nulls: 'first' }]).stageDetail, 'by country, unit_price desc, note nulls first');
  const { batches } = dataset('int32', 50_000, 1000, 8);
  const result = await runSort(fromBatches(batches), [{ column: 'k' }], 4 * 1024 * 1024);
  const stage = result.summary.stages[1];
  assert.equal(stage.name, 'sort');
  assert.equal(stage.peakRows, result.figures.peakRows);
  assert.ok(stage.peakRows! > 0 && stage.peakRows! < 50_000, 'a tight budget holds part of the rows');
  assert.equal(stage.spilledRuns, result.figures.spilledRuns);
  assert.ok(stage.peakStateBytes > 0);
  assert.match(formatSummary(result.summary), /stage {6}sort .*rows held [\d,]+, spilled [\d.]+ [KM]B in \d+ runs/);
});

test('sort: an unknown key column fails on the first batch, and a bad key spec when sort() is called', async () => {
  const { batches } = dataset('int32', 10_000, 10, 3);
  const source = fromBatches(batches);
  const summary = await run(pipeline({ name: 'bad' }).from(source).pipe(sort<any>('nope')).to(collect()));
  assert.equal(summary.status, 'failed');
  assert.equal(summary.error!.code, 'STAGE_FAILED');
  assert.match(summary.error!.message, /sort: no column "nope" to sort by; the input has k, s, id, note/);
  assert.ok(source.probe.batchesYielded <= 1, 'failed on the first batch');

  const refused = (call: () => unknown) => {
    try {
      call();
    } catch (error) {
      return (error as Error).message;
    }
    return 'not refused';
  };
  assert.equal(refused(() => sort<any>([{ column: 'k', decending: true } as never])), 'sort() key 0: unknown option `decending`. Did you mean `descending`?');
  assert.equal(refused(() => sort<any>([{ column: 'k', nulls: 'top' } as never])), "sort() key 0: expected `nulls` to be 'first' or 'last'; got \"top\".");
  assert.equal(refused(() => sort<any>([])), 'sort(): expected at least one sort key; got none.');
  assert.equal(refused(() => sort<any>(['k', 'k'])), 'sort(): column "k" is a sort key twice.');
});

test('sort removes its run files when the run fails mid-way and when a later take stops it early; tempDir says where they go', async () => {
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
  const failed = await runSort(failing, [{ column: 'k' }], 4 * 1024 * 1024);
  assert.equal(failed.summary.status, 'failed');
  assert.ok(failed.figures.spilledRuns > 0, 'it had spilled before the failure');
  assert.deepEqual(failed.leftInTemp, []);

  const folder = await tempDir('sluice-sort-take-');
  let seenWhileRunning: string[] = [];
  const figures: SortFigures = { peakRows: 0, spilledBytes: 0, spilledRuns: 0, spillMs: 0 };
  const sink = collect<Row>();
  const summary = await run(
    pipeline({ name: 'take', tempDir: folder })
      .from(fromBatches(batches))
      .pipe(sort<any>('k', { figures }))
      .tap(async () => {
        seenWhileRunning = await readdir(folder);
      })
      .take(3)
      .to(sink),
    { memory: '4MB' },
  );
  assert.equal(summary.status, 'succeeded', summary.error?.message);
  assert.equal(sink.rows.length, 3);
  assert.ok(figures.spilledRuns > 0);
  assert.equal(seenWhileRunning.length, 1, 'the run folder is made in tempDir');
  assert.match(seenWhileRunning[0], /^sluice-/);
  assert.deepEqual(await readdir(folder), []);
});
