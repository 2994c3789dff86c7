/**
 * The end of a distributed run, recorded once: whoever first moves the run's record from `running`
 * (the finalize job on success; the worker of a partition out of attempts, or the submitting `etl run`
 * that sees one, on failure) writes its history record, with the rows summed over the partitions, into
 * the pipeline's own state store, where `etl runs` finds it.
 *
 * Success is one transaction on the queue's database: the run's record locked and ended, and what the
 * run's data needs to become visible at once (a replace's staging table swapped in, the incremental
 * state advanced) — all of it, or, on any error, none of it and the run still running. Failure drops
 * what the partitions wrote aside (the staging table), so the target is as it was before the run.
 */
import { hostname } from 'node:os';
import type pg from 'pg';
import type { PgConnectionOptions } from '../../connectors/postgres/connection.ts';
import { wrapPgError } from '../../connectors/postgres/errors.ts';
import type { SinkTransaction } from '../../contracts/contracts.ts';
import type { Pipeline } from '../../runtime/pipeline.ts';
import type { RunRecord } from '../history.ts';
import { openStateStore } from '../state.ts';
import type { DistributedRecords, PartitionRow } from './records.ts';

/** Where a run ends: the queue's database, its records, and the run's pipeline (its sink, its state store). */
export interface RunPlace {
  db: pg.Pool;
  /** For the messages of the database's errors. */
  connection: PgConnectionOptions;
  records: DistributedRecords;
  pipeline: Pipeline<any>;
  file: string;
}

/**
 * Ends the run as succeeded, once, in one transaction with `publish` (which makes its data visible):
 * false when it had ended already. An error of `publish` rolls everything back and is thrown.
 */
export async function succeedRun(place: RunPlace, runId: string, publish: (transaction: SinkTransaction) => Promise<void>): Promise<boolean> {
  const { db, records } = place;
  const client = await db.connect();
  const transaction: SinkTransaction = {
    query: async (text, values) => {
      try {
        return await client.query(text, values);
      } catch (error) {
        throw wrapPgError(error, { operation: 'query', query: text, connection: place.connection });
      }
    },
  };
  try {
    await transaction.query('begin');
    // Locked until the commit: a failure being recorded meanwhile waits, then finds the run ended.
    const { rows } = await transaction.query(`select status from ${records.runs} where run_id = $1 for update`, [runId]);
    if (rows[0]?.status !== 'running') {
      await client.query('rollback');
      return false;
    }
    await publish(transaction);
    await records.end(client, runId, 'succeeded');
    await transaction.query('commit');
  } catch (error) {
    await client.query('rollback').catch(() => {});
    client.release(true);
    throw error;
  }
  client.release();
  await recordHistory(place, runId, 'succeeded');
  return true;
}

/** Ends the run as failed, once (false when it had ended already), and drops what its partitions wrote aside. */
export async function failRun(place: RunPlace, runId: string, error: { code: string; message: string }): Promise<boolean> {
  const { db, records, pipeline } = place;
  if (!(await records.end(db, runId, 'failed', error))) return false;
  // Best effort: a staging table left by a failed run changes nothing the target's readers see.
  await pipeline.sink
    .forDistributedRun?.(runId)
    ?.discard({ query: (text, values) => db.query(text, values) })
    .catch(() => {});
  await recordHistory(place, runId, 'failed', error);
  return true;
}

async function recordHistory(place: RunPlace, runId: string, status: 'succeeded' | 'failed', error?: { code: string; message: string }): Promise<void> {
  const { db, records, pipeline, file } = place;
  const run = (await records.run(db, runId))!;
  const partitions = await records.partitionsOf(db, runId);
  const store = openStateStore(pipeline.state, file);
  try {
    await store.record(historyRecord(pipeline.name ?? run.pipeline, runId, run.startedAt, run.endedAt!, status, partitions, error));
  } finally {
    await store.close();
  }
}

export function historyRecord(
  name: string,
  runId: string,
  startedAt: string,
  endedAt: string,
  status: 'succeeded' | 'failed',
  partitions: readonly PartitionRow[],
  error?: { code: string; message: string },
): RunRecord {
  const sum = (pick: (row: PartitionRow) => number | undefined) => partitions.reduce((total, row) => total + (row.status === 'committed' ? (pick(row) ?? 0) : 0), 0);
  const committed = partitions.filter((row) => row.status === 'committed').length;
  const attempts = partitions.reduce((total, row) => total + row.attempts, 0);
  return {
    pipeline: name,
    status,
    trigger: 'distributed',
    startedAt,
    endedAt,
    rowsIn: sum((row) => row.rowsRead),
    rowsOut: sum((row) => row.rowsWritten),
    rowsRejected: sum((row) => row.rowsRejected),
    // Each partition ran in a process of its own, on any host: no one peak to give.
    peakRss: 0,
    attempts,
    error,
    note: `distributed run ${runId}: ${committed} of ${partitions.length} partitions committed, ${attempts} attempts`,
    host: hostname(),
    pid: process.pid,
  };
}
