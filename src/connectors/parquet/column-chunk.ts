/**
 * One column's part of the row group being gathered: its pages, encoded as batches arrive and
 * compressed as each fills (the batches themselves are not kept), the dictionary they index, and the
 * chunk's statistics.
 * `finish()` hands over the bytes in file order (dictionary page first) and the chunk's metadata.
 */
import type { Column } from '../../batch/column.ts';
import type { Dictionary } from '../../batch/dictionary.ts';
import { compress } from './compress.ts';
import { PageBuilder } from './encode.ts';
import { GrowableBytes } from './growable-bytes.ts';
import { Codec, type Compression, Encoding, PageType } from './format.ts';
import { ChunkStatistics } from './statistics.ts';
import { ThriftType, ThriftWriter } from './thrift.ts';

export interface ChunkMetadata {
  physical: number;
  name: string;
  codec: number;
  encodings: number[];
  numValues: number;
  uncompressedBytes: number;
  compressedBytes: number;
  /** Offsets relative to the chunk's first byte; the row group adds the file position. */
  dataPageOffset: number;
  dictionaryPageOffset?: number;
  nullCount: number;
  min?: Uint8Array;
  max?: Uint8Array;
}

/**
 * A page is cut at about a megabyte before compression (Parquet's and arrow-rs's usual size): big
 * enough that zstd's per-call set-up is a small part of its time, small enough to hold 8 at once.
 */
const PAGE_BYTES = 1 << 20;
/** And at this many rows, so that a page of narrow values (booleans, small codes) stays a page. */
const PAGE_ROWS = 1 << 18;

export class ColumnChunk {
  private pages: Uint8Array[] = [];
  private statistics = new ChunkStatistics();
  private dictionary: Dictionary | null = null;
  private encodings = new Set<number>([Encoding.RLE]);
  private numValues = 0;
  private readonly page: PageBuilder;
  private pagesUncompressed = 0;
  /** Compressed bytes of the pages cut so far, headers included. */
  compressedBytes = 0;

  readonly name: string;
  readonly physical: number;
  private readonly compression: Compression;
  /** `scratch` assembles page bodies; the file's columns share one. */
  constructor(
    name: string,
    physical: number,
    compression: Compression,
    scratch: GrowableBytes = new GrowableBytes(),
  ) {
    this.name = name;
    this.physical = physical;
    this.compression = compression;
    this.page = new PageBuilder(scratch);
  }

  /** Page bytes before compression, headers included (what a reader holds once it has decompressed), and the page being built. */
  get uncompressedBytes(): number {
    return this.pagesUncompressed + this.page.bytes;
  }

  /** Adds rows `start..end` of `column` to the page being built, cutting pages as they fill. */
  add(column: Column, start: number, end: number): void {
    let codes = false;
    if (column.dtype === 'dictionary') {
      // A chunk has one dictionary page: a batch with another dictionary is written as plain strings.
      this.dictionary ??= column.dictionary!;
      codes = column.dictionary === this.dictionary;
    }
    // A page has one encoding: a switch between codes and plain strings starts a new one.
    if (this.page.rows > 0 && this.page.dictionaryCodes !== codes) this.cutPage();
    while (start < end) {
      const until = Math.min(end, start + PAGE_ROWS - this.page.rows);
      this.page.append(column, start, until, this.statistics, codes);
      start = until;
      if (this.page.rows >= PAGE_ROWS || this.page.bytes >= PAGE_BYTES) this.cutPage();
    }
  }

  private cutPage(): void {
    const page = this.page.cut(this.dictionary?.size ?? 0);
    this.encodings.add(page.encoding);
    const compressed = compress(this.compression, page.body);
    const header = new ThriftWriter()
      .i32(1, PageType.DATA_PAGE)
      .i32(2, page.body.length)
      .i32(3, compressed.length)
      .struct(5)
      .i32(1, page.numValues)
      .i32(2, page.encoding)
      .i32(3, Encoding.RLE)
      .i32(4, Encoding.RLE)
      .end()
      .finish();
    // Uncompressed, the body is the builder's buffer, which the next page overwrites: copied (a
    // Buffer's own slice() would be a view).
    this.push(header, compressed === page.body ? Uint8Array.prototype.slice.call(page.body) : compressed, page.body.length);
    this.numValues += page.numValues;
  }

