import { open } from 'node:fs/promises';
import { readError } from './inputs.ts';

const LF = 0x0a;
const CR = 0x0d;
const READ_BYTES = 1 << 20;

/**
 * Physical line breaks in bytes [start, end) of a plain file, as the CSV scanner counts them: a line
 * feed, and a carriage return not followed by one, also inside quoted fields. A threaded read counts
 * the lines of each part (each thread its own, at memchr speed) so that the part after it knows the
 * line it starts on. A CRLF is one line break, also when `end` falls between its CR and its LF.
 * `crBreaks: false` counts line feeds only, as NDJSON does.
 */
export async function countLines(file: string, start: number, end: number, crBreaks = true): Promise<number> {
  const buffer = Buffer.allocUnsafeSlow(READ_BYTES + 1);
  let lines = 0;
  try {
    const handle = await open(file, 'r');
    try {
      let carriedCr = false;
      for (let position = start; position < end; ) {
        const { bytesRead } = await handle.read(buffer, 0, Math.min(READ_BYTES, end - position), position);
        if (bytesRead === 0) break;
        position += bytesRead;
        const view = buffer.subarray(0, bytesRead);
        // A CR that ended the last read was lone unless this one starts with its LF.
        if (carriedCr && view[0] !== LF) lines++;
        for (let at = view.indexOf(LF); at >= 0; at = view.indexOf(LF, at + 1)) lines++;
        carriedCr = false;
        if (!crBreaks) continue;
        for (let at = view.indexOf(CR); at >= 0; at = view.indexOf(CR, at + 1)) {
          if (at + 1 === bytesRead) carriedCr = true;
          else if (view[at + 1] !== LF) lines++;
        }
      }
      if (carriedCr) {
        // A CR that ends the range is a line break of its own unless a LF follows it, past the range.
        const { bytesRead } = await handle.read(buffer, 0, 1, end);
        if (bytesRead === 0 || buffer[0] !== LF) lines++;
      }
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw readError(file, error);
  }
  return lines;
}

/** Offsets just after the first line feed at or past each multiple of `every` in a plain file: where its lines can be cut. */
export async function lineStarts(file: string, size: number, every: number): Promise<number[]> {
  const cuts: number[] = [];
  const buffer = Buffer.allocUnsafeSlow(64 * 1024);
  const handle = await open(file, 'r');
  try {
    for (let wanted = every; wanted < size; wanted += every) {
      for (let position = Math.max(wanted - 1, cuts.at(-1) ?? 0); position < size; ) {
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
        if (bytesRead === 0) break;
        const at = buffer.subarray(0, bytesRead).indexOf(LF);
        if (at >= 0) {
          if (position + at + 1 < size) cuts.push(position + at + 1);
          break;
        }
        position += bytesRead;
      }
    }
  } finally {
    await handle.close();
  }
  return [...new Set(cuts)];
}
