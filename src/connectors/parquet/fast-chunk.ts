/**
 * The fast path of the Parquet source: one flat column chunk decoded straight into a typed column,
 * with no JS value per row for numbers (PLAIN pages are copied as typed arrays, INT64 read as two
 * 32-bit words) and no string per row for dictionary columns (the dictionary page is mapped to the
 * run's dictionary once, the indices become our codes). hyparquet's per-value decoding ran at a
 * twentieth of DuckDB's speed on the orders bench; this is what makes reading worth it.
 *
 * It covers what DuckDB, pyarrow and Sluice write for flat columns: data pages v1 and v2, PLAIN and
 * dictionary encodings, every codec hyparquet reads. Anything else (delta or byte-stream-split
 * encodings, decimals, INT96, nested columns) is {@link Unsupported}, and the caller reads the chunk
 * through hyparquet instead.
 */
import { isAscii } from 'node:buffer';
import type { ColumnChunk, CompressionCodec } from 'hyparquet';
import { parquetHeader } from 'hyparquet/src/column.js';
import { decompressPage } from 'hyparquet/src/datapage.js';
import { readRleBitPackedHybrid } from 'hyparquet/src/encoding.js';
import { bitmapBytes } from '../../batch/bitmap.ts';
import { Column } from '../../batch/column.ts';
import type { Dictionary } from '../../batch/dictionary.ts';
import { type DType, NUMERIC_ARRAY, type NumericDType, type TypedArray } from '../../batch/dtype.ts';
import { SluiceError } from '../../core/errors.ts';
import { decompressors } from './compress.ts';
import type { ParquetField } from './read-types.ts';

/** The chunk needs hyparquet's general reader. */
export class Unsupported extends Error {}

const PHYSICAL = new Set(['BOOLEAN', 'INT32', 'INT64', 'FLOAT', 'DOUBLE', 'BYTE_ARRAY']);
const TWO_32 = 4294967296;

/** Whether the fast path can read this field as `dtype` (checked before reading any byte). */
export function fastPathFits(field: ParquetField, dtype: DType): boolean {
  if ((field.num_children ?? 0) > 0 || field.repetition_type === 'REPEATED' || field.type === undefined || !PHYSICAL.has(field.type)) return false;
  const logical = field.logical_type?.type;
  if (logical === 'DECIMAL' || field.converted_type === 'DECIMAL' || logical === 'JSON' || logical === 'BSON') return false;
  if (field.type === 'BYTE_ARRAY') return dtype === 'string' || dtype === 'dictionary';
  if (dtype === 'timestamp') return field.type === 'INT64' && timestampScale(field) !== undefined;
  return dtype !== 'string' && dtype !== 'dictionary';
}

/** Units per millisecond of an INT64 timestamp; nanoseconds (beyond 2^53) are left to hyparquet's BigInts. */
function timestampScale(field: ParquetField): number | undefined {
  const unit = (field.logical_type as { unit?: string } | undefined)?.unit ?? (field.converted_type === 'TIMESTAMP_MICROS' ? 'MICROS' : field.converted_type === 'TIMESTAMP_MILLIS' ? 'MILLIS' : undefined);
  return unit === 'MILLIS' ? 1 : unit === 'MICROS' ? 1000 : undefined;
}

interface Where {
  file: string;
  rowGroup: number;
  column: string;
}

/**
 * Decodes the chunk's `rows` rows. `dictionary` is the run's dictionary for a dictionary column;
 * `overflowed` comes back true when it filled up and the column was returned as plain strings.
 */
