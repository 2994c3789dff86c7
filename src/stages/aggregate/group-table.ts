import { bitmapBytes } from '../../batch/bitmap.ts';
import { Column } from '../../batch/column.ts';
import type { Dictionary } from '../../batch/dictionary.ts';
import { type DType, estimateStringBytes, NUMERIC_ARRAY, type NumericDType } from '../../batch/dtype.ts';
import { type Family, hashNumber, hashString, mix, NULL_HASH, sameNumber, type Values } from './values.ts';

/**
 * Per-group values of one column, by group index: numbers in a Float64Array or strings in a string
 * array, and a byte per group saying null. The groups' keys live here, and so do min/max/first/last.
 */
export class ValueStore {
  numbers: Float64Array;
  strings: string[];
  nulls: Uint8Array;
  /** Estimated bytes of the strings held (see estimateStringBytes); 0 for numbers. */
  stringBytes = 0;

  readonly family: Family;
  constructor(
    family: Family,
    capacity: number,
  ) {
    this.family = family;
    this.numbers = new Float64Array(family === 'number' ? capacity : 0);
    this.strings = family === 'string' ? new Array<string>(capacity) : [];
    this.nulls = new Uint8Array(capacity);
  }

  /** Bytes per group: the number or the string pointer, and the null flag; strings count in `stringBytes`. */
  static bytesPerGroup(): number {
    return 8 + 1;
  }

  grow(capacity: number): void {
    if (this.family === 'number') {
      const numbers = new Float64Array(capacity);
      numbers.set(this.numbers);
      this.numbers = numbers;
    } else {
      this.strings.length = capacity;
    }
    const nulls = new Uint8Array(capacity);
    nulls.set(this.nulls);
    this.nulls = nulls;
  }

  /** Forgets every group's value, keeping the arrays (a table reused after a spill). */
  clear(): void {
    if (this.family === 'string') this.strings.fill(undefined as unknown as string);
    this.stringBytes = 0;
  }

  /** Sets group `group` to row `index` of `values`. */
  set(group: number, values: Values, index: number): void {
    if (values.isNull(index)) {
      this.nulls[group] = 1;
      return;
    }
    this.nulls[group] = 0;
    if (this.family === 'number') this.numbers[group] = values.number(index);
    else {
      const value = values.string(index);
      const old = this.strings[group];
      if (old !== undefined) this.stringBytes -= estimateStringBytes(old);
      this.strings[group] = value;
      this.stringBytes += estimateStringBytes(value);
    }
  }

  /** The values of `groups`, in that order, as a store of their own (for a spill block). */
  gather(groups: Int32Array): StoredValues {
    const count = groups.length;
    const nulls = new Uint8Array(count);
    for (let i = 0; i < count; i++) nulls[i] = this.nulls[groups[i]];
    if (this.family === 'number') {
      const numbers = new Float64Array(count);
      for (let i = 0; i < count; i++) numbers[i] = this.numbers[groups[i]];
      return { family: 'number', numbers, nulls };
    }
    const strings = new Array<string>(count);
    for (let i = 0; i < count; i++) strings[i] = this.strings[groups[i]] ?? '';
    return { family: 'string', strings, nulls };
  }

  /** Groups [from, to) as stored values (views of the arrays, not copies, except strings). */
  slice(from: number, to: number): StoredValues {
    return this.family === 'number'
      ? { family: 'number', numbers: this.numbers.subarray(from, to), nulls: this.nulls.subarray(from, to) }
      : { family: 'string', strings: this.strings.slice(from, to), nulls: this.nulls.subarray(from, to) };
  }
}

/** Values of a spill block, as written: one entry per group of the block. */
export interface StoredValues {
  family: Family;
  numbers?: Float64Array;
  strings?: string[];
  nulls: Uint8Array;
}

/** A block's values read back as {@link Values}, so merging goes through the same code as input rows. */
export function storedValues(stored: StoredValues, dtype: DType): Values {
  const nulls = stored.nulls;
  const numbers = stored.numbers;
  const strings = stored.strings;
  return {
    family: stored.family,
    dtype,
    isNull: (index) => nulls[index] === 1,
    number: numbers === undefined ? () => NaN : (index) => numbers[index],
    string: strings === undefined ? () => '' : (index) => strings[index],
    // Nulls are in `nulls`, not a bitmap; without `numbers` no fast path reads this as "no nulls".
    validity: null,
  };
}

