// Your own stage and sink, written against the batch API: a stage that builds a new batch from typed
// columns, and a sink that folds every batch into a small JSON report.
//   npx etl run examples/custom-stage/pipeline.ts
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { type Batch, Column, csv, pipeline, type Sink, type Stage } from 'sluice';

const here = import.meta.dirname;

const Order = z.object({
  order_id: z.number().int().min(0).max(4_000_000_000),
  country: z.enum(['FR', 'DE', 'US', 'GB', 'ES', 'IT', 'NL', 'SE']),
  quantity: z.number().int().min(1).max(100),
  unit_price: z.number().min(0),
});
type Order = z.output<typeof Order>;

/**
 * A stage is an async generator over batches. This one adds `total` as a float64 column computed straight
 * from the typed arrays (no row objects), and passes every batch on with its columns plus the new one.
 */
const withTotal: Stage<Order, Order & { total: number }> = async function* withTotal(input) {
  for await (const batch of input) {
    const quantity = batch.column('quantity'); // 1..100 in the schema: a uint8 column
    const price = batch.column('unit_price');
    const total = new Float64Array(batch.length);
    for (let i = 0; i < batch.length; i++) total[i] = (quantity.data as Uint8Array)[i] * (price.data as Float64Array)[i];
    // A column is a dtype, a length, its data and a validity bitmap (null: no nulls).
    const column = new Column('float64', batch.length, total, null);
    yield batch.withColumns<Order & { total: number }>({ ...batch.columns, total: column });
  }
};

/**
 * A sink consumes the batches one at a time and commits only when the input ends normally: here it folds
 * totals per country, then writes the report under a temporary name and renames it into place.
 */
function toCountryReport(path: string): Sink<Order & { total: number }> {
  return {
    kind: 'json report',
    describe: () => ({ kind: 'json report', location: path }),
    async write(input) {
      const totals = new Map<string, number>();
      let rows = 0;
      for await (const batch of input as AsyncIterable<Batch<Order & { total: number }>>) {
        const country = batch.column('country');
        const total = batch.column('total').data as Float64Array;
        for (let i = 0; i < batch.length; i++) {
          const name = country.get(i) as string; // dictionary column: get() looks the code up
          totals.set(name, (totals.get(name) ?? 0) + total[i]);
        }
        rows += batch.length;
      }
      const report = Object.fromEntries([...totals].sort().map(([name, sum]) => [name, Math.round(sum * 100) / 100]));
      await mkdir(dirname(path), { recursive: true });
      await writeFile(`${path}.tmp`, `${JSON.stringify(report, null, 2)}\n`);
      await rename(`${path}.tmp`, path);
      return { rowsWritten: rows, location: path };
    },
  };
}

export default pipeline({ name: 'custom-stage', memory: '64MB' })
  .from(csv(join(here, '../quickstart/orders.csv'), { schema: Order, columns: ['order_id', 'country', 'quantity', 'unit_price'] }))
  .pipe(withTotal)
  .to(toCountryReport(join(here, 'out/totals-by-country.json')));
