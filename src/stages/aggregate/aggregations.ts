import type { AnyRow } from '../../batch/batch.ts';
import type { DType } from '../../batch/dtype.ts';

/** What an aggregation computes per group. Made by {@link count}, {@link sum}, … and read by `groupBy`. */
export interface Aggregation<T = unknown, C extends string | undefined = string | undefined> {
  readonly kind: 'count' | 'sum' | 'min' | 'max' | 'mean' | 'first' | 'last' | 'countDistinct' | 'reduce';
  /** The column it reads; none for `count()` and `reduce`. */
  readonly column: C;
  readonly reducer?: Reducer<any, any, any>;
  /** Type carrier for the output value; never set at run time. */
  readonly __value?: T;
}

/** Marks aggregations whose value has the aggregated column's type (min, max, first, last). */
export interface SameAsColumn {
  readonly sameAsColumn: true;
}
/** Marks aggregations that are a number, or null when the group has no non-null value and the column is nullable. */
export interface NumberOfValues {
  readonly numberOfValues: true;
}

/**
 * A custom aggregation: a state per group made by `init`, folded over the group's rows by `step`,
 * combined by `merge` (two partial states of one group, e.g. one spilled and one in memory, in input
 * order: `a` saw earlier rows than `b`), turned into the output value by `finish`. States that leave
 * memory are written with `v8.serialize` (plain objects, arrays, numbers, strings, Maps, typed arrays;
 * not functions or class instances), and each is counted as ~64 bytes of the budget: keep them small.
 */
export interface Reducer<S, V = S, R = AnyRow> {
  init(): S;
  step(state: S, row: R): S;
  merge(a: S, b: S): S;
  finish?(state: S): V;
  /** The output column's dtype. @default float64 for numbers, bool, timestamp for Dates, else string */
  dtype?: DType;
  /**
   * The columns `step` reads from its row. Without it the whole row may be read, and the source decodes
   * every column (no projection push-down).
   */
  reads?: readonly (keyof R & string)[];
}

/** Rows per group (`count()`), or the non-null values of `column` (`count('column')`), as SQL's COUNT. */
export function count(): Aggregation<number, undefined>;
export function count<const C extends string>(column: C): Aggregation<number, C>;
export function count(column?: string): Aggregation<number, string | undefined> {
  return { kind: 'count', column };
}

/**
 * The sum of the non-null values (null when there are none). Integers (and bools) are summed exactly
 * (up to 2^53) and come out as int32 when every group's sum fits, else float64; other numbers as float64.
 */
export function sum<const C extends string>(column: C): Aggregation<NumberOfValues, C> {
  return { kind: 'sum', column };
}

/** The mean of the non-null values, float64 (null when there are none). */
export function mean<const C extends string>(column: C): Aggregation<NumberOfValues, C> {
  return { kind: 'mean', column };
}

/** The smallest non-null value, in the column's dtype; NaN sorts above every number (as in PostgreSQL). */
export function min<const C extends string>(column: C): Aggregation<SameAsColumn, C> {
  return { kind: 'min', column };
}

/** The largest non-null value, in the column's dtype; NaN sorts above every number (as in PostgreSQL). */
export function max<const C extends string>(column: C): Aggregation<SameAsColumn, C> {
  return { kind: 'max', column };
}

/** The value of the group's first row in input order (null included). */
export function first<const C extends string>(column: C): Aggregation<SameAsColumn, C> {
  return { kind: 'first', column };
}

/** The value of the group's last row in input order (null included). */
export function last<const C extends string>(column: C): Aggregation<SameAsColumn, C> {
  return { kind: 'last', column };
}

/** How many distinct non-null values the column has in the group: exact, on the budget (it spills too). */
export function countDistinct<const C extends string>(column: C): Aggregation<number, C> {
  return { kind: 'countDistinct', column };
}

/** A custom aggregation, see {@link Reducer}: the state itself is the value unless `finish` makes one. */
export function reduce<S, R = AnyRow>(reducer: Reducer<S, S, R> & { finish?: undefined }): Aggregation<S, undefined>;
export function reduce<S, V, R = AnyRow>(reducer: Reducer<S, V, R> & { finish(state: S): V }): Aggregation<V, undefined>;
export function reduce(reducer: Reducer<unknown, unknown, any>): Aggregation<unknown, undefined> {
  return { kind: 'reduce', column: undefined, reducer };
}

export type Aggregations<R> = Record<string, Aggregation<any, (keyof R & string) | undefined>>;

type AggregationValue<A, R> =
  A extends Aggregation<infer T, infer C>
    ? T extends SameAsColumn
      ? C extends keyof R
        ? R[C]
        : never
      : T extends NumberOfValues
        ? C extends keyof R
          ? null extends R[C]
            ? number | null
            : number
          : never
        : T
    : never;

/** The row type after `groupBy(keys, aggregations)`: the keys with their types, then one column per aggregation. */
export type Grouped<R, K extends keyof R, A> = {
  -readonly [P in K | keyof A]: P extends keyof A ? AggregationValue<A[P], R> : P extends K ? R[P] : never;
};
