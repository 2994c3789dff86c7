import type { Batch } from '../../batch/batch.ts';
import { bitmapBytes } from '../../batch/bitmap.ts';
import { Column } from '../../batch/column.ts';
import type { Dictionary } from '../../batch/dictionary.ts';
import { type DType, isIntegerDType } from '../../batch/dtype.ts';
import type { Aggregation } from './aggregations.ts';
import { ReduceAccumulator } from './reduce-accumulator.ts';
import { countColumn, gatherBytes, gatherNumbers, grown, grownBytes } from './state-arrays.ts';
import { storedColumn, storedValues, type StoredValues, ValueStore } from './group-table.ts';
import { type Family, hashNumber, hashString, lessNumber, mix, sameNumber, type Values, valuesOf } from './values.ts';

/** What the input showed of a column: its dtype (widened across batches) and its dictionary. */
export interface Binding {
  column: string;
  family: Family;
  dtype: DType;
  dictionary: Dictionary | undefined;
}

/**
 * The state of one aggregation for every group of a table, in typed arrays indexed by group. Input rows
 * come in through `update`, partial states of spilled groups through `merge`; `split` cuts the states
 * into the partitions a spill writes.
 */
export interface Accumulator {
  /** Reads its column of the next input batch. */
  begin(batch: Batch<any>): void;
  /** Bytes it holds once it has room for `groups` groups and `incoming` more rows or spilled entries. */
  bytesFor(groups: number, incoming: number): number;
  /** Makes that room. */
  ensure(groups: number, incoming: number): void;
  /** Forgets every group's state and keeps the arrays (the table spilled and goes on empty). */
  reset(): void;
  /** Rows [from, to) of the batch, row i in group `groups[i - from]`; `sequence` numbers the batch's row 0 in the whole input. */
  update(groups: Int32Array, from: number, to: number, sequence: number): void;
  /** The states of `members[p]` for each partition p; `local[g]` is group g's index in its partition. */
  split(members: readonly Int32Array[], local: Int32Array): unknown[];
  /**
   * True when `split` needs every partition's members at once (it cannot be asked for one partition
   * with the others' lists empty): the spill then splits it whole, the others one partition at a time.
   */
  readonly splitsWhole?: boolean;
  /** Entries a spilled state brings (its groups, or its distinct values). */
  incoming(state: unknown, groups: number): number;
  /** Merges a spilled state whose entry j belongs to group `groups[j]`. */
  merge(state: unknown, groups: Int32Array): void;
  /** The output column of groups [from, to). */
  finish(from: number, to: number): Column;
}

class CountAccumulator implements Accumulator {
  private counts = new Float64Array(0);
  private values: Values | undefined;
  private readonly column: string | undefined;
  constructor(column: string | undefined) {
    this.column = column;
  }
  begin(batch: Batch<any>): void {
    if (this.column !== undefined) this.values = valuesOf(batch.column(this.column));
  }
  bytesFor(groups: number): number {
    return groups * 8;
  }
  ensure(groups: number): void {
    this.counts = grown(this.counts, groups);
  }
  reset(): void {
    this.counts.fill(0);
  }
  update(groups: Int32Array, from: number, to: number): void {
    const values = this.values;
    const counts = this.counts;
    if (values === undefined || values.validity === null) {
      for (let i = 0; i < to - from; i++) counts[groups[i]]++;
      return;
    }
    for (let i = from; i < to; i++) if (!values.isNull(i)) counts[groups[i - from]]++;
  }
  split(members: readonly Int32Array[]): unknown[] {
    return members.map((list) => gatherNumbers(this.counts, list));
  }
  incoming(_state: unknown, groups: number): number {
    return groups;
  }
  merge(state: unknown, groups: Int32Array): void {
    const counts = state as Float64Array;
    for (let j = 0; j < groups.length; j++) this.counts[groups[j]] += counts[j];
  }
  finish(from: number, to: number): Column {
    return countColumn(this.counts, from, to);
  }
}

