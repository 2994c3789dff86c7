/**
 * A run as `etl run` and the scheduler make it: under the pipeline's lock, with its incremental state,
 * retried on transient errors, and recorded in the history whatever happens (skipped included).
 */
import { hostname } from 'node:os';
import { isSluiceError, SluiceError } from '../core/errors.ts';
import type { Pipeline } from '../runtime/pipeline.ts';
import type { RunSummary } from '../runtime/summary.ts';
import { run, type RunOptions, type RunStateStore } from '../runtime/run.ts';
import { recordFromSummary, type RetryRecord, type RunRecord } from './history.ts';
import { resolveScheduleOptions } from './schedule-options.ts';
import { sleep } from './sleep.ts';
import { openStateStore, type PipelineState, type StateStore } from './state.ts';

export interface TrackedRunOptions extends Omit<RunOptions, 'state'> {
  /** The pipeline file: anchors the default state folder and names the lock's owner. */
  file?: string;
  /** `manual`, `schedule`, `catch-up`. @default 'manual' */
  trigger?: string;
  /**
   * The scheduled time this run is for (ISO). A tick already recorded as run (by another scheduler on
   * another machine, say) is skipped, so each tick runs once however many schedulers fire it.
   */
  tick?: string;
  /** Told before each retry. */
  onRetry?: (attempt: number, error: { code: string; message: string }, delayMs: number) => void;
  /** Use this store rather than the pipeline's (tests). Not closed here. */
  store?: StateStore;
  /** Overrides the pipeline's `runTimeoutMs`. */
  runTimeoutMs?: number;
  /** When the timeout starts counting (epoch ms; `etl run` gives its process's start). @default now */
  runTimeoutFrom?: number;
}

export type TrackedRunResult =
  | { status: 'skipped'; reason: string; record: RunRecord }
  | { status: 'ran'; summary: RunSummary; record: RunRecord };

/**
 * Transient errors are worth a retry: the connector that made the error says so in its `transient`
 * flag (PostgreSQL's: a connection refused, reset or lost, a serialization failure, a deadlock; see
 * connectors/postgres/errors.ts). Everything else (bad data, bad SQL, authentication) fails at once.
 * `error` is the run summary's error; `cause`, the error itself, is searched too (it may wrap one).
 */
export function isTransientError(error: { code: string; message: string; transient?: boolean } | undefined, cause?: unknown): boolean {
  if (error === undefined) return false;
  if (error.transient === true) return true;
  for (let current = cause, depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    if (isSluiceError(current) && current.details.transient === true) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}


/** Runs a pipeline under its lock, with its state, retries and history. Never throws for a failed run. */
export async function runTracked(pipeline: Pipeline<any>, options: TrackedRunOptions = {}): Promise<TrackedRunResult> {
  const name = pipeline.name ?? 'pipeline';
  const settings = resolveScheduleOptions(pipeline, options.file);
  const store = options.store ?? openStateStore(pipeline.state, options.file);
  const trigger = options.trigger ?? 'manual';
  const command = options.file === undefined ? undefined : `etl run ${options.file}`;
  try {
    const lock = await store.lock(name, command);
    const base = { pipeline: name, trigger, tick: options.tick, host: hostname(), pid: process.pid };
    const skip = async (reason: string): Promise<TrackedRunResult> => {
      const now = new Date().toISOString();
      const record: RunRecord = { ...base, status: 'skipped', startedAt: now, endedAt: now, rowsIn: 0, rowsOut: 0, rowsRejected: 0, peakRss: 0, note: reason };
      await store.record(record);
      return { status: 'skipped', reason, record };
    };
    if (!lock.acquired) return await skip(`already running: ${lock.holder} holds the lock (${store.description})`);
    try {
      if (options.tick !== undefined && (await store.ranTick(name, options.tick))) {
        return await skip(`the tick of ${options.tick} already ran`);
      }
      const before = await store.readState(name);
      const stateStore: RunStateStore = {
        committed: before,
        saveIn: (transaction, state) => store.writeStateIn(transaction, name, state),
        save: (state) => store.writeState(name, state),
      };
      // The timeout covers the whole run, retries and their waits included: it bounds how long the lock is held.
      const runTimeoutMs = options.runTimeoutMs ?? settings.runTimeoutMs;
      const timeout = new AbortController();
      const timer =
        runTimeoutMs === undefined
          ? undefined
          : setTimeout(
              () => timeout.abort(new SluiceError('RUN_TIMEOUT', `The run of ${name} was stopped after ${runTimeoutMs} ms (runTimeoutMs).`, { pipeline: name })),
              Math.max(0, runTimeoutMs - (Date.now() - (options.runTimeoutFrom ?? Date.now()))),
            );
      timer?.unref();
      const signal = AbortSignal.any([...(options.signal === undefined ? [] : [options.signal]), lock.lost, timeout.signal]);
      let summary: RunSummary;
      let attempts = 0;
      const retried: RetryRecord[] = [];
      let firstStartedAt: string | undefined;
      // run() refuses options it does not know: hand it only its own.
      const { file: _file, trigger: _trigger, tick: _tick, onRetry: _onRetry, store: _store, runTimeoutMs: _runTimeoutMs, runTimeoutFrom: _from, ...runOptions } = options;
      try {
        for (;;) {
          attempts++;
          summary = await run(pipeline, { ...runOptions, signal, state: stateStore });
          firstStartedAt ??= summary.startedAt;
          const cause = (summary as { cause?: unknown }).cause;
          if (summary.status === 'succeeded' || attempts > settings.retries.max || signal.aborted || !isTransientError(summary.error, cause)) break;
          const delay = settings.retries.backoffMs * 2 ** (attempts - 1);
          retried.push({ attempt: attempts, error: { code: summary.error!.code, message: summary.error!.message }, delayMs: delay });
          options.onRetry?.(attempts, summary.error!, delay);
          await sleep(delay, signal);
          if (signal.aborted) {
            // Stopped while waiting to retry: the run's error is why it stopped, not the last transient one.
            const reason: unknown = signal.reason;
            if (isSluiceError(reason)) summary = { ...summary, error: { ...summary.error!, code: reason.code, message: reason.message } };
            break;
          }
        }
      } finally {
        clearTimeout(timer);
      }
      // What the store holds now, whatever the status: the history says what was committed, not what was hoped.
      const after: PipelineState = summary.dryRun !== true ? await store.readState(name).catch(() => before) : before;
      const record = recordFromSummary(summary, {
        ...base,
        watermarkBefore: Object.keys(before).length === 0 ? undefined : before,
        watermarkAfter: Object.keys(after).length === 0 ? undefined : after,
        startedAt: firstStartedAt ?? summary.startedAt,
        attempts,
        retries: retried.length === 0 ? undefined : retried,
        note: summary.dryRun ? 'dry run' : undefined,
      });
      await store.record(record).catch((error: unknown) => {
        summary.warnings.push({
          code: 'HISTORY_NOT_RECORDED',
          message: `the run could not be recorded in the history: ${isSluiceError(error) ? error.message : String(error)}`,
        });
      });
      return { status: 'ran', summary, record };
    } finally {
      await lock.release();
    }
  } finally {
    if (options.store === undefined) await store.close();
  }
}
