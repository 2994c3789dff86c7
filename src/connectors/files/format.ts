/**
 * Text output of batches (CSV, NDJSON): rows written front to back by a loop generated for the batch's
 * row layout (row-writer.ts), or by the plain loop over it when code generation is off
 * (interpreted-row-writer.ts), cell by cell from the typed columns, into chunks of about a megabyte that
 * the sink writes one after the other. No string is made for numbers, timestamps, dates, booleans,
 * dictionary values or plain-ASCII strings.
 */
import type { Batch } from '../../batch/batch.ts';
import type { Dictionary } from '../../batch/dictionary.ts';
import type { TextStyle } from '../../codec/cells.ts';
import { codeGenerationEnabled } from '../../codegen/switch.ts';
import { interpretedRowWriter } from './interpreted-row-writer.ts';
import { BOOL, CELL_BYTES, DATE, DICTIONARY, FLOAT64, NUMBER, type RowLayout, type RowWriterState, STRING, TIMESTAMP } from './row-layout.ts';
import { generatedRowWriter } from './row-writer.ts';

/** Bytes per chunk: large writes, and little memory held per batch beyond the text itself. */
const CHUNK_BYTES = 1 << 20;
/** Chunks kept for reuse: a batch's worth in the write queue, and some to start the next. */
const SPARE_CHUNKS = 16;

const KINDS: Record<string, number> = { bool: BOOL, string: STRING, dictionary: DICTIONARY, timestamp: TIMESTAMP, date: DATE, float64: FLOAT64 };

/**
 * Encodes batches as rows of text: per row, for each column its prefix (CSV: the delimiter before every
 * column but the first; NDJSON: `{"name":` / `,"name":`) and its cell, then the row suffix.
 */
export type { TextStyle };

export class RowTextEncoder {
  /** Encoded dictionary values (quoted or JSON), per dictionary: they repeat in every batch. */
  private readonly dictionaries = new Map<Dictionary, (Uint8Array | undefined)[]>();
  /**
   * Output buffers given back by {@link release} once written, reused by the next batches. A fresh
   * megabyte-sized buffer per chunk churns malloc over a long run (glibc raises its mmap threshold to
   * the size of the buffers freed, so later ones come from a heap that can fragment and keep pages).
   */
  private readonly spare: ArrayBuffer[] = [];
  private readonly state: RowWriterState = { at: 0, needed: 0 };

  /**
   * `generated`: write with generated loops (when the host allows; else the interpreted writer). Decided
   * once per encoder, that is per sink: by default, whether code generation is on when it is made.
   */
  private readonly style: TextStyle;
  readonly generated: boolean;
  constructor(
    style: TextStyle,
    generated: boolean = codeGenerationEnabled(),
  ) {
    this.style = style;
    this.generated = generated;
  }

  /** The rows of `batch` as chunks of text, in order, handed over to the caller. */
  encode(batch: Batch<unknown>, prefixes: readonly Uint8Array[], suffix: Uint8Array): Uint8Array[] {
    const names = batch.names;
    const length = batch.length;
    const json = this.style.json;
    const layout: RowLayout = { json, kinds: [], arrays: [], prefixes: [], suffix: [...suffix] };
    const data: unknown[] = [];
    const validity: (Uint8Array | null)[] = [];
    const encoded: ((Uint8Array | undefined)[] | null)[] = [];
    let fixedBound = suffix.length;
    names.forEach((name, c) => {
      const column = batch.columns[name];
      const kind = KINDS[column.dtype] ?? NUMBER;
      layout.kinds.push(kind);
      layout.arrays.push((column.data as object).constructor.name);
      layout.prefixes.push([...prefixes[c]]);
      data.push(column.data);
      validity.push(column.validity);
      let cellBytes = CELL_BYTES[kind];
      if (kind === DICTIONARY) {
        const values = this.encodedValues(column.dictionary!);
        encoded.push(values);
        cellBytes = 4; // JSON null
        for (const value of values) if (value !== undefined && value.length > cellBytes) cellBytes = value.length;
      } else encoded.push(null);
      fixedBound += prefixes[c].length + cellBytes;
    });
    const write = (this.generated ? generatedRowWriter(layout) : null) ?? interpretedRowWriter(layout);
    const state = this.state;
    const chunks: Uint8Array[] = [];
    let row = 0;
    let size = CHUNK_BYTES;
    while (row < length) {
      const chunk = this.chunk(size);
      state.at = 0;
      const next = write(data, validity, encoded, prefixes, suffix, this.style, chunk, row, length, fixedBound, state);
      if (next === row) {
        // Not even one row fits: a chunk as large as that row may need.
        this.release(chunk);
        size = state.needed;
        continue;
      }
      chunks.push(chunk.subarray(0, state.at));
      row = next;
      size = CHUNK_BYTES;
    }
    return chunks;
  }

  /**
   * Gives back a chunk `encode` returned, once the caller is done with it (written to the file): its
   * memory is reused for a later one. Optional: chunks never given back are simply collected.
   */
  release(bytes: Uint8Array): void {
    const buffer = bytes.buffer;
    if (!(buffer instanceof ArrayBuffer) || bytes.byteOffset !== 0 || this.spare.includes(buffer)) return;
    if (this.spare.length < SPARE_CHUNKS) this.spare.push(buffer);
  }

  /** A chunk of at least `size` bytes: a spare one when one is large enough, else a new one. */
  private chunk(size: number): Buffer {
    for (let k = 0; k < this.spare.length; k++) {
      const buffer = this.spare[k];
      if (buffer.byteLength >= size) {
        this.spare.splice(k, 1);
        return Buffer.from(buffer, 0, buffer.byteLength);
      }
    }
    // allocUnsafeSlow: never a slice of Node's shared pool, so the buffer is ours alone to reuse.
    return Buffer.from(Buffer.allocUnsafeSlow(size).buffer, 0, size);
  }

  private encodedValues(dictionary: Dictionary): (Uint8Array | undefined)[] {
    let encoded = this.dictionaries.get(dictionary);
    if (encoded === undefined) {
      encoded = [];
      this.dictionaries.set(dictionary, encoded);
    }
    const values = dictionary.values;
    for (let code = encoded.length; code < values.length; code++) {
      encoded.push(Buffer.from(this.style.json ? JSON.stringify(values[code]) : this.style.quote(values[code]), 'utf8'));
    }
    return encoded;
  }
}
