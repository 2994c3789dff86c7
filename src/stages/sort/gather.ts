import { Batch, columnRecord } from '../../batch/batch.ts';
import { bitmapBytes, getBit, setBit } from '../../batch/bitmap.ts';
import { Column } from '../../batch/column.ts';
import { type DType, NUMERIC_ARRAY, type NumericDType, type TypedArray } from '../../batch/dtype.ts';
import { valuesOf, widerDType } from '../aggregate/values.ts';

/**
 * The dtype of one column gathered from several batches: theirs when they agree (one dictionary for
 * dictionary columns), else one that holds every value (a column an inferred schema widened mid-run).
 */
function gatheredDType(columns: readonly Column[]): { dtype: DType; same: boolean } {
  const first = columns[0];
  let dtype = first.dtype;
  let same = true;
  for (let s = 1; s < columns.length; s++) {
    const column = columns[s];
    if (column.dtype !== first.dtype || column.dictionary !== first.dictionary) same = false;
    dtype = widerDType(dtype, column.dtype);
  }
  if (!same && dtype === 'dictionary') dtype = 'string';
  return { dtype, same };
}

// One loop per source array type, on purpose: a single loop reading Float64Array, Uint8Array and
// Int32Array sources (one column each) becomes megamorphic and was most of the sort's output time.
function fromFloat64(sources: Float64Array[], from: Uint32Array, rows: Uint32Array, count: number, out: TypedArray): void {
  for (let i = 0; i < count; i++) out[i] = sources[from[i]][rows[i]];
}
function fromInt32(sources: Int32Array[], from: Uint32Array, rows: Uint32Array, count: number, out: TypedArray): void {
  for (let i = 0; i < count; i++) out[i] = sources[from[i]][rows[i]];
}
function fromUint8(sources: Uint8Array[], from: Uint32Array, rows: Uint32Array, count: number, out: TypedArray): void {
  for (let i = 0; i < count; i++) out[i] = sources[from[i]][rows[i]];
}
function fromUint16(sources: Uint16Array[], from: Uint32Array, rows: Uint32Array, count: number, out: TypedArray): void {
  for (let i = 0; i < count; i++) out[i] = sources[from[i]][rows[i]];
}
function fromUint32(sources: Uint32Array[], from: Uint32Array, rows: Uint32Array, count: number, out: TypedArray): void {
  for (let i = 0; i < count; i++) out[i] = sources[from[i]][rows[i]];
}
function fromAny(sources: TypedArray[], from: Uint32Array, rows: Uint32Array, count: number, out: TypedArray): void {
  for (let i = 0; i < count; i++) out[i] = sources[from[i]][rows[i]];
}

function gatherStrings(sources: string[][], from: Uint32Array, rows: Uint32Array, count: number): string[] {
  const strings: string[] = [];
  for (let i = 0; i < count; i++) strings.push(sources[from[i]][rows[i]]);
  return strings;
}

function gatherValidity(columns: readonly Column[], from: Uint32Array, rows: Uint32Array, count: number): Uint8Array {
  const validity = new Uint8Array(bitmapBytes(count));
  // A batch without nulls reads as all valid: an all-ones bitmap of its own length.
  const bitmaps = columns.map((column) => column.validity ?? new Uint8Array(bitmapBytes(column.length)).fill(0xff));
  for (let i = 0; i < count; i++) {
    const bits = bitmaps[from[i]];
    const row = rows[i];
    if ((bits[row >>> 3] & (1 << (row & 7))) !== 0) validity[i >>> 3] |= 1 << (i & 7);
  }
  return validity;
}

function gatherNumbers(sources: TypedArray[], from: Uint32Array, rows: Uint32Array, count: number, out: TypedArray): void {
  const type = sources[0].constructor;
  if (!sources.every((source) => source.constructor === type)) fromAny(sources, from, rows, count, out);
  else if (type === Float64Array) fromFloat64(sources as Float64Array[], from, rows, count, out);
  else if (type === Int32Array) fromInt32(sources as Int32Array[], from, rows, count, out);
  else if (type === Uint8Array) fromUint8(sources as Uint8Array[], from, rows, count, out);
  else if (type === Uint16Array) fromUint16(sources as Uint16Array[], from, rows, count, out);
  else if (type === Uint32Array) fromUint32(sources as Uint32Array[], from, rows, count, out);
  else fromAny(sources, from, rows, count, out);
}

/**
 * Column `name` of rows picked from several batches: row `rows[i]` of `batches[from[i]]` for each i
 * below `count`, in that order. The sort's output (rows of the held batches in sorted order) and its
 * merge's (rows of the runs' current blocks) are both made this way.
 */
export function gatherColumn(batches: readonly Batch<any>[], name: string, from: Uint32Array, rows: Uint32Array, count: number): Column {
  const columns = batches.map((batch) => batch.column(name));
  const { dtype, same } = gatheredDType(columns);
  const validity = columns.some((column) => column.validity !== null) ? gatherValidity(columns, from, rows, count) : null;
  if (same) {
    if (dtype === 'bool') {
      const sources = columns.map((column) => column.data as Uint8Array);
      const bits = new Uint8Array(bitmapBytes(count));
      for (let i = 0; i < count; i++) if (getBit(sources[from[i]], rows[i])) setBit(bits, i);
      return new Column('bool', count, bits, validity);
    }
    if (dtype === 'string') return new Column('string', count, gatherStrings(columns.map((column) => column.data as string[]), from, rows, count), validity);
    const sources = columns.map((column) => column.data as TypedArray);
    const Constructor = dtype === 'dictionary' ? Int32Array : NUMERIC_ARRAY[dtype as NumericDType];
    const data = new Constructor(count);
    gatherNumbers(sources, from, rows, count, data);
    return new Column(dtype, count, data, validity, columns[0].dictionary);
  }
  const values = columns.map(valuesOf);
  if (dtype === 'string') {
    const strings = new Array<string>(count);
    for (let i = 0; i < count; i++) {
      const source = values[from[i]];
      strings[i] = source.isNull(rows[i]) ? '' : source.string(rows[i]);
    }
    return new Column('string', count, strings, validity);
  }
  const data = new Float64Array(count);
  for (let i = 0; i < count; i++) data[i] = values[from[i]].number(rows[i]);
  return new Column(dtype, count, data, validity);
}

/** The batch of rows picked from several batches (see {@link gatherColumn}), with the first batch's columns. */
export function gatherBatch(batches: readonly Batch<any>[], names: readonly string[], from: Uint32Array, rows: Uint32Array, count: number): Batch {
  const columns = columnRecord();
  for (const name of names) columns[name] = gatherColumn(batches, name, from, rows, count);
  return new Batch(columns, count);
}
