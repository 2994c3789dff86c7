/**
 * COPY text-format rows → batches, straight from the bytes: by the fields' types into the shared column
 * builders (CopyTextDecoder), or through the schema's RowDecoder (CopySchemaDecoder). Both take whole
 * rows from `buffer[position, end)` with `fill` until the batch is full, read their fields with the one
 * splitter (copy-fields.ts) and reject with the one helper (rejects.ts).
 */
import { Batch, type BatchOrigin, columnRecord } from '../../batch/batch.ts';
import { ColumnBuilder } from '../../batch/builder.ts';
import type { Column } from '../../batch/column.ts';
import { Dictionary } from '../../batch/dictionary.ts';
import { ByteDictionary } from '../../codec/byte-dictionary.ts';
import { parseFloat64, parseInteger } from '../../codec/byte-numbers.ts';
import { decodeLatin1, decodeUtf8 } from '../../codec/byte-text.ts';
import type { SourceContext } from '../../contracts/contracts.ts';
import { type DecoderOptions, RowDecoder } from '../../schema/decode.ts';
import type { ColumnPlan } from '../../schema/plan.ts';
import { CopyFieldSplitter } from './copy-fields.ts';
import { type Field, Kind, STRING_BATCH_ROWS } from './fields.ts';
import { rejectUnparsed, rejectViolation, type Violation } from './rejects.ts';
import { parsePgDateBytes, parsePgTimestampBytes, unescapeCopyText } from './text-values.ts';

/** Distinct text a source keeps in its dictionaries, all columns together (see {@link TextColumns}). */
const DICTIONARY_BYTES = 8 * 1024 * 1024;

/** What the COPY reader needs of a decoder, whichever it is. */
export interface CopyDecoder {
  readonly length: number;
  readonly full: boolean;
  fill(buffer: Buffer, position: number, end: number): number;
  flush(origin: BatchOrigin, firstRow: number, sql: string, context: SourceContext): Promise<Batch>;
}

/**
 * The text columns of one COPY read: each starts dictionary-encoded, as codes into a dictionary shared
 * by every batch of the run. A value already seen, found by its bytes, makes no string at all, and the
 * batch holds a typed array rather than a string array (see {@link STRING_BATCH_ROWS} on large arrays).
 * (Cursor mode gets strings from pg: looking each up in a Map measured slower than keeping them.) A
 * column falls back to plain strings for the rest of the run once its dictionary reaches `cap` distinct
 * values, or the dictionaries of all columns together reach {@link DICTIONARY_BYTES}: high-cardinality
 * text gains nothing from a dictionary, and it must not grow without bound under the memory budget.
 */
export class TextColumns {
  readonly dictionaries: (Dictionary | undefined)[];
  readonly keys: (ByteDictionary | undefined)[];
  private readonly kinds: Kind[];
  private bytes = 0;

  constructor(fields: readonly Field[], cap = 65536) {
    this.kinds = fields.map((field) => field.kind);
    this.dictionaries = fields.map((field) => (field.kind === Kind.Text ? new Dictionary(cap) : undefined));
    this.keys = fields.map((field) => (field.kind === Kind.Text ? new ByteDictionary(256) : undefined));
  }

  /** Batches with plain string columns stay under V8's large arrays (see {@link STRING_BATCH_ROWS}). */
  rowsPerBatch(rows: number): number {
    return this.dictionaries.every((dictionary, c) => dictionary !== undefined || this.kinds[c] !== Kind.Text) ? rows : Math.min(rows, STRING_BATCH_ROWS);
  }

  kindOf(field: Field, column: number): Kind {
    return this.dictionaries[column] === undefined ? field.kind : Kind.Dictionary;
  }

