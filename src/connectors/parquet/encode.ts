/**
 * Builds one column's data page (version 1: definition levels, then values) as row ranges arrive, in
 * buffers reused from page to page, straight from the column's typed arrays: no JS value per row, no
 * BigInt per timestamp, no allocation per page once the buffers have grown. A page spans batches, so
 * zstd gets a megabyte at a time rather than a batch's worth (fewer calls, better ratios).
 * - nulls: definition levels of bit width 1 in the RLE/bit-packed hybrid. A validity bitmap already is
 *   that bit-packed run (LSB first), so its bits are appended as they are; a page without nulls is
 *   one RLE run and keeps no bits.
 * - values: PLAIN, non-null values only; dictionary columns as RLE_DICTIONARY indices (our codes,
 *   bit-packed at the width the dictionary needs when the page is cut).
 * Each range also folds its min, max and null count into the column chunk's statistics.
 */
import type { Column } from '../../batch/column.ts';
import type { TypedArray } from '../../batch/dtype.ts';
import { Encoding } from './format.ts';
import { GrowableBytes } from './growable-bytes.ts';
import type { ChunkStatistics } from './statistics.ts';

export interface EncodedPage {
  /** Levels and values, in a buffer the builder reuses: compress or copy it before the next `append`. */
  body: Uint8Array;
  /** Rows, null or not (a flat column has one value slot per row). */
  numValues: number;
  encoding: number;
}

export class PageBuilder {
  /** Rows in the page, null or not. */
  rows = 0;
  /** Whether the page holds dictionary codes (else PLAIN values); set by its first range. */
  dictionaryCodes = false;
  private nulls = 0;
  /** Validity bits of the page's rows, kept from the first null on (until then every row is valid). */
  private readonly levels = new GrowableBytes();
  private hasLevels = false;
  /** PLAIN values, or dictionary codes as 4-byte integers. */
  private readonly values = new GrowableBytes();
  /** Booleans written so far (their bits are packed in `values`). */
  private booleans = 0;
  /** Where pages are assembled: one buffer for every column of a file (a page is compressed as soon as it is cut). */
  private readonly body: GrowableBytes;

  constructor(body: GrowableBytes) {
    this.body = body;
  }

  /** Bytes the page will have before compression, about. */
  get bytes(): number {
    return this.levels.length + (this.dictionaryCodes ? this.values.length >>> 2 : this.values.length);
  }

  /** Rows `start..end` of `column`; `codes` says they go in as dictionary codes. */
  append(column: Column, start: number, end: number, statistics: ChunkStatistics, codes: boolean): void {
    if (this.rows === 0) this.dictionaryCodes = codes;
    const count = end - start;
    const validity = column.validity;
    let nulls = 0;
    if (validity !== null) {
      nulls = count - countBits(validity, start, count);
      if (nulls > 0 && !this.hasLevels) {
        // The first null: every row so far was valid.
        this.hasLevels = true;
        this.levels.clear();
        appendOnes(this.levels, 0, this.rows);
      }
    }
    if (this.hasLevels) {
      if (validity === null) appendOnes(this.levels, this.rows, count);
      else appendBits(this.levels, this.rows, validity, start, count);
    }
    this.rows += count;
    this.nulls += nulls;
    statistics.nulls += nulls;
    const rowsValidity = nulls === 0 ? null : validity;
    if (codes) appendCodes(this.values, column, start, end, rowsValidity, count - nulls, statistics);
    else this.booleans = appendPlain(this.values, column, start, end, rowsValidity, count - nulls, statistics, this.booleans);
  }

  /**
   * The page so far, which the builder then forgets; `dictionarySize` sets the codes' bit width. The
   * body is in the shared buffer: compress or copy it before any column cuts its next page.
   */
  cut(dictionarySize: number): EncodedPage {
    const body = this.body;
    body.clear();
    body.uint32(0); // the levels' length, filled in below
    if (!this.hasLevels || this.nulls === 0) {
      // One RLE run of `rows` ones.
      body.varint(this.rows * 2);
      body.byte(1);
    } else {
      const groups = (this.rows + 7) >>> 3;
      body.varint(groups * 2 + 1);
      body.append(this.levels.bytes.subarray(0, groups));
    }
    body.bytes.writeUInt32LE(body.length - 4, 0);
    if (this.dictionaryCodes) packCodes(body, this.values.int32View(), dictionarySize);
    else body.append(this.values.view());
    const page = { body: body.view(), numValues: this.rows, encoding: this.dictionaryCodes ? Encoding.RLE_DICTIONARY : Encoding.PLAIN };
    this.rows = 0;
    this.nulls = 0;
    this.hasLevels = false;
    this.levels.clear();
    this.values.clear();
    this.booleans = 0;
    return page;
  }
}

/** The set bits among `count` bits of `bits` from bit `start`. */
function countBits(bits: Uint8Array, start: number, count: number): number {
  let set = 0;
  let i = start;
  const end = start + count;
  while (i < end && (i & 7) !== 0) {
    set += (bits[i >>> 3] >>> (i & 7)) & 1;
    i++;
  }
  while (i + 8 <= end) {
    set += POPCOUNT[bits[i >>> 3]];
    i += 8;
  }
  while (i < end) {
    set += (bits[i >>> 3] >>> (i & 7)) & 1;
    i++;
  }
  return set;
}

