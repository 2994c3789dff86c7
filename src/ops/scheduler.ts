/**
 * `etl schedule`: a long-running process that runs each pipeline when its cron schedule says so.
 *
 * Runs: the scheduler decides when a pipeline runs, for which tick and with what share of memory, and
 * hands an {@link Executor} a {@link RunRequest}; the executor runs it where it runs its runs (a child
 * process of its own for `etl schedule`: child-process-executor.ts) and gives a {@link RunReport} back.
 * A run records itself in the history; one that could not (its process crashed, was killed or ran out of
 * memory) is recorded here from its report, and the scheduler goes on.
 *
 * Memory: one budget for all runs going at once. Each run is given a share, its pipeline's own `memory`
 * when set, else the budget divided by the number of scheduled pipelines (so all of them fit at once),
 * never more than the whole budget; the share is the run's own budget. A run whose share does not fit
 * in what the running ones leave waits until enough of them end.
 *
 * Ticks: times are computed with croner from the previous tick, not from "now", so a slow event loop
 * does not lose ticks. A tick while the pipeline's previous run is still going is skipped (logged and
 * recorded as skipped) or, with `overlap: 'queue'`, kept as the one waiting run. Other schedulers and
 * `etl run` are kept out by the pipeline's lock (the run reports itself skipped), and a tick already run
 * elsewhere is not run again (the request names its tick).
 *
 * Timeouts: a run with a `runTimeoutMs` (its pipeline's, else the scheduler's) is given it and stops
 * itself, recording RUN_TIMEOUT. A watchdog here kills it `killTimeoutMs` after that, for a run too
 * hung to stop itself, and records the failure in its place.
 */
import type { SchedulerMetrics } from './metrics.ts';
import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Cron } from 'croner';
import { loadPipeline } from './load.ts';
import { isSluiceError, SluiceError } from '../core/errors.ts';
import { MemoryBudget } from '../runtime/budget.ts';
import type { Pipeline } from '../runtime/pipeline.ts';
import { formatBytes, parseBytes } from '../core/bytes.ts';
import type { Executor, RunHandle, RunRequest } from './executor.ts';
import type { RunRecord } from './history.ts';
import { cronOf, resolveScheduleOptions, type ResolvedScheduleOptions } from './schedule-options.ts';
import { openStateStore, type StateStore } from './state.ts';

export interface ScheduledPipeline {
  file: string;
  pipeline: Pipeline<any>;
  name: string;
  settings: ResolvedScheduleOptions;
  /** Absent for a pipeline without `schedule` (listed, never run). */
  cron?: Cron;
}

/** The pipeline files named by files and folders (a folder: its .ts/.mts/.js/.mjs files, not recursive). */
export async function findPipelineFiles(paths: readonly string[]): Promise<{ file: string; fromFolder: boolean }[]> {
  const found: { file: string; fromFolder: boolean }[] = [];
  for (const path of paths) {
    const info = await stat(path).catch(() => undefined);
    if (info === undefined) throw new SluiceError('PIPELINE_LOAD', `${path} does not exist.`, { file: path });
    if (info.isDirectory()) {
      const names = (await readdir(path)).filter((name) => /\.(m?ts|m?js)$/.test(name) && !name.startsWith('.') && !/\.d\.m?ts$/.test(name)).sort();
      for (const name of names) found.push({ file: join(path, name), fromFolder: true });
    } else {
      found.push({ file: path, fromFolder: false });
    }
  }
  return found;
}

/**
 * Loads and checks the pipelines to schedule. A file met through a folder whose default export is not a
 * pipeline (a helper module) is passed over with a note; any other problem stops here, before anything runs.
 */
export async function loadScheduled(paths: readonly string[], note: (line: string) => void = () => {}): Promise<ScheduledPipeline[]> {
  const scheduled: ScheduledPipeline[] = [];
  const names = new Map<string, string>();
  for (const { file, fromFolder } of await findPipelineFiles(paths)) {
    let pipeline: Pipeline<any>;
    try {
      pipeline = await loadPipeline(file);
    } catch (error) {
      if (fromFolder && isSluiceError(error, 'PIPELINE_SHAPE')) {
        note(`${file}: not a pipeline, passed over`);
        continue;
      }
      throw error;
    }
    const name = pipeline.name ?? 'pipeline';
    const other = names.get(name);
    if (other !== undefined) {
      throw new SluiceError('INVALID_OPTION', `${file} and ${other} both define pipeline ${JSON.stringify(name)}; names identify locks and history, give each its own \`name\`.`, { file });
    }
    names.set(name, file);
    scheduled.push(scheduledPipeline(file, pipeline));
  }
  return scheduled;
}

