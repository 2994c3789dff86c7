// PostgreSQL → CSV: the paid orders of the `orders` table (load it with examples/csv-to-postgres first),
// read through a server-side cursor in typed batches, written to a CSV file.
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npx etl run examples/postgres-to-csv/pipeline.ts
import { join } from 'node:path';
import { z } from 'zod';
import { pipeline, postgres, toCsv } from 'sluice';

const here = import.meta.dirname;

// Optional: without a schema, each column's dtype comes from its PostgreSQL type. With one, rows are
// checked against it and the row type flows to the stages.
const PaidOrder = z.object({
  order_id: z.number().int(),
  country: z.string(),
  quantity: z.number().int().min(1),
  unit_price: z.number(),
  ordered_at: z.date(),
});

export default pipeline({ name: 'postgres-to-csv', memory: '64MB' })
  .from(
    postgres({
      table: 'orders',
      // Projection and filter run in PostgreSQL: only the schema's columns and the matching rows
      // cross the network (or name them: columns: ['order_id', …]).
      // `where` is SQL; values go in `params` as $1, $2, …
      where: 'status = $1 and quantity >= $2',
      params: ['paid', 2],
    }, { schema: PaidOrder }),
  )
  .derive({ total: (order) => Math.round(order.quantity * order.unit_price * 100) / 100 })
  .to(toCsv(join(here, 'out/paid-orders.csv')));
