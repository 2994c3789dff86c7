/**
 * `etl worker`: takes partition jobs of the pipelines it knows from the queue and runs them in child
 * processes, at most `concurrency` at once, each under its share of the worker's memory. A child process
 * per slot (serving-child.ts), started with the worker and kept, runs partition after partition with the
 * pipelines loaded once: a partition then costs what its rows cost, not a start of Node and Sluice
 * (which made one worker half as fast as a plain `etl run` of 8 partitions). A partition that crashes
 * its process takes only itself down; the slot gets a new process. It also runs the finalize jobs of those pipelines,
 * and pg-boss's monitor, which fails the jobs of workers whose heartbeat lapsed so they are retried.
 *
 * On stop (SIGTERM), it drains: it takes no new job, lets the partitions it runs go on for up to
 * `shutdownTimeoutMs`, then stops them (SIGTERM: they roll back, and their jobs are retried elsewhere),
 * and kills any still going `killTimeoutMs` later.
 */
import { hostname } from 'node:os';
import type { JobWithMetadata, PgBoss } from 'pg-boss';
import { formatBytes, parseBytes } from '../../core/bytes.ts';
import { isSluiceError, SluiceError } from '../../core/errors.ts';
import type { PgConnectionOptions } from '../../connectors/postgres/connection.ts';
import { createPoolRegistry } from '../../connectors/postgres/pools.ts';
import { MemoryBudget } from '../../runtime/budget.ts';
import type { ScheduledPipeline } from '../scheduler.ts';
import { openStateStore } from '../state.ts';
import { isTransientError } from '../tracked-run.ts';
import { type ServingChild, startServingChild } from '../serving-child.ts';
import { siblingModule } from '../supervised-child.ts';
import { failRun, type RunPlace, succeedRun } from './finish.ts';
import type { PartitionReport, PartitionRequest } from './partition-run.ts';
import { finalizeQueue, partitionQueue, type QueuePlace } from './place.ts';
import { ensureQueues, openBoss, queueSettings } from './queue.ts';
import { DistributedRecords } from './records.ts';
import type { FinalizeJob, PartitionJob } from './submit.ts';

const PARTITION_ENTRY = siblingModule(import.meta.url, 'partition-entry');

export interface WorkerOptions {
  place: QueuePlace;
  /** One budget for the partitions going at once, divided equally among `concurrency` of them. @default '1GB' */
  memory?: string | number;
  /** Partitions run at once. @default 1 */
  concurrency?: number;
  /** How often pg-boss's monitor looks for lapsed heartbeats, in seconds. @default 10 */
  superviseIntervalSeconds?: number;
  /** @default 30000 */
  shutdownTimeoutMs?: number;
  /** @default 10000 */
  killTimeoutMs?: number;
  signal: AbortSignal;
  log: (line: string) => void;
}

export class Worker {
  private readonly byName = new Map<string, ScheduledPipeline>();
  private readonly slots: MemoryBudget;
  private readonly share: number;
  /** Slot processes waiting for a partition, started ahead. */
  private readonly idle: ServingChild<PartitionRequest, PartitionReport>[] = [];
  /** Partitions running, with the process of each. */
  private readonly running = new Map<ServingChild<PartitionRequest, PartitionReport>, Promise<unknown>>();
  private readonly pools = createPoolRegistry();
  private readonly name = `${hostname()}:${process.pid}`;
  private readonly log: (line: string) => void;

  private readonly options: WorkerOptions;
  constructor(
    entries: readonly ScheduledPipeline[],
    options: WorkerOptions,
  ) {
    this.options = options;
    for (const entry of entries) this.byName.set(entry.name, entry);
    const concurrency = options.concurrency ?? 1;
    const total = parseBytes(options.memory ?? '1GB', '--memory');
    this.share = Math.floor(total / concurrency);
    // One slot per partition going: the worker's memory, reserved a share at a time.
    this.slots = new MemoryBudget(this.share * concurrency);
    this.log = (line) => options.log(`${new Date().toISOString()} ${line}`);
  }

  private get db() {
    return this.pools.pool(this.options.place.config as PgConnectionOptions);
  }

