import type { Batch } from '../../batch/batch.ts';
import { hashRows, storedValues } from '../aggregate/group-table.ts';
import { MAX_LEVEL, PARTITIONS, partitionOf, SpillPartitions } from '../aggregate/spill.ts';
import { valuesOf, type Values } from '../aggregate/values.ts';
import { type BuildBlock, BuildTable } from './build-table.ts';
import { JoinProbe } from './output.ts';
import { type JoinPlan, Reservation } from './plan.ts';
import { pickBuildRows, pickProbeRows, probeBatch, type ProbeBlock, probeBlock, storeRows } from './spill-rows.ts';

/** Indexes of rows by the partition of their hash at `level`; a partition with none is undefined. */
function byPartition(hashes: Int32Array, count: number, level: number, take: (i: number) => boolean = () => true): (Int32Array | undefined)[] {
  const sizes = new Int32Array(PARTITIONS);
  const partitions = new Uint8Array(count);
  for (let i = 0; i < count; i++) if (take(i)) sizes[(partitions[i] = partitionOf(hashes[i], level))]++;
  const members = Array.from(sizes, (size) => (size === 0 ? undefined : new Int32Array(size)));
  const fill = new Int32Array(PARTITIONS);
  for (let i = 0; i < count; i++) if (take(i)) members[partitions[i]]![fill[partitions[i]]++] = i;
  return members;
}

/**
 * The partitioned (grace) hash join, once the build side has not fit its reservation: both sides go
 * to 16 partition files by 4 bits of their key hash, and each partition is joined on its own (its build
 * rows in a table, its left rows probed against it). A partition whose build rows still do not fit is
 * split again by the next 4 bits, both sides, down to the last bits of the hash. A left row whose key is
 * null, or whose partition has no build row, matches nothing and is settled as it comes (kept by left
 * and anti joins, dropped by inner and semi ones) rather than written.
 *
 * Output order: those settled rows first, as they come, then partition by partition; within a partition,
 * left rows in input order, each with its matches in build order.
 */
export class GraceJoin {
  private readonly build: SpillPartitions<BuildBlock>;
  private probe: SpillPartitions<ProbeBlock> | undefined;
  private readonly unmatched: JoinProbe;
  private readonly keysOnly: boolean;

  private readonly plan: JoinPlan;
  private readonly folder: string;
  constructor(
    plan: JoinPlan,
    folder: string,
  ) {
    this.plan = plan;
    this.folder = folder;
    this.keysOnly = plan.options.type === 'semi' || plan.options.type === 'anti';
    this.build = this.spill('build', 0);
    this.unmatched = new JoinProbe(plan.options.type, plan.options.leftKeys, this.freshTable(), plan.added);
  }

  private spill<B extends { hashes: Int32Array }>(side: 'build' | 'probe', level: number): SpillPartitions<B> {
    const spill = new SpillPartitions<B>(this.folder, `join-${this.plan.spills.length}-${side}-level-${level}`, level);
    this.plan.spills.push(spill);
    return spill;
  }

  private freshTable(): BuildTable {
    return new BuildTable(this.plan.keyFamilies, this.plan.added.map((added) => added.family), !this.keysOnly);
  }

