import type { Batch } from '../batch/batch.ts';
import type { Stage } from '../contracts/contracts.ts';
import { checkArgument, functionValue } from '../core/options.ts';

/** Calls `observe` with each batch and passes it on unchanged (logging, metrics, assertions). */
export function tap<R>(observe: (batch: Batch<R>) => void | Promise<void>): Stage<R, R> {
  checkArgument('tap()', 'observe', functionValue, 'a function (batch) => void', observe);
  const stage: Stage<R, R> = async function* tapStage(input) {
    for await (const batch of input) {
      await observe(batch);
      yield batch;
    }
  };
  stage.stageName = 'tap';
  return stage;
}
