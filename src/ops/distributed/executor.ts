/**
 * `etl schedule --distributed`: the scheduler's ticks become distributed runs (submit.ts) instead of
 * child processes, run by `etl worker`s. Every scheduler of the pipeline may fire a tick; the run's
 * record names its tick, unique per pipeline, so the first to queue it runs it and the others skip it.
 * The run records itself in the pipeline's history when it ends (finish.ts), as `etl run --distributed` does.
 */
import { hostname } from 'node:os';
import type { PgConnectionOptions } from '../../connectors/postgres/connection.ts';
import { isSluiceError } from '../../core/errors.ts';
import { type Executor, type RunReport, type RunRequest, unrecordedFailure } from '../executor.ts';
import { loadPipeline } from '../load.ts';
import { historyRecord } from './finish.ts';
import { queuePlace } from './place.ts';
import { submitRun } from './submit.ts';

/** `connection`: the queue's database when a pipeline's `distributed.connection` does not say (else DATABASE_URL). */
export function distributedExecutor(connection?: PgConnectionOptions, log?: (line: string) => void): Executor {
  return {
    start(request) {
      const controller = new AbortController();
      const startedAt = new Date();
      const done = submitTick(request, connection, controller.signal, log).catch((error: unknown) =>
        unrecordedFailure(request, startedAt, isSluiceError(error) ? { code: error.code, message: error.message } : { code: 'RUN_PROCESS', message: error instanceof Error ? error.message : String(error) }),
      );
      // Stopping the scheduler stops following the run, not the run: it goes on on the workers.
      return { label: 'distributed', done, stop: () => controller.abort(), kill: () => controller.abort() };
    },
  };
}

async function submitTick(request: RunRequest, connection: PgConnectionOptions | undefined, signal: AbortSignal, log?: (line: string) => void): Promise<RunReport> {
  const pipeline = await loadPipeline(request.file);
  const place = queuePlace(pipeline.distributed, connection);
  const submitted = await submitRun(pipeline, { file: request.file, place, tick: request.tick, signal, onProgress: log === undefined ? undefined : (line) => log(`${request.pipeline}: ${line}`) });
  const now = new Date().toISOString();
  if (submitted.nothing !== undefined) {
    const record = { pipeline: request.pipeline, status: 'skipped' as const, trigger: request.trigger, tick: request.tick, startedAt: now, endedAt: now, rowsIn: 0, rowsOut: 0, rowsRejected: 0, peakRss: 0, note: submitted.nothing, host: hostname(), pid: process.pid };
    // Recorded here (a skipped tick says so in the history); a tick another scheduler queued has its run recorded by that run.
    return { status: 'skipped', reason: submitted.nothing, record, recorded: false };
  }
  const { run, partitions } = submitted;
  if (run === undefined || partitions === undefined) {
    const error = { code: 'ABORTED', message: `the scheduler stopped following distributed run ${submitted.runId}; it goes on on the workers` };
    return { status: 'failed', error, record: { ...historyRecord(request.pipeline, submitted.runId, now, now, 'failed', [], error), tick: request.tick }, recorded: true };
  }
  const record = { ...historyRecord(request.pipeline, run.runId, run.startedAt, run.endedAt!, run.status === 'succeeded' ? 'succeeded' : 'failed', partitions, run.error), tick: request.tick };
  return { status: run.status === 'succeeded' ? 'succeeded' : 'failed', error: run.error, record, recorded: true };
}