/** Builds an output column from per-group values with null flags. */
export function storedColumn(stored: StoredValues, dtype: DType, count: number, dictionary: Dictionary | undefined): Column {
  let validity: Uint8Array | null = null;
  for (let g = 0; g < count; g++) {
    if (stored.nulls[g] === 1) {
      validity ??= new Uint8Array(bitmapBytes(count)).fill(0xff);
      validity[g >>> 3] &= ~(1 << (g & 7));
    }
  }
  if (validity !== null && count % 8 !== 0) validity[validity.length - 1] &= (1 << (count % 8)) - 1;
  if (stored.family === 'string') {
    const strings = stored.strings!.length === count ? stored.strings! : stored.strings!.slice(0, count);
    if (dtype === 'dictionary' && dictionary !== undefined) {
      const codes = new Int32Array(count);
      for (let g = 0; g < count; g++) if (stored.nulls[g] !== 1) codes[g] = dictionary.lookup(strings[g]);
      return new Column('dictionary', count, codes, validity, dictionary);
    }
    return new Column('string', count, strings, validity);
  }
  const numbers = stored.numbers!;
  if (dtype === 'bool') {
    const bits = new Uint8Array(bitmapBytes(count));
    for (let g = 0; g < count; g++) if (numbers[g] !== 0 && stored.nulls[g] !== 1) bits[g >>> 3] |= 1 << (g & 7);
    return new Column('bool', count, bits, validity);
  }
  const data = new NUMERIC_ARRAY[dtype as NumericDType | 'timestamp' | 'date'](count);
  for (let g = 0; g < count; g++) data[g] = stored.nulls[g] === 1 ? 0 : numbers[g];
  return new Column(dtype, count, data, validity);
}

// Hashes of a dictionary's values by code, computed once per code for the whole run: dictionary keys
// hash by code, not by string.
const dictionaryHashes = new WeakMap<readonly string[], { hashes: Int32Array; filled: number }>();

function hashesOfDictionary(values: readonly string[]): Int32Array {
  let cached = dictionaryHashes.get(values);
  if (cached === undefined || cached.hashes.length < values.length) {
    const hashes = new Int32Array(Math.max(64, values.length * 2));
    if (cached !== undefined) hashes.set(cached.hashes.subarray(0, cached.filled));
    cached = { hashes, filled: cached?.filled ?? 0 };
    dictionaryHashes.set(values, cached);
  }
  for (let code = cached.filled; code < values.length; code++) cached.hashes[code] = hashString(values[code]);
  cached.filled = values.length;
  return cached.hashes;
}

/** Hashes of rows [from, to) of the key columns into `out[0..to-from)`. */
export function hashRows(keys: readonly Values[], from: number, to: number, out: Int32Array): void {
  const count = to - from;
  // One key without nulls, from its typed array: the group-by's and the join's common case, without a
  // call per row (mix(hashNumber(v)) is what the loop below gives one key).
  if (keys.length === 1 && keys[0].validity === null && (keys[0].numbers !== undefined || keys[0].codes !== undefined)) {
    const only = keys[0];
    if (only.numbers !== undefined) {
      const numbers = only.numbers;
      for (let i = 0; i < count; i++) out[i] = mix(hashNumber(numbers[from + i]));
    } else {
      const codes = only.codes!;
      const byCode = hashesOfDictionary(only.dictionary!);
      for (let i = 0; i < count; i++) out[i] = mix(byCode[codes[from + i]]);
    }
    return;
  }
  out.fill(0, 0, count);
  for (const values of keys) {
    const codes = values.codes;
    const byCode = codes === undefined ? undefined : hashesOfDictionary(values.dictionary!);
    for (let i = from; i < to; i++) {
      const h = values.isNull(i)
        ? NULL_HASH
        : byCode !== undefined
          ? byCode[codes![i]]
          : values.family === 'number'
            ? hashNumber(values.number(i))
            : hashString(values.string(i));
      out[i - from] = Math.imul(out[i - from], 0x9e3779b1) ^ h;
    }
  }
  for (let i = 0; i < count; i++) out[i] = mix(out[i]);
}

/**
 * The groups: an open-addressing table (linear probing, at most half full) of group indexes over the
 * groups' hashes and key values, all in typed arrays. A group is a dense index 0..size-1 into every
 * per-group array (keys here, states in the accumulators), in the order groups were first seen.
 */
export class GroupTable {
  size = 0;
  capacity: number;
  /** Group index + 1 per slot; 0 is an empty slot. */
  private slots: Int32Array;
  private mask: number;
  hashes: Int32Array;
  readonly keys: ValueStore[];

  readonly families: readonly Family[];
  constructor(
    families: readonly Family[],
    capacity: number,
  ) {
    this.families = families;
    this.capacity = capacity;
    this.slots = new Int32Array(capacity * 2);
    this.mask = capacity * 2 - 1;
    this.hashes = new Int32Array(capacity);
    this.keys = families.map((family) => new ValueStore(family, capacity));
  }

