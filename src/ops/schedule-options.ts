/**
 * The scheduling options of a pipeline (schedule, timezone, overlap, catchUp, retries, runTimeoutMs, state), checked
 * once when the file loads, with messages that say how to fix them.
 */
import { Cron } from 'croner';
import { SluiceError } from '../core/errors.ts';
import type { PipelineOptions } from '../runtime/pipeline.ts';

export interface ResolvedScheduleOptions {
  schedule?: string;
  timezone?: string;
  overlap: 'skip' | 'queue';
  catchUp: 'none' | 'latest' | 'all';
  retries: { max: number; backoffMs: number };
  runTimeoutMs?: number;
}

/** Cron of a checked schedule, used to compute run times only (the scheduler keeps its own timers). */
export function cronOf(schedule: string, timezone?: string): Cron {
  return new Cron(schedule, { paused: true, timezone, mode: 'auto' });
}

/**
 * Checks the scheduling options and fills in the defaults.
 * @throws SluiceError SCHEDULE_INVALID naming the expression or time zone; INVALID_OPTION for the others.
 */
export function resolveScheduleOptions(options: PipelineOptions, file?: string): ResolvedScheduleOptions {
  const where = file === undefined ? (options.name ?? 'pipeline') : file;
  if (options.timezone !== undefined) {
    let valid = typeof options.timezone === 'string' && options.timezone !== '';
    if (valid) {
      try {
        new Intl.DateTimeFormat('en-US', { timeZone: options.timezone });
      } catch {
        valid = false;
      }
    }
    if (!valid) {
      throw new SluiceError(
        'SCHEDULE_INVALID',
        `${where}: \`timezone\` ${JSON.stringify(options.timezone)} is not a time zone; use an IANA name such as 'UTC' or 'Europe/Paris'.`,
        { file, value: String(options.timezone) },
      );
    }
  }
  if (options.schedule !== undefined) {
    if (typeof options.schedule !== 'string' || options.schedule.trim() === '') {
      throw new SluiceError('SCHEDULE_INVALID', `${where}: \`schedule\` must be a cron expression such as '0 * * * *', got ${JSON.stringify(options.schedule)}.`, {
        file,
        value: String(options.schedule),
      });
    }
    try {
      const cron = cronOf(options.schedule, options.timezone);
      if (cron.nextRun() === null) throw new Error('it never fires');
    } catch (error) {
      throw new SluiceError(
        'SCHEDULE_INVALID',
        `${where}: schedule ${JSON.stringify(options.schedule)} is not a valid cron expression (${error instanceof Error ? error.message : String(error)}). ` +
          "Write 5 fields 'minute hour day-of-month month day-of-week' (e.g. '30 2 * * *'), 6 with seconds first, or a nickname such as '@hourly'.",
        { file, value: options.schedule, cause: error },
      );
    }
  }
  const overlap = options.overlap ?? 'skip';
  if (overlap !== 'skip' && overlap !== 'queue') {
    throw new SluiceError('INVALID_OPTION', `${where}: expected \`overlap\` to be 'skip' or 'queue', got ${JSON.stringify(options.overlap)}.`, { file });
  }
  const catchUp = options.catchUp ?? 'none';
  if (catchUp !== 'none' && catchUp !== 'latest' && catchUp !== 'all') {
    throw new SluiceError('INVALID_OPTION', `${where}: expected \`catchUp\` to be 'none', 'latest' or 'all', got ${JSON.stringify(options.catchUp)}.`, { file });
  }
  const max = options.retries?.max ?? 0;
  const backoffMs = options.retries?.backoffMs ?? 1000;
  if (!Number.isInteger(max) || max < 0) {
    throw new SluiceError('INVALID_OPTION', `${where}: expected \`retries.max\` to be a whole number from 0 and up, got ${JSON.stringify(options.retries?.max)}.`, { file });
  }
  if (!Number.isFinite(backoffMs) || backoffMs < 0) {
    throw new SluiceError('INVALID_OPTION', `${where}: expected \`retries.backoffMs\` to be a number of milliseconds from 0 and up, got ${JSON.stringify(options.retries?.backoffMs)}.`, { file });
  }
  const runTimeoutMs = options.runTimeoutMs;
  if (runTimeoutMs !== undefined && (typeof runTimeoutMs !== 'number' || !Number.isFinite(runTimeoutMs) || runTimeoutMs <= 0)) {
    throw new SluiceError('INVALID_OPTION', `${where}: expected \`runTimeoutMs\` to be a number of milliseconds above 0, got ${JSON.stringify(runTimeoutMs)}.`, { file });
  }
  if (options.state !== undefined) {
    const state = options.state as Record<string, unknown>;
    const folder = typeof state === 'object' && state !== null && typeof state.folder === 'string' && state.folder !== '';
    const connection = typeof state === 'object' && state !== null && state.connection !== undefined && state.connection !== null;
    if (folder === connection) {
      throw new SluiceError(
        'INVALID_OPTION',
        `${where}: \`state\` must be either { folder: '.sluice' } (a local folder) or { connection: 'postgres://…', schema?: 'sluice' } (a PostgreSQL database).`,
        { file },
      );
    }
  }
  return { schedule: options.schedule, timezone: options.timezone, overlap, catchUp, retries: { max, backoffMs }, runTimeoutMs };
}
