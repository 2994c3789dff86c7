import type { AnyRow, Batch } from '../batch/batch.ts';
import type { Sink, Source, Stage } from '../contracts/contracts.ts';
import type { Aggregations, Grouped } from '../stages/aggregate/aggregations.ts';
import { groupBy } from '../stages/aggregate/group-by.ts';
import { derive, type Derivations, type Derived } from '../stages/derive.ts';
import { dedupe, distinct, type DedupeOptions } from '../stages/distinct.ts';
import { filter } from '../stages/filter.ts';
import { join } from '../stages/join/join.ts';
import type { Joined, JoinOn, JoinOptions, JoinSelect, JoinType } from '../stages/join/options.ts';
import { map } from '../stages/map.ts';
import { rename, type Renamed } from '../stages/rename.ts';
import { select } from '../stages/select.ts';
import { sort, type SortSpec } from '../stages/sort/sort.ts';
import { take } from '../stages/take.ts';
import { tap } from '../stages/tap.ts';
import { checkPipelineOptions, type PipelineOptions } from './pipeline-options.ts';
import { neededColumns } from '../contracts/columns.ts';
import type { ReadsOption } from '../stages/reads.ts';

export type { DistributedOptions, PipelineOptions, RejectOptions, RetryOptions, StateOptions } from './pipeline-options.ts';

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
  private readonly options: PipelineOptions;
  private readonly source: Source<AnyRow>;
  private readonly stages: readonly Stage<any, any>[];
  constructor(
    options: PipelineOptions,
    source: Source<AnyRow>,
    stages: readonly Stage<any, any>[],
  ) {
    this.options = options;
    this.source = source;
    this.stages = stages;
  }

  /** Any stage, including your own async generator function. */
  pipe<Out>(stage: Stage<R, Out>): PipelineBuilder<Out> {
    return new PipelineBuilder<Out>(this.options, this.source, [...this.stages, stage]);
  }

  /** `reads`: the columns `predicate` reads, so that the source decodes only what the pipeline uses. */
  filter(predicate: (row: R) => unknown, options?: ReadsOption<R>): PipelineBuilder<R> {
    return this.pipe(filter<R>(predicate, options));
  }

  map<Out extends AnyRow>(mapper: (row: R) => Out, options?: ReadsOption<R>): PipelineBuilder<Out> {
    return this.pipe(map<R, Out>(mapper, options));
  }

  derive<const D extends Derivations<R>>(derivations: D, options?: ReadsOption<R>): PipelineBuilder<Derived<R, D>> {
    return this.pipe(derive<R, D>(derivations, options));
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

  tap(observe: (batch: Batch<R>) => void | Promise<void>, options?: ReadsOption<R>): PipelineBuilder<R> {
    return this.pipe(tap<R>(observe, options));
  }

  /**
   * One row per distinct combination of `keys`, with `aggregations` computed over its rows, on the
   * memory budget: the groups' state is reserved from it and spills to a temporary folder when it is
   * spent. Nulls form a group of their own. Output order: groups as first seen, unless it spilled.
   * @example .groupBy(['country', 'status'], { orders: count(), items: sum('quantity'), avg_price: mean('unit_price') })
   */
  groupBy<const K extends keyof R & string, const A extends Aggregations<R>>(keys: readonly K[] | K, aggregations: A): PipelineBuilder<Grouped<R, K, A>> {
    return this.pipe(groupBy<R, K, A>(keys, aggregations));
  }

  /**
   * The rows in the order of `keys`, on the memory budget: an external merge sort that writes sorted
   * runs to the temporary folder when the budget is spent and merges them. Stable; nulls last unless
   * `nulls: 'first'`; NaN above every number.
   * @example .sort(['country', { column: 'unit_price', descending: true }])
   */
  sort(keys: SortSpec<keyof R & string>): PipelineBuilder<R> {
    return this.pipe(sort<R>(keys));
  }

  /**
   * Distinct rows: of the `keys` columns only (SQL's `SELECT DISTINCT keys`), or of whole rows when
   * none are given. On the group-by's hash table and budget, spilling when it is spent.
   * @example .distinct(['country', 'status'])
   */
  distinct(): PipelineBuilder<R>;
  distinct<const K extends keyof R & string>(keys: readonly K[] | K): PipelineBuilder<Pick<R, K>>;
  distinct(keys?: readonly string[] | string): PipelineBuilder<any> {
    return this.pipe(keys === undefined ? distinct<R>() : distinct<R, any>(keys as never));
  }

  /**
   * One whole row per `keys`: the first or last in input order (`keep`, default first), on the
   * group-by's machinery and budget.
   * @example .dedupe('order_id', { keep: 'last' })
   */
  dedupe<const K extends keyof R & string>(keys: readonly K[] | K, options: Omit<DedupeOptions, 'figures'> = {}): PipelineBuilder<R> {
    return this.pipe(dedupe<R, K>(keys, options));
  }

  /**
   * Joins the rows with those of another source (any Sluice source, read through its own schema) on
   * equal keys: `inner` (pairs that match), `left` (every row, the other side's columns null when
   * nothing matches), `semi` (rows with a match), `anti` (rows without). Nulls never match. The other
   * side is held in a hash table on the memory budget, and when it does not fit both sides spill to a
   * temporary folder by key hash and are joined partition by partition. Key types must be of one kind,
   * checked before the other side is read; a column name on both sides is an error (rename it with
   * `select: { newName: column }`). Output order: input order when nothing spilled.
   * @example .join(csv('customers.csv', { schema: Customer }), { on: [['customer', 'id']], select: ['name', 'segment'] })
   */
  join<Right, const On extends JoinOn<R, Right>, const T extends JoinType = 'inner', const S extends JoinSelect<Right> | undefined = undefined>(
    source: Source<Right>,
    options: JoinOptions<On, T, S>,
  ): PipelineBuilder<Joined<R, Right, On, T, S>> {
    return this.pipe(join<Right, On, T, S, R>(source, options));
  }

  to(sink: Sink<R> | Sink<AnyRow>): Pipeline<R> {
    return { ...this.options, source: this.source, stages: this.stages, sink: sink as Sink<R> };
  }
}

/**
 * Starts a pipeline. Its options are checked here, when the pipeline file loads: an unknown key is refused
 * with the nearest known name, and a schedule that is not a cron expression with SCHEDULE_INVALID.
 */
export function pipeline(options: PipelineOptions = {}) {
  checkPipelineOptions(options);
  return {
    from<R>(source: Source<R>): PipelineBuilder<R> {
      return new PipelineBuilder<R>(options, source as Source<AnyRow>, []);
    },
  };
}

/** The plain form: source, stages and sink in one object. */
export function definePipeline<R>(definition: Pipeline<R>): Pipeline<R> {
  const { source: _source, stages: _stages, sink: _sink, ...options } = definition;
  checkPipelineOptions(options, 'definePipeline()');
  return definition;
}

/**
 * The columns the source of `pipeline` must give (projection push-down, contracts/columns.ts), or
 * undefined when every column may be used (or `pushDown: false`).
 */
export function pipelineColumns(pipeline: Pipeline<any>): readonly string[] | undefined {
  if (pipeline.pushDown === false) return undefined;
  const needed = neededColumns(pipeline.stages);
  return needed === 'all' ? undefined : needed;
}
