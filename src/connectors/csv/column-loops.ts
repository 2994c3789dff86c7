/**
 * The fast CSV engine's column loops: for the records the fused loop leaves, each planned column is
 * converted from a scanner FieldTable in its own loop over the rows (Arrow/DuckDB style), straight into
 * the RowDecoder's builders. Each loop settles only values whose outcome is certain (see column-rules.ts)
 * and returns the first row it cannot settle, which then takes the row path.
 */
import type { ColumnBuilder } from '../../batch/builder.ts';
import type { TypedArray } from '../../batch/dtype.ts';
import type { ColumnPlan } from '../../schema/plan.ts';
import { ByteDictionary, StringCache } from '../../codec/byte-dictionary.ts';
import { parseBoolean, PARSED, parseFloat64, parseInteger, scanFloat64 } from '../../codec/byte-numbers.ts';
import { parseDate, scanTimestamp } from '../../codec/byte-times.ts';
import {
  byteDictionaryOf,
  byteLoopsApply,
  FieldText,
  nullsAllowed,
  numericRange,
  setNull,
  shapeOf,
  type PatternShape,
  YEAR_100_DAYS,
  YEAR_100_MS,
} from './column-rules.ts';
import type { FieldTable } from './scanner.ts';

const ESCAPED = 2;

/** The text of field `k` of a table (an index into its field arrays), quotes collapsed. */
export function fieldText(text: FieldText, buf: Uint8Array, table: FieldTable, k: number): string {
  return text.of(buf, table.starts[k], table.ends[k], (table.flags[k] & ESCAPED) !== 0);
}

/**
 * Converts rows [from, to) of one column into `builder` at `out` onwards; returns the first row whose
 * value must take the row path (or `to`). One loop per kind of column, so each stays monomorphic.
 */
export function convertColumn(
  plan: ColumnPlan,
  builder: ColumnBuilder,
  position: number,
  table: FieldTable,
  buf: Uint8Array,
  from: number,
  to: number,
  out: number,
  text: FieldText,
  strings: StringCache,
): number {
  if (!byteLoopsApply(plan, builder)) return from;
  const nullable = nullsAllowed(plan);
  switch (plan.dtype) {
    case 'string':
      return convertStrings(plan, builder, position, table, buf, from, to, out, nullable, text, strings);
    case 'dictionary':
      return convertDictionary(byteDictionaryOf(plan.dictionary!), builder, position, table, buf, from, to, out, nullable);
    case 'bool':
      return convertBooleans(builder, position, table, buf, from, to, out, nullable);
    case 'timestamp':
      return convertTimestamps(builder, position, table, buf, from, to, out, nullable, shapeOf(plan));
    case 'date':
      return convertDates(builder, position, table, buf, from, to, out, nullable, shapeOf(plan));
    default: {
      const { integer, lo, hi, loStrict, hiStrict } = numericRange(plan);
      if (!integer && builder.values instanceof Float64Array) {
        return convertFloats(builder, position, table, buf, from, to, out, nullable, lo, hi, loStrict, hiStrict);
      }
      return convertNumbers(builder, position, table, buf, from, to, out, nullable, integer, lo, hi, loStrict, hiStrict);
    }
  }
}

function convertNumbers(
  builder: ColumnBuilder,
  position: number,
  table: FieldTable,
  buf: Uint8Array,
  from: number,
  to: number,
  out: number,
  nullable: boolean,
  integer: boolean,
  lo: number,
  hi: number,
  loStrict: boolean,
  hiStrict: boolean,
): number {
  const values = builder.values as TypedArray;
  const fieldBase = table.fieldBase;
  const starts = table.starts;
  const ends = table.ends;
  for (let r = from; r < to; r++) {
    const k = fieldBase[r] + position;
    const start = starts[k];
    const end = ends[k];
    const index = out + r - from;
    if (start === end) {
      if (!nullable) return r;
      setNull(builder, index);
      values[index] = 0;
      continue;
    }
    const n = integer ? parseInteger(buf, start, end) : parseFloat64(buf, start, end);
    // NaN fails both comparisons' negation: `!(n >= lo)` catches it.
    if (!(n >= lo) || n > hi || (loStrict && n === lo) || (hiStrict && n === hi)) return r;
    values[index] = n;
  }
  return to;
}

/**
 * A float64 column: its own copy of convertNumbers on purpose. A store site that has seen several typed
 * array kinds takes a boxed value, so sharing the integer columns' loop cost one HeapNumber per value.
 */
function convertFloats(
  builder: ColumnBuilder,
  position: number,
  table: FieldTable,
  buf: Uint8Array,
  from: number,
  to: number,
  out: number,
  nullable: boolean,
  lo: number,
  hi: number,
  loStrict: boolean,
  hiStrict: boolean,
): number {
  const values = builder.values as Float64Array;
  const fieldBase = table.fieldBase;
  const starts = table.starts;
  const ends = table.ends;
  for (let r = from; r < to; r++) {
    const k = fieldBase[r] + position;
    const start = starts[k];
    const end = ends[k];
    const index = out + r - from;
    if (start === end) {
      if (!nullable) return r;
      setNull(builder, index);
      values[index] = 0;
      continue;
    }
    scanFloat64(buf, start, end);
    const n = PARSED[0];
    // NaN fails both comparisons' negation: `!(n >= lo)` catches it.
    if (!(n >= lo) || n > hi || (loStrict && n === lo) || (hiStrict && n === hi)) return r;
    values[index] = n;
  }
  return to;
}

