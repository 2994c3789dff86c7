import { Batch } from '../../batch/batch.ts';
import type { Column } from '../../batch/column.ts';
import { type DType, isIntegerDType } from '../../batch/dtype.ts';
import { SluiceError } from '../../core/errors.ts';
import type { Stage, StageContext } from '../../contracts/contracts.ts';
import { READS_ALL, replacesRows } from '../../contracts/columns.ts';
import { accumulatorFor, type Accumulator, type Binding } from './accumulators.ts';
import type { Aggregation, Aggregations, Grouped } from './aggregations.ts';
import { DirectGroups } from './direct-groups.ts';
import { GroupTable, hashRows, storedColumn, storedValues } from './group-table.ts';
import { MAX_LEVEL, PARTITIONS, partitionOf, SpillPartitions, type SpillBlock } from './spill.ts';
import { familyOf, type Values, valuesOf, widerDType } from './values.ts';

/** What a group-by did, for the run summary. */
export interface GroupByFigures {
  /** Groups output. */
  groups: number;
  /** Most groups held in memory at once. */
  peakGroups: number;
  /** Bytes written to spill files, and partition files written (every level). */
  spilledBytes: number;
  spilledPartitions: number;
  spillMs: number;
}

/** Groups a table starts with once it holds any (a table that holds none reserves nothing). */
const FIRST_CAPACITY = 1024;
/** Rows hashed, probed and folded per step: the unit a reservation is asked for. */
const CHUNK_ROWS = 4096;
/** Bytes a table may hold unreserved while the budget is under pressure, at least (see `room`). */
const PRESSURE_FLOOR = 256 * 1024;
/** Rows per output batch. */
const OUTPUT_ROWS = 16384;

/** The plan of one group-by: what to read and what to compute, and what the input showed of each column. */
interface Plan {
  keys: readonly string[];
  names: readonly string[];
  aggregations: readonly Aggregation[];
  keyBindings: Binding[];
  /** Per aggregation: its column's binding (undefined for count() and reduce). */
  bindings: (Binding | undefined)[];
  context: StageContext;
  figures: GroupByFigures;
  /** Every spill made, so `finally` removes them all however the stage ends. */
  spills: SpillPartitions[];
  /** The most any table of this group-by had reserved at once. */
  largestGrant: number;
}

/**
 * A hash aggregation under the budget: a group table and its accumulators, reserved from
 * `context.memory` as they grow. When a reservation is refused it spills (as DuckDB's radix-partitioned
 * aggregation does): the table's groups go, as partial states, to 16 partition files by 4 bits of their
 * key hash, the reservation is given back and a fresh table goes on. At the end each partition is
 * finished on its own by a table of the next level (the next 4 bits), which spills again if the
 * partition is still too big. A group lives in exactly one partition, so results are the same as without
 * spilling; only the order of the output groups differs (first seen, when nothing spilled).
 */
class HashAggregate {
  private table: GroupTable;
  private accumulators: Accumulator[];
  private reserved = 0;
  private spill: SpillPartitions | undefined;
  private readonly hashes = new Int32Array(CHUNK_ROWS);
  private readonly groups = new Int32Array(CHUNK_ROWS);
  private readonly combinations = new Int32Array(CHUNK_ROWS);
  /** Small-domain keys (dictionaries, bools) find their group without hashing. */
  private readonly direct = new DirectGroups();

  private readonly plan: Plan;
  private readonly level: number;
  /** The aggregate whose spilled partition this one finishes: it lends its table, and takes it back. */
  private readonly parent: HashAggregate | undefined;
  constructor(plan: Plan, level: number, parent?: HashAggregate) {
    this.plan = plan;
    this.level = level;
    this.parent = parent;
    if (parent === undefined) {
      this.table = this.freshTable();
      this.accumulators = this.freshAccumulators();
      return;
    }
    // Partitions are finished one after another in the spilled table's arrays (empty by then) with its
    // reservation: a table made per partition would leave the one before it in the process, uncounted,
    // until the garbage collector runs, and the level-0 table would sit beside them reserved and unused.
    this.table = parent.table;
    this.accumulators = parent.accumulators;
    this.reserved = parent.reserved;
    parent.reserved = 0;
    this.table.clear();
    for (const accumulator of this.accumulators) accumulator.reset();
  }

  private freshTable(): GroupTable {
    return new GroupTable(
      this.plan.keyBindings.map((binding) => binding.family),
      1,
    );
  }

  private freshAccumulators(): Accumulator[] {
    const { aggregations, names, bindings, context } = this.plan;
    return aggregations.map((aggregation, a) => accumulatorFor(aggregation, names[a], bindings[a], context.stage));
  }

