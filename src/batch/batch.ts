import type { Column } from './column.ts';
import { jsObjectOverhead, jsValueBytes } from './dtype.ts';

/** Where a batch came from, so errors and checkpoints can point at it. */
export interface BatchOrigin {
  /** Input file as the user named it. */
  file?: string;
  /** SQL text of a PostgreSQL source (never with credentials). */
  query?: string;
  /** 1-based row number of the batch's first row within its query result. */
  row?: number;
  /** Byte offset of the first row in the (decompressed) input. */
  byteOffset?: number;
  /** 0-based row group of a Parquet file. */
  rowGroup?: number;
  /** 0-based record batch of an Arrow IPC file or stream. */
  recordBatch?: number;
}

/**
 * Which rows of a source's read a batch's rows are, for a source whose state must follow the rows the
 * sink wrote (an incremental PostgreSQL read): `rows[i]` is row i's index in what the source read, and
 * `stateAt(index)` the state to commit once that row and those before it are written. Rows taken or
 * projected keep it (filter, take, select, map); a batch built anew (an aggregate) has none.
 */
export interface SourceTrace {
  readonly rows: Uint32Array;
  readonly stateAt: (index: number) => Readonly<Record<string, unknown>>;
}

const traces = new WeakMap<Batch<any>, SourceTrace>();

export function traceRows(batch: Batch<any>, trace: SourceTrace): void {
  traces.set(batch, trace);
}

export function sourceTraceOf(batch: Batch<any>): SourceTrace | undefined {
  return traces.get(batch);
}

/**
 * Any row: column name to value. Values are `any` rather than `unknown` so that a pipeline over an
 * inferred schema (no zod schema: the types are only known at run time) reads naturally:
 * `.filter((row) => row.amount > 100)`. Give the source a schema to have every column typed.
 */
export type AnyRow = Record<string, any>;

/**
 * `length` rows stored as named columns. `R` is the row type a row view presents; it flows from the
 * schema through the stages.
 */
export class Batch<R = AnyRow> {
  declare readonly __row?: R;
  readonly names: readonly string[];

  readonly columns: Readonly<Record<string, Column>>;
  readonly length: number;
  readonly origin: BatchOrigin;
  readonly lines?: Int32Array;
  constructor(
    columns: Readonly<Record<string, Column>>,
    length: number,
    origin: BatchOrigin = {},
    /** 1-based source line of each row, when the source has lines (CSV, NDJSON). */
    lines?: Int32Array,
  ) {
    this.columns = columns;
    this.length = length;
    this.origin = origin;
    this.lines = lines;
    this.names = Object.keys(columns);
  }

  column(name: string): Column {
    const column = this.columns[name];
    if (column === undefined) throw new Error(`no column ${JSON.stringify(name)} in batch (columns: ${this.names.join(', ')})`);
    return column;
  }

  /** Bytes held by the batch's columns: exact for typed buffers, an estimate for plain strings. */
  get byteSize(): number {
    let bytes = this.lines === undefined ? 0 : this.lines.byteLength;
    for (const name of this.names) bytes += this.columns[name].byteSize;
    return bytes;
  }

  /** Source line of row `index`, when known. */
  lineOf(index: number): number | undefined {
    return this.lines === undefined ? undefined : this.lines[index];
  }

  /** A reusable view of one row; move it with `view.at(i)`. One object for the whole batch, not one per row. */
  view(): RowView<R> {
    return createRowView(this);
  }

  /** A new batch with the rows at `indices[0..count)`. */
  take(indices: Uint32Array, count: number): Batch<R> {
    const columns = columnRecord();
    for (const name of this.names) columns[name] = this.columns[name].take(indices, count);
    let lines: Int32Array | undefined;
    if (this.lines !== undefined) {
      lines = new Int32Array(count);
      for (let i = 0; i < count; i++) lines[i] = this.lines[indices[i]];
    }
    const taken = new Batch<R>(columns, count, this.origin, lines);
    const trace = traces.get(this);
    if (trace !== undefined) {
      const rows = new Uint32Array(count);
      for (let i = 0; i < count; i++) rows[i] = trace.rows[indices[i]];
      traces.set(taken, { rows, stateAt: trace.stateAt });
    }
    return taken;
  }

  /** The first `count` rows. */
  head(count: number): Batch<R> {
    if (count >= this.length) return this;
    const indices = new Uint32Array(count);
    for (let i = 0; i < count; i++) indices[i] = i;
    return this.take(indices, count);
  }

