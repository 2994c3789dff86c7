import { GroupTable, type StoredValues, ValueStore } from '../aggregate/group-table.ts';
import { partitionOf, PARTITIONS } from '../aggregate/spill.ts';
import type { Family, Values } from '../aggregate/values.ts';

/** Keys a table starts with once it holds any, and rows likewise. */
const FIRST_CAPACITY = 1024;

/** Rows of the build side as they go to a spill file: their key hashes, key values and added columns. */
export interface BuildBlock {
  hashes: Int32Array;
  keys: StoredValues[];
  payload: StoredValues[];
}

/**
 * A join's build side in memory, all in typed arrays: the distinct keys in a {@link GroupTable} (the
 * group-by's open-addressing table over encoded keys), and per key a chain of its rows in build order
 * (first/last per key, next per row), each row's added columns in a {@link ValueStore}. Rows with a null
 * key are never stored: they match nothing. A semi or anti join (`withRows` false) keeps the keys only.
 */
export class BuildTable {
  readonly table: GroupTable;
  readonly payload: ValueStore[];
  /** Rows stored (a semi/anti join: rows taken, their keys stored once). */
  rows = 0;
  private rowCapacity = 0;
  private first = new Int32Array(0);
  private last = new Int32Array(0);
  private next = new Int32Array(0);
  private rowGroup = new Int32Array(0);

  readonly withRows: boolean;
  constructor(
    keyFamilies: readonly Family[],
    payloadFamilies: readonly Family[],
    withRows: boolean,
  ) {
    this.withRows = withRows;
    this.table = new GroupTable(keyFamilies, 1);
    this.payload = withRows ? payloadFamilies.map((family) => new ValueStore(family, 0)) : [];
  }

  get keyCount(): number {
    return this.table.size;
  }

  /** Bytes the table holds with room for `extraRows` more rows (each may be a new key). */
  bytesFor(extraRows: number): number {
    const { keys, rows } = this.capacitiesFor(extraRows);
    let bytes = keys * (GroupTable.bytesPerGroup(this.table.families) + (this.withRows ? 8 : 0)) + this.table.stringBytes;
    if (this.withRows) {
      bytes += rows * (8 + this.payload.length * ValueStore.bytesPerGroup());
      for (const store of this.payload) bytes += store.stringBytes;
    }
    return bytes;
  }

  private capacitiesFor(extraRows: number): { keys: number; rows: number } {
    let keys = Math.max(this.table.capacity, FIRST_CAPACITY);
    while (keys < this.table.size + extraRows) keys *= 2;
    let rows = 0;
    if (this.withRows) {
      rows = Math.max(this.rowCapacity, FIRST_CAPACITY);
      while (rows < this.rows + extraRows) rows *= 2;
    }
    return { keys, rows };
  }

  /** Grows to hold `extraRows` more rows (the caller has reserved `bytesFor(extraRows)`). */
  ensure(extraRows: number): void {
    const { keys, rows } = this.capacitiesFor(extraRows);
    if (keys !== this.table.capacity) {
      this.table.grow(keys);
      if (this.withRows) {
        this.first = grown(this.first, keys, this.table.size);
        this.last = grown(this.last, keys, this.table.size);
      }
    }
    if (this.withRows && rows !== this.rowCapacity) {
      this.next = grown(this.next, rows, this.rows);
      this.rowGroup = grown(this.rowGroup, rows, this.rows);
      for (const store of this.payload) store.grow(rows);
      this.rowCapacity = rows;
    }
  }

  /**
   * Adds rows [from, to) of the build side (`hashes[i - from]` their key hashes); rows with a null key
   * are skipped. Returns the rows stored. The caller has made room for `to - from` rows.
   */
  insert(hashes: Int32Array, keys: readonly Values[], payload: readonly Values[], from: number, to: number): number {
    const table = this.table;
    let stored = 0;
    rows: for (let i = from; i < to; i++) {
      for (let k = 0; k < keys.length; k++) if (keys[k].isNull(i)) continue rows;
      const before = table.size;
      const group = table.groupOf(hashes[i - from], keys, i);
      stored++;
      if (!this.withRows) continue;
      const row = this.rows++;
      if (table.size > before) this.first[group] = row;
      else this.next[this.last[group]] = row;
      this.last[group] = row;
      this.next[row] = -1;
      this.rowGroup[row] = group;
      for (let c = 0; c < payload.length; c++) this.payload[c].set(row, payload[c], i);
    }
    if (!this.withRows) this.rows += stored;
    return stored;
  }

  /** The first build row of `group`, then `nextRow` until -1: its rows in build order. */
  firstRow(group: number): number {
    return this.first[group];
  }

  nextRow(row: number): number {
    return this.next[row];
  }

  /**
   * The table's rows by partition of their key hash at `level`, as spill blocks (a semi/anti join
   * writes its distinct keys, once each): what goes to the partition files when the build side does
   * not fit.
   */
  blocks(level: number): (BuildBlock | undefined)[] {
    const count = this.withRows ? this.rows : this.table.size;
    const groupOf = (index: number) => (this.withRows ? this.rowGroup[index] : index);
    const sizes = new Int32Array(PARTITIONS);
    const partitions = new Uint8Array(count);
    for (let i = 0; i < count; i++) sizes[(partitions[i] = partitionOf(this.table.hashes[groupOf(i)], level))]++;
    const members = Array.from(sizes, (size) => new Int32Array(size));
    const fill = new Int32Array(PARTITIONS);
    for (let i = 0; i < count; i++) members[partitions[i]][fill[partitions[i]]++] = i;
    return members.map((list) => {
      if (list.length === 0) return undefined;
      const groups = new Int32Array(list.length);
      const hashes = new Int32Array(list.length);
      for (let j = 0; j < list.length; j++) hashes[j] = this.table.hashes[(groups[j] = groupOf(list[j]))];
      return { hashes, keys: this.table.keys.map((key) => key.gather(groups)), payload: this.payload.map((store) => store.gather(list)) };
    });
  }
}

/** `array` grown to `capacity`, its first `used` entries kept, the rest -1 (no row). */
function grown(array: Int32Array, capacity: number, used: number): Int32Array<ArrayBuffer> {
  const next = new Int32Array(capacity).fill(-1);
  next.set(array.subarray(0, used));
  return next;
}
