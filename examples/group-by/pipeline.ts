// Group by on the memory budget: per country and status, the quickstart's orders counted, summed and
// averaged, with the first order time and the number of distinct customers. Only the six columns the
// group-by reads are decoded (the summary says "columns read 6 of 8"); the groups' state is reserved from
// the budget and would spill to a temporary folder if it outgrew it.
//   npx etl run examples/group-by/pipeline.ts
import { join } from 'node:path';
import { z } from 'zod';
import { count, countDistinct, csv, mean, min, pipeline, sum, toCsv } from 'sluice';

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

export default pipeline({ name: 'group-by', memory: '64MB' })
  .from(csv(join(here, '../quickstart/orders.csv'), { schema: Order }))
  .groupBy(['country', 'status'], {
    orders: count(),
    items: sum('quantity'),
    avg_price: mean('unit_price'),
    first_at: min('ordered_at'),
    buyers: countDistinct('customer'),
  })
  .to(toCsv(join(here, 'out/by-country-status.csv')));