  /** Same rows, other columns (projection, renaming, derived columns). */
  withColumns<S = AnyRow>(columns: Readonly<Record<string, Column>>): Batch<S> {
    const projected = new Batch<S>(columns, this.length, this.origin, this.lines);
    const trace = traces.get(this);
    if (trace !== undefined) traces.set(projected, trace);
    return projected;
  }

  /** Rows as plain objects: for tests and small outputs, never on a hot path. */
  toObjects(): R[] {
    const rows: R[] = [];
    for (let i = 0; i < this.length; i++) {
      const row: AnyRow = {};
      for (const name of this.names) {
        if (name === '__proto__') Object.defineProperty(row, name, { value: this.columns[name].get(i), enumerable: true, writable: true, configurable: true });
        else row[name] = this.columns[name].get(i);
      }
      rows.push(row as R);
    }
    return rows;
  }

  /**
   * Bytes the same rows would take as one plain JS object per row (what csv-parse with
   * `columns: true` or `JSON.parse` per line produces); the baseline for the downcasting saving.
   * Sampled on up to 64 rows, then scaled: runs call it on every batch, and the figure is an estimate anyway.
   */
  objectBytes(): number {
    if (this.length === 0) return 0;
    const sample = Math.min(this.length, 64);
    const step = this.length / sample;
    let bytes = 0;
    for (let s = 0; s < sample; s++) {
      const i = Math.floor(s * step);
      bytes += jsObjectOverhead(this.names.length) + 8; // the object, plus its slot in an array of rows
      for (const name of this.names) bytes += jsValueBytes(this.columns[name].get(i));
    }
    return Math.round((bytes / sample) * this.length);
  }
}

/**
 * An empty record of columns by name, with no prototype: a column may be called `__proto__` (a CSV
 * header, a JSON key), and assigning that name on a plain `{}` would set the prototype and lose it.
 */
export function columnRecord(): Record<string, Column> {
  return Object.create(null) as Record<string, Column>;
}

/** A row view: the row's columns as properties, plus `$index` and `$line`. */
export type RowView<R> = R & {
  /** Move the view to row `index`; returns the view. */
  at(index: number): RowView<R>;
  readonly $index: number;
  readonly $line: number | undefined;
};

interface ViewState {
  $i: number;
  $c: Column[];
  $b: Batch<unknown>;
}

// One prototype and one set of getter functions per column list. The getters index into the batch's
// columns by position and are installed as the view's own enumerable properties, so `{ ...row }`,
// `Object.keys(row)` and `JSON.stringify(row)` see the columns (and only them: the view's state is
// non-enumerable). The same getter functions for every view of a schema keep property reads
// monomorphic; the properties are defined once per batch, never per row.
interface ViewShape {
  prototype: object;
  getters: (() => unknown)[];
}

const shapes = new Map<string, ViewShape>();

function shapeFor(names: readonly string[]): ViewShape {
  const key = names.join('\u0000');
  let shape = shapes.get(key);
  if (shape !== undefined) return shape;
  const prototype = {
    at(this: ViewState, index: number) {
      this.$i = index;
      return this;
    },
    get $index(): number {
      return (this as unknown as ViewState).$i;
    },
    get $line(): number | undefined {
      const state = this as unknown as ViewState;
      return state.$b.lineOf(state.$i);
    },
  };
  const getters = names.map((_, position) =>
    function (this: ViewState) {
      return this.$c[position].get(this.$i);
    },
  );
  shape = { prototype, getters };
  if (shapes.size > 1000) shapes.clear();
  shapes.set(key, shape);
  return shape;
}

/**
 * Moves a row view to row `index`. Stages use this rather than `view.at()`, which a column named
 * `at` would hide.
 */
export function moveView<R>(view: RowView<R>, index: number): RowView<R> {
  (view as unknown as ViewState).$i = index;
  return view;
}

function createRowView<R>(batch: Batch<R>): RowView<R> {
  const { prototype, getters } = shapeFor(batch.names);
  const view = Object.create(prototype) as ViewState;
  Object.defineProperties(view, {
    $i: { value: 0, writable: true, enumerable: false },
    $c: { value: batch.names.map((name) => batch.columns[name]), writable: false, enumerable: false },
    $b: { value: batch, writable: false, enumerable: false },
  });
  batch.names.forEach((name, position) => {
    Object.defineProperty(view, name, { get: getters[position], enumerable: true, configurable: false });
  });
  return view as unknown as RowView<R>;
}
