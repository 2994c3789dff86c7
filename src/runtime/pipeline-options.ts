/**
 * The options of a pipeline (`pipeline({...})`, `definePipeline({...})` and what a pipeline file
 * default-exports), their types and their check. The scheduling options are checked here too, cron
 * expression and time zone included, so a wrong schedule fails when the file loads, not at the first
 * tick; ops/ fills in their defaults for the scheduler.
 */
import { createRequire } from 'node:module';
import type { Cron } from 'croner';
import { z } from 'zod';
import type { PgConnectionOptions } from '../connectors/postgres/connection.ts';
import { byteSize, checkOptions, filePath, integerFrom, millisecondsFrom, option, optionsObject, requiredOption } from '../core/options.ts';
import { SluiceError } from '../core/errors.ts';

/** Where rows that break the schema go, instead of failing the run. */
export interface RejectOptions {
  /** NDJSON file, one line per rejected row with file, line, column, value and rule. */
  path: string;
  /** Fail the run once more than this many rows were rejected. @default Infinity */
  max?: number;
}

export interface PipelineOptions {
  /** Shown in the summary and in errors; defaults to the file name. */
  name?: string;
  /** The memory budget, e.g. `'256MB'`. @default '256MB' */
  memory?: string | number;
  /**
   * Where stages that spill (groupBy, sort, distinct, dedupe) write their temporary files: a private
   * folder is made in it for each run and removed with everything in it when the run ends, whether it
   * succeeded, failed or was interrupted. `etl run --temp-dir` overrides it.
   * @default the `SLUICE_TEMP_DIR` environment variable, else the OS temporary folder
   * @example '/mnt/scratch'
   */
  tempDir?: string;
  /** Rows per batch before the budget adapts it. @default 16000 */
  batchRows?: number;
  /**
   * Worker threads that read the input and run the row-wise stages (filter, derive, map, select,
   * rename, `mapBatches` marked `threadSafe`), each on its part: byte ranges of a CSV or NDJSON file,
   * the files of a glob. Needs the pipeline loaded from its file (`etl run`, `loadPipeline`), which
   * each worker imports. 1 reads on the main thread, as without it. `etl run --threads` overrides it.
   * @default 1
   */
  threads?: number;
  /**
   * With threads: pass batches on in input order (a reorder buffer, reserved from the budget), or as
   * the workers finish them (`false`: no row lost or repeated, the order not kept).
   * @default true
   */
  ordered?: boolean;
  rejects?: RejectOptions;
  /** Fail when no batch makes progress for this long while the budget is spent (a stage holding batches). @default 60000 */
  stallTimeoutMs?: number;
  /**
   * Projection push-down: the source reads only the columns that the stages and the sink use (a
   * pipeline ending in `groupBy(['country'], { q: sum('quantity') })` decodes two columns). `false`
   * reads every column, e.g. to compare results when a `reads` option may leave a column out; values in
   * columns nobody reads are then also checked against the schema.
   * @default true
   */
  pushDown?: boolean;
  /**
   * When `etl schedule` runs the pipeline: a cron expression of 5 fields (minute precision) or 6 (with
   * seconds first), or a nickname such as `@hourly`. Checked when the file loads (SCHEDULE_INVALID).
   * @example '30 2 * * *' // every day at 02:30
   */
  schedule?: string;
  /** IANA time zone the schedule is read in, e.g. `'Europe/Paris'`. @default the machine's time zone */
  timezone?: string;
  /**
   * A tick that comes while the previous run is still going: `'skip'` logs it and records it as skipped
   * in the history; `'queue'` runs it when the previous run ends (one waiting run at most; later ticks are
   * skipped). `etl run` and other machines are kept out by the pipeline's lock either way.
   * @default 'skip'
   */
  overlap?: 'skip' | 'queue';
  /**
   * Ticks missed while no scheduler was running, decided when `etl schedule` starts (from the last run in
   * the history): `'none'` runs none, `'latest'` runs once for the latest, `'all'` runs once per missed tick
   * (at most 100), one after the other.
   * @default 'none'
   */
  catchUp?: 'none' | 'latest' | 'all';
  /**
   * Retries of a run that failed with a transient error (connection refused or lost, serialization
   * failure 40001, deadlock 40P01), waiting `backoffMs`, then twice that, and so on. Other errors fail at once.
   * @default { max: 0, backoffMs: 1000 }
   * @example { max: 3, backoffMs: 2000 }
   */
  retries?: RetryOptions;
  /**
   * A run (retries included) still going after this many milliseconds is stopped and recorded as failed
   * (RUN_TIMEOUT); its lock is released and the pipeline runs again at its next tick. Applies to `etl run`
   * and `etl schedule` (whose `--run-timeout` sets it for pipelines without their own). A run too hung
   * to stop itself (a stage blocking the event loop) is killed by the scheduler `--kill-timeout` ms later.
   * @default no timeout
   * @example 15 * 60_000 // a quarter of an hour
   */
  runTimeoutMs?: number;
  /**
   * Where the pipeline's lock, run history and incremental state (watermarks, finished files) live: a
   * PostgreSQL database (`{ connection }`, tables in schema `sluice` unless `schema` says otherwise; the
   * lock is an advisory lock) or a local folder (`{ folder }`, relative to the pipeline file; the lock is a
   * lock file). Pipelines that run on several machines need the PostgreSQL store to exclude each other.
   * @default { folder: '.sluice' } next to the pipeline file
   * @example { connection: process.env.DATABASE_URL, schema: 'etl_state' }
   */
  state?: StateOptions;
  /**
   * Where `etl run --distributed` queues the run's partitions for `etl worker`s (pg-boss), and how each
   * partition job is retried and watched. See {@link DistributedOptions}.
   * @example { connection: process.env.DATABASE_URL, retries: 3 }
   */
  distributed?: DistributedOptions;
}

