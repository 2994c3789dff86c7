/**
 * `npm run bench -- join [--size 200MB] [--runs 3] [--tight 64MB] [--keep]`: the bench's orders file
 * (the csv case's, customer_id 0..999,999) joined with a generated 500,000-row customers CSV
 * (customer_id 0..499,999: half the orders find their customer), the output written as CSV:
 * - `sluice join`: `.join(csv(customers), { on: 'customer_id', select: ['name', 'segment'] })` under a
 *   1 GB budget (the build side fits: a hash join);
 * - `sluice join, tight`: the same under `--tight` (default 64MB): it spills, a grace hash join;
 * - `sluice no join`: the same pipeline without the join (reading and writing alone), the baseline;
 * - `duckdb`: the same join and output as one COPY statement, DuckDB with threads=1 over the same CSVs
 *   (the strongest peer; `@duckdb/node-api`, not a dependency: `npm install --no-save @duckdb/node-api`).
 * Runs alternate (A, B, C, D, A, B, …) in this one process and each figure is the median of `--runs`.
 */
import { createWriteStream, existsSync } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline as streamPipeline } from 'node:stream/promises';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { z } from 'zod';
import type { BenchOptions, BenchResult } from '../main.ts';
import { random } from '../../support/random.ts';
import { generate, Order } from './csv.ts';

const MB = 1024 * 1024;
const CUSTOMERS = 500_000;
const SEGMENTS = ['consumer', 'small business', 'enterprise', 'public sector'];
const DUCKDB = '@duckdb/node-api';

const Customer = z.object({ customer_id: z.int().min(0), name: z.string(), segment: z.enum(['consumer', 'small business', 'enterprise', 'public sector']), since: z.iso.date() });

/** The customers file: lines of about 1 MB at a time, the same bytes on every machine. */
function* customerLines(): Generator<string> {
  const next = random(11);
  let chunk = 'customer_id,name,segment,since\n';
  for (let id = 0; id < CUSTOMERS; id++) {
    const since = new Date(Date.UTC(2015, 0, 1) + Math.floor(next() * 3650) * 86_400_000).toISOString().slice(0, 10);
    chunk += `${id},Customer ${Math.floor(next() * 1e9).toString(36)},${SEGMENTS[Math.floor(next() * 4)]},${since}\n`;
    if (chunk.length >= MB || id === CUSTOMERS - 1) {
      yield chunk;
      chunk = '';
    }
  }
}

interface Timed {
  ms: number;
  rows: number;
  note?: string;
}

async function sluice(orders: string, customers: string, output: string, memory: string | undefined, withJoin: boolean): Promise<Timed> {
  const { csv, pipeline, run, toCsv } = await import('../../../src/index.ts');
  const started = performance.now();
  const source = pipeline({ name: 'join-bench' }).from(csv(orders, { schema: Order }));
  const built = withJoin ? source.join(csv(customers, { schema: Customer }), { on: 'customer_id', select: ['name', 'segment'] }).to(toCsv(output)) : source.to(toCsv(output));
  const summary = await run(built, { memory: memory ?? '1GB' });
  if (summary.status !== 'succeeded') throw new Error(summary.error?.message);
  const stage = summary.stages[0];
  const note =
    stage === undefined
      ? undefined
      : `build ${stage.buildRows} rows, state ${(stage.peakStateBytes / MB).toFixed(0)} MB, spilled ${((stage.spilledBytes ?? 0) / MB).toFixed(0)} MB in ${stage.spilledPartitions ?? 0} partitions (${stage.spillMs ?? 0} ms), peak RSS ${(summary.memory.peakRss / MB).toFixed(0)} MB`;
  return { ms: performance.now() - started, rows: summary.rows.written, note };
}

