// Daily revenue per country, rolled up in Sluice from the orders CSV: the same rows as the SQL rollup of
// pipelines/pg-orders-rollup.ts (paid and shipped orders, per country and UTC day: orders, items,
// revenue rounded to cents, average order), without a database. Only the five columns it reads are
// decoded, and the groups live on the memory budget (spilling to a temporary folder past it), so a
// year of orders needs no more memory than a day.
//
//   ORDERS_GLOB='data/orders/2026-*.csv.gz' OUT_DIR=out npx etl run pipelines/daily-revenue.ts --memory 64MB
//
// Without ORDERS_GLOB it reads the quickstart's sample orders, so it runs out of the box.
import { join } from 'node:path';
import { count, csv, pipeline, sum, toCsv } from 'sluice';
// The orders' schema of the nightly export (importing that file builds its pipeline and runs nothing).
import { Order } from './orders-export.ts';

const input = process.env.ORDERS_GLOB ?? join(import.meta.dirname, '../examples/quickstart/orders.csv');
const outDir = process.env.OUT_DIR ?? join(import.meta.dirname, 'out');

const DAY_MS = 86_400_000;
const cents = (value: number) => Math.round(value * 100) / 100;

export default pipeline({ name: 'daily-revenue', memory: '64MB' })
  .from(csv(input, { schema: Order }))
  // `reads` says which columns each function reads: the source then decodes only those five.
  .filter((order) => order.status === 'paid' || order.status === 'shipped', { reads: ['status'] })
  .derive(
    {
      day: { dtype: 'date', value: (order) => new Date(Math.floor(order.ordered_at.getTime() / DAY_MS) * DAY_MS) },
      amount: (order) => order.quantity * order.unit_price,
    },
    { reads: ['ordered_at', 'quantity', 'unit_price'] },
  )
  .groupBy(['country', 'day'], { orders: count(), items: sum('quantity'), total: sum('amount') })
  .derive({ revenue: (day) => cents(day.total), average_order: (day) => cents(cents(day.total) / day.orders) }, { reads: ['total', 'orders'] })
  .select('country', 'day', 'orders', 'items', 'revenue', 'average_order')
  .to(toCsv(join(outDir, 'daily-revenue.csv')));