/** sum and mean: the sum of the non-null values and how many there were. */
class SumAccumulator implements Accumulator {
  private sums = new Float64Array(0);
  private counts = new Float64Array(0);
  private values: Values | undefined;
  private readonly binding: Binding;
  private readonly mean: boolean;
  constructor(
    binding: Binding,
    mean: boolean,
  ) {
    this.binding = binding;
    this.mean = mean;
  }
  begin(batch: Batch<any>): void {
    this.values = valuesOf(batch.column(this.binding.column));
  }
  bytesFor(groups: number): number {
    return groups * 16;
  }
  ensure(groups: number): void {
    // Sums start at -0, the identity of +: -0 + x is x for every x, -0 included (0 + -0 is 0, and the
    // sum of a single -0 is -0), so adding needs no "first value" branch.
    this.sums = grown(this.sums, groups, -0);
    this.counts = grown(this.counts, groups);
  }
  reset(): void {
    this.sums.fill(-0);
    this.counts.fill(0);
  }
  update(groups: Int32Array, from: number, to: number): void {
    const values = this.values!;
    const { sums, counts } = this;
    const numbers = values.numbers;
    if (numbers !== undefined && values.validity === null) {
      for (let i = from; i < to; i++) {
        const g = groups[i - from];
        sums[g] += numbers[i];
        counts[g]++;
      }
      return;
    }
    for (let i = from; i < to; i++) {
      if (values.isNull(i)) continue;
      const g = groups[i - from];
      sums[g] += values.number(i);
      counts[g]++;
    }
  }
  split(members: readonly Int32Array[]): unknown[] {
    return members.map((list) => ({ sums: gatherNumbers(this.sums, list), counts: gatherNumbers(this.counts, list) }));
  }
  incoming(_state: unknown, groups: number): number {
    return groups;
  }
  merge(state: unknown, groups: Int32Array): void {
    const { sums, counts } = state as { sums: Float64Array; counts: Float64Array };
    for (let j = 0; j < groups.length; j++) {
      if (counts[j] === 0) continue;
      const g = groups[j];
      this.sums[g] += sums[j];
      this.counts[g] += counts[j];
    }
  }
  finish(from: number, to: number): Column {
    const count = to - from;
    const sums = this.sums.subarray(from, to);
    const counts = this.counts.subarray(from, to);
    const validity = new Uint8Array(bitmapBytes(count));
    let integral = !this.mean && (isIntegerDType(this.binding.dtype) || this.binding.dtype === 'bool');
    const out = new Float64Array(count);
    for (let g = 0; g < count; g++) {
      if (counts[g] === 0) continue;
      validity[g >>> 3] |= 1 << (g & 7);
      out[g] = this.mean ? sums[g] / counts[g] : sums[g];
      if (integral && (out[g] < -2147483648 || out[g] > 2147483647)) integral = false;
    }
    let allValid = true;
    for (let g = 0; g < count && allValid; g++) allValid = counts[g] > 0;
    const bitmap = allValid ? null : validity;
    return integral ? new Column('int32', count, Int32Array.from(out), bitmap) : new Column('float64', count, out, bitmap);
  }
}

