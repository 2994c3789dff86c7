import type { AnyRow, Batch } from '../batch/batch.ts';
import type { PgConnectionOptions } from '../connectors/postgres/connection.ts';
import type { Sink, Source, Stage } from '../contracts/contracts.ts';
import { derive, type Derivations, type Derived } from '../stages/derive.ts';
import { filter } from '../stages/filter.ts';
import { map } from '../stages/map.ts';
import { rename, type Renamed } from '../stages/rename.ts';
import { select } from '../stages/select.ts';
import { take } from '../stages/take.ts';
import { tap } from '../stages/tap.ts';

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
  /** Rows per batch before the budget adapts it. @default 16000 */
  batchRows?: number;
  rejects?: RejectOptions;
  /** Fail when no batch makes progress for this long while the budget is spent (a stage holding batches). @default 60000 */
  stallTimeoutMs?: number;
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

/** A whole pipeline: what a pipeline file default-exports. */
export interface Pipeline<R = AnyRow> extends PipelineOptions {
  readonly source: Source<AnyRow>;
  readonly stages: readonly Stage<any, any>[];
  readonly sink: Sink<R>;
}

/**
 * Builds a pipeline step by step; the row type flows from the source's schema through every stage
 * to the sink.
 *
 * @example
 * export default pipeline({ name: 'orders' })
 *   .from(csv('orders.csv', { schema: Order }))
 *   .filter((row) => row.status !== 'cancelled')
 *   .derive({ total: (row) => row.quantity * row.price })
 *   .to(toCsv('out/orders.csv'));
 */
export class PipelineBuilder<R> {
  constructor(
    private readonly options: PipelineOptions,
    private readonly source: Source<AnyRow>,
    private readonly stages: readonly Stage<any, any>[],
  ) {}

  /** Any stage, including your own async generator function. */
  pipe<Out>(stage: Stage<R, Out>): PipelineBuilder<Out> {
    return new PipelineBuilder<Out>(this.options, this.source, [...this.stages, stage]);
  }

  filter(predicate: (row: R) => unknown): PipelineBuilder<R> {
    return this.pipe(filter<R>(predicate));
  }

  map<Out extends AnyRow>(mapper: (row: R) => Out): PipelineBuilder<Out> {
    return this.pipe(map<R, Out>(mapper));
  }

  derive<const D extends Derivations<R>>(derivations: D): PipelineBuilder<Derived<R, D>> {
    return this.pipe(derive<R, D>(derivations));
  }

  select<const K extends keyof R & string>(...names: K[]): PipelineBuilder<Pick<R, K>> {
    return this.pipe(select<R, K>(...names));
  }

  rename<const M extends Partial<Record<keyof R & string, string>>>(mapping: M): PipelineBuilder<Renamed<R, M>> {
    return this.pipe(rename<R, M>(mapping));
  }

  take(count: number): PipelineBuilder<R> {
    return this.pipe(take<R>(count));
  }

  tap(observe: (batch: Batch<R>) => void | Promise<void>): PipelineBuilder<R> {
    return this.pipe(tap<R>(observe));
  }

  to(sink: Sink<R> | Sink<AnyRow>): Pipeline<R> {
    return { ...this.options, source: this.source, stages: this.stages, sink: sink as Sink<R> };
  }
}

export function pipeline(options: PipelineOptions = {}) {
  return {
    from<R>(source: Source<R>): PipelineBuilder<R> {
      return new PipelineBuilder<R>(options, source as Source<AnyRow>, []);
    },
  };
}

/** The plain form: source, stages and sink in one object. */
export function definePipeline<R>(definition: Pipeline<R>): Pipeline<R> {
  return definition;
}