/** See {@link PipelineOptions.distributed}. */
export interface DistributedOptions {
  /**
   * The queue's database (pg-boss's tables and the run's partition records). Exactly once into
   * PostgreSQL needs the sink on this same database: a partition's rows and its completion commit in
   * one transaction. `etl run --connection` overrides it. @default process.env.DATABASE_URL
   */
  connection?: PgConnectionOptions;
  /** Schema of the `sluice_distributed_runs` and `sluice_partitions` tables, created when missing. @default 'sluice' */
  schema?: string;
  /** Schema of pg-boss's own tables, created when missing. @default 'pgboss' */
  queueSchema?: string;
  /** Attempts of a partition after its first, on any worker (a crash, a lapsed heartbeat, an error). @default 2 */
  retries?: number;
  /**
   * A worker heartbeats each partition it runs; one not heard from for this long (a host gone, a
   * process paused) loses its claim, and the partition is retried elsewhere. pg-boss's minimum is 10.
   * @default 30
   */
  heartbeatSeconds?: number;
}

/** See {@link PipelineOptions.retries}. */
export interface RetryOptions {
  /** Retries after the first attempt. @default 0 */
  max: number;
  /** Wait before the first retry; doubles each time. @default 1000 */
  backoffMs?: number;
}

/** See {@link PipelineOptions.state}. */
export type StateOptions =
  | { folder: string }
  | {
      connection: PgConnectionOptions;
      /** Schema of the `sluice_runs` and `sluice_state` tables, created when missing. @default 'sluice' */
      schema?: string;
      /**
       * Runs kept in `sluice_runs` per pipeline: older ones are deleted as new ones are recorded, so a
       * pipeline scheduled every minute does not grow the table forever (a state folder rotates its file
       * instead). @default 20000
       */
      keepRuns?: number;
    };

const REJECTS = optionsObject({
  path: requiredOption(filePath, "a file path such as 'out/rejects.ndjson'"),
  // Infinity is the default, and may be written out.
  max: option(z.union([z.number().min(0), z.literal(Infinity)]), 'a number of rows from 0 and up'),
});

const RETRIES = optionsObject({
  max: requiredOption(integerFrom(0), 'a whole number from 0 and up'),
  backoffMs: option(millisecondsFrom(0), 'a number of milliseconds from 0 and up'),
});

const STATE = z.union([
  optionsObject({ folder: requiredOption(filePath, "a folder such as '.sluice'") }),
  optionsObject({
    // The connection itself is checked by the PostgreSQL connector when the store opens.
    connection: requiredOption(z.union([z.string().min(1), z.object({}).loose()]), "a postgres:// URL or pg's connection options"),
    schema: option(z.string().min(1), "a schema name such as 'sluice'"),
    keepRuns: option(integerFrom(1), 'a whole number from 1 and up'),
  }),
]);

const SCHEMA_NAME = z.string().regex(/^[a-z_][a-z0-9_]*$/);

