/**
 * Sluice columns as Arrow data, for `toArrow()`. Our layouts were chosen to be Arrow's, so most
 * columns are handed over as they are, with no copy:
 * - int8…uint32, float32, float64: the typed array is the Arrow data buffer;
 * - bool: our bit-packed bytes are Arrow's boolean buffer; validity bitmaps are Arrow's (LSB first);
 * - date: Int32Array of days is Arrow's date32 (DateDay).
 * Copied, because Arrow's layout differs:
 * - timestamp: our float64 milliseconds become Arrow's int64 timestamp[ms, UTC], written as two
 *   32-bit words per value (no BigInt per value);
 * - string: our JS strings become Arrow utf8 (int32 offsets and the UTF-8 bytes);
 * - dictionary: our codes become int32 indices (a view when they are an Int32Array already) into an
 *   Arrow dictionary of utf8 values, written once and extended by delta dictionary batches as the
 *   run's dictionary grows.
 */
import {
  Bool,
  type Data,
  DateDay,
  Dictionary as ArrowDictionary,
  Field,
  Float32,
  Float64,
  Int8,
  Int16,
  Int32,
  makeData,
  Schema,
  type DataType,
  TimestampMillisecond,
  Uint8,
  Uint16,
  Uint32,
  Utf8,
  Vector,
} from 'apache-arrow';
import type { Column } from '../../batch/column.ts';
import type { Dictionary } from '../../batch/dictionary.ts';
import type { DType, TypedArray } from '../../batch/dtype.ts';

const TWO_32 = 4294967296;

/** The Arrow type each dtype is written as. `id` numbers a dictionary column's dictionary in the file. */
export function arrowTypeOf(dtype: DType, id: number): DataType {
  switch (dtype) {
    case 'bool':
      return new Bool();
    case 'int8':
      return new Int8();
    case 'int16':
      return new Int16();
    case 'int32':
      return new Int32();
    case 'uint8':
      return new Uint8();
    case 'uint16':
      return new Uint16();
    case 'uint32':
      return new Uint32();
    case 'float32':
      return new Float32();
    case 'float64':
      return new Float64();
    case 'timestamp':
      return new TimestampMillisecond('UTC');
    case 'date':
      return new DateDay();
    case 'string':
      return new Utf8();
    case 'dictionary':
      return new ArrowDictionary(new Utf8(), new Int32(), id);
  }
}

/** The file's schema from its first batch's columns: every column nullable, as in our batches. */
export function schemaOf(names: readonly string[], dtypes: readonly DType[]): Schema {
  return new Schema(names.map((name, c) => new Field(name, arrowTypeOf(dtypes[c], c), true)));
}

/**
 * One column of the file: its Arrow type, and for a dictionary column the Arrow dictionary built so far
 * (one utf8 chunk per growth of the run's dictionary, so the writer sends only the new values, as a
 * delta; the first chunk must stay the same object for the writer to see a delta and not a replacement).
 */
export class ArrowColumnWriter {
  private readonly chunks: Data<Utf8>[] = [];
  private covered = 0;
  private vector: Vector<Utf8> | null = null;
  /** The run's dictionary this column codes into: a column must keep one, as the file keeps one. */
  dictionary: Dictionary | undefined;

  readonly name: string;
  readonly dtype: DType;
  readonly type: DataType;
  constructor(
    name: string,
    dtype: DType,
    type: DataType,
  ) {
    this.name = name;
    this.dtype = dtype;
    this.type = type;
  }

  data(column: Column): Data {
    const length = column.length;
    const nullCount = column.nullCount;
    const nullBitmap = nullCount === 0 ? undefined : column.validity!;
    const type = this.type;
    switch (this.dtype) {
      case 'timestamp':
        return makeData({ type: type as TimestampMillisecond, length, nullCount, nullBitmap, data: int64Words(column.data as Float64Array, length) });
      case 'string':
        return makeData({ type: type as Utf8, length, nullCount, nullBitmap, ...utf8Buffers(column, length) });
      case 'dictionary': {
        const codes = column.data as TypedArray;
        const indices = codes instanceof Int32Array ? codes : Int32Array.from(codes);
        return makeData({ type: type as ArrowDictionary<Utf8, Int32>, length, nullCount, nullBitmap, data: indices, dictionary: this.dictionaryVector(column.dictionary!) });
      }
      default:
        // bool, numbers, dates: the column's own buffer.
        return makeData({ type: type as Int32, length, nullCount, nullBitmap, data: column.data as Int32Array });
    }
  }

  private dictionaryVector(dictionary: Dictionary): Vector<Utf8> {
    const values = dictionary.values;
    if (this.vector === null || this.covered < values.length) {
      this.chunks.push(utf8Data(values, this.covered, values.length));
      this.covered = values.length;
      this.vector = new Vector(this.chunks);
    }
    return this.vector;
  }
}

/** Float64 milliseconds as int64 (low word, high word per value, little-endian), viewed as BigInt64Array. */
function int64Words(values: Float64Array, length: number): BigInt64Array {
  const words = new Int32Array(2 * length);
  for (let i = 0; i < length; i++) {
    const value = Math.floor(values[i]);
    const high = Math.floor(value / TWO_32);
    words[2 * i] = value - high * TWO_32;
    words[2 * i + 1] = high;
  }
  return new BigInt64Array(words.buffer);
}

function utf8Buffers(column: Column, length: number): { valueOffsets: Int32Array; data: Uint8Array } {
  const strings = column.data as string[];
  const validity = column.validity;
  const valueOffsets = new Int32Array(length + 1);
  let size = 64;
  for (let i = 0; i < length; i++) size += strings[i]?.length ?? 0;
  let bytes = Buffer.allocUnsafe(size);
  let at = 0;
  for (let i = 0; i < length; i++) {
    const value = strings[i];
    if (value !== undefined && (validity === null || (validity[i >>> 3] & (1 << (i & 7))) !== 0)) {
      // A UTF-8 character takes at most 3 bytes per UTF-16 code unit.
      if (bytes.length - at < 3 * value.length) {
        const grown = Buffer.allocUnsafe(Math.max(2 * bytes.length, at + 3 * value.length));
        bytes.copy(grown, 0, 0, at);
        bytes = grown;
      }
      at += bytes.write(value, at, 'utf8');
    }
    valueOffsets[i + 1] = at;
  }
  return { valueOffsets, data: bytes.subarray(0, at) };
}

/** `values[start..end)` as one Arrow utf8 data. */
function utf8Data(values: readonly string[], start: number, end: number): Data<Utf8> {
  const length = end - start;
  const valueOffsets = new Int32Array(length + 1);
  const encoded = values.slice(start, end).map((value) => Buffer.from(value, 'utf8'));
  let at = 0;
  encoded.forEach((bytes, i) => {
    at += bytes.length;
    valueOffsets[i + 1] = at;
  });
  return makeData({ type: new Utf8(), length, nullCount: 0, valueOffsets, data: Buffer.concat(encoded, at) });
}