  private bytesFor(capacity: number, incoming: readonly number[] | number): number {
    let bytes = capacity * GroupTable.bytesPerGroup(this.table.families) + this.table.stringBytes + this.direct.bytes;
    this.accumulators.forEach((accumulator, a) => {
      bytes += accumulator.bytesFor(capacity, typeof incoming === 'number' ? incoming : incoming[a]);
    });
    return bytes;
  }

  /** Room for `count` more groups (and what they bring), reserved: false when the budget says no. */
  private makeRoom(count: number, incoming: readonly number[] | number, reserve = true): boolean {
    const table = this.table;
    let capacity = Math.max(table.capacity, FIRST_CAPACITY);
    while (capacity < table.size + count) capacity *= 2;
    const delta = this.bytesFor(capacity, incoming) - this.reserved;
    // Growing copies the table's arrays into larger ones: the old ones live until the copy is done,
    // and count for that moment too (else the process would pass its budget at every doubling).
    const transient = capacity !== table.capacity && table.size > 0 ? this.reserved : 0;
    const memory = this.plan.context.memory;
    if (reserve && delta > 0) {
      if (!memory.tryReserve(delta + transient)) return false;
      this.reserved += delta;
      if (this.reserved > this.plan.largestGrant) this.plan.largestGrant = this.reserved;
    }
    try {
      if (capacity !== table.capacity) table.grow(capacity);
      for (let a = 0; a < this.accumulators.length; a++) this.accumulators[a].ensure(capacity, typeof incoming === 'number' ? incoming : incoming[a]);
    } finally {
      if (reserve && delta > 0 && transient > 0) memory.release(transient);
    }
    return true;
  }

  /**
   * Makes room, spilling when refused. Refused with nothing to spill (an empty table, or the last level
   * of partitioning), it goes on without the reservation rather than wait: what holds the budget then
   * is the batch this stage is folding, and waiting would not free it. The budget also refuses while
   * the process is above it by RSS (pressure), whatever is reserved; then a table spills once it holds
   * half of the most a table was granted, and below that goes on unreserved: spilling smaller tables
   * would free less than the pressure is about and only multiply files.
   */
  private async room(count: number, incoming: readonly number[] | number): Promise<void> {
    while (!this.makeRoom(count, incoming)) {
      if (this.table.size > 0 && this.level <= MAX_LEVEL && this.worthSpilling()) {
        await this.flush();
        continue;
      }
      this.makeRoom(count, incoming, false);
      return;
    }
  }

  /** Refused: whether spilling the table helps (see `room`). */
  private worthSpilling(): boolean {
    const underPressure = !this.plan.context.memory.tryReserve(0);
    // What the groups held take, not the table's capacity: a table reused after a spill keeps its arrays.
    return !underPressure || this.bytesFor(this.table.size, 0) >= Math.max(this.plan.largestGrant / 2, PRESSURE_FLOOR);
  }

  /** Strings and custom states grow as values come in: reserve what they took, or spill them. */
  private async settle(): Promise<void> {
    const delta = this.bytesFor(this.table.capacity, 0) - this.reserved;
    if (delta <= 0) return;
    if (this.plan.context.memory.tryReserve(delta)) this.reserved += delta;
    else if (this.level <= MAX_LEVEL && this.worthSpilling()) await this.flush();
  }

  async addBatch(batch: Batch<any>, sequence: number): Promise<void> {
    const keys: Values[] = this.plan.keys.map((key) => valuesOf(batch.column(key)));
    // One number key without nulls: probed by value, without a Values call per row.
    const single = keys.length === 1 && keys[0].validity === null ? keys[0].numbers : undefined;
    const { hashes, groups, combinations, direct } = this;
    let from = 0;
    while (from < batch.length) {
      const to = Math.min(batch.length, from + CHUNK_ROWS);
      // Room for what the chunk's rows may bring to the accumulators (distinct values); the table
      // itself grows when it is full, so a few groups do not reserve for a chunk's worth.
      await this.room(0, to - from);
      for (const accumulator of this.accumulators) accumulator.begin(batch);
      const table = this.table;
      const mapped = direct.prepare(keys);
      if (mapped) direct.combine(keys, from, to, combinations);
      else hashRows(keys, from, to, hashes);
      let end = from;
      while (end < to) {
        if (mapped) {
          end = direct.fill(combinations, from, end, to, groups);
          if (end === to) break;
          hashRows(keys, end, end + 1, hashes.subarray(end - from));
        }
        if (table.size === table.capacity && !this.makeRoom(1, to - from)) break;
        const j = end - from;
        groups[j] = single !== undefined ? table.groupOfNumber(hashes[j], single[end]) : table.groupOf(hashes[j], keys, end);
        if (mapped) direct.set(combinations[j], groups[j]);
        end++;
      }
      for (const accumulator of this.accumulators) accumulator.update(groups, from, end, sequence);
      if (table.size > this.plan.figures.peakGroups) this.plan.figures.peakGroups = table.size;
      // Refused while rows were left: spill (or wait), then go on from the first row not taken.
      if (end < to) await this.room(1, to - end);
      else await this.settle();
      from = end;
    }
  }

