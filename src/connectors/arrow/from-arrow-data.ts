/**
 * Arrow data as Sluice columns, for `arrow()`. What Arrow lays out as we do is taken as it is, a view
 * on the record batch's body with no copy: int8…uint32, float32, float64, bool, date32 and the
 * validity bitmaps. The rest is converted:
 * - int64/uint64 → float64, refused past 2^53 (float64 would change the value);
 * - float16 → float32; date64 → date (days);
 * - timestamp of any unit and time zone → timestamp (milliseconds since the epoch, UTC; a time zone is
 *   a display hint in Arrow, the value is UTC already; a timestamp without one is taken as UTC);
 * - utf8, large utf8 → string;
 * - dictionary of utf8 → dictionary: each distinct value mapped once to the run's dictionary, the
 *   indices to our codes (past the run's dictionary cap the column reads as plain strings).
 * Refused, naming the column: binary, decimals, time of day, durations, intervals, lists, structs,
 * maps, unions, views.
 */
import { type Data, DataType, type Field, Type, type Vector } from 'apache-arrow';
import { bitmapBytes } from '../../batch/bitmap.ts';
import { Column } from '../../batch/column.ts';
import type { Dictionary } from '../../batch/dictionary.ts';
import type { DType, TypedArray } from '../../batch/dtype.ts';
import { SluiceError } from '../../core/errors.ts';

const TWO_32 = 4294967296;
const MS_PER_DAY = 86_400_000;

export interface Where {
  file: string;
  recordBatch: number;
  column: string;
}

const INTEGERS: Record<string, DType> = { '8true': 'int8', '16true': 'int16', '32true': 'int32', '8false': 'uint8', '16false': 'uint16', '32false': 'uint32' };

/** The dtype an Arrow field reads as, or a SCHEMA_UNSUPPORTED error naming the file and column. */
export function dtypeOfField(file: string, field: Field): DType {
  const type = field.type as DataType;
  if (DataType.isBool(type)) return 'bool';
  if (DataType.isInt(type)) return type.bitWidth === 64 ? 'float64' : INTEGERS[`${type.bitWidth}${type.isSigned}`];
  if (DataType.isFloat(type)) return type.precision === 2 ? 'float64' : 'float32';
  if (DataType.isDate(type)) return 'date';
  if (DataType.isTimestamp(type)) return 'timestamp';
  if (DataType.isUtf8(type) || DataType.isLargeUtf8(type)) return 'string';
  if (DataType.isDictionary(type) && (DataType.isUtf8(type.dictionary) || DataType.isLargeUtf8(type.dictionary))) return 'dictionary';
  throw new SluiceError('SCHEMA_UNSUPPORTED', `${file}: column ${JSON.stringify(field.name)} is Arrow ${String(type)}, which Sluice does not read; leave it out with \`columns\`.`, {
    file,
    column: field.name,
  });
}

/**
 * Maps an Arrow dictionary column's values to the run's dictionary, once per distinct value. A file
 * sends its dictionary once and then deltas (the vector grows, its first chunk the same); a stream may
 * also replace it, and the mapping starts over.
 */
export class DictionaryMapper {
  private first: Data | undefined;
  private codes = new Int32Array(0);
  private mapped = 0;

  readonly dictionary: Dictionary;
  constructor(dictionary: Dictionary) {
    this.dictionary = dictionary;
  }

  /** Our code for each index of `values`; null once the run's dictionary is full. */
  codesFor(values: Vector): Int32Array | null {
    if (values.data[0] !== this.first) {
      this.first = values.data[0];
      this.mapped = 0;
    }
    if (this.mapped < values.length) {
      const codes = new Int32Array(values.length);
      codes.set(this.codes.subarray(0, this.mapped));
      for (let i = this.mapped; i < values.length; i++) {
        const code = this.dictionary.code(String(values.get(i) ?? ''));
        if (code < 0) return null;
        codes[i] = code;
      }
      this.codes = codes;
      this.mapped = values.length;
    }
    return this.codes;
  }
}

/**
 * One column from one record batch's data. `mapper` is the column's for a dictionary column;
 * `overflowed` comes back true when the run's dictionary filled up and the column is plain strings.
 */
