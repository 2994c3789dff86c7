import { open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { deserialize, serialize } from 'node:v8';
import { SluiceError } from '../../core/errors.ts';

/** Partitions per spill: 4 radix bits of the key hash, as DuckDB's radix-partitioned aggregation sinks. */
export const RADIX_BITS = 4;
export const PARTITIONS = 1 << RADIX_BITS;
/** Levels of re-partitioning: each takes the next 4 bits of the 32-bit hash, high bits first. */
export const MAX_LEVEL = 32 / RADIX_BITS - 1;

/** The partition of a group's hash at `level`. */
export function partitionOf(hash: number, level: number): number {
  return (hash >>> (32 - RADIX_BITS * (level + 1))) & (PARTITIONS - 1);
}

/**
 * The spill file format: a partition is one file of blocks, each a partial aggregate of the groups of
 * one flushed table that fell in the partition (their hashes, key values and accumulator states, as
 * typed arrays and arrays of strings), written as `[uint32 byte length][v8.serialize(block)]`.
 * v8's serializer copies typed arrays as bytes and strings as they are, so a block is columnar and
 * costs no per-value encoding; it is not a stable format (another Node version may not read it), and
 * need not be: spill files are temporary, read back by the same process and removed when the stage ends.
 */
export interface SpillBlock {
  hashes: Int32Array;
  keys: unknown[];
  states: unknown[];
}

/**
 * The 16 partition files of one spill (one level of one table), appended block by block. A block is a
 * group-by's partial aggregate by default; a join writes its rows the same way (`B`), hashes first.
 */
export class SpillPartitions<B extends { hashes: Int32Array } = SpillBlock> {
  private readonly handles: (FileHandle | undefined)[] = new Array(PARTITIONS).fill(undefined);
  private readonly lengths = new Float64Array(PARTITIONS);
  readonly groups = new Float64Array(PARTITIONS);
  bytesWritten = 0;

  private readonly folder: string;
  readonly name: string;
  readonly level: number;
  constructor(
    folder: string,
    name: string,
    level: number,
  ) {
    this.folder = folder;
    this.name = name;
    this.level = level;
  }

  private path(partition: number): string {
    return join(this.folder, `${this.name}-${partition.toString(16)}.spill`);
  }

  get isEmpty(): boolean {
    return this.bytesWritten === 0;
  }

  /** Partitions with something in them. */
  get written(): number[] {
    const list: number[] = [];
    for (let p = 0; p < PARTITIONS; p++) if (this.lengths[p] > 0) list.push(p);
    return list;
  }

  async append(partition: number, block: B): Promise<void> {
    const body = serialize(block);
    const head = Buffer.alloc(4);
    head.writeUInt32LE(body.length, 0);
    let handle = this.handles[partition];
    try {
      handle ??= this.handles[partition] = await open(this.path(partition), 'a', 0o600);
      await handle.writev([head, body]);
    } catch (error) {
      throw new SluiceError('OUTPUT_WRITE', `Could not write a spill file in ${this.folder}: ${(error as Error).message}`, { cause: error });
    }
    this.lengths[partition] += 4 + body.length;
    this.groups[partition] += block.hashes.length;
    this.bytesWritten += 4 + body.length;
  }

  /** Closes the files written to; they stay until `remove`. */
  async close(): Promise<void> {
    const handles = this.handles.splice(0, PARTITIONS, ...new Array(PARTITIONS).fill(undefined));
    await Promise.all(handles.map((handle) => handle?.close()));
  }

  /** The blocks of one partition, in the order they were written, each with its size on disk. */
  async *blocks(partition: number): AsyncGenerator<{ block: B; bytes: number }> {
    const handle = await open(this.path(partition), 'r');
    try {
      const head = Buffer.alloc(4);
      let position = 0;
      while (position < this.lengths[partition]) {
        await handle.read(head, 0, 4, position);
        const length = head.readUInt32LE(0);
        const body = Buffer.alloc(length);
        await handle.read(body, 0, length, position + 4);
        position += 4 + length;
        yield { block: deserialize(body) as B, bytes: length };
      }
    } finally {
      await handle.close();
    }
  }

  /** Removes one partition's file (once merged), or every file (`finally`). */
  async remove(partition?: number): Promise<void> {
    if (partition !== undefined) {
      await rm(this.path(partition), { force: true });
      this.lengths[partition] = 0;
      return;
    }
    await this.close();
    await Promise.all(Array.from({ length: PARTITIONS }, (_, p) => rm(this.path(p), { force: true })));
  }
}