export async function readFastChunk(
  read: (start: number, end: number) => Promise<ArrayBuffer>,
  chunk: ColumnChunk,
  field: ParquetField,
  dtype: DType,
  rows: number,
  dictionary: Dictionary | undefined,
  where: Where,
): Promise<{ column: Column; overflowed: boolean }> {
  const meta = chunk.meta_data;
  if (meta === undefined) throw new Unsupported('no column metadata');
  const dataOffset = Number(meta.data_page_offset);
  const dictionaryOffset = meta.dictionary_page_offset === undefined ? undefined : Number(meta.dictionary_page_offset);
  // Some writers set dictionary_page_offset to 0 (or past the data) when there is none.
  const start = dictionaryOffset !== undefined && dictionaryOffset > 0 && dictionaryOffset < dataOffset ? dictionaryOffset : dataOffset;
  const bytes = new Uint8Array(await read(start, start + Number(meta.total_compressed_size)));
  const reader = { view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: 0 };
  const optional = field.repetition_type !== 'REQUIRED';
  const out = new Output(dtype, rows);
  const scale = dtype === 'timestamp' ? timestampScale(field)! : 1;
  let dictionaryValues: string[] | TypedArray | null = null;
  let codes: Int32Array | null = null; // dictionary page index → run dictionary code
  let overflowed = false;
  while (out.filled < rows && reader.offset < bytes.length) {
    const header = parquetHeader(reader);
    const pageStart = reader.offset;
    const pageBytes = bytes.subarray(pageStart, pageStart + header.compressed_page_size);
    reader.offset = pageStart + header.compressed_page_size;
    if (header.type === 'DICTIONARY_PAGE') {
      const page = decompressPage(pageBytes, header.uncompressed_page_size, meta.codec as CompressionCodec, decompressors);
      const count = header.dictionary_page_header!.num_values;
      dictionaryValues = field.type === 'BYTE_ARRAY' ? plainStrings(page, 0, count) : plainNumbers(page, 0, count, field.type!, dtype, scale, where);
      codes = null;
      if (dtype === 'dictionary' && dictionary !== undefined) {
        codes = new Int32Array(count);
        for (let i = 0; i < count; i++) {
          const code = dictionary.code((dictionaryValues as string[])[i]);
          if (code < 0) {
            overflowed = true;
            break;
          }
          codes[i] = code;
        }
        if (overflowed) codes = null;
      }
      continue;
    }
    if (header.type !== 'DATA_PAGE' && header.type !== 'DATA_PAGE_V2') continue; // index pages
    let page: Uint8Array;
    let levels: Uint8Array | null = null;
    let at: number;
    let count: number;
    let encoding: string;
    if (header.type === 'DATA_PAGE') {
      const head = header.data_page_header!;
      count = head.num_values;
      encoding = head.encoding;
      page = decompressPage(pageBytes, header.uncompressed_page_size, meta.codec as CompressionCodec, decompressors);
      const pageReader = { view: new DataView(page.buffer, page.byteOffset, page.byteLength), offset: 0 };
      if (optional) {
        const levelBytes = page[0] | (page[1] << 8) | (page[2] << 16) | (page[3] << 24);
        if (!allDefined(page, 4, levelBytes, count)) {
          levels = new Uint8Array(count);
          readRleBitPackedHybrid(pageReader, 1, levels);
        }
        at = 4 + levelBytes;
      } else at = 0;
    } else {
      const head = header.data_page_header_v2!;
      count = head.num_values;
      encoding = head.encoding;
      if (head.repetition_levels_byte_length > 0) throw new Unsupported('repetition levels');
      const levelBytes = head.definition_levels_byte_length;
      if (optional && levelBytes > 0 && !allDefined(pageBytes, 0, levelBytes, count)) {
        levels = new Uint8Array(count);
        readRleBitPackedHybrid({ view: new DataView(pageBytes.buffer, pageBytes.byteOffset, levelBytes), offset: 0 }, 1, levels, levelBytes);
      }
      const values = pageBytes.subarray(levelBytes);
      const uncompressed = header.uncompressed_page_size - levelBytes;
      page = head.is_compressed ? decompressPage(values, uncompressed, meta.codec as CompressionCodec, decompressors) : values;
      at = 0;
    }
    const present = levels === null ? count : presentCount(levels, count);
    if (encoding === 'PLAIN') {
      if (field.type === 'BYTE_ARRAY' && out.stringColumn) out.putStrings(page, at, levels, count, present);
      else if (field.type === 'INT64' && levels === null && out.float64Column) out.putInt64(page, at, count, dtype, scale, where);
      else out.put(field.type === 'BYTE_ARRAY' ? plainStrings(page, at, present) : field.type === 'BOOLEAN' ? plainBooleans(page, at, present) : plainNumbers(page, at, present, field.type!, dtype, scale, where), levels, count);
    } else if (encoding === 'RLE_DICTIONARY' || encoding === 'PLAIN_DICTIONARY') {
      if (dictionaryValues === null) throw new Unsupported('dictionary indices without a dictionary page');
      const width = page[at];
      const indices = scratchIndices(present);
      if (present > 0) decodeHybrid(page, at + 1, page.byteLength, width, indices);
      if (codes !== null && out.dictionaryColumn) out.putCodes(indices, codes, levels, count);
      else {
        const values = dictionaryValues;
        const gathered = Array.isArray(values) ? Array.from(indices, (index) => values[index]) : gatherNumbers(values, indices);
        out.put(gathered, levels, count);
      }
    } else throw new Unsupported(`encoding ${encoding}`);
  }
  if (out.filled < rows) throw new Error(`the column chunk ends after ${out.filled} of its ${rows} rows`);
  return { column: out.finish(overflowed ? undefined : dictionary), overflowed };
}

