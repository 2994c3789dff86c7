/**
 * `etl run --distributed`: plans the partitions of a pipeline's input, records the run and its
 * partitions and enqueues them as one pg-boss flow (a job per partition, and a finalize job that
 * depends on them all), in one transaction, so a run is queued whole or not at all. Then, unless
 * detached, it follows the run from its records, telling each change, until it has ended.
 */
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import type pg from 'pg';
import { isSluiceError, SluiceError } from '../../core/errors.ts';
import type { PgConnectionOptions } from '../../connectors/postgres/connection.ts';
import { createPoolRegistry } from '../../connectors/postgres/pools.ts';
import { quoteIdent } from '../../connectors/postgres/identifiers.ts';
import { wrapPgError } from '../../connectors/postgres/errors.ts';
import type { IncrementalState, SourcePartition } from '../../contracts/contracts.ts';
import type { Pipeline } from '../../runtime/pipeline.ts';
import { sleep } from '../sleep.ts';
import { openStateStore } from '../state.ts';
import { isTransientError } from '../tracked-run.ts';
import { failRun } from './finish.ts';
import { finalizeQueue, partitionQueue, type QueuePlace } from './place.ts';
import { ensureQueues, openBoss, queueSettings } from './queue.ts';
import { DistributedRecords, type DistributedRunRow, type PartitionRow } from './records.ts';
import { describePartition } from './runs.ts';

/** What a partition's job carries. */
export interface PartitionJob {
  runId: string;
  pipeline: string;
  partition: number;
  label: string;
  spec: unknown;
  schema: string;
  queueSchema: string;
  finalizeJob: string;
}

/** What the finalize job carries. */
export interface FinalizeJob {
  runId: string;
  pipeline: string;
  schema: string;
}

export interface SubmitOptions {
  /** The pipeline file (history, and the worker's name for it). */
  file: string;
  place: QueuePlace;
  /** Return once queued, with the run id. */
  detach?: boolean;
  signal?: AbortSignal;
  /** A line for people at each change of the run (a partition started, committed, retried). */
  onProgress?: (line: string) => void;
  /**
   * The cron tick the run is for (`etl schedule --distributed`): a tick another scheduler queued a run
   * for already is not queued again (`nothing` says so).
   */
  tick?: string;
  /** How often the run's records are read while waiting. @default 500 */
  pollMs?: number;
}

export interface SubmittedRun {
  /** Empty when nothing was queued (see `nothing`). */
  runId: string;
  /** Why no run was queued: an incremental source with nothing new. */
  nothing?: string;
  /** The run's record at the end (absent when detached, or when the wait was interrupted). */
  run?: DistributedRunRow;
  partitions?: PartitionRow[];
}

/**
 * The partitions of a pipeline for a distributed run, or why it cannot be split. With `state` (the
 * committed incremental state), an incremental source plans from it and `set`s what the run commits in
 * its finalize.
 */
export async function planPartitions(pipeline: Pipeline<any>, signal: AbortSignal, state?: IncrementalState): Promise<SourcePartition[]> {
  const name = pipeline.name ?? 'pipeline';
  if (pipeline.sink.distributedWrites === undefined) {
    throw new SluiceError('DISTRIBUTED_UNSUPPORTED', `${name}: the ${pipeline.sink.kind} sink cannot be written by a distributed run yet (toPostgres can): run it without --distributed.`);
  }
  const refused = pipeline.sink.distributedWrites();
  if (refused !== undefined) throw new SluiceError('DISTRIBUTED_UNSUPPORTED', `${name}: the ${pipeline.sink.kind} sink cannot be written by a distributed run: ${refused}.`);
  if (pipeline.source.partitions === undefined || pipeline.source.partition === undefined) {
    throw new SluiceError('DISTRIBUTED_UNSUPPORTED', `${name}: the ${pipeline.source.kind} source cannot be split into partitions (csv() and ndjson() over several files can, and postgres() with partitionBy): run it without --distributed.`);
  }
  const partitions = await pipeline.source.partitions({ signal, state });
  return partitions;
}

