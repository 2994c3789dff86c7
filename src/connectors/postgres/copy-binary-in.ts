/**
 * Encoders for PostgreSQL's binary COPY format (`COPY t FROM STDIN (FORMAT binary)`): a header, then per
 * row a field count and each field as a length and its bytes (-1 for null), then a trailer. Numbers,
 * dates and timestamps go as fixed-width big-endian values straight from the typed arrays, which the
 * server stores without parsing text; strings as their UTF-8 bytes, with no escaping.
 *
 * Binary input must match the column's type exactly (an int4 value in a bigint column is an error), so
 * the sink asks the table for its column types first, and a dtype is written in binary only to the types
 * below that hold every value of it ({@link binaryEncodable}); a load with any other column is written
 * as COPY text, where the server converts and checks (copy-text.ts).
 */
import type { Batch } from '../../batch/batch.ts';
import { getBit } from '../../batch/bitmap.ts';
import type { Column } from '../../batch/column.ts';
import type { Dictionary } from '../../batch/dictionary.ts';
import type { DType, TypedArray } from '../../batch/dtype.ts';
import type { ByteWriter } from '../../codec/byte-writer.ts';
import { PG_OID } from './types.ts';

const NUMBERS: readonly number[] = [PG_OID.int2, PG_OID.int4, PG_OID.int8, PG_OID.float4, PG_OID.float8];
const TEXTS: readonly number[] = [PG_OID.text, PG_OID.varchar, PG_OID.bpchar];

/** The whole numbers each integer type holds (int8: those a double holds exactly). */
const INTEGER_RANGE = new Map<number, readonly [number, number]>([
  [PG_OID.int2, [-32768, 32767]],
  [PG_OID.int4, [-2147483648, 2147483647]],
  [PG_OID.int8, [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER]],
]);

/**
 * Whether a column of `dtype` can be written in binary to a table column of type `oid`. A number of
 * any dtype goes to any number type: a value an integer column cannot hold (a fraction, out of range)
 * fails the load naming its row, as the server does for COPY text; float64 → float4 rounds to the
 * nearest float4.
 */
export function binaryEncodable(dtype: DType, oid: number): boolean {
  switch (dtype) {
    case 'bool':
      return oid === PG_OID.bool;
    case 'date':
      return oid === PG_OID.date;
    case 'timestamp':
      return oid === PG_OID.timestamp || oid === PG_OID.timestamptz;
    case 'string':
    case 'dictionary':
      return TEXTS.includes(oid);
    default:
      return NUMBERS.includes(oid);
  }
}

/** A value the table's column cannot hold: row `row` of the batch. */
export class BinaryValueError extends Error {
  readonly row: number;
  readonly column: string;
  constructor(
    row: number,
    column: string,
    message: string,
  ) {
    super(message);
    this.row = row;
    this.column = column;
  }
}

/** `PGCOPY\n\xff\r\n\0`, flags 0, no header extension. */
const HEADER = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]);

export function writeBinaryHeader(writer: ByteWriter): void {
  writer.writeBytes(HEADER);
}

/** The field count -1 that ends the rows. */
export function writeBinaryTrailer(writer: ByteWriter): void {
  writer.writeBytePair(0xff, 0xff);
}

const EPOCH_DAYS = 10957;
const EPOCH_MS = 946684800000;
const TWO_32 = 4294967296;

/** The UTF-8 bytes of a dictionary's values, one after another: value `code` is `arena[starts[code], starts[code + 1])`. */
interface EncodedValues {
  starts: Int32Array;
  arena: Buffer;
  count: number;
}

const encodedDictionaries = new WeakMap<Dictionary, EncodedValues>();

/**
 * A dictionary's values as UTF-8, each encoded once per run: a dictionary only grows, and its batches
 * share it. Encoded per batch instead, a high-cardinality column (50,000 customers) made a Buffer for
 * most of its rows, in every batch (the largest cost of a PG → PG copy's sink).
 */