/**
 * Whether definition levels of bit width 1 say every one of `count` values is defined: a single RLE
 * run of 1s (what writers emit for a page without nulls). Then no level is decoded, and the page's
 * values are copied in one piece.
 */
function allDefined(bytes: Uint8Array, at: number, length: number, count: number): boolean {
  const end = at + length;
  let header = 0;
  let shift = 0;
  while (at < end && shift < 35) {
    const byte = bytes[at++];
    header += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if ((byte & 0x80) === 0) return (header & 1) === 0 && Math.floor(header / 2) >= count && at < end && bytes[at] === 1;
  }
  return false;
}

let indexScratch = new Int32Array(1 << 16);

/** An Int32Array of `count` for one page's dictionary indices, reused from page to page (they are mapped to codes at once). */
function scratchIndices(count: number): Int32Array {
  if (indexScratch.length < count) indexScratch = new Int32Array(Math.max(count, indexScratch.length * 2));
  return indexScratch.subarray(0, count);
}

/**
 * The RLE/bit-packed hybrid (dictionary indices) of `width` bits from `bytes[at..end)` into `out`,
 * filled whole: hyparquet's reader goes through a DataView a byte at a time; this reads runs of
 * repeats with one fill and unpacks bits with 32-bit integer arithmetic.
 */
function decodeHybrid(bytes: Uint8Array, at: number, end: number, width: number, out: Int32Array): void {
  const count = out.length;
  const valueBytes = (width + 7) >>> 3;
  const mask = width >= 32 ? -1 : (1 << width) - 1;
  let k = 0;
  while (k < count) {
    if (at >= end) throw new Error(`dictionary indices end after ${k} of ${count} values`);
    let header = 0;
    let shift = 0;
    let byte: number;
    do {
      byte = bytes[at++];
      header += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    } while ((byte & 0x80) !== 0 && at < end);
    const run = Math.floor(header / 2);
    if ((header & 1) === 0) {
      let value = 0;
      for (let b = 0; b < valueBytes; b++) value += bytes[at++] * 2 ** (8 * b);
      const until = Math.min(count, k + run);
      out.fill(value, k, until);
      k = until;
      continue;
    }
    const next = at + run * width; // `run` groups of 8 values, `width` bytes each
    const until = Math.min(count, k + run * 8);
    if (width <= 24) {
      // Fewer than `width` bits wait in `buffer`, so a byte more fits beside them in 32.
      let buffer = 0;
      let bits = 0;
      while (k < until) {
        while (bits < width) {
          buffer |= bytes[at++] << bits;
          bits += 8;
        }
        out[k++] = buffer & mask;
        buffer >>>= width;
        bits -= width;
      }
    } else {
      let buffer = 0;
      let bits = 0;
      while (k < until) {
        while (bits < width) {
          buffer += bytes[at++] * 2 ** bits;
          bits += 8;
        }
        const value = buffer % 2 ** width;
        out[k++] = value;
        buffer = (buffer - value) / 2 ** width;
        bits -= width;
      }
    }
    at = next;
  }
}

function gatherNumbers(values: TypedArray, indices: Int32Array): TypedArray {
  const Constructor = values.constructor as { new (length: number): TypedArray };
  const out = new Constructor(indices.length);
  for (let i = 0; i < indices.length; i++) out[i] = values[indices[i]];
  return out;
}

/** Values of the column being filled, in rows; nulls leave their slot empty and clear their validity bit. */
class Output {
  filled = 0;
  private readonly data: TypedArray | string[];
  private readonly validity: Uint8Array;
  private nulls = 0;
  readonly dictionaryColumn: boolean;
  readonly stringColumn: boolean;
  /** Float64Array storage (float64, timestamp): INT64 pages decode into it directly. */
  readonly float64Column: boolean;

