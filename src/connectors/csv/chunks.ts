/**
 * The fast CSV engine's input: a file (plain or .gz) read in chunks into buffers it reuses, with the
 * incomplete record at the end of each chunk carried over to the next.
 */
import { open } from 'node:fs/promises';
import { openInput, readError } from '../files/inputs.ts';
import { RangeMisaligned } from '../files/file-source.ts';
import { Utf8Validator } from '../../codec/utf8.ts';
import type { ResolvedCsvOptions } from './options.ts';

/** Bytes per read; each of the two buffers holds this after CARRY_BYTES of room. */
const READ_BYTES = 1 << 20;

/** Fills `target[offset, offset + length)` with the next bytes of a file; 0 at its end. */
interface ByteReader {
  read(target: Uint8Array, offset: number, length: number): Promise<number>;
  /** Bytes read from disk so far (compressed bytes for .gz): progress against the file size. */
  diskBytes(): number;
  close(): Promise<void>;
}

/** Bytes [start, end) of a plain file, read on their own (a partition of a file read by several threads); `last`: it ends the file. */
export interface ByteRange {
  start: number;
  end: number;
  last: boolean;
}

/** A plain file is read straight into the caller's buffer; a .gz one through the gunzip stream (one copy). */
async function openBytes(file: string, validator: Utf8Validator | null, range?: ByteRange): Promise<ByteReader> {
  if (!file.endsWith('.gz')) {
    const handle = await open(file, 'r');
    let position = range?.start ?? 0;
    const end = range?.end ?? Infinity;
    return {
      async read(target, offset, length) {
        if (position >= end) return 0;
        const { bytesRead } = await handle.read(target, offset, Math.min(length, end - position), position);
        position += bytesRead;
        validator?.check(target.subarray(offset, offset + bytesRead));
        return bytesRead;
      },
      diskBytes: () => position - (range?.start ?? 0),
      close: () => handle.close(),
    };
  }
  // A compressed file cannot be entered in the middle: it is always one partition.
  if (range !== undefined && range.start > 0) throw new Error(`${file}: a .gz file is read from its start`);
  const input = openInput(file);
  const chunks = (input.stream as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  let chunk: Buffer | null = null;
  let chunkOffset = 0;
  return {
    async read(target, offset, length) {
      while (chunk === null) {
        const next = await chunks.next();
        if (next.done === true) return 0;
        if (next.value.length === 0) continue;
        chunk = next.value;
        chunkOffset = 0;
        validator?.check(chunk);
      }
      const take = Math.min(chunk.length - chunkOffset, length);
      target.set(chunk.subarray(chunkOffset, chunkOffset + take), offset);
      chunkOffset += take;
      if (chunkOffset === chunk.length) chunk = null;
      return take;
    },
    diskBytes: () => input.diskBytes(),
    async close() {
      input.close();
    },
  };
}

/**
 * One read of the input: `buf` holds the incomplete record the previous chunk ended with, then the bytes
 * read. The consumer takes the complete records from `position` on and sets `rest` to where the
 * incomplete record at the end starts (`buf.length` when there is none); the reader carries it over.
 */
export interface Chunk {
  buf: Uint8Array;
  /** Input offset of buf[0]. */
  base: number;
  /** Where records start: 0, or 3 after a UTF-8 BOM at the start of the input. */
  position: number;
  /** The chunk ends the input: a last record without a line break is complete. */
  final: boolean;
  rest: number;
}

/** Room before each read for the incomplete record carried over; a longer one is copied with the read into a new buffer. */
const CARRY_BYTES = 64 * 1024;

/**
 * Reads `file` in chunks. Two buffers take turns: while the consumer converts one chunk, the next read
 * fills the other (so the disk and the parser work at once), behind room for the incomplete record the
 * chunk will end with, which is copied there before the next chunk is handed out. Reading allocates
 * nothing per chunk, except for records longer than that room. Nothing that outlives a chunk's
 * conversion points into the buffers: strings are copied out (see decodeUtf8 in codec/byte-text.ts), dictionary
 * keys too. UTF-8 is validated per read before it is scanned, as the csv-parse engine does, so both
 * report the same first error.
 */
export async function* readChunks(
  file: string,
  options: ResolvedCsvOptions,
  signal: AbortSignal,
  onProgress?: (diskBytes: number) => void,
  range?: ByteRange,
): AsyncGenerator<Chunk> {
  const start = range?.start ?? 0;
  const validator = options.encoding === 'utf8' ? new Utf8Validator(file, 'CSV', start) : null;
  let input: ByteReader | undefined;
  // The scanner and the value parsers must see one array class (see CsvScanner.push): a plain Uint8Array.
  const buffers = [new Uint8Array(CARRY_BYTES + READ_BYTES), new Uint8Array(CARRY_BYTES + READ_BYTES)];
  let turn = 0;
  /** The incomplete record carried over (a view of the previous chunk), and its input offset. */
  let carried: Uint8Array = new Uint8Array(0);
  let base = start;
  // A BOM is only one at the start of the file; a range after it starts with data.
  let bomChecked = start > 0;
  let pending: Promise<number> | null = null;
  let lastByte = 0x0a;
  const readAhead = (reader: ByteReader): Promise<number> => {
    const read = reader.read(buffers[turn], CARRY_BYTES, READ_BYTES);
    // Awaited before the next chunk, or in finally when the consumer stops first: never unhandled.
    read.catch(() => {});
    return read;
  };
  const chunkOf = (buf: Uint8Array, final: boolean): Chunk => {
    let position = 0;
    if (!bomChecked) {
      bomChecked = true;
      if (buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) position = 3;
    }
    return { buf, base, position, final, rest: buf.length };
  };
  try {
    input = await openBytes(file, validator, range);
    pending = readAhead(input);
    for (;;) {
      signal.throwIfAborted();
      const read = await pending;
      pending = null;
      if (read === 0) break;
      const target = buffers[turn];
      lastByte = target[CARRY_BYTES + read - 1];
      let buf: Uint8Array;
      if (carried.length <= CARRY_BYTES) {
        target.set(carried, CARRY_BYTES - carried.length);
        buf = target.subarray(CARRY_BYTES - carried.length, CARRY_BYTES + read);
      } else {
        buf = new Uint8Array(carried.length + read);
        buf.set(carried, 0);
        buf.set(target.subarray(CARRY_BYTES, CARRY_BYTES + read), carried.length);
      }
      turn ^= 1;
      pending = readAhead(input);
      if (!bomChecked && buf.length < 3) {
        carried = buf;
        continue;
      }
      const chunk = chunkOf(buf, false);
      onProgress?.(input.diskBytes());
      yield chunk;
      carried = buf.subarray(chunk.rest);
      base += chunk.rest;
    }
    // A range that is not the file's last ends on a record boundary or was cut in the wrong place (in a
    // record, or in a quoted field after a line feed): read again with the next, by the caller.
    if (range !== undefined && !range.last && (carried.length > 0 || lastByte !== 0x0a)) throw new RangeMisaligned(file, base);
    validator?.end();
    if (carried.length > 0) yield chunkOf(carried, true);
  } catch (error) {
    if (error instanceof RangeMisaligned) throw error;
    throw readError(file, error);
  } finally {
    if (pending !== null) await pending.catch(() => {});
    await input?.close();
  }
}
