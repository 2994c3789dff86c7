/**
 * CSV bench (issue 3): on one generated orders file (10 columns: ints, a timestamp, low-cardinality
 * strings, decimals, a bool, a sometimes-quoted note), in one run:
 * - `csv-parse`: csv-parse streaming into one object per row (`columns: true`), the baseline;
 * - `reader`: Sluice's CSV source (fast engine) into typed batches, schema-checked;
 * - `reader (csv-parse engine)`: the same source on its fallback engine;
 * - `pipeline`: CSV → schema → filter → derive → CSV file, through `run()`;
 * - `bytes`: typed batches vs the same rows as JS objects (Batch#byteSize vs Batch#objectBytes);
 * - the cost of watching a run: the pipeline with its time series off, on (the default), and with an
 *   OpenTelemetry SDK registered, in turns (observabilityOverhead);
 * - `duckdb`, `duckdb pipeline` (a reference, when `@duckdb/node-api` is installed, e.g. with
 *   `npm install --no-save @duckdb/node-api`; not a dependency): DuckDB with one thread reading every
 *   column of the same file, and running the same pipeline with COPY … TO. MB/s differ from machine to
 *   machine; the ratio to DuckDB on the same machine in the same run does not, much.
 * Each case runs in its own child process (peak RSS per case, from VmHWM), best of N by wall time; CPU
 * time (user + system) is reported too, since the machine is shared.
 *
 *   npm run bench -- csv [--size 200MB] [--runs 3] [--json] [--keep]
 */
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { once } from 'node:events';
import { rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchOptions, BenchResult } from '../main.ts';
import { peakRss, runChild } from '../support/child.ts';
import { random } from '../../support/random.ts';
import { Order } from '../support/csv-orders.ts';

export { Order };

const MB = 1024 * 1024;
const thisFile = fileURLToPath(import.meta.url);
const THREADS_PIPELINE = fileURLToPath(new URL('../pipelines/csv-threads.ts', import.meta.url));

const HEADER = 'order_id,customer_id,ordered_at,country,status,quantity,unit_price,discount,gift,note\n';
const COUNTRIES = ['FR', 'DE', 'US', 'GB', 'ES', 'IT', 'NL', 'SE'];
const STATUSES = ['paid', 'shipped', 'cancelled', 'refunded'];
const NOTES = ['', '', '', '', 'gift wrap', 'leave at door', '"call ""before"" delivery"', '"fragile, handle with care"'];


/** The orders file: the same bytes for the same size (or the first `maxRows` of them) on every machine. */
export async function generate(path: string, targetBytes: number, maxRows = Infinity): Promise<void> {
  const next = random(7);
  const out = createWriteStream(path);
  let size = HEADER.length;
  let chunk = HEADER;
  let time = Date.UTC(2025, 0, 1);
  for (let id = 1; size < targetBytes && id <= maxRows; id++) {
    time += Math.floor(next() * 20_000);
    const line =
      `${id},${Math.floor(next() * 1_000_000)},${new Date(time).toISOString().slice(0, 19)}Z,${COUNTRIES[Math.floor(next() * 8)]},` +
      `${STATUSES[Math.floor(next() * 4)]},${1 + Math.floor(next() * 9)},${(next() * 500).toFixed(2)},${(Math.floor(next() * 4) / 20).toFixed(2)},` +
      `${next() < 0.1 ? 'true' : 'false'},${NOTES[Math.floor(next() * NOTES.length)]}\n`;
    size += line.length;
    chunk += line;
    if (chunk.length >= MB) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
}

interface ChildResult {
  rows: number;
  wallMs: number;
  cpuMs: number;
  peakRss: number;
  extra?: Record<string, number>;
}


/**
 * The run's time series off, for the overhead A/B: the sampler's timer is not started (its final
 * point is still taken), so the run does everything else it does.
 */
async function stopSampling(): Promise<void> {
  const { RunTimeSeries } = await import('../../../src/runtime/time-series.ts');
  RunTimeSeries.prototype.start = function start() {
    return this;
  };
}

/** An OpenTelemetry SDK as an application registers one: spans kept in memory, counters read by a reader. */
async function registerOpenTelemetry(): Promise<void> {
  const [{ metrics, trace }, { InMemorySpanExporter, BasicTracerProvider, SimpleSpanProcessor }, { MeterProvider, InMemoryMetricExporter, PeriodicExportingMetricReader, AggregationTemporality }] =
    await Promise.all([import('@opentelemetry/api'), import('@opentelemetry/sdk-trace-base'), import('@opentelemetry/sdk-metrics')]);
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(new InMemorySpanExporter())] }));
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 1000 })] }));
}

