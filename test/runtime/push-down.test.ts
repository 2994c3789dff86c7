import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { z } from 'zod';
import {
  count,
  csv,
  ndjson,
  parquet,
  passesOn,
  pipeline,
  postgres,
  reduce,
  replacesRows,
  runOrThrow,
  sum,
  toParquet,
  type PipelineBuilder,
  type Source,
  type Stage,
} from '../../src/index.ts';
import { neededColumns, pushDownStop } from '../../src/contracts/columns.ts';
import { select } from '../../src/stages/select.ts';
import { runCli } from '../support/cli.ts';
import { testSchema } from '../support/db.ts';
import { collect, fromRows, tempDir } from '../support/fakes.ts';
import { random } from '../support/random.ts';

const HEADER = ['order_id', 'customer_id', 'ordered_at', 'country', 'status', 'quantity', 'unit_price', 'discount', 'gift', 'note'];
const COUNTRIES = ['FR', 'DE', 'US', 'GB'];
const STATUSES = ['paid', 'shipped', 'cancelled'];
const ROWS = 3000;

/** Ten columns of orders, the same for every test of this file. */
function orders(): Record<string, unknown>[] {
  const next = random(11);
  return Array.from({ length: ROWS }, (_, i) => ({
    order_id: i + 1,
    customer_id: Math.floor(next() * 200),
    ordered_at: new Date(Date.UTC(2025, 0, 1) + i * 60_000).toISOString().slice(0, 19) + 'Z',
    country: COUNTRIES[Math.floor(next() * COUNTRIES.length)],
    status: STATUSES[Math.floor(next() * STATUSES.length)],
    quantity: 1 + Math.floor(next() * 9),
    unit_price: Math.round(next() * 50_000) / 100,
    discount: Math.floor(next() * 4) / 20,
    gift: next() < 0.1,
    note: next() < 0.5 ? null : `note ${i}`,
  }));
}

const ROWS_OF = orders();

/** What the group-by below must give, by a plain loop. */
function reference(rows: Record<string, unknown>[], keep: (row: Record<string, unknown>) => boolean = () => true) {
  const groups = new Map<string, { n: number; q: number }>();
  for (const row of rows) {
    if (!keep(row)) continue;
    const group = groups.get(row.country as string) ?? { n: 0, q: 0 };
    group.n++;
    group.q += row.quantity as number;
    groups.set(row.country as string, group);
  }
  return [...groups].map(([country, { n, q }]) => ({ country, n, q })).sort(byCountry);
}

const byCountry = (a: Record<string, unknown>, b: Record<string, unknown>) => String(a.country).localeCompare(String(b.country));

const dir = await tempDir('sluice-pushdown-');
const csvFile = join(dir, 'orders.csv');
const ndjsonFile = join(dir, 'orders.ndjson');
const cell = (value: unknown) => (value === null ? '' : String(value));
await writeFile(csvFile, `${HEADER.join(',')}\n${ROWS_OF.map((row) => HEADER.map((name) => cell(row[name])).join(',')).join('\n')}\n`);
await writeFile(ndjsonFile, `${ROWS_OF.map((row) => JSON.stringify(row)).join('\n')}\n`);

type Row = Record<string, any>;
const rows = fromRows([]) as unknown as Source<Row>;
/** The stages of a pipeline built on a source of any row, as a pipeline file would build them. */
const stagesOf = (build: (builder: PipelineBuilder<Row>) => PipelineBuilder<any>) => build(pipeline().from(rows)).to(collect()).stages;

