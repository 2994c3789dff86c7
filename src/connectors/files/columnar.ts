/**
 * Helpers of the columnar file sources (Parquet, Arrow IPC), whose files hold typed columns already:
 * a file's unit of reading (a row group, a record batch) is cut into batches of the run's size by
 * zero-copy slices, and with a zod schema every value goes through the schema's row decoder, as a
 * CSV value does.
 */
import { z } from 'zod';
import type { Batch } from '../../batch/batch.ts';
import { Batch as BatchClass, columnRecord } from '../../batch/batch.ts';
import { Column } from '../../batch/column.ts';
import { formatDate } from '../../codec/text.ts';
import type { ErrorLocation } from '../../core/errors.ts';
import type { RunWarning } from '../../core/warnings.ts';
import type { SourceContext } from '../../contracts/contracts.ts';
import { RowDecoder } from '../../schema/decode.ts';
import type { ColumnPlan } from '../../schema/plan.ts';
import { Dictionary } from '../../batch/dictionary.ts';
import { integerFrom, option, optionsObject } from '../../core/options.ts';
import { compileSchema, isZodObject } from '../../schema/compile.ts';
import type { DType, TypedArray } from '../../batch/dtype.ts';

/** The options of a columnar file source (`parquet()`, `arrow()`). */
export interface ColumnarOptions<S = unknown, K extends string = string> {
  /**
   * A zod object: the columns to read and the rules their values must keep (checked per value, as
   * for CSV; rows that break them are rejected). Without it, the file's own types are used.
   */
  schema?: S;
  /** Only these columns are read (the others are never decoded). */
  columns?: readonly K[];
  /** Read only files not finished by an earlier committed run. Needs a state store. @default false */
  incremental?: boolean;
  /** Distinct values a dictionary column holds before it reads as plain strings. @default 65536 */
  dictionaryCap?: number;
}

export const COLUMNAR_OPTIONS = optionsObject({
  schema: option(z.custom((value) => isZodObject(value)), 'a zod object (z.object({...}))'),
  columns: option(z.array(z.string()), 'a list of column names'),
  incremental: option(z.boolean(), 'true or false'),
  dictionaryCap: option(integerFrom(1), 'a whole number from 1 up'),
});

/** The schema's column plans, only those of `columns` when it is given. */
export function schemaPlansOf(options: ColumnarOptions<unknown, string>): ColumnPlan[] {
  let plans = compileSchema(options.schema, { dictionaryCap: options.dictionaryCap }).columns;
  if (options.columns !== undefined) plans = plans.filter((plan) => options.columns!.includes(plan.name));
  return plans;
}

/** The names of the columns to read: the schema's, else `columns`, else all the file has. */
export function wantedColumns(options: ColumnarOptions<unknown, string>, all: readonly string[]): readonly string[] {
  return options.schema !== undefined ? schemaPlansOf(options).map((plan) => plan.name) : options.columns ?? all;
}

/**
 * One dictionary per dictionary column for a whole run, so codes mean the same in every batch; a
 * column whose dictionary filled up reads as plain strings from then on.
 */
export class RunDictionaries {
  private readonly dictionaries = new Map<string, Dictionary>();
  private readonly overflowed = new Set<string>();

  private readonly cap: number;
  constructor(cap: number = 65536) {
    this.cap = cap;
  }

  of(name: string): Dictionary {
    let dictionary = this.dictionaries.get(name);
    if (dictionary === undefined) {
      dictionary = new Dictionary(this.cap);
      this.dictionaries.set(name, dictionary);
    }
    return dictionary;
  }

  /** The dictionary so far, if the column has one. */
  peek(name: string): Dictionary | undefined {
    return this.dictionaries.get(name);
  }

  overflow(name: string): void {
    this.dictionaries.delete(name);
    this.overflowed.add(name);
  }

  /** The dtype a column of the file's `dtype` reads as now. */
  dtypeOf(name: string, dtype: DType): DType {
    return dtype === 'dictionary' && this.overflowed.has(name) ? 'string' : dtype;
  }
}

/** The plan of a column read as the file types it (no schema): nullable, taken as it is. */
export function planFor(name: string, dtype: DType, dictionary?: Dictionary): ColumnPlan {
  return { name, dtype, nullable: true, coerce: false, storesZodOutput: false, rule: dtype, origin: 'inferred', dictionary };
}

/** Rows `start..end` of a column; `start` a multiple of 8, so bitmaps are byte-aligned views. */
export function sliceColumn(column: Column, start: number, end: number): Column {
  const validity = column.validity === null ? null : column.validity.subarray(start >>> 3, (end + 7) >>> 3);
  const length = end - start;
  if (column.dtype === 'bool') return new Column('bool', length, (column.data as Uint8Array).subarray(start >>> 3, (end + 7) >>> 3), validity);
  if (column.dtype === 'string') return new Column('string', length, (column.data as string[]).slice(start, end), validity);
  return new Column(column.dtype, length, (column.data as TypedArray).subarray(start, end), validity, column.dictionary);
}

/** A value as a schema's row decoder takes it: dates as their ISO text, timestamps as Dates. */
export function jsValue(column: Column, row: number): unknown {
  if (column.isNull(row)) return null;
  if (column.dtype === 'date') return formatDate((column.data as Int32Array)[row]);
  return column.get(row);
}

/** A file's unit of reading as batches of about `rows` rows (multiples of 8, so validity bitmaps slice without shifting). */
export function* sliceBatch(batch: Batch, rows: number): Generator<Batch> {
  const size = Math.max(8, rows - (rows % 8));
  if (batch.length <= size) {
    yield batch;
    return;
  }
  for (let start = 0; start < batch.length; start += size) {
    const end = Math.min(batch.length, start + size);
    const columns = columnRecord();
    for (const name of batch.names) columns[name] = sliceColumn(batch.columns[name], start, end);
    yield new BatchClass(columns, end - start, batch.origin);
  }
}

/**
 * With a schema: every value checked by the schema's plan, as CSV and NDJSON values are; rows that
 * break it rejected, at the place `where(row)` names (1-based row within the unit read).
 */
export async function checkedBatches(batch: Batch, plans: ColumnPlan[], context: SourceContext, where: (row: number) => ErrorLocation): Promise<Batch[]> {
  const out: Batch[] = [];
  const columns = plans.map((plan) => batch.columns[plan.name]);
  const values: unknown[] = new Array(plans.length);
  const options = { warn: (warning: RunWarning) => context.warn(warning), file: batch.origin.file, emptyIsNull: false };
  let decoder = new RowDecoder(plans, context.batchRows(), options);
  for (let row = 0; row < batch.length; row++) {
    for (let c = 0; c < columns.length; c++) values[c] = jsValue(columns[c], row);
    const violation = decoder.append(values, row + 1);
    if (violation !== null) {
      await context.reject(violation, { ...where(row + 1), column: violation.column });
      continue;
    }
    if (decoder.full) {
      out.push(withoutLines(decoder.flush(batch.origin)));
      decoder = new RowDecoder(plans, context.batchRows(), options);
    }
  }
  if (decoder.length > 0) out.push(withoutLines(decoder.flush(batch.origin)));
  return out;
}

/** Columnar files have no lines: the decoder's row numbers are dropped rather than shown as lines. */
function withoutLines(batch: Batch): Batch {
  return new BatchClass(batch.columns, batch.length, batch.origin);
}
