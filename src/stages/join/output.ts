import { Batch } from '../../batch/batch.ts';
import { bitmapBytes } from '../../batch/bitmap.ts';
import { Column } from '../../batch/column.ts';
import type { Dictionary } from '../../batch/dictionary.ts';
import { NUMERIC_ARRAY, type DType, type NumericDType, type TypedArray } from '../../batch/dtype.ts';
import type { ValueStore } from '../aggregate/group-table.ts';
import { hashRows } from '../aggregate/group-table.ts';
import { hashNumber, mix, valuesOf } from '../aggregate/values.ts';
import type { BuildTable } from './build-table.ts';
import type { JoinType } from './options.ts';

/** Rows hashed and looked up per step. */
const CHUNK_ROWS = 4096;
/** Most rows per output batch: a left batch whose rows match many build rows comes out in pieces. */
const OUTPUT_ROWS = 16_000;

/** A right column the output gets: its name there, and the dtype (and dictionary) of its values. */
export interface AddedColumn {
  output: string;
  dtype: DType;
  dictionary: Dictionary | undefined;
}

/**
 * Probes left batches against a build table and makes the output: for each left row in order, one row
 * per matching build row in build order (inner, left), the row itself (semi: if it matches; anti: if
 * not), or the row with nulls (left, no match). A left batch every row of which comes out once, in
 * order, keeps its own columns (no copy).
 */
export class JoinProbe {
  private readonly hashes = new Int32Array(CHUNK_ROWS);
  private readonly groups = new Int32Array(CHUNK_ROWS);
  private leftRows = new Uint32Array(1024);
  private buildRows = new Int32Array(1024);
  private count = 0;

  private readonly type: JoinType;
  private readonly leftKeys: readonly string[];
  private readonly table: BuildTable;
  private readonly added: readonly AddedColumn[];
  constructor(
    type: JoinType,
    leftKeys: readonly string[],
    table: BuildTable,
    added: readonly AddedColumn[],
  ) {
    this.type = type;
    this.leftKeys = leftKeys;
    this.table = table;
    this.added = added;
  }

  /** The output of one left batch (`hashes`: its rows' key hashes when known, from a spill block). */
  *probe(batch: Batch, hashes?: Int32Array): Generator<Batch> {
    const keys = this.leftKeys.map((key) => valuesOf(batch.column(key)));
    const table = this.table.table;
    const pairs = this.type === 'inner' || this.type === 'left';
    const keepMatched = this.type !== 'anti';
    this.count = 0;
    // One number key (the common case: an id): its values straight from the typed array, hashed as
    // hashRows hashes one key, looked up without a Values call per row.
    const column = batch.column(this.leftKeys[0]);
    const numbers = keys.length === 1 && keys[0].family === 'number' && column.dtype !== 'bool' ? (column.data as TypedArray) : undefined;
    const groups = this.groups;
    for (let from = 0; from < batch.length; from += CHUNK_ROWS) {
      const to = Math.min(batch.length, from + CHUNK_ROWS);
      const chunk = hashes === undefined ? this.hashes : hashes.subarray(from, to);
      if (table.size === 0) groups.fill(-1);
      else if (numbers !== undefined) {
        for (let i = from; i < to; i++) {
          const value = numbers[i];
          groups[i - from] = column.validity !== null && column.isNull(i) ? -1 : table.findNumber(hashes === undefined ? mix(hashNumber(value)) : chunk[i - from], value);
        }
      } else {
        if (hashes === undefined) hashRows(keys, from, to, chunk);
        // A null key is in no build row (none is stored), so it finds no group: nulls never match.
        for (let i = from; i < to; i++) groups[i - from] = table.find(chunk[i - from], keys, i);
      }
      for (let i = from; i < to; i++) {
        const group = groups[i - from];
        if (!pairs) {
          if (group >= 0 === keepMatched) this.push(i, -1);
          continue;
        }
        if (group < 0) {
          if (this.type === 'left') this.push(i, -1);
        } else {
          for (let row = this.table.firstRow(group); row >= 0; row = this.table.nextRow(row)) {
            this.push(i, row);
            if (this.count === OUTPUT_ROWS) yield this.flush(batch);
          }
        }
        if (this.count >= OUTPUT_ROWS) yield this.flush(batch);
      }
    }
    if (this.count > 0 || batch.length === 0) yield this.flush(batch);
  }