export async function submitRun(pipeline: Pipeline<any>, options: SubmitOptions): Promise<SubmittedRun> {
  const name = pipeline.name ?? 'pipeline';
  const signal = options.signal ?? new AbortController().signal;
  const planned = await plannedState(pipeline, options.file);
  const partitions = await planPartitions(pipeline, signal, planned.state);
  if (partitions.length === 0) {
    // An incremental source whose files were all finished by earlier runs has nothing new: not an error.
    if (!planned.changed()) throw new SluiceError('DISTRIBUTED_UNSUPPORTED', `${name}: the source has no partitions to run.`);
    return { runId: '', nothing: `${name}: nothing to run: the incremental source has nothing new since its last committed run` };
  }
  const { place } = options;
  const records = new DistributedRecords(place.schema);
  const pools = createPoolRegistry();
  const db = pools.pool(place.config as PgConnectionOptions);
  const boss = await openBoss(place);
  try {
    await ensureQueues(boss, name, queueSettings(pipeline.distributed));
    const runId = randomUUID();
    const finalizeJob = randomUUID();
    const jobIds = partitions.map(() => randomUUID());
    const client = await db.connect();
    try {
      await records.ensure(client);
      await client.query('begin');
      const { rowCount } = await client.query(
        `insert into ${records.runs} (run_id, pipeline, file, status, partitions, finalize_job, state, tick) values ($1, $2, $3, 'running', $4, $5, $6, $7)
         on conflict (pipeline, tick) where tick is not null do nothing`,
        [runId, name, resolve(options.file), partitions.length, finalizeJob, planned.changed() ? JSON.stringify(planned.toCommit()) : null, options.tick ?? null],
      );
      if (rowCount === 0) {
        await client.query('rollback');
        return { runId: '', nothing: `tick ${options.tick} was queued already (by another scheduler)` };
      }
      await client.query(
        `insert into ${records.partitions} (run_id, partition, label, spec, job_id, status)
         select $1, ordinality - 1, label, spec, job_id, 'queued' from unnest($2::text[], $3::jsonb[], $4::uuid[]) with ordinality as part (label, spec, job_id)`,
        [runId, partitions.map((part) => part.label), partitions.map((part) => JSON.stringify(part.spec)), jobIds],
      );
      const partitionJobs = partitions.map((part, index) => ({
        ref: `partition-${index}`,
        name: partitionQueue(name),
        data: { runId, pipeline: name, partition: index, label: part.label, spec: part.spec, schema: place.schema, queueSchema: place.queueSchema, finalizeJob } satisfies PartitionJob,
        options: { id: jobIds[index] },
      }));
      await boss.flow(
        [
          ...partitionJobs,
          {
            ref: 'finalize',
            name: finalizeQueue(name),
            data: { runId, pipeline: name, schema: place.schema } satisfies FinalizeJob,
            options: { id: finalizeJob },
            dependsOn: partitionJobs.map((job) => job.ref),
          },
        ],
        // In the transaction of the records: the run is queued whole, or not at all.
        { db: { executeSql: (text: string, values?: unknown[]) => client.query(text, values) } },
      );
      await client.query('commit');
    } catch (error) {
      await client.query('rollback').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
    options.onProgress?.(`run ${runId} of ${name}: ${partitions.length} partitions queued on ${place.description} (queue ${partitionQueue(name)})`);
    if (options.detach) return { runId };
    return await follow(pipeline, options, { db, records, runId, jobIds, finalizeJob, cancelFinalize: () => boss.cancel(finalizeQueue(name), finalizeJob) });
  } finally {
    await boss.stop({ graceful: false, close: true }).catch(() => {});
    await pools.closeAll();
  }
}

/** The pipeline's committed incremental state, for planning, and what the planning `set` in it: what the run's finalize commits. */
async function plannedState(pipeline: Pipeline<any>, file: string) {
  const store = openStateStore(pipeline.state, file);
  let committed: Record<string, unknown>;
  try {
    committed = await store.readState(pipeline.name ?? 'pipeline');
  } finally {
    await store.close();
  }
  const pending: Record<string, unknown> = { ...committed };
  let changed = false;
  const state: IncrementalState = {
    get: <T>(key: string) => committed[key] as T | undefined,
    set(key, value) {
      pending[key] = value;
      changed = true;
    },
  };
  return { state, changed: () => changed, toCommit: () => pending };
}

interface Followed {
  db: pg.Pool;
  records: DistributedRecords;
  runId: string;
  jobIds: string[];
  finalizeJob: string;
  cancelFinalize: () => Promise<unknown>;
}

/** Waits for the run's end, telling each change of a partition; ends the run as failed when a partition's job failed for good. */
async function follow(pipeline: Pipeline<any>, options: SubmitOptions, followed: Followed): Promise<SubmittedRun> {
  const { db, records, runId } = followed;
  const seen = new Map<number, string>();
  const tell = options.onProgress ?? (() => {});
  const queueSchema = quoteIdent(options.place.queueSchema);
  for (;;) {
    try {
      const ended = await look();
      if (ended !== undefined) return ended;
    } catch (error) {
      // The queue's database restarting or failing over: the run goes on on the workers; look again.
      const wrapped = isSluiceError(error) ? error : wrapPgError(error, { operation: 'query', connection: options.place.config as PgConnectionOptions });
      if (!isTransientError({ code: wrapped.code, message: wrapped.message }, wrapped)) throw wrapped;
      tell(`lost the queue's database (${wrapped.message}); looking again`);
      await sleep(2000, options.signal);
    }
    if (options.signal?.aborted) return { runId };
    await sleep(options.pollMs ?? 500, options.signal);
  }

  async function look(): Promise<SubmittedRun | undefined> {
    const partitions = await records.partitionsOf(db, runId);
    for (const row of partitions) {
      const line = describePartition(row);
      if (seen.get(row.partition) !== line) tell(line);
      seen.set(row.partition, line);
    }
    const run = (await records.run(db, runId))!;
    if (run.status !== 'running') return { runId, run, partitions };
    if (options.signal?.aborted) return { runId };
    // A job out of attempts whose worker could not say so (killed on its last attempt) fails the run here.
    const { rows: jobs } = await db.query(`select id, name, state, output from ${queueSchema}.job where id = any($1::uuid[]) and state in ('failed', 'cancelled')`, [
      [...followed.jobIds, followed.finalizeJob],
    ]);
    if (jobs.length > 0) {
      const failed = partitions.find((row) => row.status === 'failed' || row.status === 'retrying');
      const error = failed?.error ?? { code: 'DISTRIBUTED_RUN_FAILED', message: `a job of the run ended ${jobs[0].state}${jobs[0].output?.message ? `: ${jobs[0].output.message}` : ''}` };
      const place = { db, connection: options.place.config as PgConnectionOptions, records, pipeline, file: options.file };
      if (await failRun(place, runId, error)) await followed.cancelFinalize().catch(() => {});
    }
    return undefined;
  }
}