  /** The code of a value not yet in the column's byte keys, or -1: the column is plain strings from now on. */
  add(column: number, bytes: Uint8Array, start: number, end: number): number {
    const dictionary = this.dictionaries[column]!;
    const value = decodeUtf8(bytes, start, end);
    const before = dictionary.bytes;
    const code = this.bytes < DICTIONARY_BYTES ? dictionary.code(value) : -1;
    if (code < 0) {
      this.dictionaries[column] = undefined;
      this.keys[column] = undefined;
      return -1;
    }
    this.bytes += dictionary.bytes - before;
    this.keys[column]!.add(bytes, start, end, code);
    return code;
  }
}

/**
 * COPY rows → typed columns by the fields' types, in either COPY format: the builders, the text columns'
 * dictionaries and the rows to reject at flush. A subclass reads the fields of its format in `fill`.
 */
export abstract class TypedCopyDecoder implements CopyDecoder {
  length = 0;
  protected readonly builders: ColumnBuilder[];
  protected readonly kinds: Kind[];
  private bad: Uint8Array | null = null;
  private badValues: Map<number, string> | null = null;

  protected readonly fields: Field[];
  protected readonly texts: TextColumns;
  protected readonly capacity: number;
  constructor(
    fields: Field[],
    texts: TextColumns,
    capacity: number,
  ) {
    this.fields = fields;
    this.texts = texts;
    this.capacity = capacity;
    this.kinds = fields.map((field, c) => texts.kindOf(field, c));
    this.builders = fields.map((field, c) =>
      this.kinds[c] === Kind.Dictionary ? new ColumnBuilder('dictionary', capacity, texts.dictionaries[c]) : new ColumnBuilder(field.dtype, capacity),
    );
  }

  get full(): boolean {
    return this.length >= this.capacity;
  }

  abstract fill(buffer: Buffer, position: number, end: number): number;

  /** Appends text `bytes[start, end)` to a dictionary column by its bytes: no string for a value already seen. */
  protected appendDictionaryBytes(column: number, bytes: Uint8Array, start: number, end: number): void {
    let code = this.texts.keys[column]!.lookup(bytes, start, end);
    if (code < 0) code = this.addText(column, bytes, start, end);
    if (code >= 0) this.builders[column].appendCode(code);
  }

  /**
   * A value new to its column's dictionary: its code, or -1 when the dictionary is full, and then the
   * column turns into plain strings (this one stored) from this row on, for the rest of the run.
   */
  protected addText(column: number, bytes: Uint8Array, start: number, end: number): number {
    const code = this.texts.add(column, bytes, start, end);
    if (code >= 0) return code;
    const builder = this.builders[column];
    builder.toPlainStrings();
    builder.appendString(decodeUtf8(bytes, start, end));
    this.kinds[column] = Kind.Text;
    return -1;
  }

  /** Remembers the row's first value that does not fit, to reject the row at flush; the stored placeholder is 0. */
  markBad(row: number, column: number, value: string): number {
    this.bad ??= new Uint8Array(this.capacity);
    this.badValues ??= new Map();
    if (this.bad[row] === 0) {
      this.bad[row] = column + 1;
      this.badValues.set(row, value);
    }
    return 0;
  }

  flush(origin: BatchOrigin, firstRow: number, sql: string, context: SourceContext): Promise<Batch> {
    const columns = columnRecord();
    this.fields.forEach((field, c) => {
      columns[field.name] = this.builders[c].finish();
    });
    const batch = new Batch(columns, this.length, { ...origin, row: firstRow });
    if (this.bad === null) return Promise.resolve(batch);
    const values = this.badValues!;
    return rejectUnparsed(batch, this.bad, this.fields, (row) => values.get(row) ?? '', context, sql, firstRow);
  }
}

/** COPY text-format rows → typed columns: no string per number, date or timestamp, nor per text value already in its dictionary. */
export class CopyTextDecoder extends TypedCopyDecoder {
  private readonly field = new CopyFieldSplitter();

