/**
 * The parts of the Parquet format the sink writes: physical types, encodings, codecs, and how each
 * Sluice dtype is stored (the physical type, its logical annotation and the legacy converted type that
 * older readers go by).
 */
import type { DType } from '../../batch/dtype.ts';

/** How the summary names the Parquet reader. */
export const PARQUET_ENGINE = 'parquet pages (hyparquet past the fast path)';

export const MAGIC = new Uint8Array([0x50, 0x41, 0x52, 0x31]); // "PAR1"

export const Physical = { BOOLEAN: 0, INT32: 1, INT64: 2, FLOAT: 4, DOUBLE: 5, BYTE_ARRAY: 6 } as const;
export const Encoding = { PLAIN: 0, RLE: 3, RLE_DICTIONARY: 8 } as const;
export const PageType = { DATA_PAGE: 0, DICTIONARY_PAGE: 2 } as const;
export const Codec = { none: 0, snappy: 1, gzip: 2, zstd: 6 } as const;
export type Compression = keyof typeof Codec;

const OPTIONAL = 1;
const CONVERTED = { UTF8: 0, DATE: 6, TIMESTAMP_MILLIS: 9, UINT_8: 11, UINT_16: 12, INT_8: 15, INT_16: 16, INT_32: 17, INT_64: 18 } as const;

/** How a column of one dtype is stored. */
export interface ColumnType {
  physical: number;
  converted?: number;
  /** Writes the LogicalType union's field (the struct is open; the caller closes it). */
  logical?: 'string' | 'date' | 'timestamp' | { bitWidth: number; signed: boolean };
}

/**
 * Integers keep their width through the INT annotation; uint32 is stored as INT64 (signed), which every
 * reader takes, rather than INT32 with an unsigned annotation some readers ignore. Timestamps are
 * INT64 milliseconds, adjusted to UTC, as Sluice holds them.
 */
export function columnType(dtype: DType): ColumnType {
  switch (dtype) {
    case 'bool':
      return { physical: Physical.BOOLEAN };
    case 'int8':
      return { physical: Physical.INT32, converted: CONVERTED.INT_8, logical: { bitWidth: 8, signed: true } };
    case 'int16':
      return { physical: Physical.INT32, converted: CONVERTED.INT_16, logical: { bitWidth: 16, signed: true } };
    case 'int32':
      return { physical: Physical.INT32, converted: CONVERTED.INT_32, logical: { bitWidth: 32, signed: true } };
    case 'uint8':
      return { physical: Physical.INT32, converted: CONVERTED.UINT_8, logical: { bitWidth: 8, signed: false } };
    case 'uint16':
      return { physical: Physical.INT32, converted: CONVERTED.UINT_16, logical: { bitWidth: 16, signed: false } };
    case 'uint32':
      return { physical: Physical.INT64, converted: CONVERTED.INT_64, logical: { bitWidth: 64, signed: true } };
    case 'float32':
      return { physical: Physical.FLOAT };
    case 'float64':
      return { physical: Physical.DOUBLE };
    case 'date':
      return { physical: Physical.INT32, converted: CONVERTED.DATE, logical: 'date' };
    case 'timestamp':
      return { physical: Physical.INT64, converted: CONVERTED.TIMESTAMP_MILLIS, logical: 'timestamp' };
    case 'string':
    case 'dictionary':
      return { physical: Physical.BYTE_ARRAY, converted: CONVERTED.UTF8, logical: 'string' };
  }
}

/** The dtypes a column may take in later batches once the file's column is of `first`'s physical type. */
export function sameStorage(first: DType, later: DType): boolean {
  const a = columnType(first);
  const b = columnType(later);
  if (a.physical !== b.physical) return false;
  // Integers of the INT32 family widen among themselves (the annotation is the widest seen); a date
  // is not an integer column.
  return (first === 'date') === (later === 'date');
}

/** The narrowest of the INT32-family dtypes that holds both, for the footer's annotation. */
export function widerInteger(a: DType, b: DType): DType {
  if (a === b) return a;
  const order: DType[] = ['int8', 'uint8', 'int16', 'uint16', 'int32'];
  const rank = (dtype: DType) => {
    const i = order.indexOf(dtype);
    return i < 0 ? order.length : i;
  };
  // int8 and uint8 meet at int16; int16 and uint16 at int32.
  if ((a === 'int8' && b === 'uint8') || (a === 'uint8' && b === 'int8')) return 'int16';
  if ((a === 'int16' && b === 'uint16') || (a === 'uint16' && b === 'int16')) return 'int32';
  if ((a === 'int8' && b === 'uint16') || (a === 'uint16' && b === 'int8')) return 'int32';
  return rank(a) >= rank(b) ? a : b;
}

export const OPTIONAL_REPETITION = OPTIONAL;
