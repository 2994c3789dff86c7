// The csv bench's reader and pipeline as a pipeline file, so that worker threads can import it
// (`threads` needs the pipeline loaded from its file). The bench sets the environment:
//   SLUICE_BENCH_MODE=reader|pipeline SLUICE_BENCH_INPUT=orders.csv SLUICE_BENCH_OUTPUT=out.csv
import type { Sink } from '../../../src/index.ts';
import { csv, pipeline, toCsv } from '../../../src/index.ts';
import { Order } from '../support/csv-orders.ts';

const input = process.env.SLUICE_BENCH_INPUT ?? 'orders.csv';
const output = process.env.SLUICE_BENCH_OUTPUT ?? 'out.csv';

/** The reader case's sink: counts rows, writes nothing. */
const count: Sink = {
  kind: 'count',
  describe: () => ({ kind: 'count', location: 'memory' }),
  async write(batches) {
    let rows = 0;
    for await (const batch of batches) rows += batch.length;
    return { rowsWritten: rows, location: 'memory' };
  },
};

const orders = pipeline({ name: 'bench-threads' }).from(csv(input, { schema: Order }));

export default process.env.SLUICE_BENCH_MODE === 'reader'
  ? orders.to(count)
  : orders
      .filter((order) => order.status === 'paid' || order.status === 'shipped')
      .derive({ total: (order) => Math.round(order.quantity * order.unit_price * (1 - order.discount) * 100) / 100 })
      .to(toCsv(output));
