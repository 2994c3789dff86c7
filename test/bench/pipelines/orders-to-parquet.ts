// CSV → typed by a schema → Parquet (zstd), for the parquet-memory bench, which runs it as a child with
// `etl run` on 1M and 10M rows:
//   SLUICE_BENCH_INPUT=/tmp/orders.csv SLUICE_BENCH_OUTPUT=/tmp/orders.parquet npx etl run test/bench/pipelines/orders-to-parquet.ts --memory 128MB
import { csv, pipeline, toParquet } from '../../../src/index.ts';
import { Order } from '../support/orders.ts';

const input = process.env.SLUICE_BENCH_INPUT;
const output = process.env.SLUICE_BENCH_OUTPUT;
if (input === undefined || output === undefined) throw new Error('set SLUICE_BENCH_INPUT and SLUICE_BENCH_OUTPUT');

export default pipeline({ name: 'bench-orders-parquet' }).from(csv(input, { schema: Order })).to(toParquet(output, { compression: 'zstd' }));
