/**
 * `etl schedule`: a long-running process that runs each pipeline when its cron schedule says so.
 *
 * Isolation: every run is a child process, `etl run <file> --report <tmp.json> --memory <share>
 * --tick <iso> --supervised`, in its own process group. A run that crashes, hangs or runs out of memory
 * takes only its own process down; the scheduler reads the report back (or, with none, records the
 * exit code or signal as a failure) and goes on. `--supervised` makes the child stop its run when its
 * stdin (a pipe from here) closes, so a scheduler that dies, even by SIGKILL, leaves no orphan runs
 * behind holding locks.
 *
 * Memory: one budget for all runs going at once. Each run is given a share, its pipeline's own `memory`
 * when set, else the budget divided by the number of scheduled pipelines (so all of them fit at once),
 * never more than the whole budget; the share is passed to the child as `--memory`. A run whose share
 * does not fit in what the running ones leave waits until enough of them end.
 *
 * Ticks: times are computed with croner from the previous tick, not from "now", so a slow event loop
 * does not lose ticks. A tick while the pipeline's previous run is still going is skipped (logged and
 * recorded as skipped) or, with `overlap: 'queue'`, kept as the one waiting run. Other schedulers and
 * `etl run` are kept out by the pipeline's lock (the child exits 3 and records the skip), and a tick
 * already run elsewhere is not run again (`--tick`).
 *
 * Timeouts: a run with a `runTimeoutMs` (its pipeline's, else the scheduler's) is given it as
 * `--run-timeout` and stops itself, recording RUN_TIMEOUT. A watchdog here kills it (SIGKILL) `killTimeoutMs`
 * after that, for a run too hung to stop itself, and records the failure in its place.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Cron } from 'croner';
import { loadPipeline } from './load.ts';
import { isSluiceError, SluiceError } from '../core/errors.ts';
import type { Pipeline } from '../runtime/pipeline.ts';
import { formatBytes, parseBytes } from '../core/bytes.ts';
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
    const settings = resolveScheduleOptions(pipeline, file);
    scheduled.push({ file, pipeline, name, settings, cron: settings.schedule === undefined ? undefined : cronOf(settings.schedule, settings.timezone) });
  }
  return scheduled;
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
  /** The `etl` executable (tests). @default this installation's bin/etl.js */
  etlBin?: string;
}

interface Reservation {
  bytes: number;
  resolve: () => void;
}

/** A byte semaphore: the scheduler's memory budget divided among the runs it has going. */
class MemoryShares {
  private used = 0;
  private readonly waiting: Reservation[] = [];
  constructor(readonly total: number) {}

  acquire(bytes: number): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push({ bytes, resolve });
      this.drain();
    });
  }

  release(bytes: number): void {
    this.used -= bytes;
    this.drain();
  }

  /** First come, first served: a large share at the head is not overtaken by small ones forever. */
  private drain(): void {
    while (this.waiting.length > 0 && this.used + this.waiting[0].bytes <= this.total) {
      const next = this.waiting.shift()!;
      this.used += next.bytes;
      next.resolve();
    }
  }
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
  child?: ChildProcess;
  /** The one waiting run of `overlap: 'queue'`. */
  queued?: Tick;
  /** Missed ticks to run on start (`catchUp: 'all'`), oldest first. */
  catchUp: Tick[];
}

const MAX_TIMER_MS = 2 ** 31 - 1;
const MAX_CATCH_UP = 100;

export class Scheduler {
  private readonly runtimes: PipelineRuntime[];
  private readonly shares: MemoryShares;
  private stopping = false;
  private reportCounter = 0;
  private readonly etlBin: string;
  private readonly log: (line: string) => void;
  private readonly killTimeoutMs: number;

  constructor(
    readonly entries: readonly ScheduledPipeline[],
    private readonly options: SchedulerOptions,
  ) {
    const total = parseBytes(options.memory ?? '1GB', '--memory');
    this.shares = new MemoryShares(total);
    const scheduled = entries.filter((entry) => entry.cron !== undefined);
    this.runtimes = scheduled.map((entry) => {
      const own = entry.pipeline.memory === undefined ? total / scheduled.length : parseBytes(entry.pipeline.memory, 'memory');
      return { entry, store: openStateStore(entry.pipeline.state, entry.file), share: Math.floor(Math.min(own, total)), catchUp: [] };
    });
    this.etlBin = options.etlBin ?? fileURLToPath(new URL('../../bin/etl.js', import.meta.url));
    this.log = (line) => options.log(`${new Date().toISOString()} ${line}`);
    this.killTimeoutMs = options.killTimeoutMs ?? 10_000;
  }

