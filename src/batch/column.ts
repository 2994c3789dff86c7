import { bitmapBytes, getBit, setBit } from './bitmap.ts';
import type { Dictionary } from './dictionary.ts';
import { estimateStringBytes, type DType, NUMERIC_ARRAY, type TypedArray } from './dtype.ts';

const MS_PER_DAY = 86_400_000;

/**
 * One column of a batch: a dtype, its storage and a validity bitmap (null when every row is valid).
 * - numeric, timestamp, date: `data` is the typed array of values;
 * - bool: `data` is a bit-packed Uint8Array;
 * - string: `data` is a string[];
 * - dictionary: `data` holds codes into `dictionary.values`.
 */
export class Column {
  private stringBytes = -1;

  readonly dtype: DType;
  readonly length: number;
  readonly data: TypedArray | string[];
  readonly validity: Uint8Array | null;
  readonly dictionary?: Dictionary;
  constructor(
    dtype: DType,
    length: number,
    data: TypedArray | string[],
    validity: Uint8Array | null,
    dictionary?: Dictionary,
  ) {
    this.dtype = dtype;
    this.length = length;
    this.data = data;
    this.validity = validity;
    this.dictionary = dictionary;
  }

  isNull(index: number): boolean {
    return this.validity !== null && !getBit(this.validity, index);
  }

  /**
   * The value at `index` as a JS value: number, boolean, string, Date (timestamp and date columns),
   * or null. Row views call this; hot loops that know the dtype should read `data` directly.
   */
  get(index: number): unknown {
    if (this.validity !== null && !getBit(this.validity, index)) return null;
    switch (this.dtype) {
      case 'bool':
        return getBit(this.data as Uint8Array, index);
      case 'string':
        return (this.data as string[])[index];
      case 'dictionary':
        return this.dictionary!.values[(this.data as TypedArray)[index]];
      case 'timestamp':
        return new Date((this.data as Float64Array)[index]);
      case 'date':
        return new Date((this.data as Int32Array)[index] * MS_PER_DAY);
      default:
        return (this.data as TypedArray)[index];
    }
  }

  /** The raw stored value: a number for numeric, timestamp (ms), date (days) and bool (0/1) columns; a string otherwise. */
  raw(index: number): number | string {
    switch (this.dtype) {
      case 'bool':
        return getBit(this.data as Uint8Array, index) ? 1 : 0;
      case 'string':
        return (this.data as string[])[index];
      case 'dictionary':
        return this.dictionary!.values[(this.data as TypedArray)[index]];
      default:
        return (this.data as TypedArray)[index];
    }
  }

  get nullCount(): number {
    if (this.validity === null) return 0;
    let valid = 0;
    for (let i = 0; i < this.length; i++) if (getBit(this.validity, i)) valid++;
    return this.length - valid;
  }

  /**
   * Bytes held by this column: exact for typed buffers and bitmaps; for plain strings an estimate
   * (see estimateStringBytes); for dictionary columns the codes only, since the dictionary is shared
   * by the whole run and counted once there.
   */
  get byteSize(): number {
    const validity = this.validity === null ? 0 : this.validity.byteLength;
    if (this.dtype !== 'string') return validity + (this.data as TypedArray).byteLength;
    if (this.stringBytes < 0) {
      let bytes = 0;
      const strings = this.data as string[];
      for (let i = 0; i < this.length; i++) {
        const value = strings[i];
        bytes += value === undefined ? 8 : estimateStringBytes(value);
      }
      this.stringBytes = bytes;
    }
    return validity + this.stringBytes;
  }

  /** A new column with the rows at `indices[0..count)`, in that order. */
  take(indices: Uint32Array, count: number): Column {
    let validity: Uint8Array | null = null;
    if (this.validity !== null) {
      validity = new Uint8Array(bitmapBytes(count));
      for (let i = 0; i < count; i++) if (getBit(this.validity, indices[i])) setBit(validity, i);
    }
    if (this.dtype === 'bool') {
      const source = this.data as Uint8Array;
      const bits = new Uint8Array(bitmapBytes(count));
      for (let i = 0; i < count; i++) if (getBit(source, indices[i])) setBit(bits, i);
      return new Column('bool', count, bits, validity);
    }
    if (this.dtype === 'string') {
      const source = this.data as string[];
      const strings = new Array<string>(count);
      for (let i = 0; i < count; i++) strings[i] = source[indices[i]];
      return new Column('string', count, strings, validity);
    }
    const source = this.data as TypedArray;
    const Constructor = source.constructor as { new (length: number): TypedArray };
    const values = new Constructor(count);
    for (let i = 0; i < count; i++) values[i] = source[indices[i]];
    return new Column(this.dtype, count, values, validity, this.dictionary);
  }
}

/** A column of `length` rows from plain JS values (tests, small derived columns). */
export function columnFromValues(dtype: DType, values: readonly unknown[], dictionary?: Dictionary): Column {
  const length = values.length;
  let validity: Uint8Array | null = null;
  const markNull = (i: number) => {
    if (validity === null) {
      validity = new Uint8Array(bitmapBytes(length)).fill(0xff);
    }
    validity[i >>> 3] &= ~(1 << (i & 7));
  };
  if (dtype === 'string') {
    const strings = new Array<string>(length);
    values.forEach((v, i) => (v === null || v === undefined ? markNull(i) : (strings[i] = String(v))));
    return new Column(dtype, length, strings, validity);
  }
  if (dtype === 'bool') {
    const bits = new Uint8Array(bitmapBytes(length));
    values.forEach((v, i) => (v === null || v === undefined ? markNull(i) : v ? setBit(bits, i) : undefined));
    return new Column(dtype, length, bits, validity);
  }
  if (dtype === 'dictionary') {
    if (dictionary === undefined) throw new Error('columnFromValues: a dictionary column needs its dictionary');
    const codes = new Int32Array(length);
    values.forEach((v, i) => (v === null || v === undefined ? markNull(i) : (codes[i] = dictionary.code(String(v)))));
    return new Column(dtype, length, codes, validity, dictionary);
  }
  const typed = new NUMERIC_ARRAY[dtype](length);
  values.forEach((v, i) => {
    if (v === null || v === undefined) return markNull(i);
    const n = v instanceof Date ? v.getTime() : Number(v);
    typed[i] = dtype === 'date' ? Math.floor(n / MS_PER_DAY) : n;
  });
  return new Column(dtype, length, typed, validity);
}
