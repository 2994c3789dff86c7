/**
 * The binary tuple loop's code, generated per column layout (each column's wire type, whether its text
 * goes to a dictionary, and the class of its typed array). A binary COPY tuple and a DataRow of the
 * binary result format are laid out alike: a 16-bit field count, then per field a 32-bit length (-1 for
 * null) and that many bytes. The plain decoder (CopyBinaryDecoder.fillPlain) dispatches on each field's
 * wire type and appends through the builders, whose one store site sees every column's array class; the
 * generated loop has each field's read in line with its own store into its own array, and reads the
 * fixed-width values through a DataView (inlined by V8): 2.4x faster on the bench's orders (see the
 * commit that made it). The reads are those of the plain decoder, field by field.
 *
 * Only numbers computed here go into the code (no names, no text from the server); loops are cached by
 * layout in codegen/generate.ts. With code generation off there is no loop, and the plain decoder reads.
 */
import { type ColumnBuilder, setNull } from '../../batch/builder.ts';
import { GeneratedCode, generate } from '../../codegen/generate.ts';
import type { ByteDictionary } from '../../codec/byte-dictionary.ts';
import { decodeUtf8 } from '../../codec/byte-text.ts';

/** The wire types, as numbers (copy-binary.ts's `Wire`; repeated here to keep this file free of its imports). */
export interface TupleColumn {
  wire: number;
  /** Text to the column's byte-keyed dictionary (else plain strings); only for text wires. */
  dictionary: boolean;
  /** The class of the column's typed array: part of the layout so each store sees one class. */
  array: string;
}

/** What the generated loop reads from, and calls back into, its decoder. */
export interface TupleLoopHost {
  readonly keys: readonly (ByteDictionary | undefined)[];
  /** Room to spell a uuid in. */
  readonly uuidScratch: Buffer;
  /**
   * Set by the loop: the rows of the batch after it, whether it met the stream's trailer, and whether it
   * stopped because a column turned into plain strings (its layout changed).
   */
  rows: number;
  ended: boolean;
  relayout: boolean;
  /**
   * A value new to column `column`'s dictionary: its code, or -1 when the column has just turned into
   * plain strings (the value stored at `row`); the loop then stops after the row to be made again.
   */
  addTextAt(column: number, bytes: Uint8Array, start: number, end: number, row: number): number;
  markBad(row: number, column: number, value: string): number;
  numeric(buffer: Buffer, at: number): number;
  /** A field count other than the query's columns: throws. */
  badCount(count: number, row: number): never;
}

export type TupleLoop = (host: TupleLoopHost, buffer: Buffer, view: DataView, position: number, end: number, row: number, capacity: number, builders: ColumnBuilder[]) => number;

// The wire numbers of copy-binary.ts's Wire.
const BOOL = 0;
const INT2 = 1;
const INT4 = 2;
const INT8 = 3;
const FLOAT4 = 4;
const FLOAT8 = 5;
const NUMERIC = 6;
const DATE = 7;
const TIMESTAMP = 8;
const TEXT = 9;
const JSONB = 10;
const UUID = 11;

const helpers = { setNull, decodeUtf8, spellUuid };

export interface TupleLayout {
  columns: TupleColumn[];
  /**
   * 0: the tuples lie one after another (a COPY stream's bytes). Else the type of the protocol message
   * each tuple comes in (CopyData 'd', DataRow 'D'): the loop takes whole messages of exactly one tuple
   * in place, and stops at anything else (another message, one split across chunks, one that is not one
   * tuple) for its caller's general path (socket-tap.ts).
   */
  frame: number;
}

const loops = new GeneratedCode<TupleLayout, TupleLoop>('tuple-loop', compile);

/** The loop for `layout`, generated on first use; null when code generation is off (the plain decoder reads). */
export function tupleLoopFor(layout: TupleLayout): TupleLoop | null {
  return loops.get(layout);
}

/** Code that takes text `bytes[start, end)` into column `c`: by its bytes into the dictionary, or as a string. */
function textCode(column: TupleColumn, c: number, bytes: string, start: string, end: string): string {
  if (!column.dictionary) return `strings${c}[row] = decodeUtf8(${bytes}, ${start}, ${end});`;
  return `let code = keys${c}.lookup(${bytes}, ${start}, ${end});
        if (code < 0) code = host.addTextAt(${c}, ${bytes}, ${start}, ${end}, row);
        if (code >= 0) values${c}[row] = code;
        else relayout = true;`;
}