describe('the columns a pipeline needs, from the sink back', () => {
  test('a sink writes every column: with no stage that drops any, every column is read', () => {
    assert.equal(neededColumns([]), 'all');
    assert.equal(neededColumns(stagesOf((p) => p.filter(() => true, { reads: ['a'] }).take(5))), 'all');
  });

  test('select and groupBy need only what they read; filter, derive and tap add their reads, derive takes away what it makes', () => {
    assert.deepEqual(neededColumns(stagesOf((p) => p.select('a', 'b'))), ['a', 'b']);
    assert.deepEqual(neededColumns(stagesOf((p) => p.groupBy(['country'], { n: count(), q: sum('quantity') }))), ['country', 'quantity']);
    assert.deepEqual(
      neededColumns(
        stagesOf((p) =>
          p
            .filter(() => true, { reads: ['status'] })
            .derive({ total: () => 1 }, { reads: ['quantity', 'unit_price'] })
            .tap(() => {}, { reads: ['gift'] })
            .take(10)
            .select('country', 'total'),
        ),
      ),
      ['status', 'quantity', 'unit_price', 'gift', 'country'],
    );
  });

  test('rename needs a column under its old name, and nothing of a name it renamed away', () => {
    assert.deepEqual(neededColumns(stagesOf((p) => p.rename({ country: 'land' }).select('land', 'status'))), ['country', 'status']);
    assert.deepEqual(neededColumns(stagesOf((p) => p.rename({ country: 'land' }).pipe(select<Row, 'country'>('country')))), []);
  });

  test('a stage that may read any column stops the push-down, and --dry-run can name it', () => {
    const custom: Stage = async function* custom(input) {
      yield* input;
    };
    assert.equal(neededColumns(stagesOf((p) => p.filter(() => true).select('a'))), 'all');
    assert.equal(neededColumns(stagesOf((p) => p.pipe(custom).select('a'))), 'all');
    assert.equal(neededColumns(stagesOf((p) => p.map((row) => row).select('a'))), 'all');
    assert.deepEqual(neededColumns(stagesOf((p) => p.map((row) => ({ b: row.a }), { reads: ['a'] }).select('b'))), ['a']);
    assert.equal(pushDownStop(stagesOf((p) => p.filter(() => true).derive({ c: () => 1 }, { reads: ['a'] }).select('c'))), 0);
    assert.equal(pushDownStop(stagesOf((p) => p.select('a', 'b').filter(() => true).select('a'))), undefined, 'select reads two columns first: nothing stops it');
    assert.equal(pushDownStop(stagesOf((p) => p.filter(() => true))), undefined, 'nothing drops columns: nothing to name');
  });

  test('a custom stage declares its use in one line; a reducer that does not say what it reads stops it', () => {
    const pass: Stage = async function* pass(input) {
      yield* input;
    };
    const sortLike = Object.assign(pass.bind(null), { columns: passesOn(['unit_price']) });
    assert.deepEqual(neededColumns(stagesOf((p) => p.pipe(sortLike).select('country'))), ['unit_price', 'country']);
    const joinLike = Object.assign(pass.bind(null), { columns: passesOn(['customer_id'], ['customer_name']) });
    assert.deepEqual(neededColumns(stagesOf((p) => p.pipe(joinLike).select('customer_name', 'country'))), ['customer_id', 'country']);
    const groupLike = Object.assign(pass.bind(null), { columns: replacesRows(['x']) });
    assert.deepEqual(neededColumns(stagesOf((p) => p.pipe(groupLike))), ['x']);
    const anyRow = reduce({ init: () => 0, step: (state: number) => state + 1, merge: (a: number, b: number) => a + b });
    const someColumns = reduce({ init: () => 0, step: (state: number, row: Row) => state + (row.gift ? 1 : 0), merge: (a: number, b: number) => a + b, reads: ['gift'] });
    assert.equal(neededColumns(stagesOf((p) => p.groupBy(['country'], { r: anyRow }))), 'all');
    assert.deepEqual(neededColumns(stagesOf((p) => p.groupBy(['country'], { r: someColumns }))), ['country', 'gift']);
  });
});

