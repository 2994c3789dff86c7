/**
 * PostgreSQL bench (issue 5): reading and writing a generated unlogged `orders` table, each figure with
 * its baseline in the same run.
 *
 * Source: `psql \copy orders to /dev/null` (baseline), pg-query-stream with default settings (row
 * objects, pg's type parsers), Sluice's cursor source and its copy mode into typed batches.
 * Sink: `psql \copy orders_load from file` (baseline) vs toPostgres append of the same rows (batches
 * read beforehand, so only the sink is timed), into an unlogged table truncated before each.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm run bench -- postgres [--rows 1000000] [--repeat 3]
 */
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import QueryStream from 'pg-query-stream';
import type { Batch } from '../../../src/batch/batch.ts';
import { pipeline, run, type Sink } from '../../../src/index.ts';
import { postgres } from '../../../src/sources/postgres.ts';
import { toPostgres } from '../../../src/sinks/postgres.ts';
import type { BenchOptions, BenchResult } from '../main.ts';

const SCHEMA = 'sluice_bench';

export { runBench as run };

async function runBench(options: BenchOptions): Promise<BenchResult[]> {
  const rows = Number(options.values['rows'] ?? 1_000_000);
  const repeat = Number(options.values['repeat'] ?? 3);
  const url = process.env['DATABASE_URL'] || 'postgres://postgres@127.0.0.1:5432/test';
  const searchUrl = new URL(url);
  searchUrl.searchParams.set('options', `-c search_path=${SCHEMA}`);
  const benchUrl = searchUrl.toString();
  const admin = new pg.Client({ connectionString: benchUrl });
  await admin.connect();
  const results: BenchResult[] = [];
  const rate = (name: string, count: number, ms: number, note?: string) => {
    const value = Math.round((count / ms) * 1000);
    results.push({ case: 'postgres', name, value, unit: 'rows/s', note });
    options.log(`${name}: ${value.toLocaleString('en-US')} rows/s`);
    return value;
  };
  /** Best of `repeat` runs: the figure least disturbed by the machine. */
  const best = async (work: () => Promise<number>): Promise<number> => {
    let fastest = Infinity;
    for (let i = 0; i < repeat; i++) fastest = Math.min(fastest, await work());
    return fastest;
  };
  try {
    await admin.query(`create schema if not exists ${SCHEMA}`);
    const existing = await admin.query(`select count(*)::int as n from pg_tables where schemaname = $1 and tablename = 'orders'`, [SCHEMA]);
    const present = existing.rows[0].n === 1 ? (await admin.query('select count(*)::int as n from orders')).rows[0].n : -1;
    if (present !== rows) {
      options.log(`generating ${rows.toLocaleString('en-US')} orders`);
      await admin.query('drop table if exists orders');
      await admin.query(`
        create unlogged table orders as
        select i::int8 as order_id,
               'cust-' || lpad((i::int8 * 7919 % 50000)::text, 5, '0') as customer,
               (array['FR','DE','US','GB','ES','IT','NL','SE'])[1 + i % 8] as country,
               (array['paid','shipped','cancelled','refunded'])[1 + i % 4] as status,
               (1 + i % 9)::int2 as quantity,
               round((i::int8 * 37 % 50000) / 100.0, 2)::float8 as unit_price,
               timestamptz '2025-01-01' + i * interval '7 seconds' as ordered_at,
               case when i % 5 = 0 then 'leave at door' end as note
        from generate_series(1, $1::int) i`, [rows]);
      await admin.query('vacuum analyze orders');
    }
    await admin.query('drop table if exists orders_load');
    await admin.query('create unlogged table orders_load (like orders)');
    // Warm the cache.
    await admin.query('select count(*) from orders');

    // --- source ---
    const psqlTo = await best(() => timed(() => psql(url, `\\copy ${SCHEMA}.orders to /dev/null`)));
    const baseline = rate('psql \\copy to /dev/null', rows, psqlTo, 'baseline');

    const defaults = await best(() =>
      timed(async () => {
        const client = new pg.Client({ connectionString: benchUrl });
        await client.connect();
        let count = 0;
        for await (const row of client.query(new QueryStream('select * from orders'))) if (row) count++;
        await client.end();
        if (count !== rows) throw new Error(`pg-query-stream read ${count} rows`);
      }),
    );
    const queryStream = rate('pg-query-stream (defaults)', rows, defaults);

    const cursorMs = await best(() => timed(() => readAll(benchUrl, 'cursor', rows)));
    const cursor = rate('sluice postgres() cursor → typed batches', rows, cursorMs, `${(times(cursorMs, defaults))}x pg-query-stream`);
    const copyMs = await best(() => timed(() => readAll(benchUrl, 'copy', rows)));
    const copy = rate('sluice postgres() copy → typed batches', rows, copyMs, `${(times(copyMs, defaults))}x pg-query-stream`);
    const fastest = Math.max(cursor, copy);
    results.push({ case: 'postgres', name: 'source: cursor / pg-query-stream defaults', value: cursor / queryStream, unit: 'x', note: 'target >= 3' });
    results.push({ case: 'postgres', name: 'source: fastest mode / psql \\copy to', value: fastest / baseline, unit: 'ratio', note: 'target >= 0.75' });

    // --- sink ---
    const file = join(tmpdir(), `sluice-bench-orders-${process.pid}.copy`);
    await psql(url, `\\copy ${SCHEMA}.orders to '${file}'`);
    const psqlFrom = await best(async () => {
      await admin.query('truncate orders_load');
      return timed(() => psql(url, `\\copy ${SCHEMA}.orders_load from '${file}'`));
    });
    const loadBaseline = rate('psql \\copy from file', rows, psqlFrom, 'baseline');
    await rm(file, { force: true });

    const batches = await collectBatches(benchUrl);
    const sinkMs = await best(async () => {
      await admin.query('truncate orders_load');
      return timed(async () => {
        const summary = await run(pipeline({ name: 'bench-sink', memory: '1GB' }).from(inMemory(batches)).to(toPostgres({ table: 'orders_load', connection: benchUrl })));
        if (summary.status !== 'succeeded') throw new Error(summary.error?.message);
      });
    });
    const sink = rate('sluice toPostgres append (from typed batches)', rows, sinkMs);
    results.push({ case: 'postgres', name: 'sink: toPostgres / psql \\copy from', value: sink / loadBaseline, unit: 'ratio', note: 'target >= 0.8' });

    const endToEnd = await best(async () => {
      await admin.query('truncate orders_load');
      return timed(async () => {
        const summary = await run(
          pipeline({ name: 'bench-pg-pg' }).from(postgres({ table: 'orders' }, { connection: benchUrl, mode: 'copy' })).to(toPostgres({ table: 'orders_load', connection: benchUrl })),
        );
        if (summary.status !== 'succeeded') throw new Error(summary.error?.message);
      });
    });
    rate('sluice pg → pg (copy source → COPY sink)', rows, endToEnd);
    if (options.values['keep'] !== true) await admin.query('drop table if exists orders_load');
  } finally {
    await admin.end();
  }
  return results;
}

/** How many times faster than the baseline. */
function times(ms: number, baselineMs: number): string {
  return (baselineMs / ms).toFixed(2);
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

function psql(url: string, command: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('psql', [url, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', command], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`psql failed (${code}): ${stderr}`))));
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

async function readAll(url: string, mode: 'cursor' | 'copy', expected: number): Promise<void> {
  const summary = await run(pipeline({ name: `bench-${mode}` }).from(postgres({ table: 'orders' }, { connection: url, mode })).to(countingSink()));
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
