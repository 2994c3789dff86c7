/** What `etl runs --distributed` shows: the distributed runs of a pipeline, running ones too, each with its partitions. */
import type { PgConnectionOptions } from '../../connectors/postgres/connection.ts';
import { createPoolRegistry } from '../../connectors/postgres/pools.ts';
import type { QueuePlace } from './place.ts';
import { DistributedRecords, type DistributedRunRow, type PartitionRow } from './records.ts';

export type DistributedRunView = DistributedRunRow & { partitionRows: PartitionRow[] };

export async function distributedRuns(place: QueuePlace, pipeline: string | undefined, limit: number): Promise<DistributedRunView[]> {
  const pools = createPoolRegistry();
  try {
    const db = pools.pool(place.config as PgConnectionOptions);
    const records = new DistributedRecords(place.schema);
    const { rows } = await db.query('select to_regclass($1) is not null as present', [records.runs]);
    if (rows[0].present !== true) return [];
    const runs = await records.recentRuns(db, pipeline, limit);
    return await Promise.all(runs.map(async (run) => ({ ...run, partitionRows: await records.partitionsOf(db, run.runId) })));
  } finally {
    await pools.closeAll();
  }
}

export function formatDistributedRuns(runs: readonly DistributedRunView[]): string {
  if (runs.length === 0) return 'No distributed runs recorded.';
  return runs
    .map((run) => {
      const committed = run.partitionRows.filter((row) => row.status === 'committed').length;
      const took = run.endedAt === undefined ? 'running' : `${Date.parse(run.endedAt) - Date.parse(run.startedAt)} ms`;
      const head = `${run.startedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}  ${run.pipeline}  ${run.status}  ${took}  run ${run.runId}  ${committed}/${run.partitions} partitions committed`;
      const error = run.error === undefined ? [] : [`  error [${run.error.code}] ${run.error.message}`];
      return [head, ...error, ...run.partitionRows.map((row) => `  ${describePartition(row)}`)].join('\n');
    })
    .join('\n');
}

/** One line for people about a partition, as `etl run --distributed` streams them and `etl runs --distributed` lists them. */
export function describePartition(row: PartitionRow): string {
  const where = row.worker === undefined ? '' : ` on ${row.worker}`;
  switch (row.status) {
    case 'queued':
      return `partition ${row.partition} (${row.label}) queued`;
    case 'running':
      return `partition ${row.partition} (${row.label}) running${where}, attempt ${row.attempts}`;
    case 'committed':
      return `partition ${row.partition} (${row.label}) committed${where}: ${row.rowsWritten ?? 0} rows written, attempt ${row.attempts}`;
    case 'retrying':
      return `partition ${row.partition} (${row.label}) attempt ${row.attempts} failed${where}: [${row.error?.code}] ${row.error?.message}; to be retried`;
    case 'failed':
      return `partition ${row.partition} (${row.label}) failed${where} after ${row.attempts} attempts: [${row.error?.code}] ${row.error?.message}`;
  }
}
