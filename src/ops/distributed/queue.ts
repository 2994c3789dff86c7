/**
 * The queue of distributed runs: pg-boss (PostgreSQL only), not a queue of Sluice's own. Each pipeline
 * has two queues, its partitions and its finalize step; a run is one pg-boss flow of one job per
 * partition and a finalize job that depends on them all. pg-boss lives in ops/distributed only.
 */
import { PgBoss, type ConstructorOptions } from 'pg-boss';
import { SluiceError } from '../../core/errors.ts';
import type { DistributedOptions } from '../../runtime/pipeline.ts';
import { DEFAULT_HEARTBEAT_SECONDS, DEFAULT_RETRIES, finalizeQueue, partitionQueue, PARTITION_EXPIRE_SECONDS, type QueuePlace } from './place.ts';

export interface BossSettings {
  /** Run pg-boss's monitor here (workers do: it is what fails a job whose heartbeat lapsed). @default false */
  supervise?: boolean;
  /** How often the monitor looks for lapsed heartbeats, in seconds. @default 10 */
  superviseIntervalSeconds?: number;
  /** How often an idle worker asks for a job, in seconds. @default 1 */
  pollingIntervalSeconds?: number;
}

/** A started pg-boss on the queue's database; its errors are kept for the caller to report. */
export async function openBoss(place: QueuePlace, settings: BossSettings = {}): Promise<PgBoss> {
  const { connectionString, host, port, database, user, password, ssl, options, connectionTimeoutMillis } = place.config as Record<string, any>;
  const interval = settings.superviseIntervalSeconds ?? 10;
  const config: ConstructorOptions = {
    connectionString,
    host,
    port,
    database,
    user,
    password,
    ssl,
    options,
    connectionTimeoutMillis,
    application_name: 'sluice',
    schema: place.queueSchema,
    supervise: settings.supervise ?? false,
    superviseIntervalSeconds: interval,
    monitorIntervalSeconds: interval,
    // Cron is `etl schedule`'s; a worker or a submitting `etl run` takes no part in pg-boss schedules.
    schedule: false,
    max: 4,
  };
  const boss = new PgBoss(config);
  boss.on('error', () => {
    // pg-boss retries its own background work; a run that cannot reach the queue fails on its next call.
  });
  try {
    await boss.start();
  } catch (error) {
    throw new SluiceError('DISTRIBUTED_QUEUE', `Could not start the queue (pg-boss, schema ${place.queueSchema}) at ${place.description}: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
  return boss;
}

export interface QueueSettings {
  retries: number;
  heartbeatSeconds: number;
}

export function queueSettings(options: DistributedOptions | undefined): QueueSettings {
  return { retries: options?.retries ?? DEFAULT_RETRIES, heartbeatSeconds: options?.heartbeatSeconds ?? DEFAULT_HEARTBEAT_SECONDS };
}

/** Creates the pipeline's two queues when missing, and brings their retry and heartbeat settings up to date. */
export async function ensureQueues(boss: PgBoss, pipeline: string, settings: QueueSettings): Promise<void> {
  const partitionOptions = { retryLimit: settings.retries, retryDelay: 1, heartbeatSeconds: settings.heartbeatSeconds, expireInSeconds: PARTITION_EXPIRE_SECONDS };
  const finalizeOptions = { retryLimit: 5, retryDelay: 1, retryBackoff: true, heartbeatSeconds: settings.heartbeatSeconds, expireInSeconds: 60 * 60 };
  for (const [name, options] of [
    [partitionQueue(pipeline), partitionOptions],
    [finalizeQueue(pipeline), finalizeOptions],
  ] as const) {
    if ((await boss.getQueue(name)) === null) {
      // Two submitters may race to create it: the second one's error means it exists.
      await boss.createQueue(name, options).catch(async (error) => {
        if ((await boss.getQueue(name)) === null) throw error;
      });
    } else {
      const { heartbeatSeconds: _fixed, ...changeable } = options;
      await boss.updateQueue(name, changeable);
    }
  }
}
