/**
 * The end of a distributed run, recorded once: whoever first moves the run's record from `running`
 * (the finalize job on success; the worker of a partition out of attempts, or the submitting `etl run`
 * that sees one, on failure) writes its history record, with the rows summed over the partitions, into
 * the pipeline's own state store, where `etl runs` finds it.
 */
import { hostname } from 'node:os';
import type pg from 'pg';
import type { Pipeline } from '../../runtime/pipeline.ts';
import type { RunRecord } from '../history.ts';
import { openStateStore } from '../state.ts';
import type { DistributedRecords, PartitionRow } from './records.ts';

export async function endRun(
  db: pg.Pool,
  records: DistributedRecords,
  pipeline: Pipeline<any>,
  file: string,
  runId: string,
  status: 'succeeded' | 'failed',
  error?: { code: string; message: string },
): Promise<boolean> {
  if (!(await records.end(db, runId, status, error))) return false;
  const run = (await records.run(db, runId))!;
  const partitions = await records.partitionsOf(db, runId);
  const store = openStateStore(pipeline.state, file);
  try {
    await store.record(historyRecord(pipeline.name ?? run.pipeline, runId, run.startedAt, run.endedAt!, status, partitions, error));
  } finally {
    await store.close();
  }
  return true;
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