describe('sources read only the columns the pipeline uses', () => {
  for (const [kind, source] of [
    ['csv', () => csv(csvFile)],
    ['ndjson', () => ndjson(ndjsonFile)],
  ] as const) {
    test(`${kind}: a group-by of a ten-column file reads two columns, with the same groups as reading all ten`, async () => {
      const results = [];
      for (const pushDown of [true, false]) {
        const sink = collect();
        const summary = await runOrThrow(
          pipeline({ name: `pushdown-${kind}`, pushDown })
            .from(source())
            .groupBy(['country'], { n: count(), q: sum('quantity') })
            .to(sink),
        );
        results.push({ summary, rows: sink.rows.map((row) => ({ ...row })).sort(byCountry) });
      }
      const [pushed, whole] = results;
      assert.deepEqual(pushed.summary.source.columns, { read: ['country', 'quantity'], of: 10 });
      assert.deepEqual(whole.summary.source.columns, { read: HEADER, of: 10 });
      assert.deepEqual(pushed.rows, whole.rows);
      assert.deepEqual(pushed.rows, reference(ROWS_OF));
      for (const { summary } of results) assert.equal(summary.rows.read, summary.rows.written + summary.rows.dropped + summary.rows.rejected);
      assert.ok(pushed.summary.batches.columnarBytes < whole.summary.batches.columnarBytes / 3, 'two columns of ten held in the batches');
    });
  }

  test('csv with a schema: a filter that says what it reads adds its column; one that does not reads every column', async () => {
    const Order = z.object({
      order_id: z.int(),
      customer_id: z.int(),
      ordered_at: z.iso.datetime(),
      country: z.enum(COUNTRIES as [string, ...string[]]),
      status: z.enum(STATUSES as [string, ...string[]]),
      quantity: z.int().min(1).max(100),
      unit_price: z.number(),
      discount: z.number(),
      gift: z.boolean(),
      note: z.string().nullable(),
    });
    const declared = collect();
    const declaredSummary = await runOrThrow(
      pipeline({ name: 'pushdown-filter' })
        .from(csv(csvFile, { schema: Order }))
        .filter((row) => row.status !== 'cancelled', { reads: ['status'] })
        .groupBy(['country'], { n: count(), q: sum('quantity') })
        .to(declared),
    );
    assert.deepEqual(declaredSummary.source.columns, { read: ['country', 'status', 'quantity'], of: 10 });
    const undeclared = collect();
    const undeclaredSummary = await runOrThrow(
      pipeline({ name: 'pushdown-filter-all' })
        .from(csv(csvFile, { schema: Order }))
        .filter((row) => row.status !== 'cancelled')
        .groupBy(['country'], { n: count(), q: sum('quantity') })
        .to(undeclared),
    );
    assert.equal(undeclaredSummary.source.columns?.read.length, 10);
    const expected = reference(ROWS_OF, (row) => row.status !== 'cancelled');
    assert.deepEqual(declared.rows.map((row) => ({ ...row })).sort(byCountry), expected);
    assert.deepEqual(undeclared.rows.map((row) => ({ ...row })).sort(byCountry), expected);
  });

  test('csv with `columns:` by hand: the push-down reads within them', async () => {
    const sink = collect();
    const summary = await runOrThrow(
      pipeline({ name: 'pushdown-columns' })
        .from(csv(csvFile, { columns: ['country', 'status', 'quantity', 'note'] }))
        .groupBy(['country'], { n: count(), q: sum('quantity') })
        .to(sink),
    );
    assert.deepEqual(summary.source.columns, { read: ['country', 'quantity'], of: 4 });
    assert.deepEqual(sink.rows.map((row) => ({ ...row })).sort(byCountry), reference(ROWS_OF));
  });

  test('a `reads` that names a column the input does not have fails at the first batch, naming the nearest', async () => {
    await assert.rejects(
      runOrThrow(
        pipeline({ name: 'pushdown-misspelt' })
          .from(csv(csvFile))
          .filter(() => true, { reads: ['statsu' as 'status'] })
          .select('country')
          .to(collect()),
      ),
      (error: Error & { code?: string }) => error.code === 'STAGE_FAILED' && /^filter: no column "statsu" in the input \(did you mean "status"\?\); it has order_id, customer_id, /.test(error.message),
    );
  });

  test('parquet: only the used columns are read from the file', async () => {
    const file = join(dir, 'orders.parquet');
    await runOrThrow(pipeline({ name: 'pushdown-parquet-write' }).from(csv(csvFile)).to(toParquet(file)));
    const sink = collect();
    const summary = await runOrThrow(
      pipeline({ name: 'pushdown-parquet' })
        .from(parquet(file))
        .groupBy(['country'], { n: count(), q: sum('quantity') })
        .to(sink),
    );
    assert.deepEqual(summary.source.columns, { read: ['country', 'quantity'], of: 10 });
    assert.deepEqual(sink.rows.map((row) => ({ ...row })).sort(byCountry), reference(ROWS_OF));
  });
});

