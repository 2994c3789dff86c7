/**
 * PostgreSQL bench: reading and writing a generated unlogged `orders` table, each figure with
 * its baseline in the same run.
 *
 * Source: `psql \copy orders to /dev/null` (baseline), pg-query-stream with default settings (row
 * objects, pg's type parsers), Sluice's cursor source and its copy mode (text and binary format) into typed batches.
 * Sink: `psql \copy orders_load from file` (baseline) vs toPostgres append in text and binary COPY (batches
 * read beforehand, so only the sink is timed), into an unlogged table truncated before each.
 *
 * Memory (`--memory-check`, instead of the speed cases): a `--memory-rows` (10M) row table read and
 * written by `etl run --memory 128MB` child processes, PG → PG and PG → CSV, each source mode. The
 * figure is the child's peak RSS (`/usr/bin/time -v`) above the peak of the same command on an empty
 * result (Node, tsx, the pipeline's modules and a connection): the target is at most the budget.
 * The big tables and the CSV file are dropped afterwards (unless --keep).
 *
 * Every case runs once per round, the rounds alternating them (the machine is noisy); each figure is the
 * median of the rounds, with its range and the client's CPU seconds (psql's through /usr/bin/time).
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm run bench -- postgres [--rows 1000000] [--rounds 5]
 *   DATABASE_URL=… npm run bench -- postgres --memory-check [--memory-rows 10000000] [--budget 128MB]
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import QueryStream from 'pg-query-stream';
import type { Batch } from '../../../src/batch/batch.ts';
import { pipeline, run, type Sink } from '../../../src/index.ts';
import { postgres } from '../../../src/connectors/postgres/source.ts';
import { toPostgres } from '../../../src/connectors/postgres/sink.ts';
import type { BenchOptions, BenchResult } from '../main.ts';

const SCHEMA = 'sluice_bench';

export { runBench as run };

async function runBench(options: BenchOptions): Promise<BenchResult[]> {
  if (options.values['memory-check'] !== undefined) return memoryCheck(options);
  const rows = Number(options.values['rows'] ?? 1_000_000);
  const rounds = Number(options.values['rounds'] ?? 5);
  const url = process.env['DATABASE_URL'] || 'postgres://postgres@127.0.0.1:5432/test';
  const searchUrl = new URL(url);
  searchUrl.searchParams.set('options', `-c search_path=${SCHEMA}`);
  const benchUrl = searchUrl.toString();
  const admin = new pg.Client({ connectionString: benchUrl });
  await admin.connect();
  const results: BenchResult[] = [];
  try {
    await admin.query(`create schema if not exists ${SCHEMA}`);
    const existing = await admin.query(`select count(*)::int as n from pg_tables where schemaname = $1 and tablename = 'orders'`, [SCHEMA]);
    const present = existing.rows[0].n === 1 ? (await admin.query('select count(*)::int as n from orders')).rows[0].n : -1;
    if (present !== rows) {
      options.log(`generating ${rows.toLocaleString('en-US')} orders`);
      await generateOrders(admin, 'orders', rows);
    }
    await admin.query('drop table if exists orders_load');
    await admin.query('create unlogged table orders_load (like orders)');
    // Warm the cache.
    await admin.query('select count(*) from orders');
    const file = join(tmpdir(), `sluice-bench-orders-${process.pid}.copy`);
    await psql(url, `\\copy ${SCHEMA}.orders to '${file}'`);
    const batches = await collectBatches(benchUrl);

    const readCase = (mode: 'cursor' | 'copy', copyFormat?: 'text' | 'binary') => () => inProcess(() => readAll(benchUrl, mode, rows, copyFormat));
    const loadCase = (work: () => Promise<Measure>) => async () => {
      await admin.query('truncate orders_load');
      return work();
    };
    const sinkRun = (format: 'text' | 'binary') => async () => {
      const summary = await run(pipeline({ name: 'bench-sink', memory: '1GB' }).from(inMemory(batches)).to(toPostgres({ table: 'orders_load', connection: benchUrl, copyFormat: format })));
      if (summary.status !== 'succeeded') throw new Error(summary.error?.message);
    };
    const cases: Record<string, () => Promise<Measure>> = {
      'psql \\copy to /dev/null': () => psql(url, `\\copy ${SCHEMA}.orders to /dev/null`),
      'pg-query-stream (defaults)': () =>
        inProcess(async () => {
          const client = new pg.Client({ connectionString: benchUrl });
          await client.connect();
          let count = 0;
          for await (const row of client.query(new QueryStream('select * from orders'))) if (row) count++;
          await client.end();
          if (count !== rows) throw new Error(`pg-query-stream read ${count} rows`);
        }),
      'sluice cursor → typed batches': readCase('cursor'),
      'sluice copy (text) → typed batches': readCase('copy', 'text'),
      'sluice copy (binary) → typed batches': readCase('copy', 'binary'),
      'psql \\copy from file': loadCase(() => psql(url, `\\copy ${SCHEMA}.orders_load from '${file}'`)),
      'sluice toPostgres append (text COPY)': loadCase(() => inProcess(sinkRun('text'))),
      'sluice toPostgres append (binary COPY)': loadCase(() => inProcess(sinkRun('binary'))),
      'sluice pg → pg (copy source → COPY sink)': loadCase(() =>
        inProcess(async () => {
          const summary = await run(
            pipeline({ name: 'bench-pg-pg' }).from(postgres({ table: 'orders' }, { connection: benchUrl, mode: 'copy' })).to(toPostgres({ table: 'orders_load', connection: benchUrl })),
          );
          if (summary.status !== 'succeeded') throw new Error(summary.error?.message);
        }),
      ),
    };
    // Rounds alternate the cases, so that a busy minute of the machine falls on all of them alike.
    const measured = new Map<string, Measure[]>(Object.keys(cases).map((name) => [name, []]));
    for (let round = 1; round <= rounds; round++) {
      for (const [name, work] of Object.entries(cases)) measured.get(name)!.push(await work());
      options.log(`round ${round}/${rounds} done`);
    }
    await rm(file, { force: true });
    const medianOf = (name: string, key: keyof Measure) => median(measured.get(name)!.map((measure) => measure[key]));
    const rateOf = (name: string) => Math.round((rows / medianOf(name, 'ms')) * 1000);
    for (const name of Object.keys(cases)) {
      const walls = measured.get(name)!.map((measure) => measure.ms);
      const range = `${Math.round((rows / Math.max(...walls)) * 1000).toLocaleString('en-US')}–${Math.round((rows / Math.min(...walls)) * 1000).toLocaleString('en-US')} rows/s`;
      const note = `median of ${rounds}; range ${range}; client CPU ${(medianOf(name, 'cpuMs') / 1000).toFixed(2)} s`;
      results.push({ case: 'postgres', name, value: rateOf(name), unit: 'rows/s', note });
      options.log(`${name}: ${rateOf(name).toLocaleString('en-US')} rows/s (${note})`);
    }
    const ratio = (name: string, a: string, b: string, note: string) => results.push({ case: 'postgres', name, value: Number((rateOf(a) / rateOf(b)).toFixed(2)), unit: 'x', note });
    const cpuRatio = (name: string, a: string, b: string, note: string) => results.push({ case: 'postgres', name, value: Number((medianOf(a, 'cpuMs') / medianOf(b, 'cpuMs')).toFixed(2)), unit: 'x', note });
    ratio('source: copy (binary) / psql \\copy to', 'sluice copy (binary) → typed batches', 'psql \\copy to /dev/null', 'target >= 0.9');
    ratio('source: copy (text) / psql \\copy to', 'sluice copy (text) → typed batches', 'psql \\copy to /dev/null', 'the text path, for comparison');
    cpuRatio('source: copy (binary) client CPU / psql CPU', 'sluice copy (binary) → typed batches', 'psql \\copy to /dev/null', 'target <= 3');
    ratio('source: cursor / pg-query-stream defaults', 'sluice cursor → typed batches', 'pg-query-stream (defaults)', 'target >= 3');
    ratio('sink: append (binary) / psql \\copy from', 'sluice toPostgres append (binary COPY)', 'psql \\copy from file', 'target >= 1.1');
    ratio('sink: append (text) / psql \\copy from', 'sluice toPostgres append (text COPY)', 'psql \\copy from file', 'the text path, for comparison');
    results.push({ case: 'postgres', name: 'pg → pg rows/s', value: rateOf('sluice pg → pg (copy source → COPY sink)'), unit: 'rows/s', note: 'target >= 600,000' });
    if (options.values['keep'] !== true) await admin.query('drop table if exists orders_load');
  } finally {
    await admin.end();
  }
  return results;
}

/** Wall time and the client's CPU time (user + system) of one case. */
export interface Measure {
  ms: number;
  /** Client CPU, user + system. */
  cpuMs: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Work in this process: its CPU is this process's (pg's and Sluice's both). */
async function inProcess(work: () => Promise<unknown>): Promise<Measure> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  await work();
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return { ms, cpuMs: (used.user + used.system) / 1000 };
}

