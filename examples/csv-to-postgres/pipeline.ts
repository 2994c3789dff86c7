// CSV → PostgreSQL: load the quickstart orders into the table `orders`, replacing its rows in one
// transaction (readers see the old rows until the load commits). Creates the table on first run.
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npx etl run examples/csv-to-postgres/pipeline.ts
import { join } from 'node:path';
import { z } from 'zod';
import { csv, pipeline, toPostgres } from 'sluice';

const here = import.meta.dirname;

const Order = z.object({
  order_id: z.number().int().min(0).max(2_000_000_000),
  customer: z.string(),
  country: z.enum(['FR', 'DE', 'US', 'GB', 'ES', 'IT', 'NL', 'SE']),
  status: z.enum(['paid', 'shipped', 'cancelled', 'refunded']),
  quantity: z.number().int().min(1).max(100),
  unit_price: z.number().min(0),
  ordered_at: z.iso.datetime(),
  note: z.string().nullable(),
});

export default pipeline({ name: 'csv-to-postgres', memory: '64MB' })
  .from(csv(join(here, '../quickstart/orders.csv'), { schema: Order }))
  // createTable derives the column types from the batches: order_id integer, quantity smallint,
  // unit_price double precision, ordered_at timestamptz, country/status text, …
  .to(toPostgres({ table: 'orders', mode: 'replace', createTable: true }));