  private async timed<T>(work: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await work();
    } finally {
      this.plan.figures.spillMs += performance.now() - started;
    }
  }

  /** The table built so far goes to the partition files (its reservation is the caller's to give back). */
  async spillTable(table: BuildTable): Promise<void> {
    await this.timed(async () => {
      const blocks = table.blocks(0);
      for (let p = 0; p < PARTITIONS; p++) if (blocks[p] !== undefined) await this.build.append(p, blocks[p]!);
    });
  }

  /** Build rows [from, to) of a batch, hashes `hashes[i - from]`, straight to the partition files (null keys left out). */
  async spillBuildRows(keys: readonly Values[], payload: readonly Values[], hashes: Int32Array, from: number, to: number): Promise<void> {
    await this.timed(async () => {
      const kept = new Uint8Array(to - from);
      for (let i = 0; i < to - from; i++) kept[i] = keys.every((values) => !values.isNull(from + i)) ? 1 : 0;
      const members = byPartition(hashes, to - from, 0, (i) => kept[i] === 1);
      for (let p = 0; p < PARTITIONS; p++) {
        const list = members[p];
        if (list === undefined) continue;
        const rows = list.map((i) => i + from);
        this.plan.figures.buildRows += rows.length;
        await this.build.append(p, { hashes: list.map((i) => hashes[i]), keys: keys.map((values) => storeRows(values, rows)), payload: payload.map((values) => storeRows(values, rows)) });
      }
    });
  }

  /** A left batch: its rows that can match go to the partition files; the output of those that cannot. */
  async addLeft(batch: Batch): Promise<Batch | undefined> {
    if (this.probe === undefined) {
      await this.build.close();
      this.noteSpill(this.build);
      this.probe = this.spill('probe', 0);
    }
    const keys = this.plan.options.leftKeys.map((key) => valuesOf(batch.column(key)));
    const hashes = new Int32Array(batch.length);
    hashRows(keys, 0, batch.length, hashes);
    const settled: number[] = [];
    const matchable = new Uint8Array(batch.length);
    for (let i = 0; i < batch.length; i++) {
      if (this.build.groups[partitionOf(hashes[i], 0)] > 0 && keys.every((values) => !values.isNull(i))) matchable[i] = 1;
      else settled.push(i);
    }
    const members = byPartition(hashes, batch.length, 0, (i) => matchable[i] === 1);
    await this.timed(async () => {
      for (let p = 0; p < PARTITIONS; p++) {
        const list = members[p];
        if (list !== undefined) await this.probe!.append(p, probeBlock(batch, new Uint32Array(list.buffer), list.length, hashes, this.plan.dictionaries));
      }
    });
    return settled.length === 0 ? undefined : this.unmatched.unmatched(batch.take(Uint32Array.from(settled), settled.length));
  }

  /** Every partition joined, one at a time. */
  async *finish(): AsyncGenerator<Batch> {
    if (this.probe === undefined) return;
    await this.probe.close();
    this.noteSpill(this.probe);
    yield* this.joinPartitions(this.build, this.probe, 0, false);
  }

  private noteSpill(spill: SpillPartitions<any>): void {
    this.plan.figures.spilledBytes += spill.bytesWritten;
    this.plan.figures.spilledPartitions += spill.written.length;
  }

  private async *joinPartitions(build: SpillPartitions<BuildBlock>, probe: SpillPartitions<ProbeBlock>, level: number, unreserved: boolean): AsyncGenerator<Batch> {
    const { context, dictionaries, options } = this.plan;
    for (const p of probe.written) {
      const table = this.freshTable();
      const reservation = new Reservation(context.memory);
      try {
        let fits = true;
        if (build.groups[p] > 0) {
          for await (const { block } of build.blocks(p)) {
            const count = block.hashes.length;
            // At the last bits of the hash, or when every row of the partition has one hash (one key),
            // splitting again cannot help: the partition is built unreserved.
            if (!reservation.grow(table.bytesFor(count)) && !unreserved && level < MAX_LEVEL) {
              fits = false;
              break;
            }
            this.insertBlock(table, block);
            if (!reservation.grow(table.bytesFor(0)) && !unreserved && level < MAX_LEVEL) {
              fits = false;
              break;
            }
          }
        }
        if (!fits) {
          reservation.release();
          const split = await this.timed(() => this.split(build, probe, p, level + 1));
          yield* this.joinPartitions(split.build, split.probe, level + 1, split.oneHash);
          continue;
        }
        const joiner = new JoinProbe(options.type, options.leftKeys, table, this.plan.added);
        for await (const { block, bytes } of probe.blocks(p)) {
          // The block read back is held while it is probed: reserved when the budget has room (it is
          // in memory either way).
          const held = context.memory.tryReserve(bytes) ? bytes : 0;
          try {
            const batch = probeBatch(block, dictionaries);
            if (build.groups[p] === 0) {
              const out = joiner.unmatched(batch);
              if (out !== undefined) yield out;
            } else {
              yield* joiner.probe(batch, block.hashes);
            }
          } finally {
            context.memory.release(held);
          }
        }
      } finally {
        reservation.release();
        await build.remove(p);
        await probe.remove(p);
      }
    }
  }

  private insertBlock(table: BuildTable, block: BuildBlock): void {
    const count = block.hashes.length;
    const keys = block.keys.map((stored) => storedValues(stored, stored.family === 'number' ? 'float64' : 'string'));
    const payload = block.payload.map((stored, c) => storedValues(stored, this.plan.added[c].dtype));
    table.ensure(count);
    table.insert(block.hashes, keys, payload, 0, count);
  }

  /** Partition `p` of both sides split by the next 4 bits of the hash, into spills of `level`. */
  private async split(build: SpillPartitions<BuildBlock>, probe: SpillPartitions<ProbeBlock>, p: number, level: number) {
    const subBuild = this.spill<BuildBlock>('build', level);
    const subProbe = this.spill<ProbeBlock>('probe', level);
    let firstHash: number | undefined;
    let oneHash = true;
    for await (const { block } of build.blocks(p)) {
      const members = byPartition(block.hashes, block.hashes.length, level);
      for (let q = 0; q < PARTITIONS; q++) if (members[q] !== undefined) await subBuild.append(q, pickBuildRows(block, members[q]!));
      for (const hash of block.hashes) {
        firstHash ??= hash;
        if (hash !== firstHash) oneHash = false;
      }
    }
    for await (const { block } of probe.blocks(p)) {
      const members = byPartition(block.hashes, block.hashes.length, level);
      for (let q = 0; q < PARTITIONS; q++) {
        const list = members[q];
        if (list !== undefined) await subProbe.append(q, pickProbeRows(block, new Uint32Array(list.buffer), this.plan.dictionaries));
      }
    }
    await subBuild.close();
    await subProbe.close();
    this.noteSpill(subBuild);
    this.noteSpill(subProbe);
    await build.remove(p);
    await probe.remove(p);
    return { build: subBuild, probe: subProbe, oneHash };
  }
}
