import { bitmapBytes } from './bitmap.ts';
import { Column } from './column.ts';
import type { Dictionary } from './dictionary.ts';
import { type DType, NUMERIC_ARRAY, type TypedArray } from './dtype.ts';

/**
 * Fills one column of a batch, value by value, into preallocated storage. Sources make one builder per
 * column per batch and call `finish()` once; nothing here allocates per value except plain strings.
 */
export class ColumnBuilder {
  dtype: DType;
  length = 0;
  /** Typed storage for numeric, timestamp, date, bool (one byte per value until finish packs it) and dictionary codes. */
  values: TypedArray;
  strings: string[] | null = null;
  validity: Uint8Array | null = null;
  readonly capacity: number;
  /** Set when a dictionary column overflowed its cap in this batch and became plain strings. */
  overflowed = false;

  readonly dictionary?: Dictionary;
  constructor(
    dtype: DType,
    capacity: number,
    dictionary?: Dictionary,
  ) {
    this.dictionary = dictionary;
    this.dtype = dtype;
    this.capacity = capacity;
    this.values = allocate(dtype, capacity, dictionary);
    if (dtype === 'string') this.strings = new Array<string>(capacity);
  }

  get full(): boolean {
    return this.length >= this.capacity;
  }

  appendNull(): void {
    const index = this.length++;
    if (this.validity === null) {
      this.validity = new Uint8Array(bitmapBytes(this.capacity)).fill(0xff);
    }
    this.validity[index >>> 3] &= ~(1 << (index & 7));
  }

  /** Numeric, timestamp (ms), date (days) and bool (0/1) columns. */
  appendNumber(value: number): void {
    this.values[this.length++] = value;
  }

  /** String and dictionary columns. */
  appendString(value: string): void {
    if (this.dtype === 'string') {
      this.strings![this.length++] = value;
      return;
    }
    const code = this.dictionary!.code(value);
    if (code < 0) {
      this.toPlainStrings();
      this.strings![this.length++] = value;
      return;
    }
    this.values[this.length++] = code;
  }

  /** Dictionary columns, when the caller already knows the code. */
  appendCode(code: number): void {
    this.values[this.length++] = code;
  }

  /** The dictionary is full: this batch (and the caller's plan, from now on) stores plain strings. */
  toPlainStrings(): void {
    const strings = new Array<string>(this.capacity);
    const dictionaryValues = this.dictionary!.values;
    for (let i = 0; i < this.length; i++) strings[i] = dictionaryValues[this.values[i]];
    this.strings = strings;
    this.dtype = 'string';
    this.overflowed = true;
    this.values = new Uint8Array(0);
  }

  finish(): Column {
    const length = this.length;
    let validity = this.validity;
    if (validity !== null && validity.byteLength > bitmapBytes(length)) validity = validity.slice(0, bitmapBytes(length));
    if (validity !== null && length % 8 !== 0) validity[validity.length - 1] &= (1 << (length % 8)) - 1;
    if (this.dtype === 'string') {
      const strings = this.strings!;
      if (strings.length !== length) strings.length = length;
      return new Column('string', length, strings, validity);
    }
    if (this.dtype === 'bool') {
      const bits = new Uint8Array(bitmapBytes(length));
      const bytes = this.values;
      for (let i = 0; i < length; i++) if (bytes[i] !== 0) bits[i >>> 3] |= 1 << (i & 7);
      return new Column('bool', length, bits, validity);
    }
    // A short last batch must not pin the full preallocated buffer.
    const data = length === this.capacity ? this.values : this.values.slice(0, length);
    return new Column(this.dtype, length, data, validity, this.dtype === 'dictionary' ? this.dictionary : undefined);
  }
}

/** Marks row `index` of a builder null, for loops that store by index rather than append. */
export function setNull(builder: ColumnBuilder, index: number): void {
  if (builder.validity === null) builder.validity = new Uint8Array(bitmapBytes(builder.capacity)).fill(0xff);
  builder.validity[index >>> 3] &= ~(1 << (index & 7));
}

function allocate(dtype: DType, capacity: number, dictionary?: Dictionary): TypedArray {
  switch (dtype) {
    case 'string':
      return new Uint8Array(0);
    case 'bool':
      return new Uint8Array(capacity);
    case 'dictionary': {
      const cap = dictionary?.cap ?? 65536;
      return cap <= 256 ? new Uint8Array(capacity) : cap <= 65536 ? new Uint16Array(capacity) : new Int32Array(capacity);
    }
    default:
      return new NUMERIC_ARRAY[dtype](capacity);
  }
}

/**
 * Widen a builder to `dtype` keeping its values: a wider number type, float64, or plain strings
 * (for inferred columns whose later values do not fit the sampled type).
 */
export function widenBuilder(builder: ColumnBuilder, dtype: DType, format: (raw: number) => string): void {
  const length = builder.length;
  if (dtype === 'string') {
    const strings = new Array<string>(builder.capacity);
    if (builder.dtype === 'dictionary') {
      const values = builder.dictionary!.values;
      for (let i = 0; i < length; i++) strings[i] = values[builder.values[i]];
    } else {
      for (let i = 0; i < length; i++) strings[i] = format(builder.values[i]);
    }
    builder.strings = strings;
    builder.values = new Uint8Array(0);
  } else {
    const values = new NUMERIC_ARRAY[dtype as keyof typeof NUMERIC_ARRAY](builder.capacity);
    for (let i = 0; i < length; i++) values[i] = builder.values[i];
    builder.values = values;
  }
  builder.dtype = dtype;
}
