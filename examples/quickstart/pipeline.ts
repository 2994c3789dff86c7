// Quickstart: read orders, type them, keep the ones that count, add a total, write a CSV.
//   npx etl run examples/quickstart/pipeline.ts
import { join } from 'node:path';
import { z } from 'zod';
import { csv, pipeline, toCsv } from 'sluice';

const here = import.meta.dirname;

// The schema types every column; Sluice stores each in the smallest typed array that holds it
// (quantity: uint8, status: dictionary codes, ordered_at: timestamp, …).
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

export default pipeline({
  name: 'quickstart',
  memory: '64MB',
  // Rows that break the schema go here instead of failing the run (up to 10 of them).
  rejects: { path: join(here, 'out/rejects.ndjson'), max: 10 },
})
  .from(csv(join(here, 'orders.csv'), { schema: Order }))
  .filter((order) => order.status === 'paid' || order.status === 'shipped')
  .derive({ total: (order) => Math.round(order.quantity * order.unit_price * 100) / 100 })
  .select('order_id', 'country', 'status', 'quantity', 'total', 'ordered_at')
  .to(toCsv(join(here, 'out/orders.csv')));
