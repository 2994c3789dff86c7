/**
 * Batches between threads. postMessage copies what it clones, and cloning costs per object: a batch of
 * 64k rows × 10 float64 columns cloned took 10–13 ms, moved 0.55–1.0 ms, and 64k JS strings cloned
 * 25–45 ms. So a batch travels as buffers that are moved, not copied (the transfer list):
 * - typed columns, bitmaps and line numbers as they are;
 * - a string column as one string (its values joined) and the end offset of each value: one string
 *   is cloned as one block of bytes, and the receiver cuts the values out of it (V8 makes sliced strings
 *   that share it, no copy per value). Joining costs the sender a pass; nothing is UTF-8 encoded
 *   or decoded on either side;
 * - a dictionary column as its codes, and the entries its dictionary gained since the last batch that
 *   sender sent: each worker's dictionaries are its own, and the receiver merges them into one
 *   dictionary per column for the run, remapping the codes in place, so a dictionary column stays one.
 */
import { Batch, type BatchOrigin, columnRecord } from './batch.ts';
import { Column } from './column.ts';
import { Dictionary } from './dictionary.ts';
import type { DType, TypedArray } from './dtype.ts';

interface WireColumn {
  name: string;
  dtype: DType;
  length: number;
  validity: Uint8Array | null;
  /** Typed values, codes of a dictionary column; empty for strings. */
  data: TypedArray | null;
  /** A string column: values joined, and where each one ends. */
  text?: string;
  ends?: Int32Array;
  /** A dictionary column: its dictionary (numbered per sender), its cap, and the entries new since the last batch. */
  dictionary?: { id: number; cap: number; added: string[] };
}

export interface WireBatch {
  length: number;
  origin: BatchOrigin;
  lines?: Int32Array;
  columns: WireColumn[];
}

/** The sender's side: which of its dictionaries it has sent, and how much of each. */
export class BatchSender {
  private readonly sent = new WeakMap<Dictionary, { id: number; count: number }>();
  private nextId = 0;

  /** The batch as a message, and the buffers to transfer with it (the batch must not be used after). */
  encode(batch: Batch<any>): { wire: WireBatch; transfer: ArrayBuffer[] } {
    const transfer = new Set<ArrayBuffer>();
    const columns: WireColumn[] = [];
    for (const name of batch.names) {
      const column = batch.columns[name];
      const validity = column.validity === null ? null : movable(column.validity, transfer);
      if (column.dtype === 'string') {
        const strings = column.data as string[];
        const ends = new Int32Array(column.length);
        let end = 0;
        for (let i = 0; i < column.length; i++) {
          const value = strings[i];
          if (value !== undefined) end += value.length;
          ends[i] = end;
        }
        transfer.add(ends.buffer as ArrayBuffer);
        columns.push({ name, dtype: 'string', length: column.length, validity, data: null, text: strings.join(''), ends });
        continue;
      }
      const wire: WireColumn = { name, dtype: column.dtype, length: column.length, validity, data: movable(column.data as TypedArray, transfer) };
      if (column.dtype === 'dictionary') wire.dictionary = this.dictionaryDelta(column.dictionary!);
      columns.push(wire);
    }
    const lines = batch.lines === undefined ? undefined : movable(batch.lines, transfer);
    return { wire: { length: batch.length, origin: { ...batch.origin }, lines, columns }, transfer: [...transfer] };
  }

  private dictionaryDelta(dictionary: Dictionary): { id: number; cap: number; added: string[] } {
    let state = this.sent.get(dictionary);
    if (state === undefined) this.sent.set(dictionary, (state = { id: this.nextId++, count: 0 }));
    const added = dictionary.values.slice(state.count);
    state.count = dictionary.values.length;
    return { id: state.id, cap: dictionary.cap, added };
  }
}

/**
 * A view that can be moved: one that owns its whole buffer (a typed array made for the column), once
 * per batch. Anything else (a view into a larger or pooled buffer, a buffer two columns share) is copied
 * first: moving it would take the rest of the buffer from the sender.
 */
function movable<T extends TypedArray | Int32Array>(view: T, transfer: Set<ArrayBuffer>): T {
  const buffer = view.buffer as ArrayBuffer;
  if (view.byteOffset === 0 && view.byteLength === buffer.byteLength && !transfer.has(buffer)) {
    transfer.add(buffer);
    return view;
  }
  const copy = view.slice() as T;
  transfer.add(copy.buffer as ArrayBuffer);
  return copy;
}

/** The receiver's side: one dictionary per column name for the run, and per sender the code map of each of its dictionaries. */
export class BatchReceiver {
  private readonly dictionaries = new Map<string, Dictionary>();
  private readonly maps = new Map<string, { target: Dictionary; codes: Int32Array; size: number; values: string[] }>();

  /** Bytes of the run's merged dictionaries (held once for the run, as a source's are). */
  get dictionaryBytes(): number {
    let bytes = 0;
    for (const dictionary of this.dictionaries.values()) bytes += dictionary.bytes;
    return bytes;
  }

  /** The batch a sender (`from`, any key of its own) encoded, its dictionary codes remapped to the run's dictionaries. */
  decode(from: string | number, wire: WireBatch): Batch {
    const columns = columnRecord();
    for (const column of wire.columns) columns[column.name] = this.column(from, column);
    return new Batch(columns, wire.length, wire.origin, wire.lines);
  }

  private column(from: string | number, wire: WireColumn): Column {
    if (wire.dtype === 'string') {
      const { text, ends } = wire as { text: string; ends: Int32Array };
      const strings = new Array<string>(wire.length);
      let start = 0;
      for (let i = 0; i < wire.length; i++) {
        const end = ends[i];
        strings[i] = text.slice(start, end);
        start = end;
      }
      return new Column('string', wire.length, strings, wire.validity);
    }
    if (wire.dtype !== 'dictionary') return new Column(wire.dtype, wire.length, wire.data!, wire.validity);
    const { id, cap, added } = wire.dictionary!;
    const key = `${from}\u0000${id}`;
    let map = this.maps.get(key);
    if (map === undefined) {
      let target = this.dictionaries.get(wire.name);
      if (target === undefined) this.dictionaries.set(wire.name, (target = new Dictionary(cap)));
      map = { target, codes: new Int32Array(64), size: 0, values: [] };
      this.maps.set(key, map);
    }
    for (const value of added) {
      if (map.size === map.codes.length) {
        const grown = new Int32Array(map.codes.length * 2);
        grown.set(map.codes);
        map.codes = grown;
      }
      map.codes[map.size++] = map.target.code(value);
      map.values.push(value);
    }
    const codes = wire.data!;
    const mapping = map.codes;
    let identity = true;
    for (let c = 0; c < map.size; c++) {
      if (mapping[c] !== c) {
        identity = false;
        break;
      }
    }
    if (identity) return new Column('dictionary', wire.length, codes, wire.validity, map.target);
    let full = false;
    for (let c = 0; c < map.size; c++) if (mapping[c] < 0) full = true;
    if (full) {
      // The run's dictionary is full (the senders' entries together pass its cap): plain strings, as a
      // reader's column becomes once its own dictionary is.
      const own = map.values;
      const strings = new Array<string>(wire.length);
      for (let i = 0; i < wire.length; i++) strings[i] = own[codes[i]];
      return new Column('string', wire.length, strings, wire.validity);
    }
    for (let i = 0; i < wire.length; i++) codes[i] = mapping[codes[i]];
    return new Column('dictionary', wire.length, codes, wire.validity, map.target);
  }

}