function encodedValues(dictionary: Dictionary): EncodedValues {
  let encoded = encodedDictionaries.get(dictionary);
  if (encoded === undefined) {
    encoded = { starts: new Int32Array(257), arena: Buffer.allocUnsafe(4096), count: 0 };
    encodedDictionaries.set(dictionary, encoded);
  }
  const values = dictionary.values;
  if (encoded.count === values.length) return encoded;
  if (encoded.starts.length < values.length + 1) {
    const starts = new Int32Array(Math.max(values.length + 1, encoded.starts.length * 2));
    starts.set(encoded.starts.subarray(0, encoded.count + 1));
    encoded.starts = starts;
  }
  let end = encoded.starts[encoded.count];
  for (let code = encoded.count; code < values.length; code++) {
    const value = values[code];
    if (end + value.length * 3 > encoded.arena.length) {
      const arena = Buffer.allocUnsafe(Math.max(end + value.length * 3, encoded.arena.length * 2));
      encoded.arena.copy(arena, 0, 0, end);
      encoded.arena = arena;
    }
    end += encoded.arena.write(value, end, 'utf8');
    encoded.starts[code + 1] = end;
  }
  encoded.count = values.length;
  return encoded;
}

/** Bytes of a field of each fixed-width dtype written to a table column of type `oid`, its length word included. */
function fixedWidth(dtype: DType, oid: number): number {
  switch (dtype) {
    case 'bool':
      return 5;
    case 'date':
      return 8;
    case 'timestamp':
      return 12;
    default:
      return oid === PG_OID.int2 ? 6 : oid === PG_OID.int4 || oid === PG_OID.float4 ? 8 : 12;
  }
}

/**
 * Checks every value of a column against its table column's type and adds each row's field bytes to
 * `sizes`. A plain string column's UTF-8 lengths go to `lengths` (for the write pass).
 */
function sizeColumn(name: string, column: Column, oid: number, sizes: Int32Array, n: number, lengths: Int32Array | undefined): void {
  const validity = column.validity;
  const data = column.data;
  if (column.dtype === 'string' || column.dtype === 'dictionary') {
    const strings = column.dtype === 'string' ? (data as string[]) : undefined;
    const starts = column.dtype === 'dictionary' ? encodedValues(column.dictionary!).starts : undefined;
    const codes = data as TypedArray;
    for (let i = 0; i < n; i++) {
      if (validity !== null && !getBit(validity, i)) {
        sizes[i] += 4;
        continue;
      }
      let length: number;
      if (strings !== undefined) length = lengths![i] = Buffer.byteLength(strings[i], 'utf8');
      else length = starts![codes[i] + 1] - starts![codes[i]];
      sizes[i] += 4 + length;
    }
    return;
  }
  const width = fixedWidth(column.dtype as DType, oid);
  const range = column.dtype === 'timestamp' || column.dtype === 'date' || column.dtype === 'bool' ? undefined : INTEGER_RANGE.get(oid);
  const values = data as TypedArray;
  for (let i = 0; i < n; i++) {
    if (validity !== null && !getBit(validity, i)) {
      sizes[i] += 4;
      continue;
    }
    sizes[i] += width;
    if (range !== undefined) {
      const value = values[i];
      if (!(Number.isInteger(value) && value >= range[0] && value <= range[1])) {
        throw new BinaryValueError(i, name, `${value} does not fit the column's type (${oid === PG_OID.int2 ? 'smallint' : oid === PG_OID.int4 ? 'integer' : 'bigint, exactly'})`);
      }
    } else if (column.dtype === 'timestamp' && values[i] !== values[i]) throw new BinaryValueError(i, name, 'NaN is not a timestamp: write a null instead');
  }
}

/** An int64 (any safe integer) at `at`. */
function setInt64(view: DataView, at: number, value: number): void {
  const high = Math.floor(value / TWO_32);
  view.setInt32(at, high);
  view.setUint32(at + 4, value - high * TWO_32);
}

// How writeColumn writes a column's values.
const BOOL = 0;
const STRING = 1;
const DICTIONARY = 2;
const DATE = 3;
const TIMESTAMP = 4;
const INT2 = 5;
const INT4 = 6;
const INT8 = 7;
const FLOAT4 = 8;
const FLOAT8 = 9;

function writeKind(dtype: DType, oid: number): number {
  switch (dtype) {
    case 'bool':
      return BOOL;
    case 'string':
      return STRING;
    case 'dictionary':
      return DICTIONARY;
    case 'date':
      return DATE;
    case 'timestamp':
      return TIMESTAMP;
    default:
      return oid === PG_OID.int2 ? INT2 : oid === PG_OID.int4 ? INT4 : oid === PG_OID.float4 ? FLOAT4 : oid === PG_OID.float8 ? FLOAT8 : INT8;
  }
}

