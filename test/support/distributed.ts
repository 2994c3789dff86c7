/**
 * Helpers for tests of distributed runs with real processes: `etl worker`s and `etl run --distributed`
 * as children, a pipeline of sequence-numbered CSV partitions whose stage says which process reads
 * which partition, and a look at the processes a worker started.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after } from 'node:test';
import { type EtlProcess, startEtl } from './cli.ts';
import pg from 'pg';
import { databaseUrl, type TestSchema } from './db.ts';
import { until } from './scheduler.ts';
export { startEtl, type EtlProcess } from './cli.ts';

/**
 * What the tests of a file of distributed runs share, on its test schema: the queue's schema beside
 * it (dropped after the file, its workers killed first), workers, and looks at the target and the
 * run's records.
 */
export function distributedHarness(db: Pick<TestSchema, 'schema' | 'url' | 'query'>, adminUrl = databaseUrl()) {
  const queueSchema = `${db.schema}_queue`;
  const workers: EtlProcess[] = [];
  after(async () => {
    for (const worker of workers) if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
    // On a connection of its own: the test schema's pool may be closed already.
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    try {
      await admin.query(`drop schema if exists "${queueSchema}" cascade`);
    } finally {
      await admin.end();
    }
  });
  return {
    queueSchema,
    startWorker(file: string, concurrency = 1): EtlProcess {
      const worker = startEtl(['worker', file, '--connection', db.url, '--queue-schema', queueSchema, '--concurrency', String(concurrency), '--supervise-interval', '1', '--memory', '256MB'], 300_000);
      workers.push(worker);
      return worker;
    },
    async ready(worker: EtlProcess): Promise<void> {
      assert.ok(await until(() => worker.output().includes(' at once, '), 60_000), `the worker did not start:\n${worker.output()}`);
    },
    /** What the target holds: rows, distinct sequence numbers, and the lowest and highest. */
    async target(table: string) {
      const { rows } = await db.query<{ rows: string; distinct: string; low: number; high: number }>(
        `select count(*) as rows, count(distinct seq) as distinct, min(seq)::int as low, max(seq)::int as high from "${table}"`,
      );
      return { rows: Number(rows[0].rows), distinct: Number(rows[0].distinct), low: rows[0].low, high: rows[0].high };
    },
    async partitionsOf(runId: string) {
      const { rows } = await db.query<{ partition: number; label: string; status: string; attempts: number; worker: string; rows_written: string }>(
        `select partition, label, status, attempts, worker, rows_written from "${db.schema}".sluice_partitions where run_id = $1 order by partition`,
        [runId],
      );
      return rows;
    },
    runIdOf(output: string): string {
      const match = /run ([0-9a-f-]{36}) of /.exec(output);
      assert.ok(match !== null, `no run id in:\n${output}`);
      return match[1];
    },
  };
}

/** The parent pid of a process, from /proc (undefined once it is gone). */
export function parentOf(pid: number): number | undefined {
  try {
    return Number(execFileSync('ps', ['-o', 'ppid=', '-p', String(pid)], { encoding: 'utf8' }).trim()) || undefined;
  } catch {
    return undefined;
  }
}

/**
 * How many TCP connections to port `port` (PostgreSQL's) the process holds open, from /proc: a
 * partition's process holds its sink's while the partition runs and closes it when the attempt ends.
 */
