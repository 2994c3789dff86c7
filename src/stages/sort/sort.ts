import type { Batch } from '../../batch/batch.ts';
import { SluiceError } from '../../core/errors.ts';
import { passesOn } from '../../contracts/columns.ts';
import type { Stage, StageContext } from '../../contracts/contracts.ts';
import { gatherBatch } from './gather.ts';
import { type MergePlan, mergeRuns } from './merge.ts';
import { radixOrder, radixSortable } from './radix.ts';
import { Dictionaries, RunFile } from './runs.ts';
import {
  describeKeys,
  keyBytesPerRow,
  type KeyMode,
  keyModeOf,
  keyValuesOf,
  type ResolvedKey,
  resolveKeys,
  rowComparator,
  sortedOrder,
  type SortSpec,
  updateKeyMode,
} from './sort-keys.ts';

export type { SortKey, SortSpec } from './sort-keys.ts';

/** What a sort did, for the run summary. */
export interface SortFigures {
  /** Most rows held in memory at once. */
  peakRows: number;
  /** Bytes written to run files (merge passes included), runs written, and time spent writing them. */
  spilledBytes: number;
  spilledRuns: number;
  spillMs: number;
}

/** Rows per output batch, and per block of a run file at most. */
const OUTPUT_ROWS = 16384;
/** Bytes a run file's block aims at: what the merge holds per run. */
const BLOCK_BYTES = 256 * 1024;
/** Bytes per held row beyond its columns: its place in the order (two permutations and a radix digit) and its batch and row numbers. */
const ROW_OVERHEAD = 18;
/** Bytes a sort may hold unreserved while the budget is under pressure, at least (see `worthSpilling`). */
const PRESSURE_FLOOR = 256 * 1024;

/**
 * An external merge sort under the budget. Input batches are held as they came, their bytes reserved
 * from `context.memory`; when a reservation is refused, the rows held are sorted and written as a run
 * (a file of sorted columnar blocks) and the reservation given back. At the end the rows held are
 * sorted too and either come out from memory (nothing spilled) or go to one more run, and the runs are
 * merged k at a time, as many as the budget holds one block of each, in passes until one pass can
 * produce the output. Stable: equal keys keep their input order.
 */
class ExternalSort {
  private held: Batch<any>[] = [];
  private heldRows = 0;
  /** Bytes of the rows held, reserved or not, and the part of them reserved. */
  private heldBytes = 0;
  private reserved = 0;
  private largestGrant = 0;
  private readonly runs: RunFile[] = [];
  /** Every run file made, so `finally` removes them however the stage ends. */
  readonly files: RunFile[] = [];
  private readonly dictionaries = new Dictionaries();
  private readonly plan: MergePlan;

  private readonly context: StageContext;
  private readonly figures: SortFigures;
  constructor(
    keys: readonly ResolvedKey[],
    modes: readonly KeyMode[],
    names: readonly string[],
    context: StageContext,
    figures: SortFigures,
  ) {
    this.context = context;
    this.figures = figures;
    this.plan = { keys, modes, names, compare: rowComparator(keys), outputRows: OUTPUT_ROWS };
  }

  private bytesOf(batch: Batch<any>): number {
    return batch.byteSize + batch.length * (ROW_OVERHEAD + keyBytesPerRow(this.plan.keys));
  }

  async add(batch: Batch<any>): Promise<void> {
    if (batch.length === 0) return;
    const bytes = this.bytesOf(batch);
    const memory = this.context.memory;
    let granted = memory.tryReserve(bytes);
    if (!granted && this.heldRows > 0 && this.worthSpilling()) {
      await this.spill();
      granted = memory.tryReserve(bytes);
    }
    // Refused with nothing worth spilling: the batch is in memory either way (it is the one the stage
    // was handed), so it is held unreserved rather than waited on.
    if (granted) {
      this.reserved += bytes;
      if (this.reserved > this.largestGrant) this.largestGrant = this.reserved;
    }
    this.held.push(batch);
    this.heldRows += batch.length;
    this.heldBytes += bytes;
    if (this.heldRows > this.figures.peakRows) this.figures.peakRows = this.heldRows;
  }

  /**
   * Refused: whether writing a run helps. The budget also refuses while the process is above it by RSS
   * (pressure), whatever is reserved; then a sort writes a run once it holds half of the most it was
   * granted (as the group-by does), and below that goes on: smaller runs would free little and multiply files.
   */
  private worthSpilling(): boolean {
    const underPressure = !this.context.memory.tryReserve(0);
    return !underPressure || this.heldBytes >= Math.max(this.largestGrant / 2, PRESSURE_FLOOR);
  }