async function duckdb(orders: string, customers: string, output: string): Promise<Timed> {
  const { DuckDBInstance } = (await import(DUCKDB)) as {
    DuckDBInstance: { create(path: string, options: Record<string, string>): Promise<{ connect(): Promise<{ runAndReadAll(sql: string): Promise<{ getRows(): unknown[][] }> }> }> };
  };
  const quote = (path: string) => `'${path.replaceAll("'", "''")}'`;
  const started = performance.now();
  const connection = await (await DuckDBInstance.create(':memory:', { threads: '1' })).connect();
  const result = await connection.runAndReadAll(
    `COPY (SELECT o.*, c.name, c.segment FROM read_csv(${quote(orders)}, header = true) o JOIN read_csv(${quote(customers)}, header = true) c ` +
      `ON o.customer_id = c.customer_id) TO ${quote(output)} (HEADER, DELIMITER ',')`,
  );
  return { ms: performance.now() - started, rows: Number(result.getRows()[0]?.[0] ?? 0) };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

export async function run(options: BenchOptions): Promise<BenchResult[]> {
  const size = typeof options.values.size === 'string' ? options.values.size : '200MB';
  const runs = Number(options.values.runs ?? 3);
  const tight = typeof options.values.tight === 'string' ? options.values.tight : '64MB';
  const bytes = Math.round(Number.parseFloat(size) * (/GB$/i.test(size) ? 1024 * MB : MB));
  const dir = tmpdir();
  const orders = joinPath(dir, `sluice-bench-join-orders-${bytes}.csv`);
  const customers = joinPath(dir, 'sluice-bench-join-customers-500k.csv');
  const output = joinPath(dir, 'sluice-bench-join-out.csv');
  if (!existsSync(orders)) {
    options.log(`generating ${size} of orders`);
    await generate(orders, bytes);
  }
  if (!existsSync(customers)) {
    options.log(`generating ${CUSTOMERS} customers`);
    await streamPipeline(Readable.from(customerLines()), createWriteStream(customers));
  }
  let reference = true;
  try {
    import.meta.resolve(DUCKDB);
  } catch {
    reference = false;
    options.log(`no DuckDB reference: ${DUCKDB} is not installed (npm install --no-save ${DUCKDB})`);
  }
  const cases: [string, () => Promise<Timed>][] = [
    ['sluice join', () => sluice(orders, customers, output, undefined, true)],
    [`sluice join, tight (${tight})`, () => sluice(orders, customers, output, tight, true)],
    ['sluice no join', () => sluice(orders, customers, output, undefined, false)],
  ];
  if (reference) cases.push(['duckdb threads=1', () => duckdb(orders, customers, output)]);
  const times = new Map<string, number[]>(cases.map(([name]) => [name, []]));
  const last = new Map<string, Timed>();
  try {
    for (let r = 0; r < runs; r++) {
      for (const [name, work] of cases) {
        const result = await work();
        times.get(name)!.push(result.ms);
        last.set(name, result);
        options.log(`run ${r + 1}/${runs} ${name}: ${(result.ms / 1000).toFixed(2)} s, ${result.rows} rows`);
      }
    }
  } finally {
    await rm(output, { force: true });
    if (options.values.keep !== true) await Promise.all([rm(orders, { force: true }), rm(customers, { force: true })]);
  }
  const ordersBytes = existsSync(orders) ? (await stat(orders)).size : bytes;
  const results: BenchResult[] = [];
  for (const [name] of cases) {
    const ms = median(times.get(name)!);
    results.push({ case: 'join', name, value: Number((ms / 1000).toFixed(2)), unit: 's', note: `median of ${times.get(name)!.map((t) => (t / 1000).toFixed(2)).join(', ')} s; ${last.get(name)!.rows} rows${last.get(name)!.note ? `; ${last.get(name)!.note}` : ''}` });
  }
  const ms = (name: string) => median(times.get(name)!);
  if (reference) {
    results.push({ case: 'join', name: 'duckdb / sluice join (>1: Sluice faster)', value: Number((ms('duckdb threads=1') / ms('sluice join')).toFixed(2)), unit: 'x' });
    results.push({ case: 'join', name: 'duckdb / sluice join, tight', value: Number((ms('duckdb threads=1') / ms(`sluice join, tight (${tight})`)).toFixed(2)), unit: 'x' });
  }
  results.push({ case: 'join', name: 'sluice join / no join (cost of the join)', value: Number((ms('sluice join') / ms('sluice no join')).toFixed(2)), unit: 'x', note: `orders ${(ordersBytes / MB).toFixed(0)} MB` });
  return results;
}