  /** Bytes per group of capacity: the hash, two slots and each key's value and null flag. */
  static bytesPerGroup(families: readonly Family[]): number {
    return 4 + 8 + families.length * ValueStore.bytesPerGroup();
  }

  get stringBytes(): number {
    let bytes = 0;
    for (const key of this.keys) bytes += key.stringBytes;
    return bytes;
  }

  /**
   * Empties the table and keeps its arrays: a table that spilled is reused rather than made anew, since
   * the arrays of one thrown away stay in the process (uncounted) until the garbage collector runs.
   */
  clear(): void {
    this.slots.fill(0);
    this.size = 0;
    for (const key of this.keys) key.clear();
  }

  grow(capacity: number): void {
    const hashes = new Int32Array(capacity);
    hashes.set(this.hashes.subarray(0, this.size));
    this.hashes = hashes;
    for (const key of this.keys) key.grow(capacity);
    this.capacity = capacity;
    this.slots = new Int32Array(capacity * 2);
    this.mask = capacity * 2 - 1;
    for (let g = 0; g < this.size; g++) {
      let slot = hashes[g] & this.mask;
      while (this.slots[slot] !== 0) slot = (slot + 1) & this.mask;
      this.slots[slot] = g + 1;
    }
  }

  /**
   * The group of row `index` of `values` (hash `hash`), added when new. The caller has made room
   * (`size < capacity`) before the call.
   */
  groupOf(hash: number, values: readonly Values[], index: number): number {
    const slots = this.slots;
    const mask = this.mask;
    let slot = hash & mask;
    for (;;) {
      const entry = slots[slot];
      if (entry === 0) break;
      const group = entry - 1;
      if (this.hashes[group] === hash && this.sameKeys(group, values, index)) return group;
      slot = (slot + 1) & mask;
    }
    const group = this.added(slot, hash);
    for (let k = 0; k < values.length; k++) {
      const key = this.keys[k];
      key.set(group, values[k], index);
      // -0 and 0 are one key; it reads 0 whichever came first, spilled or not.
      if (key.family === 'number' && key.numbers[group] === 0) key.numbers[group] = 0;
    }
    return group;
  }

  /** {@link groupOf} for a table of one number key and a value that is not null (a group-by's hot loop). */
  groupOfNumber(hash: number, value: number): number {
    const slots = this.slots;
    const mask = this.mask;
    const key = this.keys[0];
    const numbers = key.numbers;
    let slot = hash & mask;
    for (let entry = slots[slot]; entry !== 0; entry = slots[(slot = (slot + 1) & mask)]) {
      if (this.hashes[entry - 1] === hash && sameNumber(numbers[entry - 1], value) && key.nulls[entry - 1] === 0) return entry - 1;
    }
    const group = this.added(slot, hash);
    // -0 and 0 are one key, stored as 0 (as groupOf does).
    numbers[group] = value === 0 ? 0 : value;
    key.nulls[group] = 0;
    return group;
  }

  /** A new group at empty slot `slot`, its keys still to set. */
  private added(slot: number, hash: number): number {
    const group = this.size++;
    this.slots[slot] = group + 1;
    this.hashes[group] = hash;
    return group;
  }

  /** The group of row `index` of `values` (hash `hash`), or -1 when there is none: a lookup that adds nothing (a join's probe). */
  find(hash: number, values: readonly Values[], index: number): number {
    const slots = this.slots;
    const mask = this.mask;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const entry = slots[slot];
      if (entry === 0) return -1;
      if (this.hashes[entry - 1] === hash && this.sameKeys(entry - 1, values, index)) return entry - 1;
    }
  }

  /** {@link find} for a table of one number key: the value itself, not a {@link Values} (a join's hot loop). */
  findNumber(hash: number, value: number): number {
    const slots = this.slots;
    const mask = this.mask;
    const numbers = this.keys[0].numbers;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const entry = slots[slot];
      if (entry === 0) return -1;
      if (this.hashes[entry - 1] === hash && sameNumber(numbers[entry - 1], value) && this.keys[0].nulls[entry - 1] === 0) return entry - 1;
    }
  }

  private sameKeys(group: number, values: readonly Values[], index: number): boolean {
    for (let k = 0; k < values.length; k++) {
      const key = this.keys[k];
      const column = values[k];
      const isNull = column.isNull(index);
      if (isNull || key.nulls[group] === 1) {
        if (isNull !== (key.nulls[group] === 1)) return false;
        continue;
      }
      if (key.family === 'number' ? !sameNumber(key.numbers[group], column.number(index)) : key.strings[group] !== column.string(index)) return false;
    }
    return true;
  }
}
