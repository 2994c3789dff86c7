/**
 * The records of distributed runs, in the queue's database: one row per run (`sluice_distributed_runs`)
 * and one per partition (`sluice_partitions`). They are what exactly once stands on: a partition's
 * row is marked committed inside the sink's own transaction (see fence.ts), so the mark and the rows
 * commit together or not at all, and a second attempt finds the partition done. They are also what
 * `etl run` streams progress from and what `etl runs` shows.
 */
import type pg from 'pg';
import { quoteIdent } from '../../connectors/postgres/identifiers.ts';

export type RunState = 'running' | 'succeeded' | 'failed';
export type PartitionState = 'queued' | 'running' | 'retrying' | 'committed' | 'failed';

export interface DistributedRunRow {
  runId: string;
  pipeline: string;
  status: RunState;
  partitions: number;
  startedAt: string;
  endedAt?: string;
  error?: { code: string; message: string };
}

export interface PartitionRow {
  partition: number;
  label: string;
  status: PartitionState;
  attempts: number;
  worker?: string;
  rowsRead?: number;
  rowsWritten?: number;
  rowsRejected?: number;
  committedAt?: string;
  error?: { code: string; message: string };
}

export class DistributedRecords {
  readonly runs: string;
  readonly partitions: string;

  readonly schema: string;
  constructor(
    schema: string,
  ) {
    this.schema = schema;
    this.runs = `${quoteIdent(schema)}.sluice_distributed_runs`;
    this.partitions = `${quoteIdent(schema)}.sluice_partitions`;
  }

  /** Creates the schema and tables when missing; serialized by a transaction lock so two first runs do not collide. */
  async ensure(client: pg.ClientBase): Promise<void> {
    await client.query('begin');
    try {
      await client.query('select pg_advisory_xact_lock(hashtext($1))', ['sluice distributed tables']);
      await client.query(`create schema if not exists ${quoteIdent(this.schema)}`);
      await client.query(`create table if not exists ${this.runs} (
        run_id uuid primary key, pipeline text not null, file text, status text not null, partitions int not null,
        finalize_job uuid, started_at timestamptz not null default now(), ended_at timestamptz, error jsonb)`);
      // The incremental state the run commits in its finalize (tables made before it had the column get it).
      await client.query(`alter table ${this.runs} add column if not exists state jsonb`);
      // The cron tick a run is for (etl schedule --distributed): one run per tick, whatever the schedulers.
      await client.query(`alter table ${this.runs} add column if not exists tick text`);
      await client.query(`create unique index if not exists sluice_distributed_runs_tick on ${this.runs} (pipeline, tick) where tick is not null`);
      await client.query(`create index if not exists sluice_distributed_runs_pipeline on ${this.runs} (pipeline, started_at desc)`);
      await client.query(`create table if not exists ${this.partitions} (
        run_id uuid not null references ${this.runs} (run_id) on delete cascade, partition int not null, label text not null,
        spec jsonb not null, job_id uuid, status text not null, attempts int not null default 0, worker text,
        rows_read bigint, rows_written bigint, rows_rejected bigint, started_at timestamptz, committed_at timestamptz, error jsonb,
        primary key (run_id, partition))`);
      await client.query('commit');
    } catch (error) {
      await client.query('rollback').catch(() => {});
      throw error;
    }
  }

  async run(db: pg.Pool | pg.ClientBase, runId: string): Promise<DistributedRunRow | undefined> {
    const { rows } = await db.query(
      `select run_id, pipeline, status, partitions, started_at, ended_at, error from ${this.runs} where run_id = $1`,
      [runId],
    );
    return rows.length === 0 ? undefined : runRow(rows[0]);
  }

  /** The incremental state the run commits in its finalize, as planned; undefined when it has none to commit. */
  async plannedState(db: pg.Pool | pg.ClientBase, runId: string): Promise<Record<string, unknown> | undefined> {
    const { rows } = await db.query(`select state from ${this.runs} where run_id = $1`, [runId]);
    return rows[0]?.state ?? undefined;
  }

  async recentRuns(db: pg.Pool, pipeline: string | undefined, limit: number): Promise<DistributedRunRow[]> {
    const { rows } = await db.query(
      `select run_id, pipeline, status, partitions, started_at, ended_at, error from ${this.runs}
       where ($1::text is null or pipeline = $1) order by started_at desc limit $2`,
      [pipeline ?? null, limit],
    );
    return rows.map(runRow);
  }

  async partitionsOf(db: pg.Pool | pg.ClientBase, runId: string): Promise<PartitionRow[]> {
    const { rows } = await db.query(
      `select partition, label, status, attempts, worker, rows_read, rows_written, rows_rejected, committed_at, error
       from ${this.partitions} where run_id = $1 order by partition`,
      [runId],
    );
    return rows.map((row) => ({
      partition: row.partition,
      label: row.label,
      status: row.status,
      attempts: row.attempts,
      worker: row.worker ?? undefined,
      rowsRead: row.rows_read === null ? undefined : Number(row.rows_read),
      rowsWritten: row.rows_written === null ? undefined : Number(row.rows_written),
      rowsRejected: row.rows_rejected === null ? undefined : Number(row.rows_rejected),
      committedAt: row.committed_at === null ? undefined : new Date(row.committed_at).toISOString(),
      error: row.error ?? undefined,
    }));
  }

  /**
   * A worker took a partition: counts the attempt and says who has it. False when the partition is
   * already committed (an attempt whose claim lapsed after it committed) or its run has ended (failed):
   * then there is nothing to do.
   */
  async start(db: pg.Pool, runId: string, partition: number, worker: string): Promise<boolean> {
    const { rowCount } = await db.query(
      `update ${this.partitions} set status = 'running', attempts = attempts + 1, worker = $3, started_at = now(), error = null
       where run_id = $1 and partition = $2 and status <> 'committed'
         and exists (select 1 from ${this.runs} where run_id = $1 and status = 'running')`,
      [runId, partition, worker],
    );
    return rowCount === 1;
  }

  /** After a committed attempt: what the run read and rejected (the rows written were recorded with the commit). */
  async counted(db: pg.Pool, runId: string, partition: number, read: number, rejected: number): Promise<void> {
    await db.query(`update ${this.partitions} set rows_read = $3, rows_rejected = $4 where run_id = $1 and partition = $2`, [runId, partition, read, rejected]);
  }

  async failedAttempt(db: pg.Pool, runId: string, partition: number, error: { code: string; message: string }, final: boolean): Promise<void> {
    await db.query(`update ${this.partitions} set status = $3, error = $4 where run_id = $1 and partition = $2 and status <> 'committed'`, [
      runId,
      partition,
      final ? 'failed' : 'retrying',
      JSON.stringify(error),
    ]);
  }

  /** Ends a run that is still running, once: true for the caller that ended it. */
  async end(db: pg.Pool | pg.ClientBase, runId: string, status: 'succeeded' | 'failed', error?: { code: string; message: string }): Promise<boolean> {
    const { rowCount } = await db.query(`update ${this.runs} set status = $2, ended_at = now(), error = $3 where run_id = $1 and status = 'running'`, [
      runId,
      status,
      error === undefined ? null : JSON.stringify(error),
    ]);
    return rowCount === 1;
  }
}

function runRow(row: Record<string, any>): DistributedRunRow {
  return {
    runId: row.run_id,
    pipeline: row.pipeline,
    status: row.status,
    partitions: row.partitions,
    startedAt: new Date(row.started_at).toISOString(),
    endedAt: row.ended_at === null ? undefined : new Date(row.ended_at).toISOString(),
    error: row.error ?? undefined,
  };
}
