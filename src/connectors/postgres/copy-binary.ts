/**
 * COPY binary-format rows → typed columns. PostgreSQL's binary COPY sends integers, floats, booleans,
 * dates and timestamps as fixed-width big-endian values, which are read straight into typed arrays: no
 * text to format on the server, none to parse here. Text arrives as its UTF-8 bytes, unescaped, and goes
 * to the same byte-keyed dictionaries as the text format's.
 *
 * Only types whose binary form is decoded here to exactly what the text path gives are read this way
 * ({@link binaryWireOf}); a result with any other column is read in the text format (copy-reader.ts).
 * The format: https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4
 */
import { parseFloat64 } from '../../codec/byte-numbers.ts';
import type { ByteDictionary } from '../../codec/byte-dictionary.ts';
import { decodeLatin1, decodeUtf8 } from '../../codec/byte-text.ts';
import { SluiceError } from '../../core/errors.ts';
import { TypedCopyDecoder } from './decode-copy.ts';
import { type Field, Kind } from './fields.ts';
import { spellUuid, type TupleLoop, tupleLoopFor, type TupleLoopHost } from './tuple-loop.ts';
import { PG_OID } from './types.ts';

// An object rather than an enum, so that Node can run this file by erasing its types.
/** How a column's binary value is laid out on the wire. */
export const Wire = {
  Bool: 0,
  Int2: 1,
  Int4: 2,
  Int8: 3,
  Float4: 4,
  Float8: 5,
  Numeric: 6,
  Date: 7,
  Timestamp: 8,
  /** UTF-8 bytes as they are: text, varchar, char(n), name, json. */
  Text: 9,
  /** A version byte (1), then the JSON text. */
  Jsonb: 10,
  Uuid: 11,
} as const;
export type Wire = (typeof Wire)[keyof typeof Wire];

const WIRE_BY_OID = new Map<number, Wire>([
  [PG_OID.bool, Wire.Bool],
  [PG_OID.int2, Wire.Int2],
  [PG_OID.int4, Wire.Int4],
  [PG_OID.int8, Wire.Int8],
  [PG_OID.float4, Wire.Float4],
  [PG_OID.float8, Wire.Float8],
  [PG_OID.numeric, Wire.Numeric],
  [PG_OID.date, Wire.Date],
  [PG_OID.timestamp, Wire.Timestamp],
  [PG_OID.timestamptz, Wire.Timestamp],
  [PG_OID.text, Wire.Text],
  [PG_OID.varchar, Wire.Text],
  [PG_OID.bpchar, Wire.Text],
  [PG_OID.name, Wire.Text],
  [PG_OID.json, Wire.Text],
  [PG_OID.jsonb, Wire.Jsonb],
  [PG_OID.uuid, Wire.Uuid],
]);

/** The binary layout of a column of this type, or undefined when Sluice reads it only as text. */
export function binaryWireOf(oid: number): Wire | undefined {
  return WIRE_BY_OID.get(oid);
}

/** `PGCOPY\n\xff\r\n\0`, then a flags word and the length of a header extension. */
const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const HEADER_FIXED = SIGNATURE.length + 8;

/** Days and microseconds from 1970-01-01 (Sluice's epoch) to 2000-01-01 (PostgreSQL's). */
const EPOCH_DAYS = 10957;
const EPOCH_MS = 946684800000;
const TWO_32 = 4294967296;

/**
 * The length of the header at the start of a binary COPY stream, or -1 when `buffer` does not hold all
 * of it yet. Throws on a stream that is not binary COPY.
 */
export function binaryHeaderLength(buffer: Uint8Array, sql: string): number {
  if (buffer.length < HEADER_FIXED) return -1;
  for (let i = 0; i < SIGNATURE.length; i++) {
    if (buffer[i] !== SIGNATURE[i]) throw new SluiceError('PG_COPY', 'The server did not answer COPY … (FORMAT binary) with the binary COPY signature.', { query: sql });
  }
  const extension = readInt32(buffer, SIGNATURE.length + 4);
  return buffer.length < HEADER_FIXED + extension ? -1 : HEADER_FIXED + extension;
}

function readInt32(buffer: Uint8Array, position: number): number {
  return (buffer[position] << 24) | (buffer[position + 1] << 16) | (buffer[position + 2] << 8) | buffer[position + 3];
}

function readUint32(buffer: Uint8Array, position: number): number {
  return readInt32(buffer, position) >>> 0;
}

function readInt16(buffer: Uint8Array, position: number): number {
  return ((buffer[position] << 24) | (buffer[position + 1] << 16)) >> 16;
}

/**
 * COPY binary tuples (or DataRows of the binary result format, laid out alike) → typed columns by the
 * fields' types: through the loop generated for the columns' layout (tuple-loop.ts), or field by field
 * when code generation is off.
 */