  /** Left rows that match nothing (no build rows in their partition): the rows a left or anti join keeps of them. */
  unmatched(batch: Batch): Batch | undefined {
    if (this.type === 'inner' || this.type === 'semi' || batch.length === 0) return undefined;
    this.count = 0;
    for (let i = 0; i < batch.length; i++) this.push(i, -1);
    return this.flush(batch);
  }

  private push(left: number, build: number): void {
    if (this.count === this.leftRows.length) {
      const leftRows = new Uint32Array(this.count * 2);
      leftRows.set(this.leftRows);
      this.leftRows = leftRows;
      const buildRows = new Int32Array(this.count * 2);
      buildRows.set(this.buildRows);
      this.buildRows = buildRows;
    }
    this.leftRows[this.count] = left;
    this.buildRows[this.count++] = build;
  }

  private flush(batch: Batch): Batch {
    const count = this.count;
    this.count = 0;
    let identity = count === batch.length;
    for (let i = 0; identity && i < count; i++) identity = this.leftRows[i] === i;
    const left = identity ? batch : batch.take(this.leftRows, count);
    if (this.type === 'semi' || this.type === 'anti') return left;
    const columns = { ...left.columns };
    this.added.forEach((column, c) => {
      columns[column.output] = gather(this.table.payload[c], this.buildRows, count, column);
    });
    return left.withColumns(columns);
  }
}

/** A column of the build rows `rows[0..count)` (-1: null) of one added column. */
function gather(store: ValueStore | undefined, rows: Int32Array, count: number, column: AddedColumn): Column {
  let validity: Uint8Array | null = null;
  const nulls = store?.nulls;
  const markNull = (i: number) => {
    validity ??= new Uint8Array(bitmapBytes(count)).fill(0xff);
    validity[i >>> 3] &= ~(1 << (i & 7));
  };
  const isNull = (row: number) => row < 0 || nulls === undefined || nulls[row] === 1;
  const finish = () => {
    if (validity !== null && count % 8 !== 0) validity[validity.length - 1] &= (1 << (count % 8)) - 1;
    return validity;
  };
  const { dtype, dictionary } = column;
  if (dtype === 'string' || dtype === 'dictionary') {
    const strings = store?.strings ?? [];
    if (dtype === 'dictionary' && dictionary !== undefined) {
      const codes = new Int32Array(count);
      for (let i = 0; i < count; i++) {
        const row = rows[i];
        if (isNull(row)) markNull(i);
        else codes[i] = dictionary.lookup(strings[row]);
      }
      return new Column('dictionary', count, codes, finish(), dictionary);
    }
    const out = new Array<string>(count);
    for (let i = 0; i < count; i++) {
      const row = rows[i];
      if (isNull(row)) markNull(i);
      else out[i] = strings[row];
    }
    return new Column('string', count, out, finish());
  }
  const numbers = store?.numbers ?? new Float64Array(0);
  if (dtype === 'bool') {
    const bits = new Uint8Array(bitmapBytes(count));
    for (let i = 0; i < count; i++) {
      const row = rows[i];
      if (isNull(row)) markNull(i);
      else if (numbers[row] !== 0) bits[i >>> 3] |= 1 << (i & 7);
    }
    return new Column('bool', count, bits, finish());
  }
  const data = new NUMERIC_ARRAY[dtype as NumericDType | 'timestamp' | 'date'](count);
  for (let i = 0; i < count; i++) {
    const row = rows[i];
    if (isNull(row)) markNull(i);
    else data[i] = numbers[row];
  }
  return new Column(dtype, count, data, finish());
}