const DISTRIBUTED = optionsObject({
  connection: option(z.union([z.string().min(1), z.object({}).loose()]), "a postgres:// URL or pg's connection options"),
  schema: option(SCHEMA_NAME, "a lower-case schema name such as 'sluice'"),
  queueSchema: option(SCHEMA_NAME, "a lower-case schema name such as 'pgboss'"),
  retries: option(integerFrom(0), 'a whole number from 0 and up'),
  heartbeatSeconds: option(z.number().int().min(10), 'a whole number of seconds from 10 and up (pg-boss refuses less)'),
});

/** Worker threads: at most 64, more than any machine this runs on has cores to give a run. */
export const THREADS = z.number().int().min(1).max(64);
export const THREADS_EXPECTED = 'a whole number of threads from 1 to 64';

export const PIPELINE_OPTIONS = optionsObject({
  name: option(z.string().min(1), 'a non-empty name such as "orders"'),
  memory: option(byteSize, "a size such as '256MB' or a number of bytes"),
  batchRows: option(integerFrom(1), 'a whole number of rows from 1 and up'),
  threads: option(THREADS, THREADS_EXPECTED),
  ordered: option(z.boolean(), 'true or false'),
  tempDir: option(filePath, "a folder such as '/mnt/scratch'"),
  rejects: option(REJECTS, "an object { path, max? } such as { path: 'out/rejects.ndjson' }"),
  stallTimeoutMs: option(millisecondsFrom(0, true), 'a number of milliseconds above 0'),
  pushDown: option(z.boolean(), 'true or false'),
  schedule: option(z.string().refine((text) => text.trim() !== ''), "a cron expression such as '0 * * * *'"),
  timezone: option(z.string().min(1), "an IANA time zone such as 'UTC' or 'Europe/Paris'"),
  overlap: option(z.enum(['skip', 'queue']), "'skip' or 'queue'"),
  catchUp: option(z.enum(['none', 'latest', 'all']), "'none', 'latest' or 'all'"),
  retries: option(RETRIES, 'an object { max, backoffMs? } such as { max: 3, backoffMs: 2000 }'),
  runTimeoutMs: option(millisecondsFrom(0, true), 'a number of milliseconds above 0'),
  state: option(STATE, "either { folder: '.sluice' } (a local folder) or { connection: 'postgres://…', schema?: 'sluice' } (a PostgreSQL database)"),
  distributed: option(DISTRIBUTED, "an object { connection?, schema?, queueSchema?, retries?, heartbeatSeconds? }"),
});

/** Cron of a schedule, to compute run times only (the scheduler keeps its own timers). */
export function cronOf(schedule: string, timezone?: string): Cron {
  // Loaded with the first schedule, not with every run's start (croner ships CommonJS for require).
  const { Cron } = createRequire(import.meta.url)('croner') as typeof import('croner');
  return new Cron(schedule, { paused: true, timezone, mode: 'auto' });
}

/** The options part of a pipeline definition (what is not its source, stages or sink). */
export function optionsOf(definition: object): Record<string, unknown> {
  const { source: _source, stages: _stages, sink: _sink, ...options } = definition as Record<string, unknown>;
  return options;
}

/**
 * Checks a pipeline's options; `where` names the call or the file for the message.
 *
 * @throws SluiceError INVALID_OPTION with `details.option`; SCHEDULE_INVALID for a schedule that is not a
 * cron expression or a time zone that does not exist.
 */
export function checkPipelineOptions(options: unknown, where = 'pipeline()', file?: string): PipelineOptions {
  const checked = checkOptions(where, PIPELINE_OPTIONS, options) as PipelineOptions;
  if (checked.timezone !== undefined && !isTimeZone(checked.timezone)) {
    throw new SluiceError('SCHEDULE_INVALID', `${where}: \`timezone\` ${JSON.stringify(checked.timezone)} is not a time zone; use an IANA name such as 'UTC' or 'Europe/Paris'.`, {
      file,
      option: 'timezone',
      value: checked.timezone,
    });
  }
  if (checked.schedule !== undefined) {
    try {
      if (cronOf(checked.schedule, checked.timezone).nextRun() === null) throw new Error('it never fires');
    } catch (error) {
      throw new SluiceError(
        'SCHEDULE_INVALID',
        `${where}: schedule ${JSON.stringify(checked.schedule)} is not a valid cron expression (${error instanceof Error ? error.message : String(error)}). ` +
          "Write 5 fields 'minute hour day-of-month month day-of-week' (e.g. '30 2 * * *'), 6 with seconds first, or a nickname such as '@hourly'.",
        { file, option: 'schedule', value: checked.schedule, cause: error },
      );
    }
  }
  return checked;
}

function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}
