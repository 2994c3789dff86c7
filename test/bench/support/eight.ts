// Eight bench pipelines at once under one budget, in one process: run([...8], { memory, concurrency: 8 }).
//   node --import tsx test/bench/support/eight.ts <input.csv> <outputDir> [memory=256MB]
import { join } from 'node:path';
import { csv, pipeline, run, toCsv } from '../../../src/index.ts';
import { Order } from './orders.ts';

const [input, outputDir, memory = '256MB'] = process.argv.slice(2);
const pipelines = Array.from({ length: 8 }, (_, k) =>
  pipeline({ name: `orders-${k}` })
    .from(csv(input, { schema: Order }))
    .filter((order) => order.status === 'paid' || order.status === 'shipped')
    .derive({ total: (order) => Math.round(order.quantity * order.unit_price * 100) / 100 })
    .to(toCsv(join(outputDir, `out-${k}.csv`))),
);
const summaries = await run(pipelines, { memory, concurrency: 8 });
const failed = summaries.filter((summary) => summary.status === 'failed');
process.stdout.write(
  `${JSON.stringify({
    failed: failed.map((summary) => summary.error?.message),
    rows: summaries.reduce((sum, summary) => sum + summary.rows.read, 0),
    budget: summaries[0].memory.budget,
    peakReserved: Math.max(...summaries.map((summary) => summary.memory.peakReserved)),
    baselineRss: summaries[0].memory.baselineRss,
    peakRss: Math.max(...summaries.map((summary) => summary.memory.peakRss)),
    pressureEvents: Math.max(...summaries.map((summary) => summary.memory.pressureEvents)),
  })}\n`,
);
process.exitCode = failed.length > 0 ? 1 : 0;