/** min, max, first and last: one value per group, with whether the group has one yet. */
class ValueAccumulator implements Accumulator {
  private store: ValueStore;
  private seen = new Uint8Array(0);
  /** first/last: the input row number the value came from, so merged partial states keep input order. */
  private sequence = new Float64Array(0);
  private values: Values | undefined;
  private readonly binding: Binding;
  private readonly kind: 'min' | 'max' | 'first' | 'last';
  constructor(
    binding: Binding,
    kind: 'min' | 'max' | 'first' | 'last',
  ) {
    this.binding = binding;
    this.kind = kind;
    this.store = new ValueStore(binding.family, 0);
  }
  begin(batch: Batch<any>): void {
    this.values = valuesOf(batch.column(this.binding.column));
  }
  bytesFor(groups: number): number {
    return groups * (8 + 1 + 1 + (this.kind === 'first' || this.kind === 'last' ? 8 : 0)) + this.store.stringBytes;
  }
  ensure(groups: number): void {
    if (this.seen.length >= groups) return;
    this.store.grow(groups);
    this.seen = grownBytes(this.seen, groups);
    if (this.kind === 'first' || this.kind === 'last') this.sequence = grown(this.sequence, groups);
  }
  reset(): void {
    this.store.clear();
    this.seen.fill(0);
  }
  /** Takes row `index` of `values` (at input row `at`) into group `g` if it is the one to keep. */
  private offer(g: number, values: Values, index: number, at: number): void {
    const store = this.store;
    switch (this.kind) {
      case 'first':
        if (this.seen[g] === 1 && this.sequence[g] <= at) return;
        break;
      case 'last':
        if (this.seen[g] === 1 && this.sequence[g] >= at) return;
        break;
      default: {
        if (values.isNull(index)) return;
        if (this.seen[g] === 1) {
          const isMax = this.kind === 'max';
          if (store.family === 'number') {
            const value = values.number(index);
            const current = store.numbers[g];
            if (isMax ? !lessNumber(current, value) : !lessNumber(value, current)) return;
          } else {
            const value = values.string(index);
            const current = store.strings[g];
            if (isMax ? !(current < value) : !(value < current)) return;
          }
        }
      }
    }
    store.set(g, values, index);
    this.seen[g] = 1;
    this.sequence[g] = at;
  }
  update(groups: Int32Array, from: number, to: number, sequence: number): void {
    const values = this.values!;
    for (let i = from; i < to; i++) this.offer(groups[i - from], values, i, sequence + i);
  }
  split(members: readonly Int32Array[]): unknown[] {
    return members.map((list) => ({
      values: this.store.gather(list),
      seen: gatherBytes(this.seen, list),
      sequence: this.kind === 'first' || this.kind === 'last' ? gatherNumbers(this.sequence, list) : undefined,
    }));
  }
  incoming(_state: unknown, groups: number): number {
    return groups;
  }
  merge(state: unknown, groups: Int32Array): void {
    const { values, seen, sequence } = state as { values: StoredValues; seen: Uint8Array; sequence?: Float64Array };
    const readable = storedValues(values, this.binding.dtype);
    for (let j = 0; j < groups.length; j++) if (seen[j] === 1) this.offer(groups[j], readable, j, sequence === undefined ? 0 : sequence[j]);
  }
  finish(from: number, to: number): Column {
    const count = to - from;
    const nulls = new Uint8Array(count);
    for (let g = 0; g < count; g++) nulls[g] = this.seen[from + g] === 1 ? this.store.nulls[from + g] : 1;
    const stored = this.store.slice(from, to);
    stored.nulls = nulls;
    return storedColumn(stored, this.binding.dtype, count, this.binding.dictionary);
  }
}

/**
 * countDistinct: a set of (group, value) pairs, open addressing over their hashes, in typed arrays;
 * a group's count goes up when one of its pairs is new. Spilled as the pairs themselves.
 */
