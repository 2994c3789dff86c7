/**
 * How a Parquet column reads into Sluice: the dtype for its physical and logical type, and the
 * conversion of hyparquet's decoded values into a typed column.
 *
 * Read as documented: DECIMAL → float64; INT64 → float64, refused past 2^53 (float64 would change the
 * value); INT96 and TIMESTAMP(MICROS/NANOS) → timestamp in milliseconds; JSON, UUID and BYTE_ARRAY
 * without annotation → string; nested columns (lists, maps, structs) → their value as JSON text.
 * Refused, naming the column: TIME, INTERVAL, BSON, fixed-length binary without annotation.
 */
import { bitmapBytes, setBit } from '../../batch/bitmap.ts';
import { Column } from '../../batch/column.ts';
import { Dictionary } from '../../batch/dictionary.ts';
import { type DType, DTYPES, NUMERIC_ARRAY, type NumericDType } from '../../batch/dtype.ts';
import { SluiceError } from '../../core/errors.ts';

/** What hyparquet tells of a top-level column (its SchemaElement, and whether it has children). */
export interface ParquetField {
  name: string;
  type?: string;
  repetition_type?: string;
  converted_type?: string;
  logical_type?: { type: string; bitWidth?: number; isSigned?: boolean };
  num_children?: number;
}

const MAX_EXACT = 2 ** 53;

/** hyparquet parsers that keep numbers (no Date per value) and JSON as its text. */
const text = new TextDecoder();
export const PARSERS = {
  timestampFromMilliseconds: (value: bigint) => Number(value),
  timestampFromMicroseconds: (value: bigint) => Math.floor(Number(value) / 1000),
  timestampFromNanoseconds: (value: bigint) => Math.floor(Number(value) / 1e6),
  dateFromDays: (days: number) => days,
  jsonFromBytes: (bytes: Uint8Array) => bytes && text.decode(bytes),
};

/**
 * The dtype a column reads as. `stored` is the dtype Sluice wrote it from (its footer says), taken
 * when it agrees with the Parquet type; `dictionaryPages` whether its first chunk is dictionary-encoded.
 */
export function dtypeFor(file: string, field: ParquetField, stored: string | undefined, dictionaryPages: boolean): DType {
  const natural = naturalDType(file, field);
  if (stored !== undefined && (DTYPES as readonly string[]).includes(stored)) {
    const agrees = stored === natural || (natural === 'string' && stored === 'dictionary') || (natural === 'float64' && stored === 'uint32');
    if (agrees) return stored as DType;
  }
  return natural === 'string' && dictionaryPages && !isNested(field) ? 'dictionary' : natural;
}

export function isNested(field: ParquetField): boolean {
  return (field.num_children ?? 0) > 0 || field.repetition_type === 'REPEATED' || field.type === undefined;
}

function naturalDType(file: string, field: ParquetField): DType {
  if (isNested(field)) return 'string';
  const logical = field.logical_type?.type;
  const converted = field.converted_type;
  const refuse = (what: string) => {
    throw new SluiceError('SCHEMA_UNSUPPORTED', `${file}: column ${JSON.stringify(field.name)} is ${what}, which Sluice does not read; leave it out with \`columns\`.`, {
      file,
      column: field.name,
    });
  };
  if (logical === 'TIME' || converted === 'TIME_MILLIS' || converted === 'TIME_MICROS') refuse('a TIME of day');
  if (converted === 'INTERVAL') refuse('an INTERVAL');
  if (converted === 'BSON') refuse('BSON');
  if (logical === 'DECIMAL' || converted === 'DECIMAL') return 'float64';
  switch (field.type) {
    case 'BOOLEAN':
      return 'bool';
    case 'INT32': {
      if (logical === 'DATE' || converted === 'DATE') return 'date';
      const width = field.logical_type?.bitWidth ?? widthOf(converted);
      const signed = field.logical_type?.isSigned ?? !converted?.startsWith('UINT');
      if (width === 8) return signed ? 'int8' : 'uint8';
      if (width === 16) return signed ? 'int16' : 'uint16';
      return signed ? 'int32' : 'uint32';
    }
    case 'INT64':
      return logical === 'TIMESTAMP' || converted?.startsWith('TIMESTAMP') ? 'timestamp' : 'float64';
    case 'INT96':
      return 'timestamp';
    case 'FLOAT':
      return 'float32';
    case 'DOUBLE':
      return 'float64';
    case 'BYTE_ARRAY':
      return 'string';
    case 'FIXED_LEN_BYTE_ARRAY':
      if (logical === 'UUID') return 'string';
      if (logical === 'FLOAT16') return 'float32';
      return refuse('fixed-length binary');
    default:
      return refuse(`of Parquet type ${field.type}`);
  }
}

