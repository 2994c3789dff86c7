import { isUtf8 } from 'node:buffer';
import { SluiceError } from '../core/errors.ts';

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** Offset of the first byte that is not part of a valid UTF-8 sequence in buf[start,end), or -1. */
export function findInvalidUtf8(buf: Uint8Array, start = 0, end = buf.length): number {
  let i = start;
  while (i < end) {
    const byte = buf[i];
    if (byte < 0x80) {
      i++;
      continue;
    }
    let needed: number;
    let min: number;
    if (byte >= 0xc2 && byte <= 0xdf) {
      needed = 1;
      min = 0x80;
    } else if (byte >= 0xe0 && byte <= 0xef) {
      needed = 2;
      min = 0x800;
    } else if (byte >= 0xf0 && byte <= 0xf4) {
      needed = 3;
      min = 0x10000;
    } else return i;
    let code = byte & (0x3f >> needed);
    for (let k = 1; k <= needed; k++) {
      const next = buf[i + k];
      if (i + k >= end || (next & 0xc0) !== 0x80) return i;
      code = (code << 6) | (next & 0x3f);
    }
    if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return i;
    i += needed + 1;
  }
  return -1;
}

/** The format whose reader validates, which names its errors: `CSV_INVALID_UTF8`, `NDJSON_BOM`, … */
export type Utf8Format = 'CSV' | 'NDJSON';

/** What to do about a file that is not UTF-8, per format: CSV reads Latin-1, JSON is UTF-8 by definition (RFC 8259). */
const NOT_UTF8_HINT: Record<Utf8Format, string> = {
  CSV: "pass encoding: 'latin1' if the file is Latin-1",
  NDJSON: 'JSON text is UTF-8; convert a Latin-1 file first, e.g. iconv -f latin1 -t utf-8',
};

/**
 * Checks a stream of chunks for valid UTF-8, carrying an incomplete trailing sequence over to the next
 * chunk. Throws CSV_INVALID_UTF8 (NDJSON_INVALID_UTF8) with the byte offset in the whole input.
 */
export class Utf8Validator {
  private offset = 0;
  private carry: Uint8Array = new Uint8Array(0);
  /** The last byte checked, to tell whether a chunk starts at the start of a line. */
  private previous = 0x0a;

  private readonly file: string;
  private readonly format: Utf8Format;
  constructor(
    file: string,
    format: Utf8Format = 'CSV',
    /** Input offset of the first byte checked: a byte range of a file read on its own starts past 0. */
    startOffset = 0,
  ) {
    this.file = file;
    this.format = format;
    this.offset = startOffset;
  }

  check(chunk: Uint8Array): void {
    let data = chunk;
    if (this.carry.length > 0) {
      data = new Uint8Array(this.carry.length + chunk.length);
      data.set(this.carry, 0);
      data.set(chunk, this.carry.length);
    }
    // Keep back an incomplete sequence at the end for the next chunk.
    let end = data.length;
    for (let back = 1; back <= 3 && back <= data.length; back++) {
      const byte = data[data.length - back];
      if ((byte & 0xc0) === 0x80) continue;
      if (byte >= 0xc0) {
        const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2;
        if (length > back) end = data.length - back;
      }
      break;
    }
    if (!isUtf8(data.subarray(0, end))) {
      const bad = findInvalidUtf8(data, 0, end);
      this.fail(this.offset + Math.max(bad, 0));
    }
    this.checkStrayBom(data, end);
    if (end > 0) this.previous = data[end - 1];
    this.offset += end;
    this.carry = data.slice(end);
  }

  end(): void {
    if (this.carry.length > 0) this.fail(this.offset);
  }

  /**
   * A byte-order mark at the start of a line other than the first: the mark of a second file appended
   * to this one (`cat a.csv b.csv`). Read as data it would glue U+FEFF to the first field of a row (or
   * to a header name), so it is an error. Elsewhere in a line U+FEFF is a character like any other.
   * The line is filled in by the caller, which can afford to count lines on this error path.
   */
  private checkStrayBom(data: Uint8Array, end: number): void {
    const view = Buffer.from(data.buffer, data.byteOffset, end);
    for (let at = view.indexOf(BOM); at >= 0; at = view.indexOf(BOM, at + 1)) {
      if (this.offset + at === 0) continue;
      const before = at === 0 ? this.previous : data[at - 1];
      if (before !== 0x0a && before !== 0x0d) continue;
      const byteOffset = this.offset + at;
      throw new SluiceError(
        `${this.format}_BOM`,
        `${this.file}: a byte-order mark (U+FEFF) at the start of a line, at byte ${byteOffset}: was another file, with its own BOM, appended to this one? Strip BOMs before joining files.`,
        { file: this.file, byteOffset, column: 1, expected: 'no byte-order mark after the start of the file' },
      );
    }
  }

  private fail(byteOffset: number): never {
    throw new SluiceError(`${this.format}_INVALID_UTF8`, `${this.file}: invalid UTF-8 at byte ${byteOffset} (${NOT_UTF8_HINT[this.format]})`, {
      file: this.file,
      byteOffset,
      expected: 'UTF-8 text',
    });
  }
}
