import type { z } from 'zod';
import type { AnyRow } from '../batch/batch.ts';

/**
 * The row type of a source: the schema's output, narrowed to the selected columns, with the values a
 * row really holds. zod's output type for `z.iso.date()` and `z.iso.datetime()` is `string`, but Sluice
 * stores them as date and timestamp columns, and a row gives a `Date` for them: the type says so, so
 * that `row.day.slice(0, 4)` is a type error instead of a failed run.
 */
export type RowOf<S, K extends string> = S extends z.ZodObject
  ? string extends K
    ? RowOutput<S>
    : Pick<RowOutput<S>, K & keyof RowOutput<S>>
  : S extends z.ZodType
    ? z.output<S>
    : AnyRow;

/** A zod object's output, with ISO date and date-time strings as the `Date` values rows hold. */
export type RowOutput<S extends z.ZodObject> = {
  [K in keyof z.output<S>]: K extends keyof S['shape'] ? (IsIsoText<S['shape'][K]> extends true ? DatesFor<z.output<S>[K]> : z.output<S>[K]) : z.output<S>[K];
};

type DatesFor<T> = T extends string ? Date : T;

/** True for `z.iso.date()` / `z.iso.datetime()`, also inside nullable, optional and default. */
type IsIsoText<F> = F extends z.ZodISODate | z.ZodISODateTime
  ? true
  : F extends z.ZodNullable<infer Inner> | z.ZodOptional<infer Inner> | z.ZodDefault<infer Inner>
    ? IsIsoText<Inner>
    : false;