  /** Runs until the signal is aborted, then shuts down (see {@link SchedulerOptions.shutdownTimeoutMs}). */
  async run(): Promise<void> {
    const { signal } = this.options;
    for (const runtime of this.runtimes) {
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
        runtime.child = undefined;
        this.startNextPending(runtime);
      });
  }

  private async execute(runtime: PipelineRuntime, tick: Tick): Promise<void> {
    const { name, file } = runtime.entry;
    await this.shares.acquire(runtime.share);
    try {
      if (this.stopping) return;
      const report = join(tmpdir(), `sluice-schedule-${process.pid}-${++this.reportCounter}.json`);
      const args = [this.etlBin, 'run', resolve(file), '--quiet', '--supervised', '--report', report, '--memory', String(runtime.share), '--tick', tick.at.toISOString(), '--trigger', tick.trigger];
      const runTimeoutMs = runtime.entry.settings.runTimeoutMs ?? this.options.runTimeoutMs;
      if (runTimeoutMs !== undefined) args.push('--run-timeout', String(runTimeoutMs));
      const startedAt = new Date();
      const child = spawn(process.execPath, args, { stdio: ['pipe', 'ignore', 'pipe'], detached: true });
      runtime.child = child;
      // The child stops itself at its timeout (recording RUN_TIMEOUT, releasing its lock). One too hung to
      // do so (its event loop blocked) is killed here a grace period later, and the failure recorded here.
      let killedForTimeout = false;
      const watchdog =
        runTimeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              killedForTimeout = true;
              this.log(`${name}: tick ${tick.at.toISOString()} still running ${runTimeoutMs} ms + ${this.killTimeoutMs} ms after it started; killing it (SIGKILL)`);
              child.kill('SIGKILL');
            }, runTimeoutMs + this.killTimeoutMs);
      this.log(`${name}: tick ${tick.at.toISOString()} started${tick.trigger === 'catch-up' ? ' (catch-up)' : ''} (pid ${child.pid})`);
      let stderr = '';
      child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
        stderr = (stderr + chunk).slice(-4000);
      });
      child.stdin!.on('error', () => {}); // the child may be gone before we close its stdin
      const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((done) => {
        child.on('error', (error) => {
          stderr += error.message;
          done([null, null]);
        });
        child.on('close', (exitCode, exitSignal) => done([exitCode, exitSignal]));
      });
      clearTimeout(watchdog);
      child.stdin!.destroy();
      const result = await readFile(report, 'utf8').then((text) => JSON.parse(text) as { status: string; rows?: { read: number; written: number; rejected: number }; error?: { code: string; message: string }; reason?: string }, () => undefined);
      await rm(report, { force: true });
      const took = `${((Date.now() - startedAt.getTime()) / 1000).toFixed(1)} s`;
      if (result?.status === 'skipped') {
        this.log(`${name}: tick ${tick.at.toISOString()} skipped: ${result.reason}`);
      } else if (result?.status === 'succeeded') {
        this.log(`${name}: tick ${tick.at.toISOString()} succeeded in ${took}: rows in ${result.rows?.read}, out ${result.rows?.written}, rejected ${result.rows?.rejected}`);
      } else if (result?.status === 'failed') {
        this.log(`${name}: tick ${tick.at.toISOString()} FAILED in ${took}: [${result.error?.code}] ${result.error?.message}`);
      } else {
        // No report: the child crashed, was killed (out of memory, a signal, the watchdog) or could not load the file.
        const how = signal !== null ? `was killed by ${signal}` : `exited with code ${code}`;
        const lastLine = stderr.trim().split('\n').slice(-3).join(' | ');
        const message = killedForTimeout
          ? `the run did not stop at its timeout (runTimeoutMs ${runTimeoutMs}) and was killed ${this.killTimeoutMs} ms later`
          : `the run's process ${how}${lastLine ? `: ${lastLine}` : ''}`;
        this.log(`${name}: tick ${tick.at.toISOString()} FAILED in ${took}: ${message}`);
        await runtime.store
          .record({
            pipeline: name,
            status: 'failed',
            trigger: tick.trigger,
            tick: tick.at.toISOString(),
            startedAt: startedAt.toISOString(),
            endedAt: new Date().toISOString(),
            rowsIn: 0,
            rowsOut: 0,
            rowsRejected: 0,
            peakRss: 0,
            error: { code: killedForTimeout ? 'RUN_TIMEOUT' : 'RUN_PROCESS', message },
            pid: child.pid,
          })
          .catch((error: unknown) => this.log(`${name}: could not record the failure: ${(error as Error).message}`));
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
        const left = this.runtimes.filter((runtime) => runtime.child !== undefined && runtime.child.exitCode === null);
        this.log(`stopping: ${left.map((runtime) => runtime.entry.name).join(', ')} still running; sending SIGTERM (their runs abort and release their locks)`);
        for (const runtime of left) runtime.child!.kill('SIGTERM');
        if ((await within(all, this.killTimeoutMs)) === 'timeout') {
          for (const runtime of left) runtime.child!.kill('SIGKILL');
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