const POPCOUNT = new Uint8Array(256).map((_, byte) => {
  let bits = 0;
  for (let b = byte; b !== 0; b >>>= 1) bits += b & 1;
  return bits;
});

/** Makes room for bits up to `endBit` in a bitmap buffer whose `length` is its whole bytes so far. */
function growBits(target: GrowableBytes, endBit: number): void {
  const bytes = (endBit + 7) >>> 3;
  if (bytes > target.length) {
    target.zeroAhead(bytes - target.length);
    target.length = bytes;
  }
}

function appendOnes(target: GrowableBytes, at: number, count: number): void {
  growBits(target, at + count);
  const bits = target.bytes;
  let i = at;
  const end = at + count;
  while (i < end && (i & 7) !== 0) bits[i >>> 3] |= 1 << (i++ & 7);
  if (i + 8 <= end) {
    const whole = (end - i) >>> 3;
    bits.fill(0xff, i >>> 3, (i >>> 3) + whole);
    i += whole * 8;
  }
  while (i < end) bits[i >>> 3] |= 1 << (i++ & 7);
}

/** Appends `count` bits of `source` from bit `from` at bit `at`, eight at a time. */
function appendBits(target: GrowableBytes, at: number, source: Uint8Array, from: number, count: number): void {
  growBits(target, at + count);
  const bits = target.bytes;
  if (((at | from) & 7) === 0) {
    const whole = count >>> 3;
    bits.set(source.subarray(from >>> 3, (from >>> 3) + whole), at >>> 3);
    const rest = count & 7;
    if (rest !== 0) bits[(at >>> 3) + whole] = source[(from >>> 3) + whole] & ((1 << rest) - 1);
    return;
  }
  for (let i = 0; i < count; i += 8) {
    const take = Math.min(8, count - i);
    const s = from + i;
    // Source bytes past the bitmap's end read as undefined, which `|` takes as 0.
    const byte = ((source[s >>> 3] | (source[(s >>> 3) + 1] << 8)) >>> (s & 7)) & ((1 << take) - 1);
    const d = at + i;
    const shift = d & 7;
    bits[d >>> 3] |= byte << shift;
    if (shift + take > 8) bits[(d >>> 3) + 1] |= byte >>> (8 - shift);
  }
}

function isValid(validity: Uint8Array | null, i: number): boolean {
  return validity === null || (validity[i >>> 3] & (1 << (i & 7))) !== 0;
}

/** PLAIN values of the non-null rows; returns the page's boolean count (for bool columns). */
function appendPlain(values: GrowableBytes, column: Column, start: number, end: number, validity: Uint8Array | null, present: number, statistics: ChunkStatistics, booleans: number): number {
  switch (column.dtype) {
    case 'bool':
      return appendBooleans(values, column.data as Uint8Array, start, end, validity, present, statistics, booleans);
    case 'string':
      appendStrings(values, column.data as string[], start, end, validity, statistics);
      return booleans;
    case 'dictionary': {
      // A dictionary column that cannot use the chunk's dictionary page (another dictionary): its values.
      const dictionary = column.dictionary!.values;
      const codes = column.data as TypedArray;
      const strings = new Array<string>(end - start);
      for (let i = start; i < end; i++) if (isValid(validity, i)) strings[i - start] = dictionary[codes[i]];
      appendStrings(values, strings, 0, end - start, validity === null ? null : shifted(validity, start, end - start), statistics);
      return booleans;
    }
    case 'timestamp':
      appendInt64(values, column.data as Float64Array, start, end, validity, present, statistics, true);
      return booleans;
    case 'uint32':
      appendInt64(values, column.data as Uint32Array, start, end, validity, present, statistics, false);
      return booleans;
    default: {
      // INT32 (every narrower integer and date), FLOAT and DOUBLE: `set` converts natively when no value is null.
      const data = column.data as TypedArray;
      const out = column.dtype === 'float32' ? values.float32(present) : column.dtype === 'float64' ? values.float64(present) : values.int32(present);
      if (validity === null) out.set(data.subarray(start, end));
      else {
        let k = 0;
        for (let i = start; i < end; i++) if ((validity[i >>> 3] & (1 << (i & 7))) !== 0) out[k++] = data[i];
      }
      statistics.numbers(out);
      return booleans;
    }
  }
}

/** The bits `start..start+count` of a bitmap as a bitmap of their own. */
function shifted(bits: Uint8Array, start: number, count: number): Uint8Array {
  const out = new Uint8Array((count + 7) >>> 3);
  for (let i = 0; i < count; i++) if ((bits[(start + i) >>> 3] & (1 << ((start + i) & 7))) !== 0) out[i >>> 3] |= 1 << (i & 7);
  return out;
}

/**
 * INT64 from float64 milliseconds (timestamps, floored) or uint32: two 32-bit words per value, low word
 * first, computed with float arithmetic (exact below 2^53) instead of a BigInt per value.
 */
