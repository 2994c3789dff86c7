import type { Batch } from '../../batch/batch.ts';
import { gatherBatch } from './gather.ts';
import type { RunFile } from './runs.ts';
import { type KeyMode, type KeyValues, keyValuesOf, type ResolvedKey, type RowComparator } from './sort-keys.ts';

/** What a merge needs to know of the sort. */
export interface MergePlan {
  keys: readonly ResolvedKey[];
  modes: readonly KeyMode[];
  names: readonly string[];
  compare: RowComparator;
  outputRows: number;
}

/** A run being read: its current block, that block's key values, and the next row to take. */
interface Cursor {
  /** The run's position among the merged runs: earlier runs hold earlier input, so ties go to them. */
  rank: number;
  blocks: AsyncGenerator<{ batch: Batch; bytes: number }>;
  batch: Batch;
  keys: KeyValues[];
  row: number;
  /** The block's index in the output chunk's sources, or -1 when the chunk does not use it yet. */
  source: number;
}

async function advance(cursor: Cursor, plan: MergePlan): Promise<boolean> {
  for (;;) {
    const next = await cursor.blocks.next();
    if (next.done === true) return false;
    if (next.value.batch.length === 0) continue;
    cursor.batch = next.value.batch;
    cursor.keys = keyValuesOf([cursor.batch], plan.keys, plan.modes, cursor.batch.length);
    cursor.row = 0;
    cursor.source = -1;
    return true;
  }
}

/**
 * The rows of sorted runs in one sorted order: a k-way merge over a binary heap of the runs' cursors,
 * one block of each run in memory at a time. Equal keys come out in run order (runs hold consecutive
 * stretches of the input, first run first), then in their order within the run: the sort stays stable.
 */
export async function* mergeRuns(runs: readonly RunFile[], plan: MergePlan): AsyncGenerator<Batch> {
  const { compare, outputRows } = plan;
  const heap: Cursor[] = [];
  const less = (a: Cursor, b: Cursor) => {
    const order = compare(a.keys, a.row, b.keys, b.row);
    return order < 0 || (order === 0 && a.rank < b.rank);
  };
  const siftDown = (at: number) => {
    const size = heap.length;
    const item = heap[at];
    for (;;) {
      let child = 2 * at + 1;
      if (child >= size) break;
      if (child + 1 < size && less(heap[child + 1], heap[child])) child++;
      if (!less(heap[child], item)) break;
      heap[at] = heap[child];
      at = child;
    }
    heap[at] = item;
  };
  const opened: Cursor[] = [];
  try {
    for (let r = 0; r < runs.length; r++) {
      const cursor: Cursor = { rank: r, blocks: runs[r].blocks(), batch: undefined as never, keys: [], row: 0, source: -1 };
      opened.push(cursor);
      if (await advance(cursor, plan)) heap.push(cursor);
    }
    for (let at = (heap.length >> 1) - 1; at >= 0; at--) siftDown(at);

    let sources: Batch[] = [];
    let from = new Uint32Array(outputRows);
    let rows = new Uint32Array(outputRows);
    let count = 0;
    const users: Cursor[] = [];
    while (heap.length > 0) {
      const top = heap[0];
      if (top.source < 0) {
        top.source = sources.push(top.batch) - 1;
        users.push(top);
      }
      from[count] = top.source;
      rows[count] = top.row;
      count++;
      top.row++;
      if (top.row === top.batch.length) {
        if (!(await advance(top, plan))) {
          const last = heap.pop()!;
          if (heap.length > 0) heap[0] = last;
        }
      }
      if (heap.length > 0) siftDown(0);
      if (count === outputRows) {
        yield gatherBatch(sources, plan.names, from, rows, count);
        for (const user of users) user.source = -1;
        users.length = 0;
        sources = [];
        from = new Uint32Array(outputRows);
        rows = new Uint32Array(outputRows);
        count = 0;
      }
    }
    if (count > 0) yield gatherBatch(sources, plan.names, from, rows, count);
  } finally {
    await Promise.all(opened.map((cursor) => cursor.blocks.return(undefined)));
  }
}