export class CopyBinaryDecoder extends TypedCopyDecoder implements TupleLoopHost {
  /** The stream's trailer (a field count of -1) has been read: no more rows. */
  ended = false;
  rows = 0;
  relayout = false;
  private readonly wires: Wire[];
  /** Room to spell a uuid or a numeric in ASCII, the text path's form of it (grown for a long numeric). */
  private scratch = Buffer.allocUnsafe(256);
  readonly uuidScratch = Buffer.allocUnsafe(36);
  /** The generated loops for the columns' current layout, unframed and framed; undefined until first needed, null when code generation is off. */
  private loop: TupleLoop | null | undefined;
  private framedLoop: TupleLoop | null | undefined;
  private framedType = 0;
  private viewOf: Buffer | undefined;
  private view: DataView | undefined;

  constructor(fields: Field[], texts: ConstructorParameters<typeof TypedCopyDecoder>[1], capacity: number) {
    super(fields, texts, capacity);
    this.wires = fields.map((field) => {
      const wire = binaryWireOf(field.oid);
      if (wire === undefined) throw new TypeError(`column ${field.name}: type ${field.oid} has no binary decoder`);
      return wire;
    });
  }

  get keys(): readonly (ByteDictionary | undefined)[] {
    return this.texts.keys;
  }

  /**
   * Decodes the whole tuples of `buffer[position, end)`, as many as the batch holds; returns the position
   * of the first byte not decoded (the start of a tuple not yet whole, or `end`).
   */
  fill(buffer: Buffer, position: number, end: number): number {
    if (this.loop === undefined) this.loop = this.makeLoop(0);
    if (this.loop === null) return this.fillPlain(buffer, position, end);
    return this.runLoop(buffer, position, end, 0);
  }

  /**
   * Decodes the protocol messages of type `frame` at `buffer[position, end)` that hold exactly one whole
   * tuple each, in place, as many as the batch holds; returns the position of the first message not
   * decoded (any other message, or one not whole). Without generated code, decodes none: the caller's
   * general path reads every message.
   */
  fillFramed(buffer: Buffer, position: number, end: number, frame: number): number {
    if (this.framedLoop === undefined || this.framedType !== frame) {
      this.framedType = frame;
      this.framedLoop = this.makeLoop(frame);
    }
    if (this.framedLoop === null) return position;
    return this.runLoop(buffer, position, end, frame);
  }

  private runLoop(buffer: Buffer, position: number, end: number, frame: number): number {
    // One view per socket chunk, not per call: the framed path comes here for every chunk, the general path for single messages.
    if (this.viewOf !== buffer) {
      this.viewOf = buffer;
      this.view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    }
    for (;;) {
      const loop = frame === 0 ? this.loop! : this.framedLoop!;
      position = loop(this, buffer, this.view!, position, end, this.length, this.capacity, this.builders);
      this.length = this.rows;
      for (const builder of this.builders) builder.length = this.rows;
      if (!this.relayout) return position;
      // A text column outgrew its dictionary and stopped the loop: go on with the loops for its strings.
      this.relayout = false;
      this.loop = this.makeLoop(0);
      if (this.framedLoop !== undefined) this.framedLoop = this.makeLoop(this.framedType);
    }
  }

  private makeLoop(frame: number): TupleLoop | null {
    const columns = this.wires.map((wire, c) => ({ wire, dictionary: this.kinds[c] === Kind.Dictionary, array: this.builders[c].values.constructor.name }));
    return tupleLoopFor({ columns, frame });
  }

  /** For the loop: a value new to its column's dictionary (see {@link TupleLoopHost.addText}). */
  addTextAt(column: number, bytes: Uint8Array, start: number, end: number, row: number): number {
    this.builders[column].length = row;
    return this.addText(column, bytes, start, end);
  }

  badCount(count: number, row: number): never {
    throw new SluiceError('PG_COPY', `A binary COPY row has ${count} fields where the query has ${this.wires.length} columns.`, { row: row + 1 });
  }

  /** {@link fill} field by field, without generated code. */
  private fillPlain(buffer: Buffer, position: number, end: number): number {
    const columns = this.wires.length;
    const capacity = this.capacity;
    let row = this.length;
    while (row < capacity && position + 2 <= end) {
      const count = readInt16(buffer, position);
      if (count === -1) {
        this.ended = true;
        position += 2;
        break;
      }
      if (count !== columns) this.badCount(count, row);
      // Only a whole tuple is decoded: a row is never half appended.
      let scan = position + 2;
      for (let c = 0; c < columns && scan <= end; c++) {
        if (scan + 4 > end) {
          scan = end + 1;
          break;
        }
        const length = readInt32(buffer, scan);
        scan += 4 + (length > 0 ? length : 0);
      }
      if (scan > end) break;
      position += 2;
      for (let c = 0; c < columns; c++) {
        const length = readInt32(buffer, position);
        position += 4;
        if (length < 0) {
          this.builders[c].appendNull();
          continue;
        }
        this.decode(c, row, buffer, position, length);
        position += length;
      }
      row++;
    }
    this.length = row;
    return position;
  }

