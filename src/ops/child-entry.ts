/**
 * The process of one scheduled run, started by child-process-executor.ts (with register-typescript.js
 * imported first, so that the pipeline file may be TypeScript). It takes its request from the scheduler
 * over IPC, runs the pipeline as `etl run` does (under its lock, with its state, retries and history)
 * and sends its report back the same way.
 *
 * Supervised: the run stops when the IPC channel closes (the scheduler that started it is gone, even by
 * SIGKILL), so no orphan run holds a lock; SIGTERM (the scheduler shutting down) stops it too.
 */
import { isSluiceError } from '../core/errors.ts';
import { unrecordedFailure, type RunReport, type RunRequest } from './executor.ts';
import { loadPipeline } from './load.ts';
import { publishLiveStatus } from './live-status.ts';
import { serveOneRequest } from './supervised-child.ts';
import { runTracked } from './tracked-run.ts';

async function runRequest(request: RunRequest, signal: AbortSignal): Promise<RunReport> {
  // The run counts from this process's start, loading included: that keeps the scheduler's watchdog,
  // started at the spawn, exactly its grace period behind the run's own timeout.
  const startedAt = new Date(performance.timeOrigin);
  try {
    const pipeline = await loadPipeline(request.file);
    const live = publishLiveStatus(request.file);
    const outcome = await runTracked(pipeline, {
      onSample: live.onSample,
      file: request.file,
      memory: request.memory,
      signal,
      trigger: request.trigger,
      tick: request.tick,
      runTimeoutMs: request.runTimeoutMs,
      runTimeoutFrom: performance.timeOrigin,
    }).finally(live.close);
    if (outcome.status === 'skipped') return { status: 'skipped', reason: outcome.reason, record: outcome.record, recorded: true };
    const { summary } = outcome;
    const error = summary.error === undefined ? undefined : { code: summary.error.code, message: summary.error.message };
    return { status: summary.status, summary, error, record: outcome.record, recorded: true };
  } catch (error) {
    // The file did not load, or the state store failed before the run could record itself.
    const reported = isSluiceError(error) ? { code: error.code, message: error.message } : { code: 'RUN_PROCESS', message: error instanceof Error ? error.message : String(error) };
    return unrecordedFailure(request, startedAt, reported, process.pid);
  }
}

serveOneRequest<RunRequest, RunReport>('a scheduled run', 'scheduler', runRequest);
