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

function putInt32(buffer: Uint8Array, at: number, value: number): void {
  buffer[at] = value >>> 24;
  buffer[at + 1] = value >>> 16;
  buffer[at + 2] = value >>> 8;
  buffer[at + 3] = value;
}

/** An int64 (any safe integer) at `at`. */
function putInt64(buffer: Uint8Array, at: number, value: number): void {
  const high = Math.floor(value / TWO_32);
  putInt32(buffer, at, high);
  putInt32(buffer, at + 4, value - high * TWO_32);
}

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

/**
 * Writes row `i` of a column in binary for a table column of type `oid`; chosen once per column per
 * batch, so the row loop does no dispatch. Each fixed-width field reserves its length word and value in
 * one go (`reserve`, fill, `advance`).
 */
function binaryColumnEncoder(name: string, column: Column, oid: number, writer: ByteWriter): (i: number) => void {
  const data = column.data;
  let encode: (i: number) => void;
  switch (column.dtype) {
    case 'bool':
      encode = (i) => {
        const buffer = writer.reserve(5);
        const at = writer.length;
        putInt32(buffer, at, 1);
        buffer[at + 4] = getBit(data as Uint8Array, i) ? 1 : 0;
        writer.advance(5);
      };
      break;
    case 'string': {
      const strings = data as string[];
      encode = (i) => {
        writer.ensure(4);
        const at = writer.length;
        writer.advance(4);
        writer.writeUtf8(strings[i]);
        // The length is known once the UTF-8 is written; the buffer may have grown meanwhile.
        putInt32(writer.reserve(0), at, writer.length - at - 4);
      };
      break;
    }
    case 'dictionary': {
      const encoded = encodedValues(column.dictionary!);
      const codes = data as TypedArray;
      encode = (i) => {
        const code = codes[i];
        const starts = encoded.starts;
        const start = starts[code];
        const length = starts[code + 1] - start;
        const buffer = writer.reserve(4 + length);
        let at = writer.length;
        putInt32(buffer, at, length);
        at += 4;
        // A short value byte by byte: a native copy costs more than the bytes for a few of them.
        const arena = encoded.arena;
        if (length <= 32) for (let k = 0; k < length; k++) buffer[at + k] = arena[start + k];
        else buffer.set(arena.subarray(start, start + length), at);
        writer.advance(4 + length);
      };
      break;
    }
    case 'date': {
      const days = data as Int32Array;
      encode = (i) => {
        const buffer = writer.reserve(8);
        const at = writer.length;
        putInt32(buffer, at, 4);
        putInt32(buffer, at + 4, days[i] - EPOCH_DAYS);
        writer.advance(8);
      };
      break;
    }
    case 'timestamp': {
      const times = data as Float64Array;
      encode = (i) => {
        const ms = times[i];
        if (ms !== ms) throw new BinaryValueError(i, name, 'NaN is not a timestamp: write a null instead');
        const buffer = writer.reserve(12);
        const at = writer.length;
        putInt32(buffer, at, 8);
        if (ms === Infinity) {
          putInt32(buffer, at + 4, 0x7fffffff);
          putInt32(buffer, at + 8, 0xffffffff);
        } else if (ms === -Infinity) {
          putInt32(buffer, at + 4, -0x80000000);
          putInt32(buffer, at + 8, 0);
        } else putInt64(buffer, at + 4, (Math.floor(ms) - EPOCH_MS) * 1000);
        writer.advance(12);
      };
      break;
    }
    default: {
      const values = data as TypedArray;
      const range = INTEGER_RANGE.get(oid);
      const width = oid === PG_OID.int2 ? 2 : oid === PG_OID.int4 || oid === PG_OID.float4 ? 4 : 8;
      // Floats through one scratch word in big-endian order (DataView), then its bytes.
      const scratch = new DataView(new ArrayBuffer(8));
      const put: (buffer: Uint8Array, at: number, value: number) => void =
        oid === PG_OID.float8
          ? (buffer, at, value) => {
              scratch.setFloat64(0, value);
              for (let b = 0; b < 8; b++) buffer[at + b] = scratch.getUint8(b);
            }
          : oid === PG_OID.float4
            ? (buffer, at, value) => {
                scratch.setFloat32(0, value);
                for (let b = 0; b < 4; b++) buffer[at + b] = scratch.getUint8(b);
              }
            : oid === PG_OID.int2
              ? (buffer, at, value) => {
                  buffer[at] = value >> 8;
                  buffer[at + 1] = value;
                }
              : oid === PG_OID.int4
                ? putInt32
                : putInt64;
      encode = (i) => {
        const value = values[i];
        if (range !== undefined && !(Number.isInteger(value) && value >= range[0] && value <= range[1])) {
          throw new BinaryValueError(i, name, `${value} does not fit the column's type (${oid === PG_OID.int2 ? 'smallint' : oid === PG_OID.int4 ? 'integer' : 'bigint, exactly'})`);
        }
        const buffer = writer.reserve(4 + width);
        const at = writer.length;
        putInt32(buffer, at, width);
        put(buffer, at + 4, value);
        writer.advance(4 + width);
      };
    }
  }
  const validity = column.validity;
  if (validity === null) return encode;
  return (i) => {
    if (getBit(validity, i)) encode(i);
    else {
      putInt32(writer.reserve(4), writer.length, -1);
      writer.advance(4);
    }
  };
}

/**
 * Appends the rows of `batch` (its `columns`, in order, to table columns of types `oids`) as binary COPY.
 * @throws BinaryValueError for a value the column cannot hold; the rows before it are written.
 */
export function encodeBinaryRows(batch: Batch, columns: readonly string[], oids: readonly number[], writer: ByteWriter): void {
  const encoders = columns.map((name, c) => binaryColumnEncoder(name, batch.columns[name], oids[c], writer));
  const count = encoders.length;
  for (let i = 0; i < batch.length; i++) {
    writer.writeBytePair(count >> 8, count & 0xff);
    for (let c = 0; c < count; c++) encoders[c](i);
  }
}
