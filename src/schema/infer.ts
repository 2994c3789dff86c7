import { Dictionary } from '../batch/dictionary.ts';
import { type DType, smallestIntegerDType } from '../batch/dtype.ts';
import type { ColumnPlan } from './plan.ts';
import type { RunWarning } from '../core/warnings.ts';
import { parseBooleanText, parseDateText, parseIntegerText, parseNumberText, parseTimestampText } from '../codec/text.ts';

/**
 * Values a sample for inference holds at most: `sampleRows` rows, or fewer when rows are wide. The
 * sample is held as JS values (strings for CSV), some 40 bytes each: 10,000 rows of 10,000 columns
 * were 100 million strings, gigabytes outside any budget; at this cap a sample stays near 20 MB, and
 * a file of 50 columns or fewer still gets its 10,000 rows.
 */
export const SAMPLE_CELLS = 500_000;

/** Rows a sample of rows `columns` wide takes: `rows`, capped so it holds at most SAMPLE_CELLS values (and at least one row). */
export function sampleRowsFor(rows: number, columns: number): number {
  return Math.min(rows, Math.max(1, Math.floor(SAMPLE_CELLS / Math.max(1, columns))));
}

export interface InferOptions {
  /** Distinct values a dictionary column may hold before it falls back to plain strings. @default 65536 */
  dictionaryCap?: number;
  /** Store decimals as float32. @default false */
  float32?: boolean;
  /**
   * The sample holds JSON values, which state their own types: a JSON string is not a number or a
   * boolean (`"00501"` stays text; ISO dates and timestamps are still dates and timestamps) and `""` is
   * an empty string, not a null. @default false (text, as CSV fields are)
   */
  json?: boolean;
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
  /** Why a column that looks numeric stays text, in plain words (for `etl profile` and `--dry-run`). */
  reason?: string;
}

/**
 * A column with no value in a sample of some rows is read as text, so a `5` further on stays `"5"`:
 * that is said, in the summary and in `--dry-run`, rather than left to be found in the output.
 * A column kept open until its first value would have to change dtype mid-run, which a typed
 * column does not; a schema (or a larger `sampleRows`) is the fix, and the warning says so.
 */
export function allNullWarnings(stats: readonly ColumnStats[], file: string): RunWarning[] {
  return stats
    .filter((column) => column.count > 0 && column.nulls === column.count)
    .map((column) => ({
      code: 'COLUMN_ALL_NULL_IN_SAMPLE',
      column: column.name,
      message:
        `column ${JSON.stringify(column.name)} has no value in the ${column.count} sampled rows of ${file}, so it is read as text ` +
        `(a later 5 is "5"); give it a type in a schema, or sample more rows with sampleRows`,
      location: { file },
    }));
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
      if (value === null || value === undefined || (value === '' && options.json !== true)) nulls++;
      else values.push(value);
    }
    const picked = pickDType(values, options);
    const { dtype, min, max } = picked;
    const reason = values.length === 0 && sample.length > 0 ? `no value in the ${sample.length} sampled rows` : picked.reason;
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
      rule: reason === undefined ? finalType : `kept as text: ${reason}`,
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
      ...(reason === undefined ? {} : { reason }),
    });
  });
  return { plans, stats };
}

// A digit string with a leading zero (zip and county codes, `08123`) is an identifier, not a number:
// as an integer it would be written back as `8123`. `0` itself and decimals such as `0.5` are numbers.
const LEADING_ZERO = /^[+-]?0\d/;

function pickDType(values: readonly unknown[], options: InferOptions): { dtype: DType; min?: number; max?: number; reason?: string } {
  if (values.length === 0) return { dtype: 'string' };
  let allInteger = true;
  let allNumber = true;
  let allBool = true;
  let allDate = true;
  let allTimestamp = true;
  let min = Infinity;
  let max = -Infinity;
  // Why the column stopped being numeric, when a value that parses as a number made it stop.
  let reason: string | undefined;
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
    // A JSON string is text even when it reads as a number or a boolean; ISO dates and timestamps are
    // still recognised, since JSON has no type of its own for them.
    if (options.json === true) allInteger = allNumber = allBool = false;
    if (allInteger || allNumber) {
      const integer = parseIntegerText(value);
      if (LEADING_ZERO.test(value) && !Number.isNaN(parseNumberText(value))) {
        allInteger = allNumber = false;
        reason ??= `${JSON.stringify(value)} has a leading zero`;
      } else if (!Number.isNaN(integer) && !Number.isSafeInteger(integer)) {
        // Past 2^53 a float64 no longer holds every integer: 9007199254740993 would be stored as …992.
        allInteger = allNumber = false;
        reason ??= `${JSON.stringify(value)} is an integer beyond 2^53, which a number would round`;
      } else if (allInteger && !Number.isNaN(integer)) {
        min = Math.min(min, integer);
        max = Math.max(max, integer);
      } else {
        allInteger = false;
        const d = parseNumberText(value);
        if (Number.isNaN(d)) allNumber = false;
        else {
          min = Math.min(min, d);
          max = Math.max(max, d);
        }
      }
    }
    // 0/1 columns are integers, not booleans: only words make a boolean column.
    if (allBool && (parseBooleanText(value) < 0 || /^[01]$/.test(value))) allBool = false;
    if (allDate && Number.isNaN(parseDateText(value))) allDate = false;
    if (allTimestamp && Number.isNaN(parseTimestampText(value))) allTimestamp = false;
    if (!allInteger && !allNumber && !allBool && !allDate && !allTimestamp) return { dtype: 'string', reason };
  }
  if (allInteger && allNumber) return { dtype: smallestIntegerDType(min, max), min, max };
  if (allNumber) return { dtype: options.float32 ? 'float32' : 'float64', min, max };
  if (allBool) return { dtype: 'bool' };
  if (allDate) return { dtype: 'date' };
  if (allTimestamp) return { dtype: 'timestamp' };
  return { dtype: 'string', reason };
}