export function columnOf(data: Data, dtype: DType, mapper: DictionaryMapper | undefined, where: Where): { column: Column; overflowed: boolean } {
  const length = data.length;
  if (data.offset !== 0) throw new SluiceError('INPUT_READ', `${where.file}: record batch ${where.recordBatch}, column ${JSON.stringify(where.column)}: its data starts at offset ${data.offset}, which IPC data does not.`, where);
  const validity = data.nullCount === 0 ? null : (data.nullBitmap as Uint8Array).subarray(0, bitmapBytes(length));
  const type = data.type as DataType;
  const values = data.values as TypedArray | BigInt64Array | BigUint64Array;
  const make = (out: DType, storage: TypedArray | string[]) => ({ column: new Column(out, length, storage, validity, undefined), overflowed: false });
  switch (type.typeId) {
    case Type.Bool:
      return make('bool', (values as Uint8Array).subarray(0, bitmapBytes(length)));
    case Type.Int:
      if ((type as DataType<Type.Int> & { bitWidth: number }).bitWidth === 64) return make('float64', exactNumbers(values as BigInt64Array, length, (type as unknown as { isSigned: boolean }).isSigned, where));
      return make(dtype, (values as TypedArray).subarray(0, length));
    case Type.Float:
      if ((type as unknown as { precision: number }).precision === 0) return make('float32', halfFloats(values as Uint16Array, length));
      return make(dtype, (values as TypedArray).subarray(0, length));
    case Type.Date:
      if ((type as unknown as { unit: number }).unit === 0) return make('date', (values as Int32Array).subarray(0, length));
      return make('date', scaled(values as BigInt64Array, length, MS_PER_DAY, Int32Array));
    case Type.Timestamp: {
      const unit = (type as unknown as { unit: number }).unit; // SECOND, MILLISECOND, MICROSECOND, NANOSECOND
      return make('timestamp', scaled(values as BigInt64Array, length, [1 / 1000, 1, 1000, 1e6][unit], Float64Array));
    }
    case Type.Utf8:
    case Type.LargeUtf8:
      return make('string', strings(data, length, validity));
    case Type.Dictionary: {
      const codes = mapper!.codesFor(data.dictionary!);
      const indices = values as TypedArray;
      if (codes === null) {
        const dictionary = data.dictionary!;
        const plain = new Array<string>(length);
        for (let i = 0; i < length; i++) plain[i] = isValid(validity, i) ? String(dictionary.get(indices[i])) : '';
        return { column: new Column('string', length, plain, validity), overflowed: true };
      }
      const out = new Int32Array(length);
      for (let i = 0; i < length; i++) out[i] = isValid(validity, i) ? codes[indices[i]] : 0;
      return { column: new Column('dictionary', length, out, validity, mapper!.dictionary), overflowed: false };
    }
    default:
      throw new SluiceError('SCHEMA_UNSUPPORTED', `${where.file}: column ${JSON.stringify(where.column)} is Arrow ${String(type)}, which Sluice does not read.`, where);
  }
}

function isValid(validity: Uint8Array | null, i: number): boolean {
  return validity === null || (validity[i >>> 3] & (1 << (i & 7))) !== 0;
}

/** 64-bit values read as two 32-bit words each (no BigInt per value). */
function words(values: BigInt64Array | BigUint64Array, length: number): Int32Array {
  return new Int32Array(values.buffer, values.byteOffset, 2 * length);
}

function exactNumbers(values: BigInt64Array, length: number, signed: boolean, where: Where): Float64Array {
  const pairs = words(values, length);
  const out = new Float64Array(length);
  for (let i = 0; i < length; i++) {
    const high = signed ? pairs[2 * i + 1] : pairs[2 * i + 1] >>> 0;
    if (high >= 0x200000 || high < -0x200000) {
      throw new SluiceError(
        'SCHEMA_UNSUPPORTED',
        `${where.file}: record batch ${where.recordBatch}, column ${JSON.stringify(where.column)}: a 64-bit integer beyond 2^53, where float64 (Sluice's widest number) would change it.`,
        where,
      );
    }
    out[i] = high * TWO_32 + (pairs[2 * i] >>> 0);
  }
  return out;
}

/**
 * int64 values divided by `unitsPer` (units per millisecond, or per day), floored. Micro- and
 * nanoseconds pass 2^53, where a double is no longer exact: with value = high·2^32 + low and
 * 2^32 = Q·d + R, floor(value / d) = high·Q + floor((high·R + low) / d), every term exact.
 */
function scaled<T extends Float64Array | Int32Array>(values: BigInt64Array, length: number, unitsPer: number, Out: { new (length: number): T }): T {
  const pairs = words(values, length);
  const out = new Out(length);
  const exact = unitsPer === 1000 || unitsPer === 1e6;
  const quotient = Math.floor(TWO_32 / unitsPer);
  const remainder = TWO_32 - quotient * unitsPer;
  for (let i = 0; i < length; i++) {
    const high = pairs[2 * i + 1];
    const low = pairs[2 * i] >>> 0;
    if (exact) out[i] = high * quotient + Math.floor((high * remainder + low) / unitsPer);
    else out[i] = unitsPer === 1 ? high * TWO_32 + low : Math.floor((high * TWO_32 + low) / unitsPer);
  }
  return out;
}

function halfFloats(values: Uint16Array, length: number): Float32Array {
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    const bits = values[i];
    const exponent = (bits >>> 10) & 0x1f;
    const fraction = bits & 0x3ff;
    const magnitude = exponent === 0 ? fraction * 2 ** -24 : exponent === 31 ? (fraction === 0 ? Infinity : NaN) : (1 + fraction / 1024) * 2 ** (exponent - 15);
    out[i] = bits & 0x8000 ? -magnitude : magnitude;
  }
  return out;
}

const utf8Slice = (Buffer.prototype as unknown as { utf8Slice: (this: Uint8Array, start: number, end: number) => string }).utf8Slice;

function strings(data: Data, length: number, validity: Uint8Array | null): string[] {
  const bytes = data.values as Uint8Array;
  const large = (data.type as DataType).typeId === Type.LargeUtf8;
  // Large offsets are int64: their low words, as no record batch holds 2 GB of text.
  const offsets = large ? words(data.valueOffsets as unknown as BigInt64Array, length + 1) : (data.valueOffsets as Int32Array);
  const step = large ? 2 : 1;
  const out = new Array<string>(length);
  for (let i = 0; i < length; i++) out[i] = isValid(validity, i) ? utf8Slice.call(bytes, offsets[i * step], offsets[(i + 1) * step]) : '';
  return out;
}
