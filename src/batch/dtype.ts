/**
 * Column data types. Numbers live in the smallest typed array that holds them (the columnar form of
 * pandas' dtype downcasting); strings are plain or dictionary-encoded (pandas' `category`).
 *
 * Storage, chosen to match Apache Arrow's layouts so interop needs no row-by-row copy:
 * - `bool`: bit-packed, LSB first (Arrow boolean).
 * - `int8`…`float64`: the matching typed array.
 * - `timestamp`: Float64Array of milliseconds since the Unix epoch, UTC. Arrow's timestamp[ms] is int64;
 *   float64 holds every millisecond up to the year 285616 exactly and avoids BigInt on the hot path.
 * - `date`: Int32Array of days since the Unix epoch (Arrow date32).
 * - `string`: a JS array of strings (the byte size is an estimate, see {@link estimateStringBytes}).
 * - `dictionary`: codes in a Uint8/16/Int32 array into a dictionary shared by all batches of a run.
 */
export type NumericDType =
  | 'int8'
  | 'int16'
  | 'int32'
  | 'uint8'
  | 'uint16'
  | 'uint32'
  | 'float32'
  | 'float64';

export type DType = NumericDType | 'bool' | 'timestamp' | 'date' | 'string' | 'dictionary';

export const DTYPES: readonly DType[] = [
  'bool',
  'int8',
  'int16',
  'int32',
  'uint8',
  'uint16',
  'uint32',
  'float32',
  'float64',
  'timestamp',
  'date',
  'string',
  'dictionary',
];

export type TypedArray =
  | Int8Array
  | Int16Array
  | Int32Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | Float32Array
  | Float64Array;

type TypedArrayConstructor = {
  new (length: number): TypedArray;
  readonly BYTES_PER_ELEMENT: number;
};

export const NUMERIC_ARRAY: Record<NumericDType | 'timestamp' | 'date', TypedArrayConstructor> = {
  int8: Int8Array,
  int16: Int16Array,
  int32: Int32Array,
  uint8: Uint8Array,
  uint16: Uint16Array,
  uint32: Uint32Array,
  float32: Float32Array,
  float64: Float64Array,
  timestamp: Float64Array,
  date: Int32Array,
};

/** Inclusive integer ranges of the integer dtypes. */
export const INTEGER_RANGE: Record<'int8' | 'int16' | 'int32' | 'uint8' | 'uint16' | 'uint32', readonly [number, number]> = {
  uint8: [0, 255],
  int8: [-128, 127],
  uint16: [0, 65535],
  int16: [-32768, 32767],
  uint32: [0, 4294967295],
  int32: [-2147483648, 2147483647],
};

export function isIntegerDType(dtype: DType): dtype is keyof typeof INTEGER_RANGE {
  return dtype in INTEGER_RANGE;
}

/**
 * The smallest integer dtype holding every integer in [min, max]; float64 when none does
 * (float64 holds integers exactly up to 2^53).
 */
export function smallestIntegerDType(min: number, max: number): NumericDType {
  const order = ['uint8', 'int8', 'uint16', 'int16', 'uint32', 'int32'] as const;
  for (const dtype of order) {
    const [lo, hi] = INTEGER_RANGE[dtype];
    if (min >= lo && max <= hi) return dtype;
  }
  return 'float64';
}

/** Bytes one value takes in its column, not counting the validity bitmap. Strings: see estimateStringBytes. */
export function fixedWidth(dtype: DType): number {
  switch (dtype) {
    case 'bool':
      return 1 / 8;
    case 'string':
      return 8;
    case 'dictionary':
      return 4;
    default:
      return NUMERIC_ARRAY[dtype].BYTES_PER_ELEMENT;
  }
}

/**
 * Estimated bytes of a JS string held in a column: V8 keeps a string in a heap object with a
 * 16-byte header (map, hash, length) and one byte per character for Latin-1 content, two otherwise;
 * the column array holds an 8-byte pointer to it. We assume one byte per character: an estimate,
 * documented as such, and cheap enough to compute per value.
 */
export function estimateStringBytes(value: string): number {
  return 24 + value.length;
}

/**
 * Bytes a value takes as a property of a plain JS object per row (the pandas "object" baseline):
 * numbers are boxed heap numbers unless small integers (8-byte slot + 16-byte HeapNumber), booleans
 * and null are a pointer, strings their string bytes, a Date object ~ 64 bytes.
 */
export function jsValueBytes(value: unknown): number {
  if (value === null || value === undefined || typeof value === 'boolean') return 8;
  if (typeof value === 'number') return Number.isInteger(value) && Math.abs(value) < 2 ** 30 ? 8 : 24;
  if (typeof value === 'string') return estimateStringBytes(value);
  if (value instanceof Date) return 8 + 64;
  return 8 + 32;
}

/** Per-row overhead of a JS object with n properties in dictionary mode as produced by parsers (header + property array). */
export function jsObjectOverhead(properties: number): number {
  return 56 + 8 * properties;
}