/** The pipeline with its time series off, as it runs by default, and with an OpenTelemetry SDK. */
const OBSERVABILITY_MODES: readonly string[] = ['pipeline-unobserved', 'pipeline-observed', 'pipeline-otel'];

/** One case, in this (child) process. */
async function child(mode: string, input: string, output: string): Promise<ChildResult> {
  // The observability A/B compares runs, not imports: its modes load Sluice (and the SDK) first.
  if (OBSERVABILITY_MODES.includes(mode)) {
    await import('../../../src/index.ts');
    if (mode === 'pipeline-unobserved') await stopSampling();
    if (mode === 'pipeline-otel') await registerOpenTelemetry();
  }
  const started = performance.now();
  const cpu = process.cpuUsage();
  let rows = 0;
  let extra: Record<string, number> | undefined;
  const { csv, pipeline, run, toCsv } = await import('../../../src/index.ts');
  if (mode === 'csv-parse') {
    const { parse } = await import('csv-parse');
    const parser = createReadStream(input, { highWaterMark: MB }).pipe(parse({ columns: true }));
    for await (const record of parser) if (record !== undefined) rows++;
  } else if (mode === 'reader' || mode === 'reader-csv-parse' || mode === 'bytes') {
    let columnar = 0;
    let objects = 0;
    const sink = {
      kind: 'count',
      describe: () => ({ kind: 'count', location: 'memory' }),
      async write(batches: AsyncIterable<{ length: number; byteSize: number; objectBytes(): number }>) {
        for await (const batch of batches) {
          rows += batch.length;
          if (mode === 'bytes') {
            columnar += batch.byteSize;
            objects += batch.objectBytes();
          }
        }
        return { rowsWritten: rows, location: 'memory' };
      },
    };
    const engine = mode === 'reader-csv-parse' ? 'csv-parse' : 'fast';
    const summary = await run(pipeline({ name: 'bench' }).from(csv(input, { schema: Order, engine })).to(sink as never));
    if (summary.status !== 'succeeded') throw new Error(JSON.stringify(summary.error));
    if (mode === 'bytes') extra = { columnar, objects, savingRatio: summary.batches.savingRatio };
  } else if (mode === 'pipeline' || OBSERVABILITY_MODES.includes(mode)) {
    const summary = await run(
      pipeline({ name: 'bench' })
        .from(csv(input, { schema: Order }))
        .filter((order) => order.status === 'paid' || order.status === 'shipped')
        .derive({ total: (order) => Math.round(order.quantity * order.unit_price * (1 - order.discount) * 100) / 100 })
        .to(toCsv(output)),
    );
    if (summary.status !== 'succeeded') throw new Error(JSON.stringify(summary.error));
    rows = summary.rows.read;
    extra = { written: summary.rows.written, outputBytes: (await stat(output)).size };
  } else if (mode.startsWith('threads-')) {
    // threads-<reader|pipeline>-<n>: the same work through the pipeline file the workers import.
    const [, work, threads] = mode.split('-');
    Object.assign(process.env, { SLUICE_BENCH_MODE: work, SLUICE_BENCH_INPUT: input, SLUICE_BENCH_OUTPUT: output });
    const { loadPipeline } = await import('../../../src/ops/load.ts');
    const summary = await run(await loadPipeline(THREADS_PIPELINE), { threads: Number(threads) });
    if (summary.status !== 'succeeded') throw new Error(JSON.stringify(summary.error));
    rows = summary.rows.read;
    extra = { written: summary.rows.written, threads: summary.source.threads?.used ?? 1, parts: summary.source.threads?.parts ?? 1 };
  } else if (mode.startsWith('duckdb')) {
    ({ rows, extra } = await duckdb(mode, input, output));
  } else throw new Error(`unknown mode ${mode}`);
  const used = process.cpuUsage(cpu);
  return { rows, wallMs: performance.now() - started, cpuMs: (used.user + used.system) / 1000, peakRss: await peakRss(), extra };
}

