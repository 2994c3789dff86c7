/**
 * Encodes a range of rows of one column into a Parquet data page body (version 1: definition levels,
 * then values), straight from the column's typed arrays: no JS value per row, no BigInt per timestamp.
 * - nulls: definition levels of bit width 1 in the RLE/bit-packed hybrid. A validity bitmap already is
 *   that bit-packed run (LSB first), so it is copied as it is; a column without nulls is one RLE run.
 * - values: PLAIN, non-null values only; dictionary columns as RLE_DICTIONARY indices (our codes,
 *   bit-packed), the dictionary page being the run's dictionary.
 * Each page also folds its min, max and null count into the column chunk's statistics.
 */
import type { Column } from '../../batch/column.ts';
import type { Dictionary } from '../../batch/dictionary.ts';
import type { TypedArray } from '../../batch/dtype.ts';
import { Encoding } from './format.ts';
import { ChunkStatistics } from './statistics.ts';

export interface EncodedPage {
  body: Uint8Array;
  /** Rows, null or not (a flat column has one value slot per row). */
  numValues: number;
  encoding: number;
}

const POPCOUNT = new Uint8Array(256).map((_, byte) => {
  let bits = 0;
  for (let b = byte; b !== 0; b >>>= 1) bits += b & 1;
  return bits;
});

/** Rows `start..end` of `column`; `dictionary` is set when the page holds indices into it. */
export function encodePage(column: Column, start: number, end: number, statistics: ChunkStatistics, dictionary: Dictionary | null): EncodedPage {
  const count = end - start;
  const validity = column.validity === null ? null : bitRange(column.validity, start, count);
  const nulls = validity === null ? 0 : count - popcount(validity, count);
  statistics.nulls += nulls;
  const levels = definitionLevels(validity, count, nulls);
  const values = dictionary !== null ? dictionaryIndices(column, start, end, validity, nulls, dictionary, statistics) : plainValues(column, start, end, validity, nulls, statistics);
  const body = new Uint8Array(levels.length + values.length);
  body.set(levels, 0);
  body.set(values, levels.length);
  return { body, numValues: count, encoding: dictionary !== null ? Encoding.RLE_DICTIONARY : Encoding.PLAIN };
}

/** The bits `start..start+count` of a bitmap as a bitmap of their own (a view when byte-aligned). */
function bitRange(bits: Uint8Array, start: number, count: number): Uint8Array {
  const bytes = (count + 7) >>> 3;
  if ((start & 7) === 0) return bits.subarray(start >>> 3, (start >>> 3) + bytes);
  const out = new Uint8Array(bytes);
  for (let i = 0; i < count; i++) {
    const from = start + i;
    if ((bits[from >>> 3] & (1 << (from & 7))) !== 0) out[i >>> 3] |= 1 << (i & 7);
  }
  return out;
}

function popcount(bits: Uint8Array, count: number): number {
  let set = 0;
  const whole = count >>> 3;
  for (let i = 0; i < whole; i++) set += POPCOUNT[bits[i]];
  const rest = count & 7;
  if (rest !== 0) set += POPCOUNT[bits[whole] & ((1 << rest) - 1)];
  return set;
}

/** Definition levels with their 4-byte length prefix (data page v1). */
function definitionLevels(validity: Uint8Array | null, count: number, nulls: number): Uint8Array {
  if (validity === null || nulls === 0) {
    // One RLE run of `count` ones.
    const run = varint(count * 2);
    return withLengthPrefix([run, Uint8Array.of(1)]);
  }
  const groups = (count + 7) >>> 3;
  const bits = validity.subarray(0, groups);
  if ((count & 7) !== 0) {
    // The last group's padding bits belong to rows past the page: clear them for a tidy file.
    const copy = bits.slice();
    copy[groups - 1] &= (1 << (count & 7)) - 1;
    return withLengthPrefix([varint(groups * 2 + 1), copy]);
  }
  return withLengthPrefix([varint(groups * 2 + 1), bits]);
}

