import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { main } from '../../../src/cli/main.ts';
import { runCli, repoRoot } from '../../support/cli.ts';
import { testSchema } from '../../support/db.ts';

const db = await testSchema('pg_examples');

/**
 * The same `etl` command in this process: for the runs after each example's first, which already went
 * through a real child process (each costs a Node start and a TypeScript compile).
 */
async function runInProcess(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const capture = () => {
    const stream = new PassThrough();
    let text = '';
    stream.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
    return { stream: stream as unknown as NodeJS.WriteStream, text: () => text };
  };
  const stdout = capture();
  const stderr = capture();
  const previous = process.cwd();
  process.chdir(repoRoot);
  try {
    const code = await main(args, { stdout: stdout.stream, stderr: stderr.stream });
    return { code, stdout: stdout.text(), stderr: stderr.text() };
  } finally {
    process.chdir(previous);
  }
}

test('the PostgreSQL examples and job run through the real CLI, in order', async () => {
  // A password in the URL (trust auth ignores it) must not show up in the output or the report.
  const url = new URL(db.url);
  url.password = 'Examp1e-pw';
  const env = { DATABASE_URL: url.toString() };
  process.env['DATABASE_URL'] = env.DATABASE_URL; // for the runs in this process

  const load = await runCli(['run', 'examples/csv-to-postgres/pipeline.ts'], { env });
  assert.equal(load.code, 0, load.stdout + load.stderr);
  assert.match(load.stdout, /rows\s+read 500, written 500/);
  const { rows } = await db.query<{ n: number }>('select count(*)::int as n from orders');
  assert.equal(rows[0].n, 500);

  const report = join(repoRoot, 'examples/postgres-to-csv/out/report.json');
  const dryRun = await runInProcess(['run', 'examples/postgres-to-csv/pipeline.ts', '--dry-run']);
  assert.equal(dryRun.code, 0, dryRun.stdout + dryRun.stderr);
  const extract = await runCli(['run', 'examples/postgres-to-csv/pipeline.ts', '--report', report], { env });
  assert.equal(extract.code, 0, extract.stdout + extract.stderr);
  const paid = await db.query<{ n: number }>(`select count(*)::int as n from orders where status = 'paid' and quantity >= 2`);
  const csvText = await readFile(join(repoRoot, 'examples/postgres-to-csv/out/paid-orders.csv'), 'utf8');
  assert.equal(csvText.trim().split('\n').length, paid.rows[0].n + 1);
  assert.match(csvText, /^order_id,country,quantity,unit_price,ordered_at,total\n/);

  const rollup = await runCli(['run', 'pipelines/pg-orders-rollup.ts'], { env });
  assert.equal(rollup.code, 0, rollup.stdout + rollup.stderr);
  const again = await runInProcess(['run', 'pipelines/pg-orders-rollup.ts']);
  assert.equal(again.code, 0, `the upsert job can run again: ${again.stderr}`);
  const totals = await db.query<{ expected: number; got: number }>(`
    select (select round(sum(quantity * unit_price)::numeric, 2) from orders where status in ('paid', 'shipped'))::float8 as expected,
           (select round(sum(revenue)::numeric, 2) from orders_daily)::float8 as got`);
  assert.equal(totals.rows[0].got, totals.rows[0].expected);

  // The same rollup done in Sluice from the CSV the table was loaded from: the same rows, to the cent.
  const outDir = await mkdtemp(join(tmpdir(), 'sluice-daily-revenue-'));
  try {
    process.env['OUT_DIR'] = outDir;
    const daily = await runInProcess(['run', 'pipelines/daily-revenue.ts', '--quiet']);
    delete process.env['OUT_DIR'];
    assert.equal(daily.code, 0, daily.stderr);
    const fromCsv = parse(await readFile(join(outDir, 'daily-revenue.csv'), 'utf8'), { columns: true, cast: (value, { column, header }) => (header || column === 'country' || column === 'day' ? value : Number(value)) }) as Record<string, unknown>[];
    const fromSql = await db.query(`select country, day::text as day, orders, items, revenue, average_order from orders_daily`);
    const byKey = (a: Record<string, unknown>, b: Record<string, unknown>) => `${a.country}${a.day}`.localeCompare(`${b.country}${b.day}`);
    assert.ok(fromCsv.length > 100);
    assert.deepEqual(fromCsv.sort(byKey), fromSql.rows.sort(byKey));
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }

  for (const output of [load, dryRun, extract, rollup, again, { stdout: await readFile(report, 'utf8'), stderr: '' }]) {
    assert.ok(!(output.stdout + output.stderr).includes('Examp1e-pw'), 'no password in the output');
  }
});