/** psql as a child under /usr/bin/time, which reports the child's CPU seconds. */
export function psql(url: string, command: string): Promise<Measure> {
  return underTime('psql', [url, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', command]);
}

/** `command args…` as a child under /usr/bin/time: its wall time and the CPU of it and its children; rejects unless it exits 0. */
export function underTime(command: string, args: string[], options: { cwd?: string } = {}): Promise<Measure> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn('/usr/bin/time', ['-f', 'cpu %U %S', command, ...args], { cwd: options.cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - started;
      const cpu = /cpu ([\d.]+) ([\d.]+)\s*$/.exec(stderr);
      if (code !== 0 || cpu === null) reject(new Error(`${command} ${args.join(' ')} failed (${code}): ${stderr}`));
      else resolve({ ms, cpuMs: (Number(cpu[1]) + Number(cpu[2])) * 1000 });
    });
  });
}

function countingSink(): Sink {
  return {
    kind: 'count',
    describe: () => ({ kind: 'count', location: 'nowhere' }),
    async write(input) {
      let rowsWritten = 0;
      for await (const batch of input) rowsWritten += batch.length;
      return { rowsWritten, location: 'nowhere' };
    },
  };
}

async function readAll(url: string, mode: 'cursor' | 'copy', expected: number, copyFormat?: 'text' | 'binary'): Promise<void> {
  const source = postgres({ table: 'orders' }, { connection: url, mode, ...(copyFormat === undefined ? {} : { copyFormat }) });
  const summary = await run(pipeline({ name: `bench-${mode}` }).from(source).to(countingSink()));
  if (summary.status !== 'succeeded') throw new Error(summary.error?.message);
  if (summary.rows.read !== expected) throw new Error(`read ${summary.rows.read} rows, expected ${expected}`);
}

