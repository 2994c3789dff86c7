import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { repoRoot, runCli } from '../support/cli.ts';

test('the sort example runs through etl: each customer once with their latest order, by country then total descending', async () => {
  const result = await runCli(['run', 'examples/sort/pipeline.ts']);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /stage {6}sort {9}in 500, out 500/);
  assert.match(result.stdout, /stage {6}dedupe {7}in 500, out \d+/);
  const orders = parse(await readFile(join(repoRoot, 'examples/quickstart/orders.csv')), { columns: true }) as Record<string, string>[];
  // The reference: the latest order of each customer (the later row of two at the same time).
  const latest = new Map<string, Record<string, string>>();
  for (const order of orders) {
    const known = latest.get(order.customer);
    if (known === undefined || Date.parse(order.ordered_at) >= Date.parse(known.ordered_at)) latest.set(order.customer, order);
  }
  const expected = [...latest.values()]
    .map((order) => ({ country: order.country, customer: order.customer, total: Math.round(Number(order.quantity) * Number(order.unit_price) * 100) / 100 }))
    .sort((a, b) => (a.country < b.country ? -1 : a.country > b.country ? 1 : b.total - a.total));
  const written = parse(await readFile(join(repoRoot, 'examples/sort/out/latest-by-country.csv')), { columns: true }) as Record<string, string>[];
  assert.deepEqual(Object.keys(written[0]), ['country', 'customer', 'order_id', 'total', 'ordered_at']);
  assert.deepEqual(
    written.map((row) => [row.country, Number(row.total)]),
    expected.map((row) => [row.country, row.total]),
  );
  assert.deepEqual(new Set(written.map((row) => row.customer)), new Set(latest.keys()));
  for (const row of written) assert.equal(row.order_id, latest.get(row.customer)!.order_id, `${row.customer}: the latest order`);
});
