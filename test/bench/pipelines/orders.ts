// The bench pipeline: CSV → typed by a schema → filter → derive → CSV. Input and output come from the
// environment so the bench can run it as a child process with `etl run`:
//   SLUICE_BENCH_INPUT=/tmp/orders.csv SLUICE_BENCH_OUTPUT=/tmp/out.csv npx etl run test/bench/pipelines/orders.ts --memory 128MB
import { csv, pipeline, toCsv } from '../../../src/index.ts';
import { Order } from '../support/orders.ts';

const input = process.env.SLUICE_BENCH_INPUT;
const output = process.env.SLUICE_BENCH_OUTPUT;
if (input === undefined || output === undefined) throw new Error('set SLUICE_BENCH_INPUT and SLUICE_BENCH_OUTPUT');

export default pipeline({ name: 'bench-orders' })
  .from(csv(input, { schema: Order }))
  .filter((order) => order.status === 'paid' || order.status === 'shipped')
  .derive({ total: (order) => Math.round(order.quantity * order.unit_price * 100) / 100 })
  .to(toCsv(output));
