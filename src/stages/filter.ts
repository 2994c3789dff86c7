import { type Batch, moveView } from '../batch/batch.ts';
import type { Stage } from '../contracts/contracts.ts';
import { checkArgument, functionValue } from '../core/options.ts';

/** Keeps the rows for which `predicate` is truthy. The predicate sees one reusable row view. */
export function filter<R>(predicate: (row: R) => unknown): Stage<R, R> {
  checkArgument('filter()', 'predicate', functionValue, 'a function (row) => boolean', predicate);
  const stage: Stage<R, R> = async function* filterStage(input) {
    let indices = new Uint32Array(0);
    let yielded = false;
    let last: Batch<R> | undefined;
    for await (const batch of input) {
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
  return stage;
}