/** A loaded pipeline with its checked scheduling options and, when it has a schedule, its cron. */
export function scheduledPipeline(file: string, pipeline: Pipeline<any>): ScheduledPipeline {
  const settings = resolveScheduleOptions(pipeline, file);
  const cron = settings.schedule === undefined ? undefined : cronOf(settings.schedule, settings.timezone);
  return { file, pipeline, name: pipeline.name ?? 'pipeline', settings, cron };
}

/** The next `count` run times of a scheduled pipeline after `from`. */
export function nextRunTimes(entry: ScheduledPipeline, count: number, from: Date = new Date()): Date[] {
  return entry.cron === undefined ? [] : entry.cron.nextRuns(count, from);
}

export interface SchedulerOptions {
  /** One budget for all runs going at once. @default '1GB' */
  memory?: string | number;
  /** On SIGTERM/SIGINT: how long running runs may go on before they are stopped (SIGTERM). @default 30000 */
  shutdownTimeoutMs?: number;
  /**
   * After that SIGTERM, how long before SIGKILL. Also how long past its `runTimeoutMs` a run that did not
   * stop itself (a stage blocking its event loop) is given before it is killed. @default 10000
   */
  killTimeoutMs?: number;
  /** `runTimeoutMs` of the pipelines that have none of their own. @default no timeout */
  runTimeoutMs?: number;
  /** Stops the scheduler (the CLI aborts it on SIGINT/SIGTERM). */
  signal: AbortSignal;
  /** One line per event (ticks, starts, ends, skips). */
  log: (line: string) => void;
  /** What runs the runs: `etl schedule` gives childProcessExecutor(), a process per run. */
  executor: Executor;
  /** Counts each run's start and end (`etl schedule --metrics` serves them). */
  metrics?: SchedulerMetrics;
}

interface Tick {
  at: Date;
  trigger: 'schedule' | 'catch-up';
}

interface PipelineRuntime {
  entry: ScheduledPipeline;
  store: StateStore;
  share: number;
  timer?: NodeJS.Timeout;
  running?: Promise<void>;
  /** The run going, while it goes. */
  run?: RunHandle;
  /** The one waiting run of `overlap: 'queue'`. */
  queued?: Tick;
  /** Missed ticks to run on start (`catchUp: 'all'`), oldest first. */
  catchUp: Tick[];
}

const MAX_TIMER_MS = 2 ** 31 - 1;
const MAX_CATCH_UP = 100;

export class Scheduler {
  private readonly runtimes: PipelineRuntime[];
  /**
   * The scheduler's memory divided among the runs it has going: each holds its share while it runs, and
   * one whose share does not fit waits, first come first served (the budget runs reserve batches from).
   */
  private readonly shares: MemoryBudget;
  private stopping = false;
  private readonly log: (line: string) => void;
  private readonly killTimeoutMs: number;

  readonly entries: readonly ScheduledPipeline[];
  private readonly options: SchedulerOptions;
  constructor(
    entries: readonly ScheduledPipeline[],
    options: SchedulerOptions,
  ) {
    this.entries = entries;
    this.options = options;
    const total = parseBytes(options.memory ?? '1GB', '--memory');
    this.shares = new MemoryBudget(total);
    const scheduled = entries.filter((entry) => entry.cron !== undefined);
    this.runtimes = scheduled.map((entry) => {
      const own = entry.pipeline.memory === undefined ? total / scheduled.length : parseBytes(entry.pipeline.memory, 'memory');
      return { entry, store: openStateStore(entry.pipeline.state, entry.file), share: Math.floor(Math.min(own, total)), catchUp: [] };
    });
    this.log = (line) => options.log(`${new Date().toISOString()} ${line}`);
    this.killTimeoutMs = options.killTimeoutMs ?? 10_000;
  }

