/**
 * How the cron scheduler has a run done: it hands an executor a {@link RunRequest} and gets a
 * {@link RunReport} back. The scheduler decides when a pipeline runs, with what share of memory and for
 * which tick; the executor decides where: a child process on this machine today
 * (child-process-executor.ts), a job on a queue such as pg-boss later, without a change to the cron code.
 */
import type { RunSummary } from '../runtime/summary.ts';
import type { RunRecord, RunStatus } from './history.ts';

export interface RunRequest {
  /** The pipeline file, an absolute path: the run loads it afresh, so an edit applies from the next run. */
  file: string;
  /** The pipeline's name, as the scheduler knows it (its lock and history are under this name). */
  pipeline: string;
  /** Bytes: the run's share of the scheduler's memory budget, its own budget. */
  memory: number;
  /**
   * The scheduled time this run is for (ISO). A tick already recorded as run (by another scheduler) is
   * skipped, so each tick runs once however many schedulers fire it.
   */
  tick: string;
  /** Why it runs: `schedule` (a tick), `catch-up` (a tick missed while no scheduler ran). */
  trigger: 'schedule' | 'catch-up';
  /**
   * Stop the run this long after it started, retries included, and record it as failed (RUN_TIMEOUT).
   * The run stops itself; the scheduler ends one that does not (see {@link RunHandle.kill}).
   */
  runTimeoutMs?: number;
}

export interface RunReport {
  status: RunStatus;
  /** Skipped runs: why (the lock is held, the tick already ran). */
  reason?: string;
  /** Runs that ran: what they read, wrote and used. Absent for a run that ended before it could say. */
  summary?: RunSummary;
  /** Failed runs: why, with a stable code (RUN_PROCESS when the run's process died without saying). */
  error?: { code: string; message: string };
  /** The run's history record. */
  record: RunRecord;
  /**
   * Whether `record` is in the pipeline's history already. A run records itself; one whose process died,
   * or whose file could not load, could not, and the scheduler records it instead.
   */
  recorded: boolean;
}

/** A run under way. */
export interface RunHandle {
  /** Where it runs, for the scheduler's log: `pid 4242`. */
  readonly label: string;
  /** Resolves with the report when the run is over, however it ended (a crash too); never rejects. */
  readonly done: Promise<RunReport>;
  /** Asks the run to stop: it aborts, cleans up, releases its lock and records itself as failed (SIGTERM). */
  stop(): void;
  /**
   * Ends the run now, giving it no chance to clean up (SIGKILL). A run that ends so reports `because`
   * as its error, or else that it was killed.
   */
  kill(because?: { code: string; message: string }): void;
}

export interface Executor {
  start(request: RunRequest): RunHandle;
}

/** A run's record from its request, for a run that ended before it could record itself. */
export function unrecordedFailure(request: RunRequest, startedAt: Date, error: { code: string; message: string }, pid?: number): RunReport {
  const record: RunRecord = {
    pipeline: request.pipeline,
    status: 'failed',
    trigger: request.trigger,
    tick: request.tick,
    startedAt: startedAt.toISOString(),
    endedAt: new Date().toISOString(),
    rowsIn: 0,
    rowsOut: 0,
    rowsRejected: 0,
    peakRss: 0,
    error,
    pid,
  };
  return { status: 'failed', error, record, recorded: false };
}
