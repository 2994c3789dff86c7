/**
 * What a row writer is given: the row layout of a batch (each column's kind, the bytes around its
 * cells) and the call both writers answer, the generated one (row-writer.ts) and the plain loop used
 * when code generation is off (interpreted-row-writer.ts). Both write the same bytes.
 */

/** How a column's cells are written. */
export const NUMBER = 0;
export const FLOAT64 = 1;
export const TIMESTAMP = 2;
export const DATE = 3;
export const BOOL = 4;
export const DICTIONARY = 5;
export const STRING = 6;

/** Most bytes a cell of each kind takes, but strings (6 per character, and 6): `-2.2250738585072014e-308`, `"+275760-09-13T00:00:00.000Z"`. */
export const CELL_BYTES = [24, 24, 30, 30, 5, 0, 6];

export interface RowLayout {
  json: boolean;
  /** Per column: its kind and the class of its values array. */
  kinds: number[];
  arrays: string[];
  /** Bytes before each column's cell, and after the row; written as constants when short, else copied. */
  prefixes: number[][];
  suffix: number[];
}

/** Where a call stopped: the next byte of the chunk, and the room the next row needs when it did not fit. */
export interface RowWriterState {
  at: number;
  needed: number;
}

/**
 * Writes rows `from…to-1` into `out` from `state.at` while the next row surely fits (its bound:
 * `fixedBound` plus 6 bytes per character of its strings); returns the first row not written.
 */
export type RowWriter = (
  data: readonly unknown[],
  validity: readonly (Uint8Array | null)[],
  encoded: readonly ((Uint8Array | undefined)[] | null)[],
  prefixes: readonly Uint8Array[],
  suffix: Uint8Array,
  style: unknown,
  out: Buffer,
  from: number,
  to: number,
  fixedBound: number,
  state: RowWriterState,
) => number;

/** Writes row `i`'s cells, each after its prefix, from `at`; returns the offset after the last. */
export type RowCells = (
  data: readonly unknown[],
  validity: readonly (Uint8Array | null)[],
  encoded: readonly ((Uint8Array | undefined)[] | null)[],
  prefixes: readonly Uint8Array[],
  style: unknown,
  out: Buffer,
  i: number,
  at: number,
) => number;

/**
 * A RowWriter that writes each row with `cells`, then the suffix, while the next row surely fits: the
 * loop of the writers not generated whole (wide rows, and the interpreted writer).
 */
export function rowLoop(kinds: readonly number[], cells: RowCells): RowWriter {
  const strings = Int32Array.from(kinds.flatMap((kind, c) => (kind === STRING ? [c] : [])));
  return (data, validity, encoded, prefixes, suffix, style, out, from, to, fixedBound, state) => {
    const capacity = out.length;
    let at = state.at;
    for (let i = from; i < to; i++) {
      let bound = fixedBound;
      for (let k = 0; k < strings.length; k++) {
        const text = (data[strings[k]] as (string | undefined)[])[i];
        if (text !== undefined && text !== null) bound += 6 * text.length;
      }
      if (at + bound > capacity) {
        state.at = at;
        state.needed = bound;
        return i;
      }
      at = cells(data, validity, encoded, prefixes, style, out, i, at);
      for (let k = 0; k < suffix.length; k++) out[at++] = suffix[k];
    }
    state.at = at;
    return to;
  };
}