const DUCKDB = '@duckdb/node-api';
const DUCKDB_COLUMNS =
  "{'order_id':'BIGINT','customer_id':'INTEGER','ordered_at':'TIMESTAMP','country':'VARCHAR','status':'VARCHAR'," +
  "'quantity':'TINYINT','unit_price':'DOUBLE','discount':'DOUBLE','gift':'BOOLEAN','note':'VARCHAR'}";

function duckdbInstalled(): boolean {
  try {
    import.meta.resolve(DUCKDB);
    return true;
  } catch {
    return false;
  }
}

/**
 * The reference: DuckDB on one thread. `duckdb` reads every column (an aggregate over each, so none is
 * skipped by projection pushdown); `duckdb-pipeline` runs the bench pipeline as one COPY statement.
 */
async function duckdb(mode: string, input: string, output: string): Promise<{ rows: number; extra?: Record<string, number> }> {
  const { DuckDBInstance } = (await import(DUCKDB)) as {
    DuckDBInstance: { create(path: string, options: Record<string, string>): Promise<{ connect(): Promise<DuckDBConnection> }> };
  };
  // `-all`: DuckDB as it runs by default, on every core.
  const connection = await (await DuckDBInstance.create(':memory:', mode.endsWith('-all') ? {} : { threads: '1' })).connect();
  const source = `read_csv('${input.replaceAll("'", "''")}', header = true, columns = ${DUCKDB_COLUMNS})`;
  if (mode === 'duckdb' || mode === 'duckdb-all') {
    const result = await connection.runAndReadAll(
      `SELECT count(*), sum(order_id), sum(customer_id), max(ordered_at), max(country), max(status), sum(quantity), ` +
        `sum(unit_price), sum(discount), count_if(gift), max(note) FROM ${source}`,
    );
    return { rows: Number(result.getRows()[0][0]) };
  }
  const result = await connection.runAndReadAll(
    `COPY (SELECT *, round(quantity * unit_price * (1 - discount) * 100) / 100 AS total FROM ${source} ` +
      `WHERE status IN ('paid', 'shipped')) TO '${output.replaceAll("'", "''")}' (HEADER, DELIMITER ',')`,
  );
  // Rows read are not counted here (that would read the file twice): the parent takes the file's row count.
  return { rows: 0, extra: { written: Number(result.getRows()[0]?.[0] ?? 0) } };
}

interface DuckDBConnection {
  runAndReadAll(sql: string): Promise<{ getRows(): unknown[][] }>;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function spawnChild(mode: string, input: string, output: string): Promise<ChildResult> {
  return runChild<ChildResult>(thisFile, [mode, input, output]);
}

function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(KB|MB|GB)?$/i.exec(text);
  if (match === null) throw new Error(`--size: expected e.g. 200MB, got ${text}`);
  const unit = (match[2] ?? 'MB').toUpperCase();
  return Math.round(Number(match[1]) * (unit === 'GB' ? 1024 * MB : unit === 'KB' ? 1024 : MB));
}

