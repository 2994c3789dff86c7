import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { repoRoot, runCli } from '../support/cli.ts';
import { duckdb, literal } from '../connectors/parquet/support.ts';

test('the CSV → Parquet example runs through etl, and DuckDB reads back the CSV rows with their types', async () => {
  const result = await runCli(['run', 'examples/csv-to-parquet/pipeline.ts']);
  assert.equal(result.code, 0, result.stderr);
  const rows = parse(await readFile(join(repoRoot, 'examples/quickstart/orders.csv')), { columns: true }) as Record<string, string>[];
  const output = join(repoRoot, 'examples/csv-to-parquet/out/orders.parquet');
  const [totals] = await duckdb(`SELECT count(*) AS n, sum(quantity) AS quantity, count(note) AS notes, min(ordered_at) AS first FROM read_parquet(${literal(output)})`);
  assert.equal(Number(totals.n), rows.length);
  assert.equal(Number(totals.quantity), rows.reduce((sum, row) => sum + Number(row.quantity), 0));
  assert.equal(Number(totals.notes), rows.filter((row) => row.note !== '').length);
  const types = Object.fromEntries((await duckdb(`DESCRIBE SELECT * FROM read_parquet(${literal(output)})`)).map((row) => [row.column_name, row.column_type]));
  assert.deepEqual(types, {
    order_id: 'BIGINT',
    customer: 'VARCHAR',
    country: 'VARCHAR',
    status: 'VARCHAR',
    quantity: 'UTINYINT',
    unit_price: 'DOUBLE',
    ordered_at: 'TIMESTAMP WITH TIME ZONE',
    note: 'VARCHAR',
  });
});