  /** Runs until the signal is aborted, then shuts down (see {@link SchedulerOptions.shutdownTimeoutMs}). */
  async run(): Promise<void> {
    const { signal } = this.options;
    for (const runtime of this.runtimes) {
      this.options.metrics?.known(runtime.entry.name);
      await this.planCatchUp(runtime);
      this.log(`${runtime.entry.name}: scheduled ${JSON.stringify(runtime.entry.settings.schedule)}${runtime.entry.settings.timezone ? ` (${runtime.entry.settings.timezone})` : ''}, memory ${formatBytes(runtime.share)}, next ${runtime.entry.cron!.nextRun()?.toISOString()}`);
      this.arm(runtime, new Date());
      this.startNextPending(runtime);
    }
    if (!signal.aborted) await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    await this.shutdown();
  }

  private async planCatchUp(runtime: PipelineRuntime): Promise<void> {
    const { entry } = runtime;
    const last: RunRecord | undefined = (await runtime.store.history({ pipeline: entry.name, limit: 1 }))[0];
    if (last === undefined) return;
    const from = new Date(last.tick ?? last.startedAt);
    const now = new Date();
    const missed: Date[] = [];
    for (let at = entry.cron!.nextRun(from); at !== null && at <= now; at = entry.cron!.nextRun(at)) {
      missed.push(at);
      if (missed.length > MAX_CATCH_UP) missed.shift();
    }
    if (missed.length === 0) return;
    const policy = entry.settings.catchUp;
    const chosen = policy === 'all' ? missed : policy === 'latest' ? missed.slice(-1) : [];
    this.log(`${entry.name}: ${missed.length} tick(s) missed since ${from.toISOString()}; catchUp ${policy}: ${chosen.length === 0 ? 'none run' : `running ${chosen.length}`}`);
    runtime.catchUp = chosen.map((at) => ({ at, trigger: 'catch-up' }));
  }

  private arm(runtime: PipelineRuntime, after: Date): void {
    if (this.stopping) return;
    const next = runtime.entry.cron!.nextRun(after);
    if (next === null) return;
    const wait = next.getTime() - Date.now();
    runtime.timer = setTimeout(
      () => {
        if (next.getTime() > Date.now()) return this.arm(runtime, after); // a wait longer than a timer can hold
        this.arm(runtime, next);
        this.onTick(runtime, { at: next, trigger: 'schedule' });
      },
      Math.max(0, Math.min(wait, MAX_TIMER_MS)),
    );
  }

  private onTick(runtime: PipelineRuntime, tick: Tick): void {
    if (this.stopping) return;
    const { name, settings } = runtime.entry;
    if (runtime.running === undefined) {
      this.start(runtime, tick);
      return;
    }
    if (settings.overlap === 'queue' && runtime.queued === undefined) {
      runtime.queued = tick;
      this.log(`${name}: tick ${tick.at.toISOString()} queued (previous run still going)`);
      return;
    }
    const reason = settings.overlap === 'queue' ? 'previous run still going and one run already queued (overlap: queue)' : 'previous run still going (overlap: skip)';
    this.log(`${name}: tick ${tick.at.toISOString()} skipped: ${reason}`);
    this.options.metrics?.ended({ pipeline: name, status: 'skipped', durationMs: 0, rowsIn: 0, rowsOut: 0, rowsRejected: 0, bytesRead: 0, peakRss: 0 }, false);
    const now = new Date().toISOString();
    runtime.store
      .record({ pipeline: name, status: 'skipped', trigger: tick.trigger, tick: tick.at.toISOString(), startedAt: now, endedAt: now, rowsIn: 0, rowsOut: 0, rowsRejected: 0, peakRss: 0, note: reason, pid: process.pid })
      .catch((error: unknown) => this.log(`${name}: could not record the skipped tick: ${(error as Error).message}`));
  }

  private startNextPending(runtime: PipelineRuntime): void {
    if (this.stopping || runtime.running !== undefined) return;
    const next = runtime.queued ?? runtime.catchUp.shift();
    runtime.queued = undefined;
    if (next !== undefined) this.start(runtime, next);
  }

  private start(runtime: PipelineRuntime, tick: Tick): void {
    runtime.running = this.execute(runtime, tick)
      .catch((error: unknown) => this.log(`${runtime.entry.name}: ${error instanceof Error ? error.message : String(error)}`))
      .finally(() => {
        runtime.running = undefined;
        runtime.run = undefined;
        this.startNextPending(runtime);
      });
  }