  private readonly dtype: DType;
  private readonly rows: number;
  constructor(
    dtype: DType,
    rows: number,
  ) {
    this.dtype = dtype;
    this.rows = rows;
    this.validity = new Uint8Array(bitmapBytes(rows)).fill(0xff);
    this.dictionaryColumn = dtype === 'dictionary';
    this.stringColumn = dtype === 'string';
    this.float64Column = dtype === 'float64' || dtype === 'timestamp';
    if (dtype === 'bool') this.data = new Uint8Array(bitmapBytes(rows));
    else if (dtype === 'string') this.data = new Array<string>(rows);
    else if (dtype === 'dictionary') this.data = new Int32Array(rows);
    else this.data = new NUMERIC_ARRAY[dtype as NumericDType | 'timestamp' | 'date'](rows);
  }

  /** `values` holds the non-null values of `count` rows in order; `levels` says which rows they are. */
  put(values: ArrayLike<number | string | boolean>, levels: Uint8Array | null, count: number): void {
    // A dictionary column's plain page (a writer's fallback past its dictionary size): hyparquet reads that chunk.
    if (this.dtype === 'dictionary') throw new Unsupported('plain page in a dictionary column');
    const row0 = this.filled;
    this.filled += count;
    if (this.dtype === 'bool') return this.putBooleans(values as ArrayLike<boolean>, levels, row0, count);
    const data = this.data as (number | string)[];
    if (values.length === count) {
      // No nulls in the page: one copy (typed arrays convert natively, e.g. Int32Array into Int8Array).
      if (ArrayBuffer.isView(values) && ArrayBuffer.isView(data)) (data as unknown as TypedArray).set(values as unknown as TypedArray, row0);
      else for (let i = 0; i < count; i++) data[row0 + i] = values[i] as number | string;
      return;
    }
    let k = 0;
    for (let i = 0; i < count; i++) {
      if (levels![i] === 0) this.markNull(row0 + i);
      else data[row0 + i] = values[k++] as number | string;
    }
  }

  private putBooleans(values: ArrayLike<boolean>, levels: Uint8Array | null, row0: number, count: number): void {
    const bits = this.data as Uint8Array;
    let k = 0;
    for (let i = 0; i < count; i++) {
      const row = row0 + i;
      if (levels !== null && levels[i] === 0) this.markNull(row);
      else if (values[k++]) bits[row >>> 3] |= 1 << (row & 7);
    }
  }

  /** A PLAIN page of INT64 without nulls, decoded straight into the column's float64 rows (no array of the page's values in between). */
  putInt64(page: Uint8Array, at: number, count: number, dtype: DType, scale: number, where: Where): void {
    int64Into(page, at, count, dtype, scale, where, this.data as Float64Array, this.filled);
    this.filled += count;
  }

  /** A PLAIN page of strings decoded straight into the column's rows (no array of the page's values in between). */
  putStrings(page: Uint8Array, at: number, levels: Uint8Array | null, count: number, present: number): void {
    const row0 = this.filled;
    plainStrings(page, at, present, this.data as string[], row0, levels);
    for (let i = 0; levels !== null && i < count; i++) if (levels[i] === 0) this.markNull(row0 + i);
    this.filled += count;
  }

  putCodes(indices: Int32Array, codes: Int32Array, levels: Uint8Array | null, count: number): void {
    const data = this.data as Int32Array;
    const row0 = this.filled;
    if (levels === null) {
      for (let i = 0; i < count; i++) data[row0 + i] = codes[indices[i]];
      this.filled += count;
      return;
    }
    let k = 0;
    for (let i = 0; i < count; i++) {
      if (levels[i] === 0) {
        this.markNull(row0 + i);
        continue;
      }
      data[row0 + i] = codes[indices[k++]];
    }
    this.filled += count;
  }

  finish(dictionary: Dictionary | undefined): Column {
    const validity = this.nulls === 0 ? null : this.validity;
    if (this.dtype === 'dictionary') return new Column('dictionary', this.rows, this.data as Int32Array, validity, dictionary);
    return new Column(this.dtype, this.rows, this.data, validity);
  }

  private markNull(row: number): void {
    this.validity[row >>> 3] &= ~(1 << (row & 7));
    this.nulls++;
  }
}

const utf8Slice = (Buffer.prototype as unknown as { utf8Slice: (this: Uint8Array, start: number, end: number) => string }).utf8Slice;
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice: (this: Uint8Array, start: number, end: number) => string }).latin1Slice;

/**
 * V8 copies a substring shorter than this (SlicedString::kMinLength); a longer one would be a slice
 * that keeps the whole page's text alive for as long as any value of it lives.
 */
const COPIED_SUBSTRING = 13;

