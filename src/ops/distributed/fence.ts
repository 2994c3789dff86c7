/**
 * Exactly once into PostgreSQL: the sink of a partition's run commits the partition's completion in
 * its own transaction, just before COMMIT (SinkContext.beforeCommit), after two checks there:
 *
 * 1. The claim. The pg-boss job row of this attempt must still be `active` with the `retry_count` this
 *    attempt was claimed with, and is locked (FOR UPDATE) until the commit. A worker whose claim lapsed
 *    (paused past its heartbeat, cut off, expired) finds the job failed or claimed again by another
 *    worker: its transaction fails (DISTRIBUTED_FENCED) and rolls back with its rows. While the lock is
 *    held, pg-boss cannot fail the job under it, so a commit that passed the check is the attempt's own.
 * 2. The run. It must still be running: once it has failed, a late partition rolls back
 *    (DISTRIBUTED_RUN_ENDED) rather than write into a target (or a staging table) the run gave up.
 *    Its record is share-locked until the commit, so a failure being recorded waits for it.
 * 3. The partition. Its record goes from any other state to `committed`; an attempt that finds it
 *    committed already (an attempt that committed just before its claim lapsed) rolls back
 *    (DISTRIBUTED_ALREADY_COMMITTED). The row lock of that UPDATE orders two commits of one partition.
 *
 * Both tables must be in the sink's database: a sink on another database fails on the first query,
 * with a message that says so, and writes nothing.
 */
import type { AnyRow, Batch } from '../../batch/batch.ts';
import { isSluiceError, SluiceError } from '../../core/errors.ts';
import type { Sink, SinkContext, SinkResult, SinkTransaction } from '../../contracts/contracts.ts';
import { quoteIdent } from '../../connectors/postgres/identifiers.ts';
import { DistributedRecords } from './records.ts';

/** The attempt of a partition that a worker holds: what its commit is checked against. */
export interface Claim {
  runId: string;
  partition: number;
  jobId: string;
  queue: string;
  retryCount: number;
  /** Schema of the sluice records. */
  schema: string;
  /** Schema of pg-boss's tables. */
  queueSchema: string;
}

/** `sink`, with the claim checked and the partition marked committed inside its transaction. */
export function fencedSink(sink: Sink<AnyRow>, claim: Claim): Sink<AnyRow> {
  return {
    kind: sink.kind,
    describe: () => sink.describe(),
    distributedWrites: () => sink.distributedWrites?.(),
    async write(input: AsyncIterable<Batch>, context: SinkContext): Promise<SinkResult> {
      let rows = 0;
      let fenced = false;
      async function* counted() {
        for await (const batch of input) {
          rows += batch.length;
          yield batch;
        }
      }
      const result = await sink.write(counted(), {
        ...context,
        sharedOutput: true,
        beforeCommit: async (transaction) => {
          await commitPartition(transaction, claim, rows);
          fenced = true;
          await context.beforeCommit?.(transaction);
        },
      });
      if (!fenced) {
        // Planning refuses sinks that do not commit in a transaction; this says so if one slipped through.
        throw new SluiceError('DISTRIBUTED_UNSUPPORTED', `The ${sink.kind} sink committed without a transaction to record partition ${claim.partition} in: it cannot be written exactly once.`);
      }
      return result;
    },
  };
}

async function commitPartition(transaction: SinkTransaction, claim: Claim, rows: number): Promise<void> {
  const records = new DistributedRecords(claim.schema);
  let claimed: { rows: unknown[] };
  try {
    claimed = await transaction.query(
      `select 1 from ${quoteIdent(claim.queueSchema)}.job where name = $1 and id = $2 and retry_count = $3 and state = 'active' for update`,
      [claim.queue, claim.jobId, claim.retryCount],
    );
  } catch (error) {
    if (sqlState(error) === '42P01') {
      throw new SluiceError(
        'DISTRIBUTED_UNSUPPORTED',
        `The sink's database has no queue tables (${claim.queueSchema}.job): a distributed run writes into PostgreSQL exactly once only when the sink is on the queue's database (distributed.connection, etl run --connection). Nothing was written.`,
        { cause: error },
      );
    }
    throw error;
  }
  if (claimed.rows.length === 0) {
    throw new SluiceError(
      'DISTRIBUTED_FENCED',
      `Partition ${claim.partition} of run ${claim.runId}: this attempt (${claim.retryCount + 1}) lost its claim (its heartbeat lapsed or it expired, and the job was failed or given to another worker), so its rows were rolled back.`,
      { transient: false },
    );
  }
  const { rows: run } = await transaction.query(`select status from ${records.runs} where run_id = $1 for share`, [claim.runId]);
  if (run[0]?.status !== 'running') {
    throw new SluiceError('DISTRIBUTED_RUN_ENDED', `Run ${claim.runId} has ended (${run[0]?.status ?? 'its record is gone'}): partition ${claim.partition} rolled back its rows.`);
  }
  const { rows: marked } = await transaction.query(
    `update ${records.partitions} set status = 'committed', committed_at = now(), rows_written = $3 where run_id = $1 and partition = $2 and status <> 'committed' returning 1`,
    [claim.runId, claim.partition, rows],
  );
  if (marked.length === 0) {
    throw new SluiceError('DISTRIBUTED_ALREADY_COMMITTED', `Partition ${claim.partition} of run ${claim.runId} was committed by an earlier attempt; this one rolled back its rows.`);
  }
}

function sqlState(error: unknown): string | undefined {
  for (let current = error, depth = 0; current !== undefined && current !== null && depth < 4; depth++) {
    const code = (current as { code?: unknown }).code;
    if (!isSluiceError(current) && typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