function appendInt64(values: GrowableBytes, data: Float64Array | Uint32Array, start: number, end: number, validity: Uint8Array | null, present: number, statistics: ChunkStatistics, floor: boolean): void {
  const words = values.int32(present * 2);
  let k = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = start; i < end; i++) {
    if (validity !== null && (validity[i >>> 3] & (1 << (i & 7))) === 0) continue;
    const value = floor ? Math.floor(data[i]) : data[i];
    if (value < min) min = value;
    if (value > max) max = value;
    const high = Math.floor(value / 4294967296);
    words[k++] = (value - high * 4294967296) | 0;
    words[k++] = high;
  }
  if (present > 0) statistics.range(min, max);
}

function appendBooleans(values: GrowableBytes, bits: Uint8Array, start: number, end: number, validity: Uint8Array | null, present: number, statistics: ChunkStatistics, booleans: number): number {
  growBits(values, booleans + present);
  const out = values.bytes;
  let k = booleans;
  let trues = 0;
  for (let row = start; row < end; row++) {
    if (!isValid(validity, row)) continue;
    if ((bits[row >>> 3] & (1 << (row & 7))) !== 0) {
      out[k >>> 3] |= 1 << (k & 7);
      trues++;
    }
    k++;
  }
  if (present > 0) statistics.range(trues < present ? 0 : 1, trues > 0 ? 1 : 0);
  return k;
}

/** Each value as a 4-byte length and its UTF-8 bytes, written in place. */
function appendStrings(values: GrowableBytes, strings: string[], start: number, end: number, validity: Uint8Array | null, statistics: ChunkStatistics): void {
  let chars = 0;
  for (let i = start; i < end; i++) if (isValid(validity, i)) chars += strings[i].length;
  // UTF-8 takes at most 3 bytes per UTF-16 unit; most text is ASCII, so reserve 1 and grow on demand.
  values.reserve(4 * (end - start) + chars);
  let out = values.bytes;
  let at = values.length;
  let min = statistics.minString;
  let max = statistics.maxString;
  for (let i = start; i < end; i++) {
    if (!isValid(validity, i)) continue;
    const value = strings[i];
    if (out.length - at < 4 + value.length * 3) {
      values.length = at;
      values.reserve(4 + value.length * 3);
      out = values.bytes;
    }
    const written = out.write(value, at + 4, 'utf8');
    out.writeUInt32LE(written, at);
    at += 4 + written;
    // A string of ASCII only (as many bytes as units) compares the same in UTF-16 and code point
    // order, so JS's own comparison is exact for it; other strings go through the slower one.
    if (written === value.length) {
      if (min === undefined || value < min) min = value;
      if (max === undefined || value > max) max = value;
    } else {
      statistics.minString = min;
      statistics.maxString = max;
      statistics.string(value);
      min = statistics.minString;
      max = statistics.maxString;
    }
  }
  values.length = at;
  statistics.minString = min;
  statistics.maxString = max;
}

/** The non-null codes, 4 bytes each, for `packCodes` at the page's cut; the codes used go to the statistics. */
function appendCodes(values: GrowableBytes, column: Column, start: number, end: number, validity: Uint8Array | null, present: number, statistics: ChunkStatistics): void {
  const codes = column.data as TypedArray;
  const out = values.int32(present);
  const used = statistics.usedCodesFor(column.dictionary!.size);
  if (validity === null) {
    out.set(codes.subarray(start, end));
    for (let i = 0; i < present; i++) used[out[i]] = 1;
    return;
  }
  let k = 0;
  for (let i = start; i < end; i++) {
    if ((validity[i >>> 3] & (1 << (i & 7))) === 0) continue;
    const code = codes[i];
    used[code] = 1;
    out[k++] = code;
  }
}

/** Bit width, then the codes as one bit-packed run of the hybrid encoding (groups of 8, zero-padded). */
function packCodes(body: GrowableBytes, codes: Int32Array, dictionarySize: number): void {
  const width = Math.max(1, 32 - Math.clz32(Math.max(0, dictionarySize - 1)));
  const groups = (codes.length + 7) >>> 3;
  body.byte(width);
  body.varint(groups * 2 + 1);
  const bytes = groups * width;
  body.zeroAhead(bytes);
  const out = body.bytes;
  let at = body.length;
  let buffer = 0;
  let bits = 0;
  if (width <= 24) {
    // Fewer than 8 bits wait in `buffer`, so a code of up to 24 bits fits beside them in 32.
    for (let i = 0; i < codes.length; i++) {
      buffer |= codes[i] << bits;
      bits += width;
      while (bits >= 8) {
        out[at++] = buffer;
        buffer >>>= 8;
        bits -= 8;
      }
    }
  } else {
    // Wider codes: the buffer is kept exact in a float (at most 7 + 32 bits).
    for (let i = 0; i < codes.length; i++) {
      buffer += codes[i] * 2 ** bits;
      bits += width;
      while (bits >= 8) {
        out[at++] = buffer % 256;
        buffer = Math.floor(buffer / 256);
        bits -= 8;
      }
    }
  }
  if (bits > 0) out[at] = buffer;
  body.length += bytes;
}