/**
 * PLAIN BYTE_ARRAY values (4-byte length, then the bytes). A page of ASCII text (one native check;
 * length prefixes of values under 128 bytes are ASCII bytes too) is decoded once as Latin-1, where a
 * character is a byte, and short values are cut from it with substring, which costs far less than a
 * call into the UTF-8 decoder per value (the orders' customer column read 2x faster).
 */
function plainStrings(page: Uint8Array, at: number, count: number): string[];
function plainStrings(page: Uint8Array, at: number, count: number, into: string[], row0: number, levels: Uint8Array | null): number;
/**
 * `count` values; into `into` from row `row0` on, skipping the rows `levels` says are null, when
 * given (then the count of values read comes back), else as a new array.
 */
function plainStrings(page: Uint8Array, at: number, count: number, into?: string[], row0 = 0, levels: Uint8Array | null = null): string[] | number {
  const view = new DataView(page.buffer, page.byteOffset, page.byteLength);
  const out = into ?? new Array<string>(count);
  const ascii = count > 0 && isAscii(page.subarray(at));
  const text = ascii ? latin1Slice.call(page, at, page.length) : '';
  const base = at;
  let row = row0;
  for (let i = 0; i < count; i++) {
    if (levels !== null) while (levels[row - row0] === 0) row++;
    const length = view.getUint32(at, true);
    at += 4;
    out[row++] = !ascii ? utf8Slice.call(page, at, at + length) : length < COPIED_SUBSTRING ? text.substring(at - base, at - base + length) : latin1Slice.call(page, at, at + length);
    at += length;
  }
  return into === undefined ? out : count;
}

function presentCount(levels: Uint8Array, count: number): number {
  let present = 0;
  for (let i = 0; i < count; i++) present += levels[i];
  return present;
}

function plainBooleans(page: Uint8Array, at: number, count: number): boolean[] {
  const out = new Array<boolean>(count);
  for (let i = 0; i < count; i++) {
    const bit = at * 8 + i;
    out[i] = (page[bit >>> 3] & (1 << (bit & 7))) !== 0;
  }
  return out;
}

/**
 * `count` PLAIN INT64 values from `page[at..]` into `out` from `row0` on, as two 32-bit words each (no
 * BigInt), divided by `scale` for timestamps; past 2^53 an integer is refused (float64 would change it).
 */
function int64Into(page: Uint8Array, at: number, count: number, dtype: DType, scale: number, where: Where, out: Float64Array, row0: number): void {
  const offset = page.byteOffset + at;
  const words = offset % 4 === 0 ? new Int32Array(page.buffer, offset, count * 2) : new Int32Array(page.slice(at, at + count * 8).buffer, 0, count * 2);
  const timestamp = dtype === 'timestamp';
  for (let i = 0; i < count; i++) {
    const high = words[2 * i + 1];
    const value = high * TWO_32 + (words[2 * i] >>> 0);
    if (!timestamp && (high >= 0x200000 || high < -0x200000)) {
      throw new SluiceError(
        'SCHEMA_UNSUPPORTED',
        `${where.file}: row group ${where.rowGroup}, column ${JSON.stringify(where.column)}: a 64-bit integer beyond 2^53, where float64 (Sluice's widest number) would change it.`,
        { file: where.file, rowGroup: where.rowGroup, column: where.column },
      );
    }
    out[row0 + i] = scale === 1 ? value : Math.floor(value / scale);
  }
}

/**
 * PLAIN numbers as a typed array: a view on the page where its offset is aligned for one (a page
 * without definition levels), else a copy. The caller copies them into the column either way.
 */
function plainNumbers(page: Uint8Array, at: number, count: number, type: string, dtype: DType, scale: number, where: Where): TypedArray {
  const typed = <T>(Type: { new (buffer: ArrayBufferLike, offset: number, length: number): T; BYTES_PER_ELEMENT: number }, width: number): T => {
    const offset = page.byteOffset + at;
    return offset % Type.BYTES_PER_ELEMENT === 0 ? new Type(page.buffer, offset, count * width / Type.BYTES_PER_ELEMENT) : new Type(page.slice(at, at + count * width).buffer, 0, count * width / Type.BYTES_PER_ELEMENT);
  };
  switch (type) {
    case 'INT32':
      return typed(Int32Array, 4);
    case 'FLOAT':
      return typed(Float32Array, 4);
    case 'DOUBLE':
      return typed(Float64Array, 8);
    case 'INT64': {
      const out = new Float64Array(count);
      int64Into(page, at, count, dtype, scale, where, out, 0);
      return out;
    }
    default:
      throw new Unsupported(`physical type ${type}`);
  }
}