  /** The rows held, in sorted order, as batches of at most `rowsPerBatch` rows. */
  private *sortedHeld(rowsPerBatch: number): Generator<Batch> {
    const held = this.held;
    const rows = this.heldRows;
    const { keys, modes, compare } = this.plan;
    const order = radixSortable(modes) ? radixOrder(held, keys, modes, rows) : sortedOrder(keyValuesOf(held, keys, modes, rows), rows, compare);
    const batchOf = new Uint32Array(rows);
    const rowOf = new Uint32Array(rows);
    let offset = 0;
    held.forEach((batch, b) => {
      for (let i = 0; i < batch.length; i++) {
        batchOf[offset + i] = b;
        rowOf[offset + i] = i;
      }
      offset += batch.length;
    });
    for (let start = 0; start < rows; start += rowsPerBatch) {
      const count = Math.min(rowsPerBatch, rows - start);
      const from = new Uint32Array(count);
      const at = new Uint32Array(count);
      for (let i = 0; i < count; i++) {
        const g = order[start + i];
        from[i] = batchOf[g];
        at[i] = rowOf[g];
      }
      yield gatherBatch(held, this.plan.names, from, at, count);
    }
  }

  private blockRows(): number {
    const perRow = this.heldBytes / Math.max(1, this.heldRows);
    return Math.max(64, Math.min(OUTPUT_ROWS, Math.floor(BLOCK_BYTES / Math.max(1, perRow))));
  }

  /** Sorts the rows held, writes them as a run, and gives their reservation back. */
  private async spill(): Promise<void> {
    const started = performance.now();
    const run = await this.newRun();
    for (const block of this.sortedHeld(this.blockRows())) await run.append(block);
    await run.close();
    this.runs.push(run);
    this.figures.spilledBytes += run.bytes;
    this.figures.spilledRuns++;
    this.held = [];
    this.heldRows = 0;
    this.heldBytes = 0;
    this.context.memory.release(this.reserved);
    this.reserved = 0;
    this.figures.spillMs += performance.now() - started;
  }

  private async newRun(): Promise<RunFile> {
    const run = RunFile.in(await this.context.tempDir(), `sort-run-${this.files.length}`, this.dictionaries);
    this.files.push(run);
    return run;
  }

  /** The sorted rows: from memory when nothing spilled, else merged from the runs. */
  async *finish(): AsyncGenerator<Batch> {
    try {
      if (this.runs.length === 0) {
        yield* this.sortedHeld(OUTPUT_ROWS);
        return;
      }
      if (this.heldRows > 0) await this.spill();
      let runs = [...this.runs];
      for (;;) {
        const fanIn = this.fanIn(runs);
        const reserved = this.reserveBlocks(runs.slice(0, fanIn));
        try {
          if (runs.length <= fanIn) {
            yield* mergeRuns(runs, this.plan);
            return;
          }
          runs = await this.mergePass(runs, fanIn);
        } finally {
          this.context.memory.release(reserved);
        }
      }
    } finally {
      this.context.memory.release(this.reserved);
      this.reserved = 0;
    }
  }

  /**
   * How many runs a merge can read at once: as many as the budget holds a block of each (two at least).
   * Under pressure (the process above its budget by RSS, often garbage of the input phase) the budget
   * refuses everything for a while; then as many as fit in what the sort was granted before, which the
   * budget did hold: merging in extra passes would write every row once more for nothing.
   */
  private fanIn(runs: readonly RunFile[]): number {
    const memory = this.context.memory;
    const underPressure = !memory.tryReserve(0);
    let fit = 0;
    let bytes = 0;
    for (const run of runs) {
      const block = run.largestBlock * 2;
      if (underPressure ? bytes + block > this.largestGrant : !memory.tryReserve(block)) break;
      bytes += block;
      fit++;
    }
    if (!underPressure) memory.release(bytes);
    return Math.max(2, fit);
  }

  /** Reserves a block of each run to be merged (deserialized, a block takes about twice its bytes); 0 when refused. */
  private reserveBlocks(runs: readonly RunFile[]): number {
    const bytes = runs.reduce((sum, run) => sum + run.largestBlock * 2, 0);
    return this.context.memory.tryReserve(bytes) ? bytes : 0;
  }

