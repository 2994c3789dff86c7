// Nightly export of billable order lines for the finance team.
//
// Reads every orders CSV of the input glob (gzipped or not), types it, rejects malformed rows into a
// reject file (the run fails if more than 1% of a typical day's volume is rejected), keeps billable
// orders, computes net amounts in cents, and writes one NDJSON file.
//
//   ORDERS_GLOB='data/orders/2026-11-*.csv.gz' OUT_DIR=out npx etl run pipelines/orders-export.ts --memory 128MB
//
// Without ORDERS_GLOB it reads the quickstart's sample orders, so it runs out of the box.
import { join } from 'node:path';
import { z } from 'zod';
import { csv, pipeline, toNdjson } from 'sluice';

const input = process.env.ORDERS_GLOB ?? join(import.meta.dirname, '../examples/quickstart/orders.csv');
const outDir = process.env.OUT_DIR ?? join(import.meta.dirname, 'out');

export const Order = z.object({
  order_id: z.number().int().min(0).max(4_000_000_000),
  customer: z.string().min(1),
  country: z.string().length(2),
  status: z.enum(['paid', 'shipped', 'cancelled', 'refunded']),
  quantity: z.number().int().min(1).max(1000),
  unit_price: z.number().min(0),
  ordered_at: z.iso.datetime(),
  note: z.string().nullable(),
});

// VAT rates by country, in basis points.
const VAT: Record<string, number> = { FR: 2000, DE: 1900, GB: 2000, ES: 2100, IT: 2200, NL: 2100, SE: 2500, US: 0 };

export default pipeline({
  name: 'orders-export',
  memory: '128MB',
  rejects: { path: join(outDir, 'orders-export.rejects.ndjson'), max: 1000 },
})
  .from(csv(input, { schema: Order, columns: ['order_id', 'customer', 'country', 'status', 'quantity', 'unit_price', 'ordered_at'] }))
  .filter((order) => order.status === 'paid' || order.status === 'shipped')
  .derive({
    gross_cents: { dtype: 'int32', value: (order) => Math.round(order.quantity * order.unit_price * 100) },
    vat_bps: { dtype: 'uint16', value: (order) => VAT[order.country] ?? 0 },
  })
  .derive({
    net_cents: { dtype: 'int32', value: (order) => Math.round((order.gross_cents * 10_000) / (10_000 + order.vat_bps)) },
  })
  .rename({ ordered_at: 'ordered_at_utc' })
  .to(toNdjson(join(outDir, 'orders-export.ndjson')));
