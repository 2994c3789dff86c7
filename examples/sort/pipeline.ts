// Sort and dedupe: the quickstart's orders, one per customer (their latest), largest order first per
// country, on a memory budget. Under a budget too small for the rows the sort writes sorted runs to a
// temporary folder and merges them; the result is the same.
//   npx etl run examples/sort/pipeline.ts
//   npx etl run examples/sort/pipeline.ts --memory 4MB --temp-dir /tmp
import { join } from 'node:path';
import { z } from 'zod';
import { csv, pipeline, toCsv } from 'sluice';

const here = import.meta.dirname;

const Order = z.object({
  order_id: z.number().int().min(0).max(4_000_000_000),
  customer: z.string(),
  country: z.enum(['FR', 'DE', 'US', 'GB', 'ES', 'IT', 'NL', 'SE']),
  status: z.enum(['paid', 'shipped', 'cancelled', 'refunded']),
  quantity: z.number().int().min(1).max(100),
  unit_price: z.number().min(0),
  ordered_at: z.iso.datetime(),
  note: z.string().nullable(),
});

export default pipeline({ name: 'sort-orders', memory: '64MB' })
  .from(csv(join(here, '../quickstart/orders.csv'), { schema: Order }))
  // Oldest first, so that dedupe's `keep: 'last'` keeps each customer's latest order.
  .sort('ordered_at')
  .dedupe('customer', { keep: 'last' })
  .derive({ total: (order) => Math.round(order.quantity * order.unit_price * 100) / 100 })
  // Countries A→Z, then the largest total first; ties keep their order (the sort is stable).
  .sort(['country', { column: 'total', descending: true }])
  .select('country', 'customer', 'order_id', 'total', 'ordered_at')
  .to(toCsv(join(here, 'out/latest-by-country.csv')));
