/**
 * Distributed bench (issue 18): the bench's orders CSV → PostgreSQL load, split into 8 files (8
 * partitions), loaded by `etl run` alone (the baseline), by `etl run --distributed` with 1 and with 2
 * local `etl worker`s, and by `psql \copy` of the 8 files one after the other (the peer: no parsing into
 * types, no checks). Each configuration in turn, `--runs` rounds (alternating, the machine is noisy),
 * medians reported, the table truncated before each load. Workers are started (and made ready) before
 * the timed part and stopped after; the timed part of a distributed run is `etl run --distributed` from
 * start to exit: planning, queueing, the partitions, finalize and the polling latencies of the queue.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm run bench -- distributed [--size 200MB] [--runs 3]
 *
 * Targets: 2 workers at least 1.3x one; 1 worker within 10% of the plain run (the queue's overhead).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { parseBytes } from '../../../src/core/bytes.ts';
import { startEtl } from '../../support/cli.ts';
import { until } from '../../support/scheduler.ts';
import type { BenchOptions, BenchResult } from '../main.ts';
import { writeOrdersCsv } from '../support/orders.ts';
import { psql } from './postgres.ts';

const SCHEMA = 'sluice_bench_distributed';
const PARTITIONS = 8;

export { runBench as run };

async function runBench(options: BenchOptions): Promise<BenchResult[]> {
  const size = parseBytes(String(options.values['size'] ?? '200MB'));
  const runs = Number(options.values['runs'] ?? 3);
  const url = process.env['DATABASE_URL'] || 'postgres://postgres@127.0.0.1:5432/test';
  const schemaUrl = new URL(url);
  schemaUrl.searchParams.set('options', `-c search_path=${SCHEMA}`);
  const benchUrl = schemaUrl.toString();
  const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-distributed-'));
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  const results: BenchResult[] = [];
  try {
    await admin.query(`drop schema if exists ${SCHEMA} cascade; drop schema if exists ${SCHEMA}_queue cascade; create schema ${SCHEMA}`);
    let rows = 0;
    const files: string[] = [];
    for (let part = 0; part < PARTITIONS; part++) {
      const file = join(dir, `orders-${part}.csv`);
      rows += (await writeOrdersCsv(file, Math.ceil(size / PARTITIONS), 42 + part)).rows;
      files.push(file);
    }
    options.log(`${PARTITIONS} files, ${rows.toLocaleString('en-US')} orders, ${(size / 1e6).toFixed(0)} MB`);
    const pipelineFile = join(dir, 'orders-load.ts');
    const distributed = { connection: benchUrl, schema: SCHEMA, queueSchema: `${SCHEMA}_queue`, heartbeatSeconds: 30 };
    await writeFile(
      pipelineFile,
      `import { csv, pipeline, toPostgres } from 'sluice';
import { Order } from ${JSON.stringify(new URL('../support/orders.ts', import.meta.url).pathname)};
export default pipeline({ name: 'bench-distributed', memory: '256MB', distributed: ${JSON.stringify(distributed)}, state: { folder: ${JSON.stringify(join(dir, '.sluice'))} } })
  .from(csv(${JSON.stringify(join(dir, 'orders-*.csv'))}, { schema: Order }))
  .to(toPostgres({ table: 'orders_load', mode: 'append', createTable: true, connection: ${JSON.stringify(benchUrl)} }));
`,
    );
    const db = new pg.Client({ connectionString: benchUrl });
    await db.connect();
    const fresh = async () => {
      await db.query('drop table if exists orders_load');
      await db.query(`create unlogged table orders_load (order_id bigint, customer text, country text, status text, quantity smallint, unit_price double precision, ordered_at timestamptz, note text)`);
    };
    const check = async (what: string) => {
      const { rows: counted } = await db.query('select count(*)::int as n from orders_load');
      if (counted[0].n !== rows) throw new Error(`${what} loaded ${counted[0].n} rows of ${rows}`);
    };
    const configurations: Record<string, () => Promise<number>> = {
      psql: async () => {
        await fresh();
        const ms = await timed(async () => {
          for (const file of files) await psql(url, `\\copy ${SCHEMA}.orders_load from '${file}' with (format csv, header true)`);
        });
        await check('psql');
        return ms;
      },
      plain: async () => {
        await fresh();
        const ms = await timed(() => etlRun(['run', pipelineFile, '--quiet']));
        await check('etl run');
        return ms;
      },
      'distributed, 1 worker': () => distributedLoad(1),
      'distributed, 2 workers': () => distributedLoad(2),
    };
    async function distributedLoad(count: number): Promise<number> {
      await fresh();
      const workers = Array.from({ length: count }, () => startEtl(['worker', pipelineFile, '--connection', benchUrl, '--queue-schema', `${SCHEMA}_queue`, '--memory', '256MB'], 30 * 60_000));
      try {
        for (const worker of workers) {
          if (!(await until(() => worker.output().includes(' at once, '), 120_000))) throw new Error(`a worker did not start: ${worker.output()}`);
        }
        const ms = await timed(() => etlRun(['run', pipelineFile, '--distributed', '--quiet']));
        await check(`${count} worker(s)`);
        return ms;
      } finally {
        for (const worker of workers) worker.child.kill('SIGTERM');
        await Promise.all(workers.map((worker) => worker.exited));
      }
    }
    const times = new Map<string, number[]>(Object.keys(configurations).map((name) => [name, []]));
    for (let round = 0; round < runs; round++) {
      for (const [name, load] of Object.entries(configurations)) {
        const ms = await load();
        times.get(name)!.push(ms);
        options.log(`round ${round + 1}: ${name} ${(ms / 1000).toFixed(1)} s`);
      }
    }
    await db.end();
    const median = (name: string) => {
      const sorted = [...times.get(name)!].sort((a, b) => a - b);
      return sorted[Math.floor(sorted.length / 2)];
    };
    for (const name of times.keys()) {
      results.push({ case: 'distributed', name: `${name}: rows/s`, value: Math.round((rows / median(name)) * 1000), unit: 'rows/s', note: `median of ${runs}, ${(median(name) / 1000).toFixed(1)} s` });
    }
    results.push({ case: 'distributed', name: '2 workers / 1 worker', value: median('distributed, 1 worker') / median('distributed, 2 workers'), unit: 'x', note: 'target >= 1.3' });
    results.push({ case: 'distributed', name: '1 worker / plain etl run', value: median('plain') / median('distributed, 1 worker'), unit: 'ratio', note: 'target >= 0.9' });
    results.push({ case: 'distributed', name: 'plain etl run / psql \\copy', value: median('psql') / median('plain'), unit: 'ratio', note: 'the peer: no types, no checks' });
  } finally {
    await admin.query(`drop schema if exists ${SCHEMA} cascade; drop schema if exists ${SCHEMA}_queue cascade`).catch(() => {});
    await admin.end();
    if (options.values['keep'] !== true) await rm(dir, { recursive: true, force: true });
  }
  return results;
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

async function etlRun(args: string[]): Promise<void> {
  const run = startEtl(args, 60 * 60_000);
  const code = await run.exited;
  if (code !== 0) throw new Error(`etl ${args.join(' ')} exited ${code}: ${run.output()}`);
}
