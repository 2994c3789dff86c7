import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { repoRoot, runCli } from '../support/cli.ts';

test('the custom stage and sink example runs through etl and its report equals the totals computed from the CSV', async () => {
  const result = await runCli(['run', 'examples/custom-stage/pipeline.ts']);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /rows {7}read 500, written 500, dropped 0, rejected 0/);
  const report = JSON.parse(await readFile(join(repoRoot, 'examples/custom-stage/out/totals-by-country.json'), 'utf8')) as Record<string, number>;
  const rows = parse(await readFile(join(repoRoot, 'examples/quickstart/orders.csv')), { columns: true }) as Record<string, string>[];
  const expected = new Map<string, number>();
  for (const row of rows) expected.set(row.country, (expected.get(row.country) ?? 0) + Number(row.quantity) * Number(row.unit_price));
  assert.deepEqual(Object.keys(report), [...expected.keys()].sort());
  for (const [country, total] of expected) assert.ok(Math.abs(report[country] - total) < 0.01, `${country}: ${report[country]} vs ${total}`);
});
