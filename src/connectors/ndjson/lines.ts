/**
 * The lines of an NDJSON file (plain or .gz), split from its bytes. Not readline: readline gathers a
 * line into one string whatever its length, so a 500 MB line (or a gzip bomb of one line) grew the
 * process past a gigabyte before any check could run, and ended in `RangeError: Invalid string length`.
 * Here a line is held as the chunks it spans, and the read fails with NDJSON_RECORD_TOO_LARGE as soon as
 * they pass `maxRecordBytes`: what a line can cost is bounded by that limit, not by the input. The bytes
 * are checked for UTF-8 as they come, as the CSV readers do (a bad byte is an error with its offset, not
 * a U+FFFD in the data).
 */
import { SluiceError } from '../../core/errors.ts';
import { Utf8Validator } from '../../codec/utf8.ts';
import { openInput } from '../files/inputs.ts';

const NEWLINE = 0x0a;

/** The complete lines of one chunk of the input, and the 1-based number of the first. */
export interface LineRun {
  texts: string[];
  firstLine: number;
}

/**
 * A UTF-16 unit takes at most 3 UTF-8 bytes (a surrogate pair, 2 units, takes 4): a text of n units
 * has at most 3n bytes, so only a text longer than a third of the limit needs its bytes counted.
 */
const MAX_BYTES_PER_UNIT = 3;

export async function* ndjsonLines(
  file: string,
  maxRecordBytes: number,
  signal: AbortSignal,
  progress?: (diskBytes: number) => void,
  range?: { start: number; end: number; firstLine: number },
): AsyncGenerator<LineRun> {
  // An empty range (end == start) reads nothing; createReadStream would read to the end.
  if (range !== undefined && range.end <= range.start) return;
  const input = openInput(file, undefined, range);
  const validator = new Utf8Validator(file, 'NDJSON', range?.start ?? 0);
  /** The line not yet ended: the pieces of the chunks it spans so far. */
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  /** Lines handed out so far. */
  let lines = range === undefined ? 0 : range.firstLine - 1;
  // A BOM is one only at the start of the file; a range after it starts with a line.
  let atStart = range === undefined || range.start === 0;
  const tooLarge = (line: number, bytes: string): never => {
    throw new SluiceError(
      'NDJSON_RECORD_TOO_LARGE',
      `${file}:${line}: a line ${bytes} than maxRecordBytes (${maxRecordBytes} bytes): is the file NDJSON (one object per line)? Raise maxRecordBytes if lines this long are expected.`,
      { file, line, expected: `lines of at most ${maxRecordBytes} bytes` },
    );
  };
  const hold = (piece: Buffer, line: number) => {
    if (piece.length === 0) return;
    pendingBytes += piece.length;
    // Checked while the line is read, not once it ends: that is what bounds the memory a line takes.
    if (pendingBytes > maxRecordBytes) tooLarge(line, `of more than ${pendingBytes} bytes so far, longer`);
    pending.push(piece);
  };
  try {
    for await (const chunk of input.stream as AsyncIterable<Buffer>) {
      signal.throwIfAborted();
      validator.check(chunk);
      let start = 0;
      if (atStart && chunk.length > 0) {
        atStart = false;
        // A byte-order mark at the start of the file is not JSON; anywhere else the validator refuses it.
        if (chunk.length >= 3 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) start = 3;
      }
      const first = chunk.indexOf(NEWLINE, start);
      if (first < 0) {
        hold(chunk.subarray(start), lines + 1);
        progress?.(input.diskBytes());
        continue;
      }
      const texts: string[] = [];
      if (pendingBytes + first - start > maxRecordBytes) tooLarge(lines + 1, `of ${pendingBytes + first - start} bytes, longer`);
      if (pending.length > 0) {
        pending.push(chunk.subarray(start, first));
        texts.push(Buffer.concat(pending, pendingBytes + first - start).toString('utf8'));
        pending = [];
        pendingBytes = 0;
      } else texts.push(chunk.toString('utf8', start, first));
      const last = chunk.lastIndexOf(NEWLINE);
      if (last > first) {
        // One decode for the lines in between, which is most of the chunk.
        const parts = chunk.toString('utf8', first + 1, last).split('\n');
        const check = last - first - 1 > maxRecordBytes;
        for (const text of parts) {
          if (check && text.length * MAX_BYTES_PER_UNIT > maxRecordBytes && Buffer.byteLength(text) > maxRecordBytes) {
            tooLarge(lines + texts.length + 1, `of ${Buffer.byteLength(text)} bytes, longer`);
          }
          texts.push(text);
        }
      }
      hold(chunk.subarray(last + 1), lines + texts.length + 1);
      yield { texts, firstLine: lines + 1 };
      lines += texts.length;
      progress?.(input.diskBytes());
    }
    validator.end();
    if (pendingBytes > 0) yield { texts: [Buffer.concat(pending, pendingBytes).toString('utf8')], firstLine: lines + 1 };
  } finally {
    input.close();
  }
}
