import { getBit } from '../../batch/bitmap.ts';
import type { Column } from '../../batch/column.ts';
import type { DType, TypedArray } from '../../batch/dtype.ts';

/**
 * Values of a key or aggregated column in the two forms the aggregation keeps: numbers (every numeric
 * dtype, bool as 0/1, timestamp as ms, date as days) and strings (plain or dictionary). A column may
 * widen between batches (an inferred int8 becomes float64, a dictionary falls back to plain strings), so
 * state is kept per family, not per dtype, and the output takes the widest dtype seen.
 */
export type Family = 'number' | 'string';

export function familyOf(dtype: DType): Family {
  return dtype === 'string' || dtype === 'dictionary' ? 'string' : 'number';
}

/**
 * One column of one batch as the aggregation reads it: `number(i)` / `string(i)` and `isNull(i)`,
 * without a JS value per row (dictionary strings are the dictionary's own, bools read from their bits).
 */
export interface Values {
  readonly family: Family;
  readonly dtype: DType;
  isNull(index: number): boolean;
  number(index: number): number;
  string(index: number): string;
  /** Dictionary columns: codes and the dictionary's values, so keys hash once per code. */
  readonly codes?: TypedArray;
  readonly dictionary?: readonly string[];
  /**
   * Numeric, timestamp and date columns: the values themselves, and the column's validity bitmap (null
   * when no row is null), so hot loops read the typed array rather than call `number(i)` per row.
   */
  readonly numbers?: TypedArray;
  readonly validity: Uint8Array | null;
}

export function valuesOf(column: Column): Values {
  const validity = column.validity;
  const isNull = validity === null ? () => false : (index: number) => !getBit(validity, index);
  const family = familyOf(column.dtype);
  if (column.dtype === 'dictionary') {
    const codes = column.data as TypedArray;
    const dictionary = column.dictionary!.values;
    return { family, dtype: column.dtype, isNull, number: () => NaN, string: (index) => dictionary[codes[index]], codes, dictionary, validity };
  }
  if (column.dtype === 'string') {
    const strings = column.data as string[];
    return { family, dtype: column.dtype, isNull, number: () => NaN, string: (index) => strings[index], validity };
  }
  if (column.dtype === 'bool') {
    const bits = column.data as Uint8Array;
    return { family, dtype: column.dtype, isNull, number: (index) => (getBit(bits, index) ? 1 : 0), string: () => '', validity };
  }
  const numbers = column.data as TypedArray;
  return { family, dtype: column.dtype, isNull, number: (index) => numbers[index], string: () => '', numbers, validity };
}

/** The dtype of values that were seen as `a`, then `b`: the same, or one that holds both. */
export function widerDType(a: DType, b: DType): DType {
  if (a === b) return a;
  if (familyOf(a) === 'string') return 'string';
  return 'float64';
}

// Hashes: murmur3's finalizer over the value's bits. Equal keys must hash equally, so -0 hashes as 0
// and every NaN as one NaN (keys group the way SQL groups them: -0 = 0, NaN = NaN).
const float = new Float64Array(1);
const words = new Uint32Array(float.buffer);
export const NULL_HASH = 0x5bd1e995;

export function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

export function hashNumber(value: number): number {
  if ((value | 0) === value) return mix(value); // -0 | 0 is 0: -0 takes this branch as 0
  if (value !== value) return 0x7ff80000;
  float[0] = value;
  return mix(words[0] ^ Math.imul(words[1], 0x9e3779b1));
}

export function hashString(value: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < value.length; i++) h = Math.imul(h ^ value.charCodeAt(i), 0x01000193);
  return mix(h ^ value.length);
}

/** Key equality as SQL's GROUP BY sees it: -0 equals 0, NaN equals NaN. */
export function sameNumber(a: number, b: number): boolean {
  return a === b || (a !== a && b !== b);
}

/** Order for min/max: NaN above every number, as PostgreSQL sorts it. */
export function lessNumber(a: number, b: number): boolean {
  return b !== b ? a === a : a < b;
}