  /** Merges one spilled block (the partial states of groups of one partition). */
  async addBlock(block: SpillBlock, bytes: number): Promise<void> {
    const memory = this.plan.context.memory;
    // The block read back is held while it merges: reserved if the budget has room (it is in memory
    // either way), else the table makes room for it by spilling, as in `room`.
    // Twice its size on disk: the bytes read and the arrays deserialized from them.
    const size = 2 * bytes;
    let held = 0;
    while (held === 0 && !memory.tryReserve(size)) {
      if (this.table.size > 0 && this.level <= MAX_LEVEL && this.worthSpilling()) await this.flush();
      else held = -1;
    }
    if (held === 0) held = size;
    try {
      const count = block.hashes.length;
      const incoming = this.accumulators.map((accumulator, a) => accumulator.incoming(block.states[a], count));
      await this.room(count, incoming);
      const keys = block.keys.map((stored, k) => storedValues(stored as never, this.plan.keyBindings[k].dtype));
      const groups = new Int32Array(count);
      for (let j = 0; j < count; j++) groups[j] = this.table.groupOf(block.hashes[j], keys, j);
      this.accumulators.forEach((accumulator, a) => accumulator.merge(block.states[a], groups));
    } finally {
      if (held > 0) memory.release(held);
    }
    await this.settle();
  }

  /** Writes every group to the partition files as partial states, and starts over with an empty table. */
  private async flush(): Promise<void> {
    const { plan, table } = this;
    const started = performance.now();
    if (this.spill === undefined) {
      this.spill = new SpillPartitions(await plan.context.tempDir(), `group-by-${plan.spills.length}-level-${this.level}`, this.level);
      plan.spills.push(this.spill);
    }
    const sizes = new Int32Array(PARTITIONS);
    const partitions = new Uint8Array(table.size);
    for (let g = 0; g < table.size; g++) sizes[(partitions[g] = partitionOf(table.hashes[g], this.level))]++;
    const members = Array.from(sizes, (size) => new Int32Array(size));
    const local = new Int32Array(table.size);
    const fill = new Int32Array(PARTITIONS);
    for (let g = 0; g < table.size; g++) {
      const p = partitions[g];
      local[g] = fill[p];
      members[p][fill[p]++] = g;
    }
    // One partition's copy of the states at a time, not the whole table's: a table that took the
    // budget is not copied whole, beside itself, when it spills.
    const whole = this.accumulators.map((accumulator) => (accumulator.splitsWhole ? accumulator.split(members, local) : undefined));
    const none = new Int32Array(0);
    const before = this.spill.written.length;
    const bytesBefore = this.spill.bytesWritten;
    for (let p = 0; p < PARTITIONS; p++) {
      if (sizes[p] === 0) continue;
      const list = members[p];
      const only = members.map((other, q) => (q === p ? other : none));
      const states = this.accumulators.map((accumulator, a) => (whole[a] ?? accumulator.split(only, local))[p]);
      const hashes = new Int32Array(list.length);
      for (let j = 0; j < list.length; j++) hashes[j] = table.hashes[list[j]];
      await this.spill.append(p, { hashes, keys: table.keys.map((key) => key.gather(list)), states });
    }
    plan.figures.spilledPartitions += this.spill.written.length - before;
    plan.figures.spilledBytes += this.spill.bytesWritten - bytesBefore;
    // The table and the states go on empty in the same arrays: what they hold stays reserved, and
    // only what the strings and distinct values took is given back.
    table.clear();
    this.direct.clear();
    for (const accumulator of this.accumulators) accumulator.reset();
    const kept = this.bytesFor(table.capacity, 0);
    if (this.reserved > kept) {
      plan.context.memory.release(this.reserved - kept);
      this.reserved = kept;
    }
    plan.figures.spillMs += performance.now() - started;
  }