/** Code for a non-null field of `length` bytes at `position` (which it leaves alone). */
function valueCode(column: TupleColumn, c: number): string {
  switch (column.wire) {
    case BOOL:
      return `values${c}[row] = buffer[position] === 0 ? 0 : 1;`;
    case INT2:
      return `values${c}[row] = view.getInt16(position);`;
    case INT4:
      return `values${c}[row] = view.getInt32(position);`;
    case INT8:
      // Exact up to ±2^53, and rounded once beyond, as the text path's dtype (float64) documents.
      return `values${c}[row] = view.getInt32(position) * 4294967296 + view.getUint32(position + 4);`;
    case FLOAT4:
      return `values${c}[row] = view.getFloat32(position);`;
    case FLOAT8:
      return `values${c}[row] = view.getFloat64(position);`;
    case NUMERIC:
      return `values${c}[row] = host.numeric(buffer, position);`;
    case DATE:
      // ±infinity: a date PostgreSQL holds and Sluice cannot, rejected as the text path rejects it.
      return `const days = view.getInt32(position);
        values${c}[row] = days === 2147483647 ? host.markBad(row, ${c}, 'infinity') : days === -2147483648 ? host.markBad(row, ${c}, '-infinity') : days + 10957;`;
    case TIMESTAMP:
      // Microseconds from 2000-01-01 to milliseconds from 1970-01-01, floored, without losing the
      // microseconds of large values to a double's 53 bits: high * 2^32 = high * 4294967 * 1000 + high * 296.
      return `const high = view.getInt32(position);
        const low = view.getUint32(position + 4);
        values${c}[row] = high === 2147483647 && low === 4294967295 ? Infinity : high === -2147483648 && low === 0 ? -Infinity : high * 4294967 + Math.floor((high * 296 + low) / 1000) + 946684800000;`;
    case TEXT:
      return textCode(column, c, 'buffer', 'position', 'position + length');
    case JSONB:
      // A version byte (1), then the JSON text.
      return textCode(column, c, 'buffer', 'position + 1', 'position + length');
    case UUID:
      return `const spelled = spellUuid(buffer, position, uuidScratch);
        ${textCode(column, c, 'uuidScratch', '0', 'spelled')}`;
    default:
      throw new TypeError(`tuple loop: no wire type ${String(column.wire)}`);
  }
}

/** A tuple's start in a stream of tuples: the trailer ends it, a tuple not yet whole waits. */
function unframedStart(count: number, scan: string): string {
  return `rows: while (row < capacity && position + 2 <= end) {
    const count = view.getInt16(position);
    if (count !== ${count}) {
      if (count === -1) {
        host.ended = true;
        position += 2;
        break;
      }
      host.badCount(count, row);
    }
    let scan = position + 2;
    ${scan}
    if (scan > end) break;
    position += 2;`;
}

/** A tuple's start in a message of its own: anything but a whole message of exactly one tuple is left (at the message's start). */
function framedStart(frame: number, count: number, scan: string): string {
  return `rows: while (row < capacity && position + 7 <= end && buffer[position] === ${frame}) {
    const messageEnd = position + 1 + view.getInt32(position + 1);
    if (messageEnd > end || view.getInt16(position + 5) !== ${count}) break;
    let scan = position + 7;
    ${scan}
    if (scan !== messageEnd) break;
    position += 7;`;
}

function isText(column: TupleColumn): boolean {
  return column.wire === TEXT || column.wire === JSONB || column.wire === UUID;
}

function compile(layout: TupleLayout, name: string): TupleLoop {
  const columns = layout.columns;
  const count = columns.length;
  if (!Number.isInteger(layout.frame) || layout.frame < 0 || layout.frame > 255) throw new TypeError(`tuple loop: not a message type: ${String(layout.frame)}`);
  const locals = columns
    .map((column, c) => {
      const lines = [`const builder${c} = builders[${c}];`];
      if (isText(column) && !column.dictionary) lines.push(`const strings${c} = builder${c}.strings;`);
      else lines.push(`const values${c} = builder${c}.values;`);
      if (isText(column) && column.dictionary) lines.push(`const keys${c} = host.keys[${c}];`);
      return lines.join('\n');
    })
    .join('\n');
  // A tuple is decoded only when whole: its lengths are checked first, so a row is never half appended.
  const limit = layout.frame === 0 ? 'end' : 'messageEnd';
  const scan = columns
    .map(
      () => `if (scan + 4 > ${limit}) break rows;
      length = view.getInt32(scan);
      scan += length > 0 ? 4 + length : 4;`,
    )
    .join('\n');
  const fields = columns
    .map(
      (column, c) => `// field ${c}
    length = view.getInt32(position);
    position += 4;
    if (length < 0) setNull(builder${c}, row);
    else {
      ${valueCode(column, c)}
      position += length;
    }`,
    )
    .join('\n');
  const source = `return function tupleLoop(host, buffer, view, position, end, row, capacity, builders) {
  ${locals}
  const uuidScratch = host.uuidScratch;
  let relayout = false;
  let length = 0;
  ${layout.frame === 0 ? unframedStart(count, scan) : framedStart(layout.frame, count, scan)}
    ${fields}
    row++;
    if (relayout) break;
  }
  host.rows = row;
  host.relayout = relayout;
  return position;
};`;
  return generate<TupleLoop>(name, helpers, source);
}

const HEX = Buffer.from('0123456789abcdef', 'latin1');

/** Spells 16 uuid bytes as PostgreSQL's text form (8-4-4-4-12 lowercase hex) into `out`; returns its length. */
export function spellUuid(buffer: Uint8Array, at: number, out: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) out[n++] = 0x2d;
    const byte = buffer[at + i];
    out[n++] = HEX[byte >> 4];
    out[n++] = HEX[byte & 15];
  }
  return n;
}