  fill(buffer: Buffer, position: number, end: number): number {
    const builders = this.builders;
    const kinds = this.kinds;
    const field = this.field;
    const columns = kinds.length;
    const capacity = this.capacity;
    let row = this.length;
    while (position < end && row < capacity) {
      for (let c = 0; c < columns; c++) {
        position = field.next(buffer, position);
        const builder = builders[c];
        if (field.isNull(buffer)) {
          builder.appendNull();
          continue;
        }
        const start = field.start;
        const fieldEnd = field.end;
        switch (kinds[c]) {
          case Kind.Dictionary:
            if (field.escaped) {
              const text = unescapeCopyText(buffer, start, fieldEnd);
              this.appendDictionaryBytes(c, text, 0, text.length);
            } else this.appendDictionaryBytes(c, buffer, start, fieldEnd);
            break;
          case Kind.Text:
            builder.appendString(field.text(buffer));
            break;
          case Kind.Integer:
            builder.appendNumber(parseInteger(buffer, start, fieldEnd));
            break;
          case Kind.Float: {
            let value = parseFloat64(buffer, start, fieldEnd);
            if (value !== value) value = Number(decodeLatin1(buffer, start, fieldEnd)); // NaN, Infinity
            builder.appendNumber(value);
            break;
          }
          case Kind.Bool:
            builder.appendNumber(buffer[start] === 0x74 ? 1 : 0); // t
            break;
          case Kind.Date: {
            const days = parsePgDateBytes(buffer, start, fieldEnd);
            builder.appendNumber(Number.isFinite(days) ? days : this.markBad(row, c, decodeUtf8(buffer, start, fieldEnd)));
            break;
          }
          case Kind.Timestamp: {
            const ms = parsePgTimestampBytes(buffer, start, fieldEnd);
            builder.appendNumber(ms === ms ? ms : this.markBad(row, c, decodeUtf8(buffer, start, fieldEnd)));
            break;
          }
        }
      }
      row++;
    }
    this.length = row;
    return position;
  }
}

/** COPY rows → text values → the schema's RowDecoder (the checked path). */
export class CopySchemaDecoder implements CopyDecoder {
  private readonly decoder: RowDecoder;
  private readonly values: unknown[];
  private readonly texts: (string | null)[];
  private readonly field = new CopyFieldSplitter();
  private readonly pending: { row: number; violation: Violation }[] = [];
  private taken = 0;

  private readonly fields: Field[];
  private readonly positions: number[];
  private readonly capacity: number;
  constructor(
    fields: Field[],
    plans: ColumnPlan[],
    positions: number[],
    capacity: number,
    widen: DecoderOptions,
  ) {
    this.fields = fields;
    this.positions = positions;
    this.capacity = capacity;
    this.decoder = new RowDecoder(plans, capacity, widen);
    this.values = new Array(plans.length);
    this.texts = new Array(fields.length);
  }

  get length(): number {
    return this.taken;
  }

  get full(): boolean {
    return this.taken >= this.capacity;
  }

  fill(buffer: Buffer, position: number, end: number): number {
    const columns = this.fields.length;
    const field = this.field;
    while (position < end && this.taken < this.capacity) {
      for (let c = 0; c < columns; c++) {
        position = field.next(buffer, position);
        this.texts[c] = field.isNull(buffer) ? null : field.text(buffer);
      }
      for (let c = 0; c < this.positions.length; c++) this.values[c] = this.texts[this.positions[c]];
      const violation = this.decoder.append(this.values, this.taken);
      if (violation !== null) this.pending.push({ row: this.taken, violation });
      this.taken++;
    }
    return position;
  }

  async flush(origin: BatchOrigin, firstRow: number, sql: string, context: SourceContext): Promise<Batch> {
    for (const { row, violation } of this.pending) await rejectViolation(context, sql, firstRow + row, violation);
    const batch = this.decoder.flush(origin);
    return new Batch(batch.columns, batch.length, { ...origin, row: firstRow });
  }
}