function withLengthPrefix(parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(4 + length);
  new DataView(out.buffer).setUint32(0, length, true);
  let at = 4;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

export function varint(value: number): Uint8Array {
  const bytes: number[] = [];
  while (value >= 0x80) {
    bytes.push((value % 0x80) | 0x80);
    value = Math.floor(value / 0x80);
  }
  bytes.push(value);
  return Uint8Array.from(bytes);
}

function isValid(validity: Uint8Array | null, i: number): boolean {
  return validity === null || (validity[i >>> 3] & (1 << (i & 7))) !== 0;
}

function bytesOf(array: TypedArray): Uint8Array {
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}

/** PLAIN values of the non-null rows. */
function plainValues(column: Column, start: number, end: number, validity: Uint8Array | null, nulls: number, statistics: ChunkStatistics): Uint8Array {
  const count = end - start;
  const present = count - nulls;
  switch (column.dtype) {
    case 'bool':
      return plainBooleans(column.data as Uint8Array, start, count, validity, present, statistics);
    case 'string':
      return plainStrings(column.data as string[], start, count, validity, statistics);
    case 'dictionary': {
      // A dictionary column that cannot use the chunk's dictionary page (another dictionary): its values.
      const values = column.dictionary!.values;
      const codes = column.data as TypedArray;
      const strings = new Array<string>(count);
      for (let i = 0; i < count; i++) if (isValid(validity, i)) strings[i] = values[codes[start + i]];
      return plainStrings(strings, 0, count, validity, statistics);
    }
    case 'timestamp':
    case 'uint32':
      return plainInt64(column.data as TypedArray, start, count, validity, present, statistics);
    default: {
      // INT32, FLOAT and DOUBLE: the typed array's own bytes when no value is null and the type matches.
      const data = column.data as TypedArray;
      const Out = column.dtype === 'float32' ? Float32Array : column.dtype === 'float64' ? Float64Array : Int32Array;
      let out: TypedArray;
      if (nulls === 0 && data instanceof Out) out = data.subarray(start, end);
      else {
        out = new Out(present);
        let k = 0;
        for (let i = 0; i < count; i++) if (isValid(validity, i)) out[k++] = data[start + i];
      }
      statistics.numbers(out);
      return bytesOf(out);
    }
  }
}

/**
 * INT64 from float64 milliseconds (timestamps) or uint32: two 32-bit words per value, low word first,
 * computed with float arithmetic (exact below 2^53) instead of a BigInt per value.
 */
function plainInt64(data: TypedArray, start: number, count: number, validity: Uint8Array | null, present: number, statistics: ChunkStatistics): Uint8Array {
  const words = new Int32Array(present * 2);
  let k = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < count; i++) {
    if (!isValid(validity, i)) continue;
    const value = Math.floor(data[start + i]);
    if (value < min) min = value;
    if (value > max) max = value;
    const high = Math.floor(value / 4294967296);
    words[k++] = (value - high * 4294967296) | 0;
    words[k++] = high;
  }
  if (present > 0) statistics.range(min, max);
  return bytesOf(words);
}

function plainBooleans(bits: Uint8Array, start: number, count: number, validity: Uint8Array | null, present: number, statistics: ChunkStatistics): Uint8Array {
  const out = new Uint8Array((present + 7) >>> 3);
  let k = 0;
  let trues = 0;
  for (let i = 0; i < count; i++) {
    if (!isValid(validity, i)) continue;
    const row = start + i;
    if ((bits[row >>> 3] & (1 << (row & 7))) !== 0) {
      out[k >>> 3] |= 1 << (k & 7);
      trues++;
    }
    k++;
  }
  if (present > 0) statistics.range(trues < present ? 0 : 1, trues > 0 ? 1 : 0);
  return out;
}

/** Each value as a 4-byte length and its UTF-8 bytes. */
function plainStrings(strings: string[], start: number, count: number, validity: Uint8Array | null, statistics: ChunkStatistics): Uint8Array {
  let chars = 0;
  for (let i = 0; i < count; i++) if (isValid(validity, i)) chars += strings[start + i].length;
  // UTF-8 takes at most 3 bytes per UTF-16 unit; most text is ASCII, so start at 1 and grow on demand.
  let out = Buffer.allocUnsafe(4 * count + chars + 64);
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (!isValid(validity, i)) continue;
    const value = strings[start + i];
    if (out.length - at < 4 + value.length * 3) {
      const grown = Buffer.allocUnsafe(Math.max(out.length * 2, at + 4 + value.length * 3));
      out.copy(grown, 0, 0, at);
      out = grown;
    }
    const written = out.write(value, at + 4, out.length - at - 4, 'utf8');
    out.writeUInt32LE(written, at);
    at += 4 + written;
    statistics.string(value);
  }
  return out.subarray(0, at);
}

/** Bit width, then the non-null codes as one bit-packed run of the hybrid encoding. */
function dictionaryIndices(column: Column, start: number, end: number, validity: Uint8Array | null, nulls: number, dictionary: Dictionary, statistics: ChunkStatistics): Uint8Array {
  const codes = column.data as TypedArray;
  const count = end - start;
  const present = count - nulls;
  const width = Math.max(1, 32 - Math.clz32(Math.max(0, dictionary.size - 1)));
  const groups = (present + 7) >>> 3;
  const head = varint(groups * 2 + 1);
  const out = new Uint8Array(1 + head.length + groups * width);
  out[0] = width;
  out.set(head, 1);
  let at = 1 + head.length;
  let buffer = 0;
  let bits = 0;
  for (let i = 0; i < count; i++) {
    if (!isValid(validity, i)) continue;
    const code = codes[start + i];
    statistics.code(code);
    // Bits go out least significant first; `buffer` never holds more than 7 + 32 bits, kept exact in a float.
    buffer += code * 2 ** bits;
    bits += width;
    while (bits >= 8) {
      out[at++] = buffer % 256;
      buffer = Math.floor(buffer / 256);
      bits -= 8;
    }
  }
  if (bits > 0) out[at++] = buffer;
  return out;
}
