/**
 * Arrow IPC bench: the orders data written to and read from an Arrow IPC file by Sluice (toArrow,
 * arrow) and by apache-arrow itself over the same rows, taking turns in the same run. DuckDB, the
 * peer of the Parquet bench, has no Arrow IPC reader here; apache-arrow's own calls are the
 * baseline: tableToIPC of a Table already built (the writer's cost alone), tableFromIPC of the whole
 * file read into memory (zero-copy views, nothing converted), so the ratios say what Sluice's
 * streaming and conversion to its columns cost on top.
 *
 *   npm run bench -- arrow [--rows 1000000] [--runs 3] [--keep]
 */
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tableFromIPC, tableToIPC } from 'apache-arrow';
import type { Batch } from '../../../src/batch/batch.ts';
import { arrow, csv, pipeline, runOrThrow, toArrow } from '../../../src/index.ts';
import { collect, fromBatches } from '../../support/fakes.ts';
import type { BenchOptions, BenchResult } from '../main.ts';
import { alternateRuns } from '../support/runs.ts';
import { Order, writeOrdersCsv } from '../support/orders.ts';

const MB = 1024 * 1024;
const LINE_BYTES = 75;

export async function run(options: BenchOptions): Promise<BenchResult[]> {
  const wanted = Number(options.values.rows ?? 1_000_000);
  const runs = Number(options.values.runs ?? 3);
  const dir = join(tmpdir(), 'sluice-bench-arrow');
  await mkdir(dir, { recursive: true });
  const input = join(dir, `orders-${wanted}.csv`);
  const ours = join(dir, 'sluice.arrow');
  const theirs = join(dir, 'apache-arrow.arrow');
  try {
    options.log(`generating about ${wanted} orders`);
    const { bytes, rows } = await writeOrdersCsv(input, wanted * LINE_BYTES);
    const csvMB = bytes / MB;
    const batches: Batch[] = [];
    await runOrThrow(pipeline().from(csv(input, { schema: Order })).to(collect({ keep: false, onBatch: (batch) => batches.push(batch) })));
    // The baseline's Table: what apache-arrow reads back from our file, the same rows and types.
    await runOrThrow(pipeline().from(fromBatches(batches)).to(toArrow(ours)));
    const table = tableFromIPC(await readFile(ours));

    const writes = await alternateRuns(
      {
        sluice: () => runOrThrow(pipeline().from(fromBatches(batches)).to(toArrow(ours))),
        apacheArrow: () => writeFile(theirs, tableToIPC(table, 'file')),
      },
      runs,
      options.log,
    );
    const reads = await alternateRuns(
      {
        sluice: () => runOrThrow(pipeline().from(arrow(ours)).to(collect({ keep: false }))),
        apacheArrow: async () => {
          const read = tableFromIPC(await readFile(theirs));
          // Touch every column, as a reader of the values would.
          for (const field of read.schema.fields) read.getChild(field.name)!.get(read.numRows - 1);
        },
      },
      runs,
      options.log,
    );
    const rate = (seconds: number) => csvMB / seconds;
    return [
      { case: 'arrow', name: 'rows', value: rows, unit: 'rows', note: `${csvMB.toFixed(0)} MB of CSV` },
      { case: 'arrow', name: 'sluice write', value: rate(writes.sluice.wall), unit: 'MB/s' },
      { case: 'arrow', name: 'apache-arrow tableToIPC', value: rate(writes.apacheArrow.wall), unit: 'MB/s' },
      { case: 'arrow', name: 'write ratio', value: writes.apacheArrow.wall / writes.sluice.wall, unit: 'x', note: `sluice / apache-arrow; CPU time ${writes.sluice.cpu.toFixed(2)} s vs ${writes.apacheArrow.cpu.toFixed(2)} s` },
      { case: 'arrow', name: 'sluice file size', value: (await stat(ours)).size / MB, unit: 'MB' },
      { case: 'arrow', name: 'apache-arrow file size', value: (await stat(theirs)).size / MB, unit: 'MB' },
      { case: 'arrow', name: 'sluice read', value: rate(reads.sluice.wall), unit: 'MB/s' },
      { case: 'arrow', name: 'apache-arrow tableFromIPC', value: rate(reads.apacheArrow.wall), unit: 'MB/s' },
      { case: 'arrow', name: 'read ratio', value: reads.apacheArrow.wall / reads.sluice.wall, unit: 'x', note: `sluice / apache-arrow; CPU time ${reads.sluice.cpu.toFixed(2)} s vs ${reads.apacheArrow.cpu.toFixed(2)} s` },
    ];
  } finally {
    if (options.values.keep !== true) await rm(dir, { recursive: true, force: true });
  }
}