  private decode(c: number, row: number, buffer: Buffer, at: number, length: number): void {
    const builder = this.builders[c];
    switch (this.wires[c]) {
      case Wire.Bool:
        builder.appendNumber(buffer[at] === 0 ? 0 : 1);
        return;
      case Wire.Int2:
        builder.appendNumber(readInt16(buffer, at));
        return;
      case Wire.Int4:
        builder.appendNumber(readInt32(buffer, at));
        return;
      case Wire.Int8:
        // Exact up to ±2^53, and rounded once beyond, as the text path's dtype (float64) documents.
        builder.appendNumber(readInt32(buffer, at) * TWO_32 + readUint32(buffer, at + 4));
        return;
      case Wire.Float4:
        builder.appendNumber(buffer.readFloatBE(at));
        return;
      case Wire.Float8:
        builder.appendNumber(buffer.readDoubleBE(at));
        return;
      case Wire.Numeric:
        builder.appendNumber(this.numeric(buffer, at));
        return;
      case Wire.Date: {
        const days = readInt32(buffer, at);
        // ±infinity: a date PostgreSQL holds and Sluice cannot, rejected as the text path rejects it.
        if (days === 0x7fffffff || days === -0x80000000) builder.appendNumber(this.markBad(row, c, days > 0 ? 'infinity' : '-infinity'));
        else builder.appendNumber(days + EPOCH_DAYS);
        return;
      }
      case Wire.Timestamp: {
        const high = readInt32(buffer, at);
        const low = readUint32(buffer, at + 4);
        // ±infinity: a timestamp column holds it, as the text path reads it.
        if (high === 0x7fffffff && low === 0xffffffff) builder.appendNumber(Infinity);
        else if (high === -0x80000000 && low === 0) builder.appendNumber(-Infinity);
        else builder.appendNumber(microsToMillis(high, low) + EPOCH_MS);
        return;
      }
      case Wire.Text:
        this.appendText(c, buffer, at, at + length);
        return;
      case Wire.Jsonb:
        this.appendText(c, buffer, at + 1, at + length);
        return;
      case Wire.Uuid:
        this.appendText(c, this.scratch, 0, spellUuid(buffer, at, this.scratch));
        return;
    }
  }

  private appendText(c: number, bytes: Uint8Array, start: number, end: number): void {
    if (this.kinds[c] === Kind.Dictionary) this.appendDictionaryBytes(c, bytes, start, end);
    else this.builders[c].appendString(decodeUtf8(bytes, start, end));
  }

  /**
   * A numeric as float64: spelled in ASCII as the server's text output spells it (all `dscale` digits
   * after the point) and read by the text path's parser, so both paths give the same double.
   */
  numeric(buffer: Buffer, at: number): number {
    const digits = readInt16(buffer, at);
    const weight = readInt16(buffer, at + 2);
    const sign = (buffer[at + 4] << 8) | buffer[at + 5];
    const scale = readInt16(buffer, at + 6);
    if (sign === 0xc000) return NaN;
    if (sign === 0xd000) return Infinity;
    if (sign === 0xf000) return -Infinity;
    const groupAt = (i: number) => (i < digits ? (buffer[at + 8 + 2 * i] << 8) | buffer[at + 9 + 2 * i] : 0);
    const needed = Math.max(weight + 1, 1) * 4 + Math.max(scale, 0) + 2;
    if (needed > this.scratch.length) this.scratch = Buffer.allocUnsafe(needed * 2);
    const out = this.scratch;
    let n = 0;
    if (sign === 0x4000) out[n++] = 0x2d; // -
    if (weight < 0) out[n++] = 0x30;
    for (let i = 0; i <= weight; i++) n = writeGroup(out, n, groupAt(i), i > 0);
    if (scale > 0) {
      out[n++] = 0x2e; // .
      let written = 0;
      for (let i = weight + 1; written < scale; i++) {
        const group = i < 0 ? 0 : groupAt(i);
        for (let divisor = 1000; divisor >= 1 && written < scale; divisor /= 10, written++) out[n++] = 0x30 + (Math.floor(group / divisor) % 10);
      }
    }
    const value = parseFloat64(out, 0, n);
    return value === value ? value : Number(decodeLatin1(out, 0, n));
  }
}

/** `floor((high * 2^32 + low) / 1000)` without losing the microseconds of large values to a double's 53 bits. */
function microsToMillis(high: number, low: number): number {
  // high * 2^32 = high * 4294967 * 1000 + high * 296
  const rest = high * 296 + low;
  return high * 4294967 + Math.floor(rest / 1000);
}

/** Writes a base-10000 group in decimal: four digits, or without leading zeros for the first. */
function writeGroup(out: Buffer, n: number, group: number, padded: boolean): number {
  let started = padded;
  for (let divisor = 1000; divisor >= 1; divisor /= 10) {
    const digit = Math.floor(group / divisor) % 10;
    if (digit !== 0 || started || divisor === 1) {
      out[n++] = 0x30 + digit;
      started = true;
    }
  }
  return n;
}