  /** Works until the signal is aborted, then drains. */
  async run(): Promise<void> {
    const { signal, place } = this.options;
    const concurrency = this.options.concurrency ?? 1;
    for (let slot = 0; slot < concurrency; slot++) this.idle.push(this.startSlot());
    let boss: PgBoss | undefined;
    try {
      const started = await openBoss(place, { supervise: true, superviseIntervalSeconds: this.options.superviseIntervalSeconds });
      boss = started;
      // Ready means ready to run a partition at once: its processes started and the pipelines loaded.
      await Promise.all(this.idle.map((child) => child.ready));
      for (const entry of this.byName.values()) {
        await ensureQueues(boss, entry.name, queueSettings(entry.pipeline.distributed));
        await boss.work<PartitionJob>(partitionQueue(entry.name), { localConcurrency: concurrency, includeMetadata: true, pollingIntervalSeconds: 1 }, async ([job]) =>
          this.partition(started, entry, job as JobWithMetadata<PartitionJob>),
        );
        await boss.work<FinalizeJob>(finalizeQueue(entry.name), { pollingIntervalSeconds: 1 }, async ([job]) => this.finalize(entry, job.data));
      }
      this.log(`worker ${this.name}: ${[...this.byName.keys()].join(', ')}; ${concurrency} at once, ${formatBytes(this.share)} each; queue at ${place.description} (schema ${place.queueSchema})`);
      if (!signal.aborted) await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      await this.drain(boss);
    } finally {
      for (const child of this.idle.splice(0)) child.stop();
      await boss?.stop({ graceful: false, close: true }).catch(() => {});
      await this.pools.closeAll();
    }
  }

  private async partition(boss: PgBoss, entry: ScheduledPipeline, job: JobWithMetadata<PartitionJob>): Promise<object> {
    const data = job.data;
    const records = new DistributedRecords(data.schema);
    const what = `${entry.name} run ${data.runId} partition ${data.partition} (${data.label}), attempt ${job.retryCount + 1}`;
    await this.slots.reserve(this.share, job.signal);
    try {
      if (!(await records.start(this.db, data.runId, data.partition, this.name))) {
        this.log(`${what}: committed by an earlier attempt, or the run has ended: nothing to do`);
        return { committed: 'earlier' };
      }
      this.log(`${what}: started`);
      const request: PartitionRequest = {
        file: entry.file,
        spec: data.spec,
        memory: this.share,
        claim: { runId: data.runId, partition: data.partition, jobId: job.id, queue: job.name, retryCount: job.retryCount, schema: data.schema, queueSchema: data.queueSchema },
      };
      const child = this.takeSlot();
      // pg-boss gave the job up (it expired, or the worker stops): the partition stops, its process stays.
      const cancel = () => child.cancel();
      job.signal.addEventListener('abort', cancel, { once: true });
      let outcome;
      try {
        const done = child.request(request);
        this.running.set(child, done);
        outcome = await done;
      } finally {
        job.signal.removeEventListener('abort', cancel);
        this.running.delete(child);
        this.giveBack(child);
      }
      const report: PartitionReport = outcome.report ?? { status: 'failed', rowsRead: 0, rowsWritten: 0, rowsRejected: 0, error: { code: 'RUN_PROCESS', message: `the partition's process ${outcome.how}` } };
      if (report.status === 'succeeded') {
        await records.counted(this.db, data.runId, data.partition, report.rowsRead, report.rowsRejected);
        this.log(`${what}: committed, ${report.rowsWritten} rows written`);
        return { rowsRead: report.rowsRead, rowsWritten: report.rowsWritten, rowsRejected: report.rowsRejected };
      }
      const error = report.error!;
      if (error.code === 'DISTRIBUTED_ALREADY_COMMITTED' || error.code === 'DISTRIBUTED_RUN_ENDED') {
        this.log(`${what}: ${error.message}`);
        return { committed: 'earlier' };
      }
      if (error.code === 'DISTRIBUTED_FENCED') {
        // Another attempt has the partition now: its record is that attempt's to keep.
        this.log(`${what}: fenced: ${error.message}`);
        throw new SluiceError('DISTRIBUTED_FENCED', error.message);
      }
      const final = job.retryCount >= job.retryLimit;
      await records.failedAttempt(this.db, data.runId, data.partition, error, final);
      this.log(`${what}: failed [${error.code}] ${error.message}${final ? '; no attempts left, the run fails' : '; to be retried'}`);
      if (final && (await failRun(this.runPlace(entry, records), data.runId, error))) {
        await boss.cancel(finalizeQueue(entry.name), data.finalizeJob).catch(() => {});
      }
      throw new SluiceError('DISTRIBUTED_RUN_FAILED', `[${error.code}] ${error.message}`);
    } finally {
      this.slots.release(this.share);
    }
  }

