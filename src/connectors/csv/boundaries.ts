/**
 * Where a CSV file may be cut into byte ranges that threads read on their own. A line feed ends a record
 * unless it is inside a quoted field, and which it is depends on every quote before it: nothing short of
 * reading from the start knows. So, as DuckDB's parallel reader does, a cut is a guess checked twice:
 * - here, a candidate (the byte after a line feed, at or past the wanted offset) is taken only when the
 *   records from it parse under a strict state machine (quotes only around whole fields, closing quotes
 *   followed by a delimiter or a line break, every record with the header's field count); a line feed
 *   inside a quoted field rarely passes (polars#19078 is a reader that took one);
 * - when read, a range that starts on a boundary ends on one exactly when its reader finishes outside a
 *   quoted field; the first range starts at 0, so by induction a misplaced cut is always found (the range
 *   before it throws RangeMisaligned) and that range is read again joined to the next. The guess costs
 *   speed when wrong, never rows.
 */
import { open } from 'node:fs/promises';

const LF = 0x0a;
const CR = 0x0d;
/** Bytes read around a wanted offset to find a cut. */
const WINDOW = 256 * 1024;
/** Records that must parse from a candidate before it is taken. */
const PROBE_RECORDS = 8;

export interface CutDialect {
  delimiter: number;
  quote: number;
  /** Fields every record has (the header's). */
  fields: number;
}

/**
 * Offsets of likely record starts about `every` bytes apart in a plain file of `size` bytes, ascending,
 * each in (0, size). A stretch with no candidate that parses gives no cut there (a bigger range).
 */
export async function findCuts(file: string, size: number, every: number, dialect: CutDialect): Promise<number[]> {
  const cuts: number[] = [];
  const handle = await open(file, 'r');
  try {
    const buffer = new Uint8Array(WINDOW);
    for (let wanted = every; wanted < size; wanted += every) {
      const from = Math.max(wanted, (cuts.at(-1) ?? 0) + 1);
      if (from >= size) break;
      // One byte before: the candidate must follow a line feed.
      const { bytesRead } = await handle.read(buffer, 0, WINDOW, from - 1);
      const cut = firstRecordStart(buffer.subarray(0, bytesRead), from - 1, size, dialect);
      if (cut !== -1 && cut < size) cuts.push(cut);
    }
  } finally {
    await handle.close();
  }
  return cuts;
}

/** The first candidate in `bytes` (input offset `base`; bytes[0] is the byte before the wanted offset) that parses strictly, or -1. */
export function firstRecordStart(bytes: Uint8Array, base: number, size: number, dialect: CutDialect): number {
  for (let i = bytes.indexOf(LF); i >= 0 && i + 1 < bytes.length; i = bytes.indexOf(LF, i + 1)) {
    const candidate = i + 1;
    if (parsesFrom(bytes, candidate, base + bytes.length >= size, dialect)) return base + candidate;
  }
  return -1;
}

/**
 * Whether records from `start` parse strictly: PROBE_RECORDS of them, or as many as the window holds
 * (at least one) when it ends first. `final`: the window ends the file, so its end ends a record.
 */
export function parsesFrom(bytes: Uint8Array, start: number, final: boolean, dialect: CutDialect): boolean {
  const { delimiter, quote, fields } = dialect;
  const end = bytes.length;
  let i = start;
  let records = 0;
  while (records < PROBE_RECORDS) {
    if (i >= end) return records > 0 || final;
    // An empty line is skipped by the reader: no record, no evidence.
    if (bytes[i] === LF) {
      i++;
      continue;
    }
    if (bytes[i] === CR) {
      i += bytes[i + 1] === LF ? 2 : 1;
      continue;
    }
    let count = 0;
    for (;;) {
      count++;
      if (i < end && bytes[i] === quote) {
        i++;
        for (;;) {
          while (i < end && bytes[i] !== quote) i++;
          // The window ends inside the quotes (or on a quote it cannot tell from an escape).
          if (i >= end || (i + 1 >= end && !final)) return records > 0 && !final;
          if (i + 1 < end && bytes[i + 1] === quote) {
            i += 2;
            continue;
          }
          i++;
          break;
        }
        const after = i < end ? bytes[i] : LF;
        if (after !== delimiter && after !== LF && after !== CR) return false;
      } else {
        while (i < end) {
          const b = bytes[i];
          if (b === delimiter || b === LF || b === CR) break;
          if (b === quote) return false;
          i++;
        }
      }
      if (i >= end) return final ? count === fields : records > 0;
      if (bytes[i] === delimiter) {
        i++;
        continue;
      }
      break;
    }
    if (count !== fields) return false;
    i += bytes[i] === CR && bytes[i + 1] === LF ? 2 : 1;
    records++;
  }
  return true;
}