/**
 * Writes each row's field of a column at `base + at[i]` and moves `at[i]` past it: one loop per column,
 * whose switch on the column's kind is the same for every row (row by row, one call per field through a
 * closure per column made the call site see every column's closure).
 */
function writeColumn(column: Column, oid: number, buffer: Buffer, view: DataView, base: number, at: Int32Array, n: number, lengths: Int32Array | undefined): void {
  const validity = column.validity;
  const kind = writeKind(column.dtype as DType, oid);
  const values = column.data as TypedArray;
  const strings = column.data as string[];
  const encoded = kind === DICTIONARY ? encodedValues(column.dictionary!) : undefined;
  for (let i = 0; i < n; i++) {
    const p = base + at[i];
    if (validity !== null && !getBit(validity, i)) {
      view.setInt32(p, -1);
      at[i] += 4;
      continue;
    }
    switch (kind) {
      case BOOL:
        view.setInt32(p, 1);
        buffer[p + 4] = getBit(values as Uint8Array, i) ? 1 : 0;
        at[i] += 5;
        break;
      case STRING: {
        const length = lengths![i];
        view.setInt32(p, length);
        buffer.write(strings[i], p + 4, length, 'utf8');
        at[i] += 4 + length;
        break;
      }
      case DICTIONARY: {
        const starts = encoded!.starts;
        const start = starts[values[i]];
        const length = starts[values[i] + 1] - start;
        view.setInt32(p, length);
        // A short value byte by byte: a native copy costs more than the bytes for a few of them.
        const arena = encoded!.arena;
        if (length <= 32) for (let k = 0; k < length; k++) buffer[p + 4 + k] = arena[start + k];
        else buffer.set(arena.subarray(start, start + length), p + 4);
        at[i] += 4 + length;
        break;
      }
      case DATE:
        view.setInt32(p, 4);
        view.setInt32(p + 4, values[i] - EPOCH_DAYS);
        at[i] += 8;
        break;
      case TIMESTAMP: {
        const ms = values[i];
        view.setInt32(p, 8);
        if (ms === Infinity) {
          view.setInt32(p + 4, 0x7fffffff);
          view.setUint32(p + 8, 0xffffffff);
        } else if (ms === -Infinity) {
          view.setInt32(p + 4, -0x80000000);
          view.setUint32(p + 8, 0);
        } else setInt64(view, p + 4, (Math.floor(ms) - EPOCH_MS) * 1000);
        at[i] += 12;
        break;
      }
      case INT2:
        view.setInt32(p, 2);
        view.setInt16(p + 4, values[i]);
        at[i] += 6;
        break;
      case INT4:
        view.setInt32(p, 4);
        view.setInt32(p + 4, values[i]);
        at[i] += 8;
        break;
      case FLOAT4:
        view.setInt32(p, 4);
        view.setFloat32(p + 4, values[i]);
        at[i] += 8;
        break;
      case FLOAT8:
        view.setInt32(p, 8);
        view.setFloat64(p + 4, values[i]);
        at[i] += 12;
        break;
      default:
        view.setInt32(p, 8);
        setInt64(view, p + 4, values[i]);
        at[i] += 12;
    }
  }
}

/**
 * Appends the rows of `batch` (its `columns`, in order, to table columns of types `oids`) as binary COPY:
 * a pass that checks every value and sizes every row, then each column written into its rows' places.
 * @throws BinaryValueError for a value the column cannot hold; nothing of the batch is written then.
 */
export function encodeBinaryRows(batch: Batch, columns: readonly string[], oids: readonly number[], writer: ByteWriter): void {
  const n = batch.length;
  const count = columns.length;
  const at = new Int32Array(n).fill(2);
  const lengths = columns.map((name) => (batch.columns[name].dtype === 'string' ? new Int32Array(n) : undefined));
  columns.forEach((name, c) => sizeColumn(name, batch.columns[name], oids[c], at, n, lengths[c]));
  // Sizes → each row's offset from the batch's first byte.
  let total = 0;
  for (let i = 0; i < n; i++) {
    const size = at[i];
    at[i] = total;
    total += size;
  }
  const buffer = writer.reserve(total) as Buffer;
  const base = writer.length;
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  for (let i = 0; i < n; i++) {
    view.setInt16(base + at[i], count);
    at[i] += 2;
  }
  columns.forEach((name, c) => writeColumn(batch.columns[name], oids[c], buffer, view, base, at, n, lengths[c]));
  writer.advance(total);
}