  /** A process for a slot, with every pipeline this worker knows loaded ahead. */
  private startSlot(): ServingChild<PartitionRequest, PartitionReport> {
    return startServingChild<PartitionRequest, PartitionReport>(PARTITION_ENTRY, [...new Set([...this.byName.values()].map((entry) => entry.file))]);
  }

  private takeSlot(): ServingChild<PartitionRequest, PartitionReport> {
    for (let child = this.idle.pop(); child !== undefined; child = this.idle.pop()) if (child.alive) return child;
    return this.startSlot();
  }

  /** After a partition: its process waits for the next one, or, gone, is replaced ahead of it. */
  private giveBack(child: ServingChild<PartitionRequest, PartitionReport>): void {
    if (this.options.signal.aborted) {
      child.stop();
      return;
    }
    this.idle.push(child.alive ? child : this.startSlot());
  }

  private async finalize(entry: ScheduledPipeline, data: FinalizeJob): Promise<object> {
    const records = new DistributedRecords(data.schema);
    const partitions = await records.partitionsOf(this.db, data.runId);
    const open = partitions.filter((row) => row.status !== 'committed');
    if (open.length > 0) {
      // The flow starts finalize only after every partition's job completed; a partition job completes only once committed.
      throw new SluiceError('DISTRIBUTED_RUN_FAILED', `run ${data.runId}: partitions ${open.map((row) => row.partition).join(', ')} are not committed`);
    }
    const place = this.runPlace(entry, records);
    const publishing = entry.pipeline.sink.forDistributedRun?.(data.runId);
    const state = await records.plannedState(this.db, data.runId);
    const store = openStateStore(entry.pipeline.state, entry.file);
    try {
      // The run's incremental state advances once, here: in the transaction that makes its rows visible
      // when the state store is on the queue's database, else just after it commits.
      let stateSaved = state === undefined;
      const succeeded = await succeedRun(place, data.runId, async (transaction) => {
        await publishing?.publish(transaction);
        if (state !== undefined) stateSaved = await store.writeStateIn(transaction, entry.name, state);
      });
      if (succeeded && !stateSaved) await store.writeState(entry.name, state!);
      if (succeeded) {
        const rows = partitions.reduce((total, row) => total + (row.rowsWritten ?? 0), 0);
        this.log(`${entry.name} run ${data.runId}: succeeded, ${partitions.length} partitions, ${rows} rows written`);
      }
    } catch (error) {
      const failure = isSluiceError(error) ? { code: error.code, message: error.message } : { code: 'DISTRIBUTED_RUN_FAILED', message: error instanceof Error ? error.message : String(error) };
      // A lost connection: pg-boss retries finalize. Anything else would fail the same way again: the run fails now.
      if (isTransientError(failure, error)) throw error;
      if (await failRun(place, data.runId, failure)) this.log(`${entry.name} run ${data.runId}: failed in finalize [${failure.code}] ${failure.message}; the target is as it was`);
      return { failed: failure.code };
    } finally {
      await store.close();
    }
    return { partitions: partitions.length };
  }

  private runPlace(entry: ScheduledPipeline, records: DistributedRecords): RunPlace {
    return { db: this.db, connection: this.options.place.config as PgConnectionOptions, records, pipeline: entry.pipeline, file: entry.file };
  }

  private async drain(boss: PgBoss): Promise<void> {
    this.log(`worker ${this.name}: stopping; ${this.running.size} partition(s) running`);
    for (const entry of this.byName.values()) {
      await boss.offWork(partitionQueue(entry.name), { wait: false }).catch(() => {});
      await boss.offWork(finalizeQueue(entry.name), { wait: false }).catch(() => {});
    }
    const shutdownTimeoutMs = this.options.shutdownTimeoutMs ?? 30_000;
    const killTimeoutMs = this.options.killTimeoutMs ?? 10_000;
    const allDone = () => Promise.all(this.running.values());
    if (this.running.size > 0 && !(await within(allDone(), shutdownTimeoutMs))) {
      this.log(`worker ${this.name}: stopping ${this.running.size} partition(s) (SIGTERM); their jobs are retried elsewhere`);
      for (const child of this.running.keys()) child.stop();
      if (!(await within(allDone(), killTimeoutMs))) for (const child of this.running.keys()) child.kill();
    }
    // Let the handlers of the partitions just ended settle their jobs.
    await boss.stop({ graceful: true, timeout: 5000, close: false }).catch(() => {});
  }
}

async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