export async function run(options: BenchOptions): Promise<BenchResult[]> {
  const size = parseSize(String(options.values.size ?? '200MB'));
  const runs = Number(options.values.runs ?? 3);
  const input = join(tmpdir(), `sluice-bench-orders10-${size}.csv`);
  const output = join(tmpdir(), `sluice-bench-orders10-${size}.out.csv`);
  if (!existsSync(input)) {
    options.log(`generating ${input}`);
    await generate(input, size);
  }
  const bytes = (await stat(input)).size;
  const cases: [string, string][] = [
    ['csv-parse', 'csv-parse → objects (baseline)'],
    ['reader', 'sluice reader → typed batches'],
    ['reader-csv-parse', 'sluice reader, csv-parse engine'],
    ['pipeline', 'pipeline csv → filter → derive → csv'],
    ['threads-reader-1', 'reader, pipeline file, --threads 1'],
    ['threads-reader-2', 'reader, pipeline file, --threads 2'],
    ['threads-pipeline-1', 'pipeline, pipeline file, --threads 1'],
    ['threads-pipeline-2', 'pipeline, pipeline file, --threads 2'],
  ];
  const reference = duckdbInstalled();
  if (reference) {
    cases.push(
      ['duckdb', 'reference: DuckDB 1 thread, reader'],
      ['duckdb-pipeline', 'reference: DuckDB 1 thread, pipeline'],
      ['duckdb-all', 'reference: DuckDB default threads, reader'],
      ['duckdb-pipeline-all', 'reference: DuckDB default threads, pipeline'],
    );
  } else {
    options.log(`no DuckDB reference: ${DUCKDB} is not installed (npm install --no-save ${DUCKDB})`);
  }
  const wall: Record<string, number> = {};
  const results: BenchResult[] = [];
  let baseline = 0;
  let fileRows = 0;
  for (const [mode, label] of cases) {
    let best: ChildResult | undefined;
    let bestCpu = Infinity;
    let maxRss = 0;
    const walls: number[] = [];
    const cpus: number[] = [];
    for (let i = 0; i < runs; i++) {
      const result = await spawnChild(mode, input, output);
      walls.push(result.wallMs);
      cpus.push(result.cpuMs);
      options.log(`${mode} run ${i + 1}: ${(bytes / MB / (result.wallMs / 1000)).toFixed(1)} MB/s wall, ${(bytes / MB / (result.cpuMs / 1000)).toFixed(1)} MB/s cpu, rss ${(result.peakRss / MB).toFixed(0)} MB`);
      if (best === undefined || result.wallMs < best.wallMs) best = result;
      bestCpu = Math.min(bestCpu, result.cpuMs);
      maxRss = Math.max(maxRss, result.peakRss);
    }
    if (best!.rows === 0) best!.rows = fileRows;
    fileRows ||= best!.rows;
    const mbps = bytes / MB / (best!.wallMs / 1000);
    const cpuMbps = bytes / MB / (bestCpu / 1000);
    if (mode === 'csv-parse') baseline = mbps;
    wall[mode] = mbps;
    const json = {
      case: 'csv',
      name: label,
      value: Number(mbps.toFixed(1)),
      unit: 'MB/s',
      mbPerSecondCpu: Number(cpuMbps.toFixed(1)),
      rowsPerSecond: Math.round(best!.rows / (best!.wallMs / 1000)),
      rows: best!.rows,
      fileBytes: bytes,
      wallSeconds: Number((best!.wallMs / 1000).toFixed(2)),
      cpuSeconds: Number((bestCpu / 1000).toFixed(2)),
      medianWallSeconds: Number((median(walls) / 1000).toFixed(2)),
      medianCpuSeconds: Number((median(cpus) / 1000).toFixed(2)),
      peakRssMB: Number((maxRss / MB).toFixed(1)),
      ratioToBaseline: Number((mbps / baseline).toFixed(2)),
      runs,
      ...(best!.extra === undefined ? {} : { extra: best!.extra }),
    };
    results.push({
      ...json,
      note: `${json.mbPerSecondCpu} MB/s cpu, ${json.rowsPerSecond} rows/s, peak RSS ${json.peakRssMB} MB, ${json.ratioToBaseline}x baseline`,
    } as BenchResult);
  }
  if (reference) {
    for (const [ours, theirs, label] of [
      ['reader', 'duckdb', 'sluice reader / DuckDB reader'],
      ['pipeline', 'duckdb-pipeline', 'sluice pipeline / DuckDB pipeline'],
      ['threads-reader-2', 'duckdb-all', 'sluice reader --threads 2 / DuckDB reader, default threads'],
      ['threads-pipeline-2', 'duckdb-pipeline-all', 'sluice pipeline --threads 2 / DuckDB pipeline, default threads'],
    ]) {
      results.push({ case: 'csv', name: label, value: Number((wall[ours] / wall[theirs]).toFixed(2)), unit: 'x', note: 'wall MB/s, same file, same run' });
    }
  }
  for (const [two, one, label] of [
    ['threads-reader-2', 'threads-reader-1', 'reader --threads 2 / --threads 1'],
    ['threads-pipeline-2', 'threads-pipeline-1', 'pipeline --threads 2 / --threads 1'],
  ]) {
    results.push({ case: 'csv', name: label, value: Number((wall[two] / wall[one]).toFixed(2)), unit: 'x', note: 'wall MB/s, same file, same run' });
  }
  results.push(...(await observabilityOverhead(options, input, output, runs)));
  const memory = await spawnChild('bytes', input, output);
  const { columnar, objects } = memory.extra!;
  results.push({
    case: 'csv',
    name: 'typed batches vs JS objects',
    value: Number((objects / columnar).toFixed(2)),
    unit: 'x',
    note: `typed ${(columnar / MB).toFixed(1)} MB, objects ${(objects / MB).toFixed(1)} MB (${memory.rows} rows)`,
    columnarBytes: columnar,
    objectBytes: objects,
  } as BenchResult);
  await rm(output, { force: true });
  if (options.values.keep !== true) await rm(input, { force: true });
  return results;
}

