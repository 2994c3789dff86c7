// Parquet → PostgreSQL: the orders that examples/csv-to-parquet writes, loaded into the table
// `orders_from_parquet` (replacing its rows in one transaction; created on the first run). Run the
// CSV → Parquet example first, or point `parquet()` at any Parquet file (DuckDB's, pandas', Spark's).
//   npx etl run examples/csv-to-parquet/pipeline.ts
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npx etl run examples/parquet-to-postgres/pipeline.ts
import { join } from 'node:path';
import { parquet, pipeline, toPostgres } from 'sluice';

const here = import.meta.dirname;

// No schema: the file's own types are the columns' (quantity uint8 → smallint, ordered_at timestamp →
// timestamptz, country and status dictionary pages → dictionary columns → text). Only the columns
// named are read; the others are never decoded. A row group at a time, on the run's memory budget.
export default pipeline({ name: 'parquet-to-postgres', memory: '64MB' })
  .from(parquet(join(here, '../csv-to-parquet/out/orders.parquet'), { columns: ['order_id', 'country', 'status', 'quantity', 'unit_price', 'ordered_at'] }))
  .filter((order) => order.status !== 'cancelled')
  .to(toPostgres({ table: 'orders_from_parquet', mode: 'replace', createTable: true }));
