/**
 * Group-by bench (issue 15): Sluice's groupBy over the bench's orders CSV (10 columns, 10M rows by
 * default) against DuckDB over the same file, on one thread and on all, and (for the few-groups case) a
 * hand-written JS Map in a custom stage, as the README alone would lead a user to write it:
 * - country-status: group by (country, status) → count, sum(quantity), mean(unit_price): 32 groups;
 * - customer: group by customer_id (~630K groups at 10M rows) under a 64MB budget (DuckDB: memory_limit);
 * - order: group by order_id (every key distinct) under a 64MB budget, which Sluice must spill.
 * Every mode's result is checked against DuckDB's (support/versus-duckdb.ts); figures are medians of
 * runs taken in turns.
 *
 *   npm run bench -- aggregate [--rows 10000000] [--runs 3] [--scenario country-status,customer] [--keep]
 *
 * Sort and join scenarios go in their own case files the same way: a list of scenarios and
 * `runScenarios`.
 */
import { fileURLToPath } from 'node:url';
import { Batch, columnFromValues, count, mean, sum, type Stage } from '../../../src/index.ts';
import type { BenchOptions, BenchResult } from '../main.ts';
import { childMain, type Fingerprint, type Folder, runScenarios, type Scenario } from '../support/versus-duckdb.ts';

const AGGREGATES = 'count(*) AS orders, sum(quantity) AS items, avg(unit_price) AS avg_price';

/** A small integer per string, the same in JS for both results. */
function code(text: unknown): number {
  const value = String(text);
  let result = 0;
  for (let i = 0; i < value.length; i++) result = result * 31 + value.charCodeAt(i);
  return result % 1_000_003;
}

/**
 * groups, the sums of each aggregate, and sums weighted by a code of the key: two results agree on
 * them only if each group has its own values (not merely the same totals).
 */
function folder(keyCode: (batch: Batch, row: number) => number): Folder {
  const totals: Fingerprint = { groups: 0, orders: 0, items: 0, avg_price: 0, keyed_orders: 0, keyed_items: 0 };
  return {
    add(batch) {
      const orders = batch.column('orders');
      const items = batch.column('items');
      const price = batch.column('avg_price');
      for (let i = 0; i < batch.length; i++) {
        const key = keyCode(batch, i);
        const n = orders.get(i) as number;
        const q = items.get(i) as number;
        totals.groups++;
        totals.orders += n;
        totals.items += q;
        totals.avg_price += price.get(i) as number;
        totals.keyed_orders += key * n;
        totals.keyed_items += key * q;
      }
    },
    result: () => totals,
  };
}

/** The same fingerprint in SQL, for a numeric key column. */
function fingerprintSql(key: string) {
  return (query: string) =>
    `SELECT count(*) AS groups, sum(orders) AS orders, sum(items) AS items, sum(avg_price) AS avg_price, ` +
    `sum((${key} % 1000003) * orders) AS keyed_orders, sum((${key} % 1000003) * items) AS keyed_items FROM (${query})`;
}

const numericKey = (key: string) => (batch: Batch, row: number) => (batch.column(key).get(row) as number) % 1_000_003;

/** What a user writes from the README alone: a custom stage folding row views into a Map of objects. */
const handWrittenGroupBy: Stage<any, any> = async function* mapGroupBy(input) {
  const groups = new Map<string, { country: string; status: string; orders: number; items: number; price: number }>();
  for await (const batch of input) {
    const row = batch.view();
    for (let i = 0; i < batch.length; i++) {
      row.at(i);
      const key = `${row.country}|${row.status}`;
      let group = groups.get(key);
      if (group === undefined) {
        group = { country: row.country, status: row.status, orders: 0, items: 0, price: 0 };
        groups.set(key, group);
      }
      group.orders++;
      group.items += row.quantity;
      group.price += row.unit_price;
    }
  }
  const list = [...groups.values()];
  yield new Batch(
    {
      country: columnFromValues('string', list.map((group) => group.country)),
      status: columnFromValues('string', list.map((group) => group.status)),
      orders: columnFromValues('float64', list.map((group) => group.orders)),
      items: columnFromValues('float64', list.map((group) => group.items)),
      avg_price: columnFromValues('float64', list.map((group) => group.price / group.orders)),
    },
    list.length,
  );
};

const SCENARIOS: Scenario[] = [
  {
    name: 'country-status',
    label: 'group by (country, status) → count, sum(quantity), mean(unit_price)',
    sluice: (from) => from.groupBy(['country', 'status'], { orders: count(), items: sum('quantity'), avg_price: mean('unit_price') }),
    duckdb: (source) => `SELECT country, status, ${AGGREGATES} FROM ${source} GROUP BY country, status`,
    folder: () => folder((batch, row) => code(`${batch.column('country').get(row)}|${batch.column('status').get(row)}`)),
    handWritten: (from) => from.pipe(handWrittenGroupBy),
  },
  {
    name: 'customer',
    label: 'group by customer_id under a 64MB budget',
    memory: '64MB',
    sluice: (from) => from.groupBy(['customer_id'], { orders: count(), items: sum('quantity'), avg_price: mean('unit_price') }),
    duckdb: (source) => `SELECT customer_id, ${AGGREGATES} FROM ${source} GROUP BY customer_id`,
    folder: () => folder(numericKey('customer_id')),
    fingerprintSql: fingerprintSql('customer_id'),
  },
  {
    name: 'order',
    label: 'group by order_id (every key distinct) under a 64MB budget',
    memory: '64MB',
    sluice: (from) => from.groupBy(['order_id'], { orders: count(), items: sum('quantity'), avg_price: mean('unit_price') }),
    duckdb: (source) => `SELECT order_id, ${AGGREGATES} FROM ${source} GROUP BY order_id`,
    folder: () => folder(numericKey('order_id')),
    fingerprintSql: fingerprintSql('order_id'),
  },
];

export function run(options: BenchOptions): Promise<BenchResult[]> {
  return runScenarios('aggregate', fileURLToPath(import.meta.url), SCENARIOS, options);
}

await childMain(SCENARIOS);