  private async execute(runtime: PipelineRuntime, tick: Tick): Promise<void> {
    const { name, file } = runtime.entry;
    await this.shares.reserve(runtime.share);
    try {
      if (this.stopping) return;
      const at = tick.at.toISOString();
      const runTimeoutMs = runtime.entry.settings.runTimeoutMs ?? this.options.runTimeoutMs;
      const request: RunRequest = { file: resolve(file), pipeline: name, memory: runtime.share, tick: at, trigger: tick.trigger, runTimeoutMs };
      const startedAt = Date.now();
      const run = this.options.executor.start(request);
      runtime.run = run;
      // The run stops itself at its timeout (recording RUN_TIMEOUT, releasing its lock). One too hung to
      // do so (its event loop blocked) is killed here a grace period later, and the failure recorded here.
      const watchdog =
        runTimeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              this.log(`${name}: tick ${at} still running ${runTimeoutMs} ms + ${this.killTimeoutMs} ms after it started; killing it (SIGKILL)`);
              run.kill({ code: 'RUN_TIMEOUT', message: `the run did not stop at its timeout (runTimeoutMs ${runTimeoutMs}) and was killed ${this.killTimeoutMs} ms later` });
            }, runTimeoutMs + this.killTimeoutMs);
      this.log(`${name}: tick ${at} started${tick.trigger === 'catch-up' ? ' (catch-up)' : ''} (${run.label})`);
      this.options.metrics?.started(name);
      const report = await run.done.finally(() => clearTimeout(watchdog));
      const { rowsIn, rowsOut, rowsRejected, peakRss } = report.record;
      this.options.metrics?.ended({
        pipeline: name,
        status: report.status,
        durationMs: Date.now() - startedAt,
        rowsIn,
        rowsOut,
        rowsRejected,
        bytesRead: report.summary?.input.bytesRead ?? 0,
        peakRss,
        lockHeld: report.status === 'skipped' && /holds the lock/.test(report.reason ?? ''),
      });
      const took = `${((Date.now() - startedAt) / 1000).toFixed(1)} s`;
      if (report.status === 'skipped') {
        this.log(`${name}: tick ${at} skipped: ${report.reason}`);
      } else if (report.status === 'succeeded') {
        this.log(`${name}: tick ${at} succeeded in ${took}: rows in ${rowsIn}, out ${rowsOut}, rejected ${rowsRejected}`);
      } else {
        this.log(`${name}: tick ${at} FAILED in ${took}: [${report.error?.code}] ${report.error?.message}`);
      }
      if (!report.recorded) {
        await runtime.store.record(report.record).catch((error: unknown) => this.log(`${name}: could not record the run: ${(error as Error).message}`));
      }
    } finally {
      this.shares.release(runtime.share);
    }
  }

  private async shutdown(): Promise<void> {
    this.stopping = true;
    for (const runtime of this.runtimes) {
      clearTimeout(runtime.timer);
      runtime.queued = undefined;
      runtime.catchUp = [];
    }
    const running = this.runtimes.filter((runtime) => runtime.running !== undefined);
    const shutdownTimeout = this.options.shutdownTimeoutMs ?? 30_000;
    if (running.length > 0) {
      this.log(`stopping: no new runs; waiting up to ${shutdownTimeout} ms for ${running.map((runtime) => runtime.entry.name).join(', ')}`);
      const all = Promise.all(running.map((runtime) => runtime.running));
      if ((await within(all, shutdownTimeout)) === 'timeout') {
        const left = this.runtimes.filter((runtime) => runtime.run !== undefined);
        this.log(`stopping: ${left.map((runtime) => runtime.entry.name).join(', ')} still running; sending SIGTERM (their runs abort and release their locks)`);
        for (const runtime of left) runtime.run?.stop();
        if ((await within(all, this.killTimeoutMs)) === 'timeout') {
          for (const runtime of left) runtime.run?.kill();
          await all;
        }
      }
    }
    await Promise.all(this.runtimes.map((runtime) => runtime.store.close().catch(() => {})));
    this.log('stopped');
  }
}

async function within(promise: Promise<unknown>, ms: number): Promise<'done' | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  const outcome = await Promise.race([promise.then(() => 'done' as const), timeout]);
  clearTimeout(timer);
  return outcome;
}