class DistinctAccumulator implements Accumulator {
  readonly splitsWhole = true;
  private counts = new Float64Array(0);
  private size = 0;
  private capacity = 0;
  private slots = new Int32Array(0);
  private pairGroups = new Int32Array(0);
  private pairHashes = new Int32Array(0);
  private pairs: ValueStore;
  private values: Values | undefined;
  private readonly binding: Binding;
  constructor(binding: Binding) {
    this.binding = binding;
    this.pairs = new ValueStore(binding.family, 0);
  }
  begin(batch: Batch<any>): void {
    this.values = valuesOf(batch.column(this.binding.column));
  }
  private capacityFor(entries: number): number {
    let capacity = Math.max(this.capacity, 1024);
    while (capacity < entries) capacity *= 2;
    return capacity;
  }
  bytesFor(groups: number, incoming: number): number {
    return groups * 8 + this.capacityFor(this.size + incoming) * (8 + 4 + 4 + 9) + this.pairs.stringBytes;
  }
  ensure(groups: number, incoming: number): void {
    this.counts = grown(this.counts, groups);
    const capacity = this.capacityFor(this.size + incoming);
    if (capacity === this.capacity) return;
    this.capacity = capacity;
    this.pairs.grow(capacity);
    const pairGroups = new Int32Array(capacity);
    pairGroups.set(this.pairGroups.subarray(0, this.size));
    this.pairGroups = pairGroups;
    const pairHashes = new Int32Array(capacity);
    pairHashes.set(this.pairHashes.subarray(0, this.size));
    this.pairHashes = pairHashes;
    this.slots = new Int32Array(capacity * 2);
    const mask = capacity * 2 - 1;
    for (let p = 0; p < this.size; p++) {
      let slot = pairHashes[p] & mask;
      while (this.slots[slot] !== 0) slot = (slot + 1) & mask;
      this.slots[slot] = p + 1;
    }
  }
  reset(): void {
    this.counts.fill(0);
    this.slots.fill(0);
    this.size = 0;
    this.pairs.clear();
  }
  private add(g: number, values: Values, index: number): void {
    const family = this.pairs.family;
    const number = family === 'number' ? values.number(index) : 0;
    const string = family === 'string' ? values.string(index) : '';
    const hash = mix((family === 'number' ? hashNumber(number) : hashString(string)) ^ Math.imul(g + 1, 0x9e3779b1));
    const mask = this.capacity * 2 - 1;
    let slot = hash & mask;
    for (;;) {
      const entry = this.slots[slot];
      if (entry === 0) break;
      const p = entry - 1;
      if (this.pairHashes[p] === hash && this.pairGroups[p] === g) {
        if (family === 'number' ? sameNumber(this.pairs.numbers[p], number) : this.pairs.strings[p] === string) return;
      }
      slot = (slot + 1) & mask;
    }
    const p = this.size++;
    this.slots[slot] = p + 1;
    this.pairGroups[p] = g;
    this.pairHashes[p] = hash;
    this.pairs.set(p, values, index);
    this.counts[g]++;
  }
  update(groups: Int32Array, from: number, to: number): void {
    const values = this.values!;
    for (let i = from; i < to; i++) if (!values.isNull(i)) this.add(groups[i - from], values, i);
  }
  split(members: readonly Int32Array[], local: Int32Array): unknown[] {
    // Which partition each group went to, from the member lists.
    const partitionOf = new Uint8Array(local.length);
    members.forEach((list, p) => list.forEach((g) => (partitionOf[g] = p)));
    const sizes = new Int32Array(members.length);
    for (let p = 0; p < this.size; p++) sizes[partitionOf[this.pairGroups[p]]]++;
    const lists = members.map((_, part) => new Int32Array(sizes[part]));
    const fill = new Int32Array(members.length);
    for (let p = 0; p < this.size; p++) {
      const part = partitionOf[this.pairGroups[p]];
      lists[part][fill[part]++] = p;
    }
    return lists.map((pairs) => {
      const groups = new Int32Array(pairs.length);
      for (let j = 0; j < pairs.length; j++) groups[j] = local[this.pairGroups[pairs[j]]];
      return { groups, values: this.pairs.gather(pairs) };
    });
  }
  incoming(state: unknown): number {
    return (state as { groups: Int32Array }).groups.length;
  }
  merge(state: unknown, groups: Int32Array): void {
    const { groups: locals, values } = state as { groups: Int32Array; values: StoredValues };
    const readable = storedValues(values, this.binding.dtype);
    for (let j = 0; j < locals.length; j++) this.add(groups[locals[j]], readable, j);
  }
  finish(from: number, to: number): Column {
    return countColumn(this.counts, from, to);
  }
}

/** A fresh accumulator for `aggregation` (output column `name`), reading the column `binding` describes. */
export function accumulatorFor(aggregation: Aggregation, name: string, binding: Binding | undefined, stage: string): Accumulator {
  switch (aggregation.kind) {
    case 'count':
      return new CountAccumulator(aggregation.column);
    case 'sum':
    case 'mean':
      return new SumAccumulator(binding!, aggregation.kind === 'mean');
    case 'min':
    case 'max':
    case 'first':
    case 'last':
      return new ValueAccumulator(binding!, aggregation.kind);
    case 'countDistinct':
      return new DistinctAccumulator(binding!);
    case 'reduce':
      return new ReduceAccumulator(aggregation, name, stage);
  }
}