// At the top of the file, not in a hook: testSchema registers its removal with `after` of where it is called.
const db = await testSchema('pushdown');
await db.query(`CREATE TABLE orders (order_id int, customer_id int, ordered_at timestamptz, country text, status text, quantity int,
  unit_price float8, discount float8, gift boolean, note text)`);
await db.query('INSERT INTO orders SELECT * FROM json_populate_recordset(NULL::orders, $1)', [JSON.stringify(ROWS_OF)]);

describe('postgres: the unused columns are not selected', () => {
  test('a table source selects two columns for a group-by, a query is wrapped in a projection, and the groups are the same', async () => {
    const url = db.url;
    for (const input of [{ table: 'orders' }, { query: 'SELECT * FROM orders WHERE quantity > 0' }]) {
      const source = postgres(input, { connection: url });
      const description = await source.describe({ pipeline: 'p', signal: new AbortController().signal, warn: () => {}, columns: ['country', 'quantity'] });
      assert.deepEqual(
        description.columns?.map((column) => column.name),
        ['country', 'quantity'],
      );
      assert.equal(description.columnsOf, 10);
      assert.match(description.notes?.[0] ?? '', 'table' in input ? /^SQL: SELECT "country", "quantity" FROM "orders"$/ : /^SQL: SELECT "country", "quantity" FROM \(SELECT \* FROM orders WHERE quantity > 0\) AS sluice_projected$/);
      const sink = collect();
      const summary = await runOrThrow(pipeline({ name: 'pushdown-pg' }).from(source).groupBy(['country'], { n: count(), q: sum('quantity') }).to(sink));
      assert.deepEqual(summary.source.columns, { read: ['country', 'quantity'], of: 10 });
      assert.deepEqual(sink.rows.map((row) => ({ ...row })).sort(byCountry), reference(ROWS_OF));
    }
  });
});

describe('etl run shows the push-down', () => {
  test('--dry-run says which columns are read, the summary and --report say it again; a filter without reads is named', async () => {
    const file = join(dir, 'rollup.ts');
    const report = join(dir, 'report.json');
    await writeFile(
      file,
      `import { count, csv, mean, pipeline, sum, toCsv } from 'sluice';
export default pipeline({ name: 'rollup' })
  .from(csv(${JSON.stringify(csvFile)}))
  .groupBy(['country'], { n: count(), q: sum('quantity'), price: mean('unit_price') })
  .to(toCsv(${JSON.stringify(join(dir, 'out', 'rollup.csv'))}));
`,
    );
    const dry = await runCli(['run', file, '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /columns {4}read 3 of 10 \(country, quantity, unit_price\): no stage or sink uses the others/);
    assert.doesNotMatch(dry.stdout, /column {3}note/, 'the plan lists the columns read, not the others');
    const ran = await runCli(['run', file, '--report', report]);
    assert.equal(ran.code, 0, ran.stderr);
    assert.match(ran.stdout, /columns {4}read 3 of 10/);
    const summary = JSON.parse(await readFile(report, 'utf8'));
    assert.deepEqual(summary.source.columns, { read: ['country', 'quantity', 'unit_price'], of: 10 });

    const stopped = join(dir, 'stopped.ts');
    await writeFile(
      stopped,
      `import { count, csv, pipeline, toCsv } from 'sluice';
export default pipeline({ name: 'stopped' })
  .from(csv(${JSON.stringify(csvFile)}))
  .filter((row) => row.status !== 'cancelled')
  .groupBy(['country'], { n: count() })
  .to(toCsv(${JSON.stringify(join(dir, 'out', 'stopped.csv'))}));
`,
    );
    const named = await runCli(['run', stopped, '--dry-run']);
    assert.equal(named.code, 0, named.stderr);
    assert.match(named.stdout, /columns {4}every column is read: filter \(stage 1\) may read any column; give it `reads`/);
  });
});
