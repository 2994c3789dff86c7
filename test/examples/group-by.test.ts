import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { repoRoot, runCli } from '../support/cli.ts';

test('the group-by example runs through etl, reads only the columns it aggregates, and its groups equal a plain loop over the CSV', async () => {
  const result = await runCli(['run', 'examples/group-by/pipeline.ts']);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /rows {7}read 500, written 32, dropped 468, rejected 0/);
  assert.match(result.stdout, /columns {4}read 6 of 8 \(customer, country, status, quantity, unit_price, ordered_at\)/);
  assert.match(result.stdout, /stage {6}groupBy {6}in 500, out 32, .*groups held 32/);
  const rows = parse(await readFile(join(repoRoot, 'examples/quickstart/orders.csv')), { columns: true }) as Record<string, string>[];
  const expected = new Map<string, { orders: number; items: number; price: number; first: string; buyers: Set<string> }>();
  for (const row of rows) {
    const key = `${row.country},${row.status}`;
    const group = expected.get(key) ?? { orders: 0, items: 0, price: 0, first: row.ordered_at, buyers: new Set<string>() };
    group.orders++;
    group.items += Number(row.quantity);
    group.price += Number(row.unit_price);
    if (Date.parse(row.ordered_at) < Date.parse(group.first)) group.first = row.ordered_at;
    group.buyers.add(row.customer);
    expected.set(key, group);
  }
  const output = parse(await readFile(join(repoRoot, 'examples/group-by/out/by-country-status.csv')), { columns: true }) as Record<string, string>[];
  assert.equal(output.length, expected.size);
  for (const row of output) {
    const group = expected.get(`${row.country},${row.status}`)!;
    assert.equal(Number(row.orders), group.orders);
    assert.equal(Number(row.items), group.items);
    assert.ok(Math.abs(Number(row.avg_price) - group.price / group.orders) < 1e-9, `${row.country} ${row.status} mean`);
    assert.equal(Date.parse(row.first_at), Date.parse(group.first));
    assert.equal(Number(row.buyers), group.buyers.size);
  }
});