async function collectBatches(url: string): Promise<Batch[]> {
  const batches: Batch[] = [];
  const sink: Sink = {
    kind: 'keep',
    describe: () => ({ kind: 'keep', location: 'memory' }),
    async write(input) {
      for await (const batch of input) batches.push(batch);
      return { rowsWritten: batches.reduce((sum, batch) => sum + batch.length, 0), location: 'memory' };
    },
  };
  await run(pipeline({ name: 'bench-collect', memory: '1GB' }).from(postgres({ table: 'orders' }, { connection: url, mode: 'copy' })).to(sink));
  return batches;
}

function inMemory(batches: Batch[]) {
  return {
    kind: 'memory',
    location: 'memory',
    async describe() {
      return { kind: 'memory', location: 'memory' };
    },
    async *read() {
      yield* batches;
    },
  };
}

/** An unlogged table of generated orders: ids, text of low and medium cardinality, numbers, timestamps, nulls. */
async function generateOrders(admin: pg.Client, table: string, rows: number): Promise<void> {
  await admin.query(`drop table if exists ${table}`);
  await admin.query(
    `
    create unlogged table ${table} as
    select i::int8 as order_id,
           'cust-' || lpad((i::int8 * 7919 % 50000)::text, 5, '0') as customer,
           (array['FR','DE','US','GB','ES','IT','NL','SE'])[1 + i % 8] as country,
           (array['paid','shipped','cancelled','refunded'])[1 + i % 4] as status,
           (1 + i % 9)::int2 as quantity,
           round((i::int8 * 37 % 50000) / 100.0, 2)::float8 as unit_price,
           timestamptz '2025-01-01' + i * interval '7 seconds' as ordered_at,
           case when i % 5 = 0 then 'leave at door' end as note
    from generate_series(1, $1::int) i`,
    [rows],
  );
  await admin.query(`vacuum analyze ${table}`);
}

const ETL = fileURLToPath(new URL('../../../bin/etl.js', import.meta.url));
const INDEX = new URL('../../../src/index.ts', import.meta.url).href;