/**
 * The cost of watching a run (issue target: at most 2% of rows/s): the bench pipeline as it runs by
 * default (time series sampled each second; OpenTelemetry not loaded, no SDK registered), with the
 * time series off, and with an OpenTelemetry SDK registered (spans and per-batch counters). The three
 * take turns, round after round, and CPU seconds are compared as well as wall time: on a busy machine
 * CPU time is the steadier of the two.
 */
async function observabilityOverhead(options: BenchOptions, input: string, output: string, runs: number): Promise<BenchResult[]> {
  const modes = OBSERVABILITY_MODES;
  const wall = new Map<string, number[]>(modes.map((mode) => [mode, []]));
  const cpu = new Map<string, number[]>(modes.map((mode) => [mode, []]));
  for (let round = 0; round < Math.max(runs, 3); round++) {
    for (const mode of modes) {
      const result = await spawnChild(mode, input, output);
      wall.get(mode)!.push(result.wallMs);
      cpu.get(mode)!.push(result.cpuMs);
    }
    options.log(`observability round ${round + 1}`);
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const results: BenchResult[] = [];
  for (const [mode, label] of [
    ['pipeline-observed', 'pipeline, time series on (default) / off'],
    ['pipeline-otel', 'pipeline, time series + OpenTelemetry SDK / off'],
  ] as const) {
    const wallOverhead = median(wall.get(mode)!) / median(wall.get('pipeline-unobserved')!) - 1;
    const cpuOverhead = median(cpu.get(mode)!) / median(cpu.get('pipeline-unobserved')!) - 1;
    results.push({
      case: 'csv',
      name: `${label}: CPU overhead`,
      value: Number((cpuOverhead * 100).toFixed(2)),
      unit: '%',
      note: `wall ${(wallOverhead * 100).toFixed(2)}%; medians of ${wall.get(mode)!.length} rounds in turns; target ≤ 2%: ${cpuOverhead <= 0.02 ? 'met' : 'missed'}`,
    });
  }
  return results;
}

if (process.argv[2] === '--child') {
  const [, , , mode, input, output] = process.argv;
  process.stdout.write(`${JSON.stringify(await child(mode, input, output))}\n`);
}
