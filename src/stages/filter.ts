import { type Batch, moveView } from '../batch/batch.ts';
import type { Stage } from '../contracts/contracts.ts';
import { checkArgument, functionValue } from '../core/options.ts';
import { passesOn } from '../contracts/columns.ts';
import { checkReads, type ReadsOption, readsOption } from './reads.ts';

/**
 * Keeps the rows for which `predicate` is truthy. The predicate sees one reusable row view; `reads`
 * names the columns it reads, so that only those are decoded (see reads.ts).
 */
export function filter<R>(predicate: (row: R) => unknown, options: ReadsOption<R> = {}): Stage<R, R> {
  checkArgument('filter()', 'predicate', functionValue, 'a function (row) => boolean', predicate);
  const reads = readsOption('filter()', options);
  const stage: Stage<R, R> = async function* filterStage(input, context) {
    let indices = new Uint32Array(0);
    let yielded = false;
    let last: Batch<R> | undefined;
    for await (const batch of input) {
      if (last === undefined) checkReads(batch, reads, context.stage);
      last = batch;
      if (indices.length < batch.length) indices = new Uint32Array(batch.length);
      const view = batch.view();
      let kept = 0;
      for (let i = 0; i < batch.length; i++) {
        if (predicate(moveView(view, i))) indices[kept++] = i;
      }
      if (kept === 0) continue;
      yielded = true;
      if (kept === batch.length) yield batch;
      else yield batch.take(indices, kept) as Batch<R>;
    }
    // Every row dropped: pass on an empty batch so the sink still learns the columns (a CSV header).
    if (!yielded && last !== undefined) yield last.head(0);
  };
  stage.stageName = 'filter';
  stage.rowWise = true;
  if (reads !== undefined) stage.columns = passesOn(reads);
  return stage;
}
