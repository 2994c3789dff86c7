/**
 * Parquet bench (issue 16): the orders data written to and read from Parquet by Sluice and by DuckDB
 * on one thread, over the same rows, in the same run, so the figures are ratios.
 *
 *   npm run bench -- parquet [--rows 1000000] [--runs 3] [--keep]
 *
 * - write: batches already in memory (read once from the orders CSV) → toParquet(zstd), against
 *   DuckDB's `COPY orders TO 'x.parquet' (COMPRESSION zstd)` from a table in memory. MB/s are the
 *   rows' CSV bytes per second, the same figure for both; file sizes side by side.
 * - read: Sluice's source into typed batches (nothing kept), against DuckDB aggregating every column of
 *   `read_parquet` (so none is skipped), both over DuckDB's file and over Sluice's; the write's input
 *   batches are let go first.
 * Sluice and DuckDB take turns, `--runs` times each after a warm-up; each figure is the median.
 */
import { mkdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { Batch } from '../../../src/batch/batch.ts';
import { csv, parquet, pipeline, runOrThrow, toParquet } from '../../../src/index.ts';
import { collect, fromBatches } from '../../support/fakes.ts';
import type { BenchOptions, BenchResult } from '../main.ts';
import { alternateRuns } from '../support/runs.ts';
import { Order, writeOrdersCsv } from '../support/orders.ts';

const MB = 1024 * 1024;
/** Bytes per orders CSV line, about: the generator is asked for bytes. */
const LINE_BYTES = 75;

export async function run(options: BenchOptions): Promise<BenchResult[]> {
  const wanted = Number(options.values.rows ?? 1_000_000);
  const dir = join(tmpdir(), 'sluice-bench-parquet');
  await mkdir(dir, { recursive: true });
  const input = join(dir, `orders-${wanted}.csv`);
  const ours = join(dir, 'sluice.parquet');
  const theirs = join(dir, 'duckdb.parquet');
  try {
    options.log(`generating about ${wanted} orders`);
    const { bytes, rows } = await writeOrdersCsv(input, wanted * LINE_BYTES);
    const csvMB = bytes / MB;

    // The batches only (collect() would also keep a million row objects, and the GC would bill every read for them).
    const batches: Batch[] = [];
    await runOrThrow(pipeline().from(csv(input, { schema: Order })).to(collect({ keep: false, onBatch: (batch) => batches.push(batch) })));

    const connection = await (await DuckDBInstance.create(':memory:', { threads: '1' })).connect();
    await connection.run(`CREATE TABLE orders AS SELECT * FROM read_csv('${input}', header = true)`);

    const runs = Number(options.values.runs ?? 3);
    const alternate = (pieces: Record<string, () => Promise<unknown>>) => alternateRuns(pieces, runs, options.log);
    const readAll = (file: string) => runOrThrow(pipeline().from(parquet(file)).to(collect({ keep: false })));
    const aggregate = (file: string) =>
      connection.runAndReadAll(
        `SELECT count(*), sum(order_id), max(customer), max(country), max(status), sum(quantity), sum(unit_price), max(ordered_at), max(note) FROM read_parquet('${file}')`,
      );
    const writes = await alternate({
      sluice: () => runOrThrow(pipeline().from(fromBatches(batches)).to(toParquet(ours, { compression: 'zstd' }))),
      duckdb: () => connection.run(`COPY orders TO '${theirs}' (FORMAT parquet, COMPRESSION zstd)`),
    });
    // The write's input is garbage from here on: a million rows' strings kept alive would make every
    // garbage collection of the reads below mark them again, which no read pipeline pays.
    batches.length = 0;
    const sluiceWrite = writes.sluice.wall;
    const duckWrite = writes.duckdb.wall;
    const reads = await alternate({
      sluiceTheirs: () => readAll(theirs),
      duckdbTheirs: () => aggregate(theirs),
      sluiceOurs: () => readAll(ours),
      duckdbOurs: () => aggregate(ours),
    });
    const sluiceReadTheirs = reads.sluiceTheirs.wall;
    const sluiceReadOurs = reads.sluiceOurs.wall;
    const duckReadTheirs = reads.duckdbTheirs.wall;
    const duckReadOurs = reads.duckdbOurs.wall;
    const oursBytes = (await stat(ours)).size;
    const theirsBytes = (await stat(theirs)).size;
    const rate = (seconds: number) => csvMB / seconds;
    return [
      { case: 'parquet', name: 'rows', value: rows, unit: 'rows', note: `${csvMB.toFixed(0)} MB of CSV` },
      { case: 'parquet', name: 'sluice write zstd', value: rate(sluiceWrite), unit: 'MB/s' },
      { case: 'parquet', name: 'duckdb write zstd (1 thread)', value: rate(duckWrite), unit: 'MB/s' },
      { case: 'parquet', name: 'write ratio', value: duckWrite / sluiceWrite, unit: 'x', note: 'sluice / DuckDB (target ≥ 0.5, stretch 1)' },
      { case: 'parquet', name: 'sluice file size', value: oursBytes / MB, unit: 'MB' },
      { case: 'parquet', name: 'duckdb file size', value: theirsBytes / MB, unit: 'MB' },
      { case: 'parquet', name: 'size ratio', value: oursBytes / theirsBytes, unit: 'x', note: 'sluice / DuckDB (target ≤ 1.2)' },
      { case: 'parquet', name: 'sluice read (DuckDB file)', value: rate(sluiceReadTheirs), unit: 'MB/s' },
      { case: 'parquet', name: 'sluice read (Sluice file)', value: rate(sluiceReadOurs), unit: 'MB/s' },
      { case: 'parquet', name: 'duckdb read (DuckDB file)', value: rate(duckReadTheirs), unit: 'MB/s' },
      { case: 'parquet', name: 'duckdb read (Sluice file)', value: rate(duckReadOurs), unit: 'MB/s' },
      { case: 'parquet', name: 'read ratio', value: duckReadTheirs / sluiceReadTheirs, unit: 'x', note: 'sluice / DuckDB over DuckDB\'s file (target ≥ 0.5)' },
      { case: 'parquet', name: 'read ratio (CPU time)', value: reads.duckdbTheirs.cpu / reads.sluiceTheirs.cpu, unit: 'x', note: `sluice / DuckDB, medians of ${runs} CPU times: ${reads.sluiceTheirs.cpu.toFixed(2)} s vs ${reads.duckdbTheirs.cpu.toFixed(2)} s` },
      { case: 'parquet', name: 'write ratio (CPU time)', value: writes.duckdb.cpu / writes.sluice.cpu, unit: 'x', note: `sluice / DuckDB, medians of ${runs} CPU times: ${writes.sluice.cpu.toFixed(2)} s vs ${writes.duckdb.cpu.toFixed(2)} s` },
    ];
  } finally {
    if (options.values.keep !== true) await rm(dir, { recursive: true, force: true });
  }
}
