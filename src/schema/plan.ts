import type { Dictionary } from '../batch/dictionary.ts';
import type { DType } from '../batch/dtype.ts';

/** Bounds a numeric value must respect, beyond what its dtype holds. */
export interface NumberBounds {
  integer: boolean;
  min?: number;
  minInclusive?: boolean;
  max?: number;
  maxInclusive?: boolean;
}

/**
 * How one column is typed, parsed and checked. A zod schema compiles into one per field; inference
 * builds them from a sample. `dtype` may change during a run only for inferred columns (widening).
 */
export interface ColumnPlan {
  name: string;
  dtype: DType;
  nullable: boolean;
  /** Value used for a null/missing field (zod `.default()`). */
  defaultValue?: unknown;
  /** Accept text for non-text dtypes in sources that carry types (NDJSON): zod's `z.coerce`. */
  coerce: boolean;
  bounds?: NumberBounds;
  minLength?: number;
  maxLength?: number;
  /**
   * The exact text form a value must have, from zod's own regular expression (`z.iso.datetime()`,
   * `z.iso.date()`): compiled columns accept what zod accepts, no more. Checked on text input only.
   */
  pattern?: RegExp;
  /** The allowed values of a `z.enum`. */
  enumValues?: readonly string[];
  /** Shared by all batches of the run, for dictionary columns. */
  dictionary?: Dictionary;
  /**
   * The slow path: constructs the compiler does not understand (refine, transform, regex, custom) are
   * checked by zod, once per value, after the fast parse. Several times slower than the compiled checks.
   */
  zod?: { safeParse(value: unknown): { success: boolean; data?: unknown; error?: { issues: { message: string }[] } } };
  /** The zod output is not the parsed input (a transform): store zod's output. */
  storesZodOutput: boolean;
  /** Plain words for errors and `--dry-run`, e.g. `integer 0..200`. */
  rule: string;
  /** Where the plan came from. */
  origin: 'schema' | 'inferred';
}

export interface SchemaPlan {
  columns: ColumnPlan[];
  /** Extra input columns are ignored (projection) rather than an error. */
  strict: boolean;
}

export function describePlan(plan: ColumnPlan): string {
  // A transformed column's dtype is picked from zod's first output value, at run time.
  const parts: string[] = [plan.storesZodOutput ? 'from zod output' : plan.dtype];
  if (plan.nullable) parts.push('nullable');
  if (plan.rule && plan.rule !== plan.dtype) parts.push(`(${plan.rule})`);
  if (plan.zod) parts.push('[zod per value]');
  return parts.join(' ');
}
