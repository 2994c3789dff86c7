import type { AnyRow, Batch } from './batch/batch.ts';
import type { ErrorLocation } from './errors.ts';
import type { Violation } from './schema/decode.ts';
import type { ColumnPlan } from './schema/plan.ts';
import { derive, type Derivations, type Derived } from './stages/derive.ts';
import { filter } from './stages/filter.ts';
import { map } from './stages/map.ts';
import { rename, type Renamed } from './stages/rename.ts';
import { select } from './stages/select.ts';
import { take } from './stages/take.ts';
import { tap } from './stages/tap.ts';

/** What every source, stage and sink is handed for one run. */
export interface RunContext {
  pipeline: string;
  signal: AbortSignal;
  /** A warning for the run summary (widened columns, engine fallbacks, …). */
  warn(message: string): void;
}

export interface StageContext extends RunContext {
  /** The stage's name in the summary. */
  stage: string;
}

/** A stage: an async generator from batches to batches. `(input, ctx) => AsyncIterable<Batch<Out>>`. */
export type Stage<In = AnyRow, Out = AnyRow> = ((input: AsyncIterable<Batch<In>>, context: StageContext) => AsyncIterable<Batch<Out>>) & {
  stageName?: string;
};

/** What a source is given by the run. */
export interface SourceContext extends RunContext {
  /** Rows the next batch should hold: adapts to the memory budget and the measured bytes per row. */
  batchRows(): number;
  /** Stop after this many rows (`--limit`). */
  limit?: number;
  /**
   * A row broke the schema. Throws (the run fails) unless the pipeline has a reject output with room
   * left; then the row is written there and counted.
   */
  reject(violation: Violation, location: ErrorLocation): Promise<void>;
  /** Bytes of input consumed so far, and the total when known (for progress and MB/s). */
  progress(bytesRead: number, totalBytes?: number): void;
  /** Which reader ran (for the summary). */
  engine(name: string): void;
}

/** A plan of the source for `--dry-run` and the summary. */
export interface SourceDescription {
  kind: string;
  /** Files, query, … as people should see them (no credentials). */
  location: string;
  engine?: string;
  columns?: ColumnPlan[];
  totalBytes?: number;
  notes?: string[];
}

export interface Source<R = AnyRow> {
  readonly kind: string;
  /** Files, table or query as people should see them (no credentials). */
  readonly location: string;
  /** Plan and schema without reading data beyond a sample (may read a sample to infer). */
  describe(context: RunContext): Promise<SourceDescription>;
  /** The batches. Must close whatever it opened in `finally`, also when the consumer stops early. */
  read(context: SourceContext): AsyncIterable<Batch<R>>;
  /** Row type carrier; never set at run time. */
  readonly __row?: R;
}

export interface SinkContext extends RunContext {
  /** True when nothing may be written (`--dry-run`). */
  dryRun: boolean;
}

export interface SinkResult {
  rowsWritten: number;
  /** Where the output went, for the summary. */
  location: string;
  bytesWritten?: number;
}

export interface Sink<R = AnyRow> {
  readonly kind: string;
  describe(): { kind: string; location: string; notes?: string[] };
  /**
   * Writes every batch of `input`, one at a time, before asking for the next. Commits the output only
   * when the input ends normally; on error or abort leaves nothing that looks complete.
   */
  write(input: AsyncIterable<Batch<R>>, context: SinkContext): Promise<SinkResult>;
  readonly __row?: R;
}

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
  /** Rows per batch before the budget adapts it. @default 16384 */
  batchRows?: number;
  rejects?: RejectOptions;
  /** Fail when no batch makes progress for this long while the budget is spent (a stage holding batches). @default 60000 */
  stallTimeoutMs?: number;
}

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