/** Peak RSS of `etl run` child processes under a memory budget, above the same command's idle peak. */
async function memoryCheck(options: BenchOptions): Promise<BenchResult[]> {
  const rows = Number(options.values['memory-rows'] ?? 10_000_000);
  const budget = String(options.values['budget'] ?? '128MB');
  const budgetBytes = Number.parseInt(budget, 10) * 1024 ** ({ KB: 1, MB: 2, GB: 3 }[budget.replace(/^[\d.]+/, '').toUpperCase()] ?? 0);
  const url = process.env['DATABASE_URL'] || 'postgres://postgres@127.0.0.1:5432/test';
  const searchUrl = new URL(url);
  searchUrl.searchParams.set('options', `-c search_path=${SCHEMA}`);
  const benchUrl = searchUrl.toString();
  const admin = new pg.Client({ connectionString: benchUrl });
  await admin.connect();
  const directory = await mkdtemp(join(tmpdir(), 'sluice-bench-memory-'));
  const csvFile = join(directory, 'orders.csv');
  const results: BenchResult[] = [];
  try {
    await admin.query(`create schema if not exists ${SCHEMA}`);
    const existing = await admin.query(`select count(*)::int as n from pg_tables where schemaname = $1 and tablename = 'orders_big'`, [SCHEMA]);
    const present = existing.rows[0].n === 1 ? (await admin.query('select count(*)::int as n from orders_big')).rows[0].n : -1;
    if (present !== rows) {
      options.log(`generating ${rows.toLocaleString('en-US')} orders (orders_big)`);
      await generateOrders(admin, 'orders_big', rows);
    }
    await admin.query('drop table if exists orders_big_load');
    await admin.query('create unlogged table orders_big_load (like orders_big)');

    const pipelineFile = async (name: string, source: string, sink: string) => {
      const file = join(directory, `${name}.ts`);
      await writeFile(
        file,
        `import { pipeline, postgres, toCsv, toPostgres } from ${JSON.stringify(INDEX)};\n` +
          `void toCsv; void toPostgres;\n` +
          `export default pipeline({ name: ${JSON.stringify(name)} }).from(${source}).to(${sink});\n`,
      );
      return file;
    };
    const toLoad = `toPostgres({ table: 'orders_big_load' })`;
    const toFile = `toCsv(${JSON.stringify(csvFile)})`;
    const cases: { name: string; file: string; truncate: boolean }[] = [];
    for (const mode of ['copy', 'cursor']) {
      const source = `postgres({ table: 'orders_big' }, { mode: '${mode}' })`;
      cases.push({ name: `pg → pg (${mode})`, file: await pipelineFile(`pg-pg-${mode}`, source, toLoad), truncate: true });
      cases.push({ name: `pg → csv (${mode})`, file: await pipelineFile(`pg-csv-${mode}`, source, toFile), truncate: false });
    }
    // The idle baseline: the same process, modules and connection, no rows.
    const idleFile = await pipelineFile('idle', `postgres({ query: 'select * from orders_big where false' }, { mode: 'copy' })`, toLoad);
    const env = { ...process.env, DATABASE_URL: benchUrl };
    const idle = await etlRun(idleFile, budget, env);
    options.log(`idle baseline: peak RSS ${mb(idle.peakRss)}`);
    results.push({ case: 'postgres', name: 'memory: idle etl run peak RSS', value: Math.round(idle.peakRss / 2 ** 20), unit: 'MB', note: 'baseline' });
    for (const { name, file, truncate } of cases) {
      if (truncate) await admin.query('truncate orders_big_load');
      const measured = await etlRun(file, budget, env);
      const written = truncate ? (await admin.query('select count(*)::int as n from orders_big_load')).rows[0].n : (await stat(csvFile)).size;
      if (truncate && written !== rows) throw new Error(`${name} wrote ${written} rows, expected ${rows}`);
      const above = measured.peakRss - idle.peakRss;
      const rate = Math.round((rows / measured.ms) * 1000);
      options.log(`${name}: peak RSS ${mb(measured.peakRss)}, ${mb(above)} above idle (budget ${budget}), ${rate.toLocaleString('en-US')} rows/s`);
      results.push({
        case: 'postgres',
        name: `memory: ${name} peak RSS above idle`,
        value: Math.round(above / 2 ** 20),
        unit: 'MB',
        note: `${above <= budgetBytes ? 'within' : 'OVER'} --memory ${budget}; peak ${mb(measured.peakRss)}; ${rate.toLocaleString('en-US')} rows/s`,
      });
      await rm(csvFile, { force: true });
    }
  } finally {
    if (options.values['keep'] !== true) await admin.query('drop table if exists orders_big, orders_big_load').catch(() => {});
    await admin.end();
    await rm(directory, { recursive: true, force: true });
  }
  return results;
}

function mb(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(0)} MB`;
}

/** `etl run <file> --memory <budget> --quiet` under `/usr/bin/time -v`: its peak RSS and wall time. */
function etlRun(file: string, budget: string, env: NodeJS.ProcessEnv): Promise<{ peakRss: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn('/usr/bin/time', ['-v', process.execPath, ETL, 'run', file, '--memory', budget, '--quiet'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - started;
      const kilobytes = /Maximum resident set size \(kbytes\): (\d+)/.exec(output)?.[1];
      if (code !== 0 || kilobytes === undefined) reject(new Error(`etl run ${file} failed (${code}): ${output}`));
      else resolve({ peakRss: Number(kilobytes) * 1024, ms });
    });
  });
}
