import { Dictionary } from '../batch/dictionary.ts';
import { type DType, smallestIntegerDType } from '../batch/dtype.ts';
import type { ColumnPlan } from './plan.ts';
import { parseBooleanText, parseDateText, parseIntegerText, parseNumberText, parseTimestampText } from '../codec/text.ts';

export interface InferOptions {
  /** Distinct values a dictionary column may hold before it falls back to plain strings. @default 65536 */
  dictionaryCap?: number;
  /** Store decimals as float32. @default false */
  float32?: boolean;
}

/** What a sample says about one column; `etl profile` prints it. */
export interface ColumnStats {
  name: string;
  dtype: DType;
  count: number;
  nulls: number;
  distinct: number;
  /** Distinct count is a lower bound: counting stopped at the cap. */
  distinctCapped: boolean;
  min?: number;
  max?: number;
}

const DISTINCT_LIMIT = 100_000;

/**
 * Picks the smallest dtype that holds every sampled value (pandas' downcast), and dictionary encoding
 * for strings that repeat. Every inferred column is nullable (the validity bitmap costs nothing until a
 * null appears) and may widen later in the run.
 */
export function inferColumns(
  names: readonly string[],
  sample: readonly (readonly unknown[])[],
  options: InferOptions = {},
): { plans: ColumnPlan[]; stats: ColumnStats[] } {
  const plans: ColumnPlan[] = [];
  const stats: ColumnStats[] = [];
  names.forEach((name, c) => {
    const values: unknown[] = [];
    let nulls = 0;
    for (const row of sample) {
      const value = row[c];
      if (value === null || value === undefined || value === '') nulls++;
      else values.push(value);
    }
    const { dtype, min, max } = pickDType(values, options);
    const distinct = new Set<string>();
    for (const value of values) {
      if (distinct.size >= DISTINCT_LIMIT) break;
      distinct.add(typeof value === 'string' ? value : JSON.stringify(value));
    }
    let finalType = dtype;
    // Repetitive strings: fewer distinct values than half the sample (and at least some repetition).
    if (dtype === 'string' && values.length >= 2 && distinct.size <= Math.max(1, values.length / 2)) finalType = 'dictionary';
    const cap = options.dictionaryCap ?? 65536;
    plans.push({
      name,
      dtype: finalType,
      nullable: true,
      coerce: true,
      storesZodOutput: false,
      rule: finalType,
      origin: 'inferred',
      dictionary: finalType === 'dictionary' ? new Dictionary(cap) : undefined,
    });
    stats.push({
      name,
      dtype: finalType,
      count: sample.length,
      nulls,
      distinct: distinct.size,
      distinctCapped: distinct.size >= DISTINCT_LIMIT,
      min,
      max,
    });
  });
  return { plans, stats };
}

function pickDType(values: readonly unknown[], options: InferOptions): { dtype: DType; min?: number; max?: number } {
  if (values.length === 0) return { dtype: 'string' };
  let allInteger = true;
  let allNumber = true;
  let allBool = true;
  let allDate = true;
  let allTimestamp = true;
  let min = Infinity;
  let max = -Infinity;
  for (const value of values) {
    if (typeof value === 'number') {
      allBool = allDate = allTimestamp = false;
      if (!Number.isInteger(value)) allInteger = false;
      if (value < min) min = value;
      if (value > max) max = value;
      continue;
    }
    if (typeof value === 'boolean') {
      allInteger = allNumber = allDate = allTimestamp = false;
      continue;
    }
    if (typeof value !== 'string') return { dtype: 'string' };
    if (allInteger || allNumber) {
      const n = allInteger ? parseIntegerText(value) : Number.NaN;
      if (Number.isNaN(n)) {
        allInteger = false;
        const d = parseNumberText(value);
        if (Number.isNaN(d)) allNumber = false;
        else {
          min = Math.min(min, d);
          max = Math.max(max, d);
        }
      } else {
        min = Math.min(min, n);
        max = Math.max(max, n);
      }
    }
    // 0/1 columns are integers, not booleans: only words make a boolean column.
    if (allBool && (parseBooleanText(value) < 0 || /^[01]$/.test(value))) allBool = false;
    if (allDate && Number.isNaN(parseDateText(value))) allDate = false;
    if (allTimestamp && Number.isNaN(parseTimestampText(value))) allTimestamp = false;
    if (!allInteger && !allNumber && !allBool && !allDate && !allTimestamp) return { dtype: 'string' };
  }
  if (allInteger && allNumber) return { dtype: smallestIntegerDType(min, max), min, max };
  if (allNumber) return { dtype: options.float32 ? 'float32' : 'float64', min, max };
  if (allBool) return { dtype: 'bool' };
  if (allDate) return { dtype: 'date' };
  if (allTimestamp) return { dtype: 'timestamp' };
  return { dtype: 'string' };
}
