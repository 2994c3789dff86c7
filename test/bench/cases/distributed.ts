/**
 * Distributed bench (issue 18): the bench's orders CSV → PostgreSQL load, split into 8 files (8
 * partitions), loaded by `etl run` alone (the baseline), by `etl run --distributed` with 1 and with 2
 * local `etl worker`s, and by `psql \copy` of the 8 files one after the other (the peer: no parsing into
 * types, no checks). Each configuration in turn, `--runs` rounds (alternating, the machine is noisy),
 * medians reported, the table truncated before each load. Workers are started (and made ready) before
 * the timed part and stopped after; the timed part of a distributed run is `etl run --distributed` from
 * start to exit: planning, queueing, the partitions, finalize and the polling latencies of the queue.
 * CPU seconds are the client side's (less sensitive to the machine's load than wall time): psql's and
 * `etl run`'s through /usr/bin/time, plus, for a distributed run, what the workers and their partition
 * processes used during it (from /proc). The server's share is not counted.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm run bench -- distributed [--size 200MB] [--runs 3]
 *
 * Targets: 2 workers at least 1.3x one; 1 worker within 10% of the plain run (the queue's overhead).
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { parseBytes } from '../../../src/core/bytes.ts';
import { repoRoot, startEtl } from '../../support/cli.ts';
import { until } from '../../support/scheduler.ts';
import type { BenchOptions, BenchResult } from '../main.ts';
import { writeOrdersCsv } from '../support/orders.ts';
import { type Measure, psql, underTime } from './postgres.ts';

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
    const configurations: Record<string, () => Promise<Measure>> = {
      psql: async () => {
        await fresh();
        const started = performance.now();
        let cpuMs = 0;
        for (const file of files) cpuMs += (await psql(url, `\\copy ${SCHEMA}.orders_load from '${file}' with (format csv, header true)`)).cpuMs;
        const ms = performance.now() - started;
        await check('psql');
        return { ms, cpuMs };
      },
      plain: async () => {
        await fresh();
        const measure = await etlRun(['run', pipelineFile, '--quiet']);
        await check('etl run');
        return measure;
      },
      'distributed, 1 worker': () => distributedLoad(1),
      'distributed, 2 workers': () => distributedLoad(2),
    };
    async function distributedLoad(count: number): Promise<Measure> {
      await fresh();
      const workers = Array.from({ length: count }, () => startEtl(['worker', pipelineFile, '--connection', benchUrl, '--queue-schema', `${SCHEMA}_queue`, '--memory', '256MB'], 30 * 60_000));
      try {
        for (const worker of workers) {
          if (!(await until(() => worker.output().includes(' at once, '), 120_000))) throw new Error(`a worker did not start: ${worker.output()}`);
        }
        const before = workers.reduce((total, worker) => total + treeCpuMs(worker.pid), 0);
        const submit = await etlRun(['run', pipelineFile, '--distributed', '--quiet']);
        const workersMs = workers.reduce((total, worker) => total + treeCpuMs(worker.pid), 0) - before;
        await check(`${count} worker(s)`);
        // More attempts than partitions (heartbeats lapsing on a loaded machine, retries) explain a slow round.
        const { rows: attempts } = await db.query(`select sum(attempts)::int as n from ${SCHEMA}.sluice_partitions where run_id = (select run_id from ${SCHEMA}.sluice_distributed_runs order by started_at desc limit 1)`);
        if (attempts[0].n !== PARTITIONS) options.log(`${count} worker(s): ${attempts[0].n} attempts for ${PARTITIONS} partitions`);
        return { ms: submit.ms, cpuMs: submit.cpuMs + workersMs };
      } finally {
        for (const worker of workers) worker.child.kill('SIGTERM');
        await Promise.all(workers.map((worker) => worker.exited));
      }
    }
    const measures = new Map<string, Measure[]>(Object.keys(configurations).map((name) => [name, []]));
    for (let round = 0; round < runs; round++) {
      for (const [name, load] of Object.entries(configurations)) {
        const measure = await load();
        measures.get(name)!.push(measure);
        options.log(`round ${round + 1}: ${name} ${(measure.ms / 1000).toFixed(1)} s, ${(measure.cpuMs / 1000).toFixed(1)} s CPU`);
      }
    }
    await db.end();
    const median = (name: string, pick: (measure: Measure) => number = (measure) => measure.ms) => {
      const sorted = measures.get(name)!.map(pick).sort((a, b) => a - b);
      return sorted[Math.floor(sorted.length / 2)];
    };
    const cpu = (name: string) => median(name, (measure) => measure.cpuMs);
    for (const name of measures.keys()) {
      const range = measures.get(name)!.map((measure) => (measure.ms / 1000).toFixed(1)).join(', ');
      results.push({ case: 'distributed', name: `${name}: rows/s`, value: Math.round((rows / median(name)) * 1000), unit: 'rows/s', note: `median of ${runs} (${range} s)` });
      results.push({ case: 'distributed', name: `${name}: client CPU`, value: cpu(name) / 1000, unit: 's', note: `median of ${runs}` });
    }
    results.push({ case: 'distributed', name: '2 workers / 1 worker', value: median('distributed, 1 worker') / median('distributed, 2 workers'), unit: 'x', note: 'target >= 1.3' });
    results.push({ case: 'distributed', name: '1 worker / plain etl run', value: median('plain') / median('distributed, 1 worker'), unit: 'ratio', note: 'target >= 0.9' });
    results.push({ case: 'distributed', name: '1 worker / plain etl run, CPU', value: cpu('plain') / cpu('distributed, 1 worker'), unit: 'ratio', note: 'client CPU seconds' });
    results.push({ case: 'distributed', name: 'plain etl run / psql \\copy', value: median('psql') / median('plain'), unit: 'ratio', note: 'the peer: no types, no checks' });
  } finally {
    await admin.query(`drop schema if exists ${SCHEMA} cascade; drop schema if exists ${SCHEMA}_queue cascade`).catch(() => {});
    await admin.end();
    if (options.values['keep'] !== true) await rm(dir, { recursive: true, force: true });
  }
  return results;
}

const ETL = `${repoRoot}bin/etl.js`;

/** `etl <args>` under /usr/bin/time: wall time, and the CPU of the process and its children. */
function etlRun(args: string[]): Promise<Measure> {
  return underTime(process.execPath, [ETL, ...args], { cwd: repoRoot });
}

/** CPU used so far by a live process, its children it has reaped and its live descendants, from /proc (clock ticks of 10 ms). */
function treeCpuMs(pid: number): number {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return 0;
  }
  // Fields after the command (in parentheses): utime, stime, cutime, cstime are the 14th to 17th of the line.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
  let children: string[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ').filter(Boolean);
  } catch {
    // No children file: no live children to add.
  }
  let ms = ticks * 10;
  for (const child of children) ms += treeCpuMs(Number(child));
  return ms;
}