export function connectionsTo(pid: number, port = 5432): number {
  let inodes: Set<string>;
  try {
    inodes = new Set(
      readdirSync(`/proc/${pid}/fd`)
        .map((fd) => {
          try {
            return /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
          } catch {
            return undefined;
          }
        })
        .filter((inode): inode is string => inode !== undefined),
    );
  } catch {
    return 0;
  }
  const remote = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  let open = 0;
  for (const table of ['tcp', 'tcp6']) {
    for (const line of readFileSync(`/proc/${pid}/net/${table}`, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // rem_address is the 3rd field, st the 4th (01 = ESTABLISHED), inode the 10th.
      if (fields.length > 9 && fields[2].endsWith(remote) && fields[3] === '01' && inodes.has(fields[9])) open++;
    }
  }
  return open;
}

export interface PartitionedInput {
  /** The pipeline file. */
  file: string;
  /** Where the pipeline's stage logs `<pid> <file>` once per batch. */
  markers: string;
  rows: number;
}

/**
 * `partitions` CSV files of `rowsEach` rows, numbered 1… across them (`seq`), and a pipeline over
 * their glob into `table` (`mode`, append by default; created) whose stage waits `batchMs` per batch of `batchRows` and
 * logs which process read a batch of which file: a partition takes a while, and the test can tell
 * which process is in the middle of one (its COPY begun with the first batch).
 */
export async function partitionedInput(
  dir: string,
  options: {
    name: string;
    partitions: number;
    rowsEach: number;
    batchRows: number;
    batchMs: number;
    table: string;
    url: string;
    schema: string;
    queueSchema: string;
    heartbeatSeconds?: number;
    mode?: 'append' | 'replace';
  },
): Promise<PartitionedInput> {
  const markers = join(dir, `${options.name}.markers`);
  await writeFile(markers, '');
  for (let part = 0; part < options.partitions; part++) {
    const first = part * options.rowsEach + 1;
    const lines = Array.from({ length: options.rowsEach }, (_, k) => `${first + k},row ${first + k}`);
    await writeFile(join(dir, `${options.name}-${String(part).padStart(2, '0')}.csv`), `seq,label\n${lines.join('\n')}\n`);
  }
  const file = join(dir, `${options.name}.ts`);
  const distributed = { connection: options.url, schema: options.schema, queueSchema: options.queueSchema, heartbeatSeconds: options.heartbeatSeconds ?? 10, retries: 3 };
  await writeFile(
    file,
    `import { appendFileSync } from 'node:fs';
import { z } from 'zod';
import { csv, pipeline, toPostgres } from 'sluice';
export default pipeline({ name: ${JSON.stringify(options.name)}, batchRows: ${options.batchRows}, distributed: ${JSON.stringify(distributed)}, state: { connection: ${JSON.stringify(options.url)}, schema: ${JSON.stringify(options.schema)} } })
  .from(csv(${JSON.stringify(join(dir, `${options.name}-*.csv`))}, { schema: z.object({ seq: z.number().int().min(1).max(2_000_000_000), label: z.string() }) }))
  .tap(async (batch) => {
    appendFileSync(${JSON.stringify(markers)}, \`\${process.pid} \${batch.origin.file}\\n\`);
    await new Promise((resolve) => setTimeout(resolve, ${options.batchMs}));
  })
  .to(toPostgres({ table: ${JSON.stringify(options.table)}, mode: ${JSON.stringify(options.mode ?? 'append')}, createTable: true, connection: ${JSON.stringify(options.url)} }));
`,
  );
  return { file, markers, rows: options.partitions * options.rowsEach };
}

/**
 * A process (of those `accept` takes) in the middle of a partition, its COPY begun: between `from`
 * and `to` batches into the file it reads now (the last it logged: a worker's process reads partition
 * after partition), so that it has batches left to read. Undefined when none is, yet.
 */
export async function midPartition(markers: string, accept: (pid: number) => boolean, from: number, to: number): Promise<{ pid: number; file: string } | undefined> {
  for (const [pid, files] of await batchesByProcess(markers)) {
    const file = files.at(-1)!;
    const batches = files.filter((read) => read === file).length;
    if (batches >= from && batches <= to && accept(pid)) return { pid, file };
  }
  return undefined;
}

/** Batches logged so far, per process: pid → files read. */
export async function batchesByProcess(markers: string): Promise<Map<number, string[]>> {
  const seen = new Map<number, string[]>();
  for (const line of (await readFile(markers, 'utf8')).split('\n').filter(Boolean)) {
    const [pid, file] = line.split(' ');
    const files = seen.get(Number(pid)) ?? [];
    files.push(file);
    seen.set(Number(pid), files);
  }
  return seen;
}
