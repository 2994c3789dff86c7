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

/**
 * Column `name` of rows picked from several batches: row `rows[i]` of `batches[from[i]]` for each i
 * below `count`, in that order. The sort's output (rows of the held batches in sorted order) and its
 * merge's (rows of the runs' current blocks) are both made this way.
 */
export function gatherColumn(batches: readonly Batch<any>[], name: string, from: Uint32Array, rows: Uint32Array, count: number): Column {
  const columns = batches.map((batch) => batch.column(name));
  const { dtype, same } = gatheredDType(columns);
  let validity: Uint8Array | null = null;
  if (columns.some((column) => column.validity !== null)) {
    validity = new Uint8Array(bitmapBytes(count));
    const bitmaps = columns.map((column) => column.validity);
    for (let i = 0; i < count; i++) {
      const bits = bitmaps[from[i]];
      if (bits === null || getBit(bits, rows[i])) setBit(validity, i);
    }
  }
  if (same) {
    if (dtype === 'bool') {
      const sources = columns.map((column) => column.data as Uint8Array);
      const bits = new Uint8Array(bitmapBytes(count));
      for (let i = 0; i < count; i++) if (getBit(sources[from[i]], rows[i])) setBit(bits, i);
      return new Column('bool', count, bits, validity);
    }
    if (dtype === 'string') {
      const sources = columns.map((column) => column.data as string[]);
      const strings = new Array<string>(count);
      for (let i = 0; i < count; i++) strings[i] = sources[from[i]][rows[i]];
      return new Column('string', count, strings, validity);
    }
    const sources = columns.map((column) => column.data as TypedArray);
    const Constructor = dtype === 'dictionary' ? Int32Array : NUMERIC_ARRAY[dtype as NumericDType];
    const data = new Constructor(count);
    for (let i = 0; i < count; i++) data[i] = sources[from[i]][rows[i]];
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