  /** Merges consecutive groups of `fanIn` runs into one run each: fewer, longer runs, in input order. */
  private async mergePass(runs: readonly RunFile[], fanIn: number): Promise<RunFile[]> {
    const merged: RunFile[] = [];
    for (let start = 0; start < runs.length; start += fanIn) {
      const group = runs.slice(start, start + fanIn);
      if (group.length === 1) {
        merged.push(group[0]);
        continue;
      }
      const started = performance.now();
      const run = await this.newRun();
      for await (const batch of mergeRuns(group, { ...this.plan, outputRows: Math.min(...group.map((done) => done.blockRows)) })) {
        await run.append(batch);
      }
      await run.close();
      for (const done of group) await done.remove();
      this.figures.spilledBytes += run.bytes;
      this.figures.spilledRuns++;
      this.figures.spillMs += performance.now() - started;
      merged.push(run);
    }
    return merged;
  }
}

function checkColumns(batch: Batch<any>, keys: readonly ResolvedKey[], names: readonly string[] | undefined, context: StageContext): void {
  for (const key of keys) {
    if (batch.columns[key.column] === undefined) {
      throw new SluiceError('STAGE_FAILED', `sort: no column ${JSON.stringify(key.column)} to sort by; the input has ${batch.names.join(', ')}`, { stage: context.stage, column: key.column });
    }
  }
  if (names === undefined) return;
  for (const name of names) {
    if (batch.columns[name] === undefined) {
      throw new SluiceError('STAGE_FAILED', `sort: column ${JSON.stringify(name)} of the first batch is missing from a later one; give the source a schema so every batch has the same columns.`, {
        stage: context.stage,
        column: name,
      });
    }
  }
}

/** Options of `sort`: the figures object the stage fills in (the summary reads it). */
export interface SortOptions {
  figures?: SortFigures;
}

/**
 * The rows in the order of `keys`, on the run's memory budget: an external merge sort that writes
 * sorted runs to the stage's temporary folder when the budget is spent, then merges them. Stable. A key
 * is a column name (ascending) or `{ column, descending?, nulls? }`; nulls go last unless `nulls: 'first'`,
 * whatever the direction. NaN sorts above every number, -0 equals 0, booleans false before true, dates
 * and timestamps by time, strings (and dictionary strings) by UTF-16 code units, not by locale.
 *
 * @example
 * .sort(['country', { column: 'unit_price', descending: true }])
 */
export function sort<R>(spec: SortSpec<keyof R & string>, options: SortOptions = {}): Stage<R, R> {
  const keys = resolveKeys(spec, 'sort()');
  const stage: Stage<R, R> = async function* sortStage(input, context) {
    const figures: SortFigures = options.figures ?? { peakRows: 0, spilledBytes: 0, spilledRuns: 0, spillMs: 0 };
    let sorter: ExternalSort | undefined;
    let modes: KeyMode[] | undefined;
    let names: readonly string[] | undefined;
    let empty: Batch<any> | undefined;
    try {
      for await (const batch of input) {
        checkColumns(batch, keys, names, context);
        if (modes === undefined) {
          names = batch.names;
          modes = keys.map((key) => keyModeOf(batch.column(key.column)));
          sorter = new ExternalSort(keys, modes, names, context, figures);
          empty = batch.head(0);
        } else {
          keys.forEach((key, k) => updateKeyMode(modes![k], batch.column(key.column), key.column, context.stage));
        }
        await sorter!.add(batch);
      }
      if (sorter === undefined) return;
      let any = false;
      for await (const output of sorter.finish()) {
        any = true;
        yield output as Batch<R>;
      }
      // No rows in: an empty batch with the columns, so a file sink still writes its header.
      if (!any) yield empty as Batch<R>;
    } finally {
      figures.spillMs = Math.round(figures.spillMs);
      context.report?.({ peakRows: figures.peakRows, spilledBytes: figures.spilledBytes, spilledRuns: figures.spilledRuns, spillMs: figures.spillMs });
      if (sorter !== undefined) await Promise.all(sorter.files.map((file) => file.remove()));
    }
  };
  stage.stageName = 'sort';
  stage.stageDetail = `by ${describeKeys(keys)}`;
  // Reads its keys and passes every column on: a later stage's columns are all the source must read.
  stage.columns = passesOn(keys.map((key) => key.column));
  return stage;
}