  /** The groups: from memory when nothing spilled, else partition by partition. */
  async *finish(): AsyncGenerator<Batch> {
    try {
      if (this.spill === undefined) {
        yield* this.output();
        return;
      }
      if (this.table.size > 0) await this.flush();
      const spill = this.spill;
      await spill.close();
      for (const partition of spill.written) {
        const next = new HashAggregate(this.plan, this.level + 1, this);
        for await (const { block, bytes } of spill.blocks(partition)) await next.addBlock(block, bytes);
        await spill.remove(partition);
        yield* next.finish();
      }
      await spill.remove();
    } finally {
      if (this.parent !== undefined) {
        this.parent.table = this.table;
        this.parent.accumulators = this.accumulators;
        this.parent.reserved += this.reserved;
      } else this.plan.context.memory.release(this.reserved);
      this.reserved = 0;
    }
  }

  private *output(): Generator<Batch> {
    const { plan, table } = this;
    for (let from = 0; from < table.size; from += OUTPUT_ROWS) {
      const to = Math.min(table.size, from + OUTPUT_ROWS);
      const columns: Record<string, Column> = {};
      plan.keys.forEach((key, k) => {
        const binding = plan.keyBindings[k];
        columns[key] = storedColumn(table.keys[k].slice(from, to), binding.dtype, to - from, binding.dictionary);
      });
      plan.names.forEach((name, a) => {
        columns[name] = this.accumulators[a].finish(from, to);
      });
      plan.figures.groups += to - from;
      yield new Batch(columns, to - from);
    }
  }
}

function bindingOf(column: Column, name: string): Binding {
  return { column: name, family: familyOf(column.dtype), dtype: column.dtype, dictionary: column.dictionary };
}

/** A later batch's column: the same family as before (a key cannot go from numbers to strings), its dtype widened. */
function rebind(binding: Binding, column: Column, context: StageContext): void {
  if (familyOf(column.dtype) !== binding.family) {
    throw new SluiceError(
      'STAGE_FAILED',
      `groupBy: column ${JSON.stringify(binding.column)} changed from ${binding.dtype} to ${column.dtype} during the run; give the source a schema so it keeps one type.`,
      { stage: context.stage, column: binding.column },
    );
  }
  const dtype = widerDType(binding.dtype, column.dtype);
  if (dtype !== 'dictionary' || column.dictionary !== binding.dictionary) binding.dictionary = dtype === 'dictionary' && column.dictionary === binding.dictionary ? binding.dictionary : undefined;
  binding.dtype = dtype === 'dictionary' && binding.dictionary === undefined ? 'string' : dtype;
}

/** sum and mean take numbers (and bools, as 0/1). */
function summable(dtype: DType): boolean {
  return isIntegerDType(dtype) || dtype === 'float32' || dtype === 'float64' || dtype === 'bool';
}

function checkColumns(batch: Batch<any>, keys: readonly string[], names: readonly string[], aggregations: readonly Aggregation[], context: StageContext): void {
  const missing = (column: string, role: string) =>
    new SluiceError('STAGE_FAILED', `groupBy: no column ${JSON.stringify(column)} to ${role}; the input has ${batch.names.join(', ')}`, { stage: context.stage, column });
  for (const key of keys) if (batch.columns[key] === undefined) throw missing(key, 'group by');
  aggregations.forEach((aggregation, a) => {
    const column = aggregation.column;
    if (column === undefined) return;
    const found = batch.columns[column];
    if (found === undefined) throw missing(column, `aggregate as ${names[a]} (${aggregation.kind})`);
    if ((aggregation.kind === 'sum' || aggregation.kind === 'mean') && !summable(found.dtype)) {
      throw new SluiceError(
        'STAGE_FAILED',
        `groupBy: ${names[a]} is ${aggregation.kind}(${JSON.stringify(column)}) but ${column} is a ${found.dtype} column; ${aggregation.kind} takes a number column.`,
        { stage: context.stage, column, expected: 'a number column', value: found.dtype },
      );
    }
  });
}

/** Options of `groupBy`: the figures object the stage fills in (the summary reads it). */
export interface GroupByOptions {
  figures?: GroupByFigures;
}

/**
 * Groups rows by `keys` and computes `aggregations` per group, on the run's memory budget (spilling to
 * the stage's temporary folder when it is spent). Nulls form a group of their own, as in SQL; -0 and 0
 * are one key, and so are all NaNs.
 *
 * @example
 * .groupBy(['country', 'status'], { orders: count(), items: sum('quantity'), avg_price: mean('unit_price') })
 */
