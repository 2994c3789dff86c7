import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { repoRoot, runCli } from '../support/cli.ts';
import { tempDir } from '../support/fakes.ts';

test('the join example runs through etl: every order once, with its customer or nulls, as a lookup over both CSVs gives', async () => {
  const reportDir = await tempDir('sluice-join-example-');
  const report = join(reportDir, 'report.json');
  const result = await runCli(['run', 'examples/join/pipeline.ts', '--report', report]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /stage {6}join {9}in 500, out 500, .*build 50 rows of 50 read from csv .*customers\.csv/);
  const orders = parse(await readFile(join(repoRoot, 'examples/quickstart/orders.csv')), { columns: true }) as Record<string, string>[];
  const customers = new Map((parse(await readFile(join(repoRoot, 'examples/join/customers.csv')), { columns: true }) as Record<string, string>[]).map((row) => [row.customer, row]));
  const output = parse(await readFile(join(repoRoot, 'examples/join/out/orders-with-customers.csv')), { columns: true }) as Record<string, string>[];
  // Nothing spilled under 64MB: the output is in the orders' order.
  assert.deepEqual(
    output.map((row) => [row.order_id, row.name, row.segment, row.customer_country]),
    orders.map((order) => {
      const customer = customers.get(order.customer);
      return [order.order_id, customer?.name ?? '', customer?.segment ?? '', customer?.country ?? ''];
    }),
  );
  assert.ok(output.some((row) => row.name === '') && output.some((row) => row.name !== ''), 'some orders have no customer in the file, some have one');
  const summary = JSON.parse(await readFile(report, 'utf8'));
  assert.equal(summary.stages[0].buildRows, 50);
  assert.equal(summary.stages[0].sideSource.rowsRead, 50);
  assert.ok(summary.stages[0].peakStateBytes > 0);

  const dryRun = await runCli(['run', 'examples/join/pipeline.ts', '--dry-run']);
  assert.equal(dryRun.code, 0, dryRun.stderr);
  assert.match(dryRun.stdout, /stage {6}join left with csv .*customers\.csv on customer → name, segment, customer_country = country/);
});
