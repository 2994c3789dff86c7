// CSV → Parquet: the quickstart's orders, typed by a schema, written as a zstd Parquet file that
// DuckDB, pandas and Spark read (`SELECT * FROM 'examples/csv-to-parquet/out/orders.parquet'`).
//   npx etl run examples/csv-to-parquet/pipeline.ts
import { join } from 'node:path';
import { z } from 'zod';
import { csv, pipeline, toParquet } from 'sluice';

const here = import.meta.dirname;

// Each dtype becomes its Parquet type: quantity (uint8) an INT32 annotated INT(8, unsigned), country
// and status (dictionary) dictionary-encoded pages, ordered_at an INT64 TIMESTAMP(MILLIS, UTC).
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

export default pipeline({ name: 'csv-to-parquet', memory: '64MB' })
  .from(csv(join(here, '../quickstart/orders.csv'), { schema: Order }))
  .to(toParquet(join(here, 'out/orders.parquet'), { compression: 'zstd' }));
