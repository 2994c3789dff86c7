/**
 * The scheduling options of a pipeline (schedule, timezone, overlap, catchUp, retries, runTimeoutMs) with
 * their defaults filled in. They are checked by the runtime's pipeline options (`pipeline()` checks them
 * when called); a file whose default export was built without it is checked here, when it loads.
 */
import { checkPipelineOptions, cronOf, optionsOf } from '../runtime/pipeline-options.ts';
import type { PipelineOptions } from '../runtime/pipeline.ts';

export { cronOf };

export interface ResolvedScheduleOptions {
  schedule?: string;
  timezone?: string;
  overlap: 'skip' | 'queue';
  catchUp: 'none' | 'latest' | 'all';
  retries: { max: number; backoffMs: number };
  runTimeoutMs?: number;
}

/**
 * Checks a pipeline's options and fills in the scheduling defaults.
 * @throws SluiceError SCHEDULE_INVALID naming the expression or time zone; INVALID_OPTION for the others.
 */
export function resolveScheduleOptions(pipeline: PipelineOptions, file?: string): ResolvedScheduleOptions {
  const where = file ?? (typeof pipeline.name === 'string' && pipeline.name !== '' ? pipeline.name : 'pipeline');
  const options = checkPipelineOptions(optionsOf(pipeline), where, file);
  return {
    schedule: options.schedule,
    timezone: options.timezone,
    overlap: options.overlap ?? 'skip',
    catchUp: options.catchUp ?? 'none',
    retries: { max: options.retries?.max ?? 0, backoffMs: options.retries?.backoffMs ?? 1000 },
    runTimeoutMs: options.runTimeoutMs,
  };
}
