import { moveView, type Batch, type RowView } from '../../batch/batch.ts';
import type { Column } from '../../batch/column.ts';
import { ComputedColumn } from '../values.ts';
import type { Aggregation } from './aggregations.ts';
import { gatherBytes, grownBytes } from './state-arrays.ts';

/** reduce: one JS value per group, made and folded by the user's functions. */
// An Accumulator (accumulators.ts), by shape: naming the interface here would close a circle of imports.
export class ReduceAccumulator {
  private states: unknown[] = [];
  private seen = new Uint8Array(0);
  private held = 0;
  private view: RowView<any> | undefined;
  private column: ComputedColumn | undefined;
  private readonly aggregation: Aggregation;
  private readonly name: string;
  private readonly stage: string;
  constructor(
    aggregation: Aggregation,
    name: string,
    stage: string,
  ) {
    this.aggregation = aggregation;
    this.name = name;
    this.stage = stage;
  }
  begin(batch: Batch<any>): void {
    this.view = batch.view();
  }
  bytesFor(groups: number): number {
    // States are JS values of unknown size: ~64 bytes each, counted once made (the stage settles after each step).
    return groups * 9 + this.held * 64;
  }
  ensure(groups: number): void {
    this.seen = grownBytes(this.seen, groups);
  }
  reset(): void {
    this.states = [];
    this.seen.fill(0);
    this.held = 0;
  }
  update(groups: Int32Array, from: number, to: number): void {
    const reducer = this.aggregation.reducer!;
    const view = this.view!;
    for (let i = from; i < to; i++) {
      const g = groups[i - from];
      moveView(view, i);
      if (this.seen[g] === 0) {
        this.seen[g] = 1;
        this.held++;
        this.states[g] = reducer.step(reducer.init(), view);
      } else this.states[g] = reducer.step(this.states[g], view);
    }
  }
  split(members: readonly Int32Array[]): unknown[] {
    return members.map((list) => ({ seen: gatherBytes(this.seen, list), states: Array.from(list, (g) => this.states[g]) }));
  }
  incoming(_state: unknown, groups: number): number {
    return groups;
  }
  merge(state: unknown, groups: Int32Array): void {
    const reducer = this.aggregation.reducer!;
    const { seen, states } = state as { seen: Uint8Array; states: unknown[] };
    for (let j = 0; j < groups.length; j++) {
      if (seen[j] === 0) continue;
      const g = groups[j];
      if (this.seen[g] === 0) {
        this.seen[g] = 1;
        this.held++;
        this.states[g] = states[j];
      } else this.states[g] = reducer.merge(this.states[g], states[j]);
    }
  }
  finish(from: number, to: number): Column {
    const reducer = this.aggregation.reducer!;
    // One ComputedColumn for every output batch: the dtype its first value picked holds for all.
    this.column ??= new ComputedColumn(this.name, this.stage, reducer.dtype);
    const column = this.column;
    column.begin(to - from);
    for (let g = from; g < to; g++) {
      const state = this.seen[g] === 1 ? this.states[g] : reducer.init();
      column.set(g - from, reducer.finish === undefined ? state : reducer.finish(state));
    }
    return column.finish();
  }
}
