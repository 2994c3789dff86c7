/**
 * The one COPY text-format field splitter: fields end at a tab, rows at a newline, and neither byte
 * appears escaped inside a field (COPY writes them as `\t` and `\n`), so a field is found by scanning
 * for the next of the two; `\N` alone is NULL. Both COPY decoders read their fields through it.
 */
import { decodeUtf8 } from '../../codec/byte-text.ts';
import { unescapeCopyText } from './text-values.ts';

const TAB = 0x09;
const NEWLINE = 0x0a;
const BACKSLASH = 0x5c;
const LETTER_N = 0x4e;

/** The field last found by {@link next}: `buffer[start, end)`, and whether it holds a backslash. */
export class CopyFieldSplitter {
  start = 0;
  end = 0;
  escaped = false;

  /**
   * Finds the field that starts at `position`; returns the position after its tab or newline. The
   * caller hands in whole rows only, so the scan always meets one.
   */
  next(buffer: Uint8Array, position: number): number {
    this.start = position;
    let escaped = false;
    let byte = buffer[position];
    while (byte !== TAB && byte !== NEWLINE) {
      if (byte === BACKSLASH) escaped = true;
      byte = buffer[++position];
    }
    this.end = position;
    this.escaped = escaped;
    return position + 1;
  }

  /** The field is `\N`. */
  isNull(buffer: Uint8Array): boolean {
    return this.escaped && this.end - this.start === 2 && buffer[this.start + 1] === LETTER_N;
  }

  /** The field's text, unescaped. */
  text(buffer: Uint8Array): string {
    return this.escaped ? unescapeCopyText(buffer, this.start, this.end).toString('utf8') : decodeUtf8(buffer, this.start, this.end);
  }
}