export function groupBy<R, const K extends keyof R & string, const A extends Aggregations<R>>(
  keys: readonly K[] | K,
  aggregations: A,
  options: GroupByOptions = {},
): Stage<R, Grouped<R, K, A>> {
  const keyList: readonly string[] = typeof keys === 'string' ? [keys] : [...keys];
  if (!Array.isArray(keyList) || keyList.some((key) => typeof key !== 'string')) {
    throw new SluiceError('INVALID_OPTION', `Expected \`groupBy\` keys to be a column name or an array of column names; got ${JSON.stringify(keys)}.`, { option: 'keys' });
  }
  const names = Object.keys(aggregations);
  const list = names.map((name) => aggregations[name]);
  list.forEach((aggregation, a) => {
    if (aggregation === null || typeof aggregation !== 'object' || typeof aggregation.kind !== 'string') {
      throw new SluiceError('INVALID_OPTION', `Expected \`groupBy\` aggregation ${names[a]} to be made by count(), sum(), … or reduce(); got ${String(aggregation)}.`, { option: names[a] });
    }
  });
  for (const name of names) {
    if (keyList.includes(name)) throw new SluiceError('INVALID_OPTION', `groupBy: ${JSON.stringify(name)} is both a key and an aggregation; name the aggregation otherwise.`, { option: name });
  }
  const stage: Stage<R, Grouped<R, K, A>> = async function* groupByStage(input, context) {
    const figures: GroupByFigures = options.figures ?? { groups: 0, peakGroups: 0, spilledBytes: 0, spilledPartitions: 0, spillMs: 0 };
    let plan: Plan | undefined;
    let aggregate: HashAggregate | undefined;
    let sequence = 0;
    const spills: SpillPartitions[] = [];
    try {
      for await (const batch of input) {
        if (plan === undefined) {
          checkColumns(batch, keyList, names, list, context);
          plan = {
            keys: keyList,
            names,
            aggregations: list,
            keyBindings: keyList.map((key) => bindingOf(batch.column(key), key)),
            bindings: list.map((aggregation) => (aggregation.column === undefined ? undefined : bindingOf(batch.column(aggregation.column), aggregation.column))),
            context,
            figures,
            spills,
            largestGrant: 0,
          };
          aggregate = new HashAggregate(plan, 0);
        } else {
          checkColumns(batch, keyList, names, list, context);
          plan.keyBindings.forEach((binding) => rebind(binding, batch.column(binding.column), context));
          plan.bindings.forEach((binding) => binding !== undefined && rebind(binding, batch.column(binding.column), context));
        }
        await aggregate!.addBatch(batch, sequence);
        sequence += batch.length;
      }
      if (aggregate === undefined) return;
      let any = false;
      for await (const output of aggregate.finish()) {
        any = true;
        yield output as Batch<Grouped<R, K, A>>;
      }
      if (!any) yield emptyOutput(plan!) as Batch<Grouped<R, K, A>>;
    } finally {
      figures.spillMs = Math.round(figures.spillMs);
      context.report?.(figures);
      await Promise.all(spills.map((spill) => spill.remove()));
    }
  };
  stage.stageName = 'groupBy';
  // Its output is made from the keys and the aggregated columns alone: the source reads nothing else
  // (a reducer sees whole rows, so one that does not say what it reads stops the push-down).
  const reducerReads = list.map((aggregation) => (aggregation.kind === 'reduce' ? aggregation.reducer?.reads : []));
  stage.columns = reducerReads.some((reads) => reads === undefined)
    ? READS_ALL
    : replacesRows([...keyList, ...list.flatMap((aggregation) => (aggregation.column === undefined ? [] : [aggregation.column])), ...reducerReads.flatMap((reads) => reads ?? [])]);
  stage.stageDetail = `by ${keyList.join(', ') || '(no keys: one group)'} → ${names.map((name, a) => `${name} = ${list[a].kind}(${list[a].column ?? ''})`).join(', ')}`;
  return stage;
}

/** No rows in, no groups out: an empty batch with the output's columns, so a file sink still writes its header. */
function emptyOutput(plan: Plan): Batch {
  const aggregate = new HashAggregate(plan, 0);
  let out: Batch | undefined;
  for (const batch of (aggregate as unknown as { output(): Generator<Batch> }).output()) out = batch;
  if (out !== undefined) return out;
  const columns: Record<string, Column> = {};
  plan.keys.forEach((key, k) => {
    const binding = plan.keyBindings[k];
    columns[key] = storedColumn({ family: binding.family, numbers: new Float64Array(0), strings: [], nulls: new Uint8Array(0) }, binding.dtype, 0, binding.dictionary);
  });
  const accumulators = plan.aggregations.map((aggregation, a) => accumulatorFor(aggregation, plan.names[a], plan.bindings[a], plan.context.stage));
  plan.names.forEach((name, a) => {
    accumulators[a].ensure(0, 0);
    columns[name] = accumulators[a].finish(0, 0);
  });
  return new Batch(columns, 0);
}