function convertBooleans(
  builder: ColumnBuilder,
  position: number,
  table: FieldTable,
  buf: Uint8Array,
  from: number,
  to: number,
  out: number,
  nullable: boolean,
): number {
  const values = builder.values as Uint8Array;
  const fieldBase = table.fieldBase;
  const starts = table.starts;
  const ends = table.ends;
  for (let r = from; r < to; r++) {
    const k = fieldBase[r] + position;
    const start = starts[k];
    const end = ends[k];
    const index = out + r - from;
    if (start === end) {
      if (!nullable) return r;
      setNull(builder, index);
      values[index] = 0;
      continue;
    }
    const b = parseBoolean(buf, start, end);
    if (b < 0) return r;
    values[index] = b;
  }
  return to;
}

function convertTimestamps(
  builder: ColumnBuilder,
  position: number,
  table: FieldTable,
  buf: Uint8Array,
  from: number,
  to: number,
  out: number,
  nullable: boolean,
  shape: PatternShape | null,
): number {
  const values = builder.values as Float64Array;
  const fieldBase = table.fieldBase;
  const starts = table.starts;
  const ends = table.ends;
  for (let r = from; r < to; r++) {
    const k = fieldBase[r] + position;
    const start = starts[k];
    const end = ends[k];
    const index = out + r - from;
    if (start === end) {
      if (!nullable) return r;
      setNull(builder, index);
      values[index] = 0;
      continue;
    }
    scanTimestamp(buf, start, end);
    const n = PARSED[0];
    if (!(n >= YEAR_100_MS)) return r;
    if (shape !== null && !(end - start === 20 && buf[start + 19] === 0x5a && buf[start + 10] === 0x54 && shape.utcSeconds) && !shape.accepts(buf, start, end)) {
      return r;
    }
    values[index] = n;
  }
  return to;
}

/** Dates (int32 days): a copy of convertTimestamps, so each loop stores into one array kind. */
function convertDates(
  builder: ColumnBuilder,
  position: number,
  table: FieldTable,
  buf: Uint8Array,
  from: number,
  to: number,
  out: number,
  nullable: boolean,
  shape: PatternShape | null,
): number {
  const values = builder.values as Int32Array;
  const fieldBase = table.fieldBase;
  const starts = table.starts;
  const ends = table.ends;
  for (let r = from; r < to; r++) {
    const k = fieldBase[r] + position;
    const start = starts[k];
    const end = ends[k];
    const index = out + r - from;
    if (start === end) {
      if (!nullable) return r;
      setNull(builder, index);
      values[index] = 0;
      continue;
    }
    const n = parseDate(buf, start, end);
    if (!(n >= YEAR_100_DAYS)) return r;
    if (shape !== null && !shape.accepts(buf, start, end)) return r;
    values[index] = n;
  }
  return to;
}

function convertStrings(
  plan: ColumnPlan,
  builder: ColumnBuilder,
  position: number,
  table: FieldTable,
  buf: Uint8Array,
  from: number,
  to: number,
  out: number,
  nullable: boolean,
  text: FieldText,
  cache: StringCache,
): number {
  const strings = builder.strings!;
  const fieldBase = table.fieldBase;
  const starts = table.starts;
  const ends = table.ends;
  const minLength = plan.minLength ?? 0;
  const maxLength = plan.maxLength ?? Infinity;
  for (let r = from; r < to; r++) {
    const k = fieldBase[r] + position;
    const index = out + r - from;
    if (starts[k] === ends[k]) {
      if (!nullable) return r;
      setNull(builder, index);
      continue;
    }
    // Keyed by the raw bytes (doubled quotes included): with the reader's quote and encoding fixed,
    // they determine the text.
    const start = starts[k];
    const end = ends[k];
    let value = cache.get(buf, start, end);
    if (value === undefined) {
      value = fieldText(text, buf, table, k);
      cache.set(buf, start, end, value);
    }
    if (value.length < minLength || value.length > maxLength) return r;
    strings[index] = value;
  }
  return to;
}

function convertDictionary(
  dictionary: ByteDictionary,
  builder: ColumnBuilder,
  position: number,
  table: FieldTable,
  buf: Uint8Array,
  from: number,
  to: number,
  out: number,
  nullable: boolean,
): number {
  const values = builder.values as TypedArray;
  const fieldBase = table.fieldBase;
  const starts = table.starts;
  const ends = table.ends;
  for (let r = from; r < to; r++) {
    const k = fieldBase[r] + position;
    const start = starts[k];
    const end = ends[k];
    const index = out + r - from;
    if (start === end) {
      if (!nullable) return r;
      setNull(builder, index);
      values[index] = 0;
      continue;
    }
    const code = dictionary.lookup(buf, start, end);
    if (code < 0) return r;
    values[index] = code;
  }
  return to;
}
