import type { Batch } from '../batch/batch.ts';
import type { Stage } from '../contracts/contracts.ts';
import { checkArgument, functionValue } from '../core/options.ts';
import { passesOn } from '../contracts/columns.ts';
import { checkReads, type ReadsOption, readsOption } from './reads.ts';

/** Calls `observe` with each batch and passes it on unchanged (logging, metrics, assertions). */
export function tap<R>(observe: (batch: Batch<R>) => void | Promise<void>, options: ReadsOption<R> = {}): Stage<R, R> {
  checkArgument('tap()', 'observe', functionValue, 'a function (batch) => void', observe);
  const reads = readsOption('tap()', options);
  const stage: Stage<R, R> = async function* tapStage(input, context) {
    let first = true;
    for await (const batch of input) {
      if (first) checkReads(batch, reads, context.stage);
      first = false;
      await observe(batch);
      yield batch;
    }
  };
  stage.stageName = 'tap';
  if (reads !== undefined) stage.columns = passesOn(reads);
  return stage;
}
