// Join: enrich each order with its customer's name and segment, read from a second CSV.
//   npx etl run examples/join/pipeline.ts
import { join } from 'node:path';
import { z } from 'zod';
import { csv, pipeline, toCsv } from 'sluice';

const here = import.meta.dirname;

const Order = z.object({
  order_id: z.number().int().min(0),
  customer: z.string(),
  country: z.enum(['FR', 'DE', 'US', 'GB', 'ES', 'IT', 'NL', 'SE']),
  status: z.enum(['paid', 'shipped', 'cancelled', 'refunded']),
  quantity: z.number().int().min(1).max(100),
  unit_price: z.number().min(0),
});

// The other side is read through its own schema; its key must be of the same kind as the orders' (text here).
const Customer = z.object({
  customer: z.string(),
  name: z.string(),
  segment: z.enum(['consumer', 'small business', 'enterprise']),
  country: z.string(),
});

export default pipeline({ name: 'orders-with-customers', memory: '64MB' })
  .from(csv(join(here, '../quickstart/orders.csv'), { schema: Order }))
  // A left join keeps every order; those whose customer is not in customers.csv get null name and segment.
  // Both sides have a `country`: the customer's comes out as `customer_country`.
  .join(csv(join(here, 'customers.csv'), { schema: Customer }), {
    on: 'customer',
    type: 'left',
    select: { name: 'name', segment: 'segment', customer_country: 'country' },
  })
  .to(toCsv(join(here, 'out/orders-with-customers.csv')));