  /** The chunk's bytes in file order, and its metadata; the chunk is empty again afterwards. */
  finish(): { bytes: Uint8Array[]; metadata: ChunkMetadata } {
    if (this.page.rows > 0) this.cutPage();
    let dictionaryPage: Uint8Array[] = [];
    let dictionaryBytes = 0;
    let dictionaryUncompressed = 0;
    if (this.dictionary !== null) {
      this.statistics.resolveCodes(this.dictionary);
      const body = plainDictionary(this.dictionary);
      const compressed = compress(this.compression, body);
      const header = new ThriftWriter()
        .i32(1, PageType.DICTIONARY_PAGE)
        .i32(2, body.length)
        .i32(3, compressed.length)
        .struct(7)
        .i32(1, this.dictionary.size)
        .i32(2, Encoding.PLAIN)
        .end()
        .finish();
      dictionaryPage = [header, compressed];
      dictionaryBytes = header.length + compressed.length;
      dictionaryUncompressed = header.length + body.length;
    }
    const { min, max } = this.statistics.encoded(this.physical);
    const metadata: ChunkMetadata = {
      physical: this.physical,
      name: this.name,
      codec: Codec[this.compression],
      encodings: [...this.encodings].sort((a, b) => a - b),
      numValues: this.numValues,
      uncompressedBytes: this.pagesUncompressed + dictionaryUncompressed,
      compressedBytes: this.compressedBytes + dictionaryBytes,
      dataPageOffset: dictionaryBytes,
      dictionaryPageOffset: this.dictionary === null ? undefined : 0,
      nullCount: this.statistics.nulls,
      min,
      max,
    };
    if (this.dictionary !== null) metadata.encodings = [...new Set([Encoding.PLAIN, ...metadata.encodings])].sort((a, b) => a - b);
    const bytes = [...dictionaryPage, ...this.pages];
    this.pages = [];
    this.statistics = new ChunkStatistics();
    this.dictionary = null;
    this.encodings = new Set([Encoding.RLE]);
    this.numValues = 0;
    this.pagesUncompressed = 0;
    this.compressedBytes = 0;
    return { bytes, metadata };
  }

  private push(header: Uint8Array, compressed: Uint8Array, bodyLength: number): void {
    // The header comes from a growing buffer: copied, so the page does not pin the buffer's spare room.
    this.pages.push(header.slice(), compressed);
    this.pagesUncompressed += header.length + bodyLength;
    this.compressedBytes += header.length + compressed.length;
  }
}

/** The dictionary's values, PLAIN: each a 4-byte length and its UTF-8 bytes. */
function plainDictionary(dictionary: Dictionary): Uint8Array {
  const parts: Buffer[] = [];
  let length = 0;
  for (const value of dictionary.values) {
    const bytes = Buffer.from(value, 'utf8');
    const prefix = Buffer.allocUnsafe(4);
    prefix.writeUInt32LE(bytes.length, 0);
    parts.push(prefix, bytes);
    length += 4 + bytes.length;
  }
  return Buffer.concat(parts, length);
}

/** ColumnMetaData of a chunk written at `position` in the file. */
export function writeColumnChunk(thrift: ThriftWriter, chunk: ChunkMetadata, position: number): void {
  thrift.elementStruct().i64(2, position).struct(3);
  thrift.i32(1, chunk.physical);
  thrift.list(2, ThriftType.I32, chunk.encodings.length);
  for (const encoding of chunk.encodings) thrift.elementI32(encoding);
  thrift.list(3, ThriftType.BINARY, 1).elementString(chunk.name);
  thrift.i32(4, chunk.codec).i64(5, chunk.numValues).i64(6, chunk.uncompressedBytes).i64(7, chunk.compressedBytes);
  thrift.i64(9, position + chunk.dataPageOffset);
  if (chunk.dictionaryPageOffset !== undefined) thrift.i64(11, position + chunk.dictionaryPageOffset);
  thrift.struct(12).i64(3, chunk.nullCount);
  if (chunk.max !== undefined && chunk.min !== undefined) thrift.binary(5, chunk.max).binary(6, chunk.min);
  thrift.end();
  thrift.end().end();
}