function widthOf(converted: string | undefined): number {
  const match = /^U?INT_(\d+)$/.exec(converted ?? '');
  return match === null ? 32 : Number(match[1]);
}

/**
 * A typed column of `dtype` from hyparquet's values (numbers, bigints, booleans, strings, nested
 * values; null or undefined for nulls). Dictionary columns code into the run's `dictionary`; past its
 * cap the column is returned as plain strings and `overflowed` says so.
 */
export function toColumn(
  values: ArrayLike<unknown>,
  dtype: DType,
  dictionary: Dictionary | undefined,
  where: { file: string; rowGroup: number; column: string },
): { column: Column; overflowed: boolean } {
  const length = values.length;
  let validity: Uint8Array | null = null;
  const markNull = (i: number) => {
    validity ??= new Uint8Array(bitmapBytes(length)).fill(0xff);
    validity[i >>> 3] &= ~(1 << (i & 7));
  };
  if (dtype === 'bool') {
    const bits = new Uint8Array(bitmapBytes(length));
    for (let i = 0; i < length; i++) {
      const value = values[i];
      if (value === null || value === undefined) markNull(i);
      else if (value) setBit(bits, i);
    }
    return { column: new Column('bool', length, bits, validity), overflowed: false };
  }
  if (dtype === 'string' || dtype === 'dictionary') {
    const strings = new Array<string>(length);
    for (let i = 0; i < length; i++) {
      const value = values[i];
      if (value === null || value === undefined) markNull(i);
      else strings[i] = typeof value === 'string' ? value : asText(value);
    }
    if (dtype === 'string' || dictionary === undefined) return { column: new Column('string', length, strings, validity), overflowed: false };
    const codes = new Int32Array(length);
    for (let i = 0; i < length; i++) {
      if (strings[i] === undefined) continue;
      const code = dictionary.code(strings[i]);
      if (code < 0) return { column: new Column('string', length, strings, validity), overflowed: true };
      codes[i] = code;
    }
    return { column: new Column('dictionary', length, codes, validity, dictionary), overflowed: false };
  }
  const typed = new NUMERIC_ARRAY[dtype as NumericDType | 'timestamp' | 'date'](length);
  if (ArrayBuffer.isView(values) && !(values instanceof BigInt64Array) && !(values instanceof BigUint64Array)) {
    typed.set(values as unknown as ArrayLike<number>);
    return { column: new Column(dtype, length, typed, null), overflowed: false };
  }
  for (let i = 0; i < length; i++) {
    const value = values[i];
    if (value === null || value === undefined) {
      markNull(i);
      continue;
    }
    const number = typeof value === 'bigint' ? Number(value) : (value as number);
    if (typeof value === 'bigint' && (number > MAX_EXACT || number < -MAX_EXACT)) {
      throw new SluiceError(
        'SCHEMA_UNSUPPORTED',
        `${where.file}: row group ${where.rowGroup}, column ${JSON.stringify(where.column)}: the 64-bit integer ${value} is beyond 2^53, where float64 (Sluice's widest number) would change it.`,
        { file: where.file, rowGroup: where.rowGroup, column: where.column, value: String(value) },
      );
    }
    typed[i] = number;
  }
  return { column: new Column(dtype, length, typed, validity), overflowed: false };
}

/** Nested values (lists, structs, maps) as JSON; 64-bit integers as numbers when exact, else as text. */
function asText(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  return JSON.stringify(value, (_, inner) => (typeof inner === 'bigint' ? (inner <= MAX_EXACT && inner >= -MAX_EXACT ? Number(inner) : String(inner)) : inner));
}
