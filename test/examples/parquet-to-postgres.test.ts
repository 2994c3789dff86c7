import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { repoRoot, runCli } from '../support/cli.ts';
import { testSchema } from '../support/db.ts';

const db = await testSchema('parquet_example');

test('the Parquet → PostgreSQL example loads what the CSV → Parquet example wrote: the CSV rows it keeps, same sums, typed columns', async () => {
  const written = await runCli(['run', 'examples/csv-to-parquet/pipeline.ts']);
  assert.equal(written.code, 0, written.stderr);
  const load = await runCli(['run', 'examples/parquet-to-postgres/pipeline.ts'], { env: { DATABASE_URL: db.url } });
  assert.equal(load.code, 0, load.stdout + load.stderr);

  const rows = (parse(await readFile(join(repoRoot, 'examples/quickstart/orders.csv')), { columns: true }) as Record<string, string>[]).filter((row) => row.status !== 'cancelled');
  assert.match(load.stdout, new RegExp(`rows\\s+read 500, written ${rows.length}, dropped ${500 - rows.length}, rejected 0`));
  const { rows: [totals] } = await db.query<{ n: number; quantity: number; first: Date }>('select count(*)::int as n, sum(quantity)::int as quantity, min(ordered_at) as first from orders_from_parquet');
  assert.equal(totals.n, rows.length);
  assert.equal(totals.quantity, rows.reduce((sum, row) => sum + Number(row.quantity), 0));
  assert.equal(totals.first.getTime(), Math.min(...rows.map((row) => Date.parse(row.ordered_at))));
  const { rows: columns } = await db.query<{ column_name: string; data_type: string }>(
    `select column_name, data_type from information_schema.columns where table_schema = $1 and table_name = 'orders_from_parquet' order by ordinal_position`,
    [db.schema],
  );
  assert.deepEqual(Object.fromEntries(columns.map((column) => [column.column_name, column.data_type])), {
    order_id: 'bigint',
    country: 'text',
    status: 'text',
    quantity: 'smallint',
    unit_price: 'double precision',
    ordered_at: 'timestamp with time zone',
  });
});
