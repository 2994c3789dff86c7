import type { Batch } from '../batch/batch.ts';
import type { Stage, StageContext } from '../contracts/contracts.ts';
import { markDerived } from '../contracts/lineage.ts';
import { orderedMap } from '../core/ordered-map.ts';
import { z } from 'zod';
import { checkArgument, checkOptions, functionValue, integerFrom, option, optionsObject } from '../core/options.ts';

export interface MapBatchesOptions {
  /**
   * Batches being worked on at once (and results waiting to be passed on). Each holds its memory
   * reservation, so the budget bounds this too.
   * @default 1
   */
  concurrency?: number;
  /**
   * `fn` needs nothing but its batch (no state across batches, nothing of the main thread's): a run
   * with `threads` above 1 may then call it in its worker threads, on each part of the input.
   * @default false
   */
  threadSafe?: boolean;
}

const MAP_BATCHES_OPTIONS = optionsObject({
  concurrency: option(integerFrom(1), 'a whole number from 1 and up'),
  threadSafe: option(z.boolean(), 'true or false'),
});

/**
 * Async work per batch (an HTTP lookup, a database query, a worker thread) with bounded concurrency.
 * Output keeps the input order. `fn` gets the stage context, whose `signal` aborts when the run stops
 * or another call fails.
 *
 * @example
 * .pipe(mapBatches(async (batch, { signal }) => enrich(batch, await lookup(batch, signal)), { concurrency: 4 }))
 */
export function mapBatches<In, Out = In>(
  fn: (batch: Batch<In>, context: StageContext) => Promise<Batch<Out>> | Batch<Out>,
  options: MapBatchesOptions = {},
): Stage<In, Out> {
  checkArgument('mapBatches()', 'fn', functionValue, 'a function (batch, context) => batch', fn);
  const checked = checkOptions('mapBatches()', MAP_BATCHES_OPTIONS, options);
  const concurrency = checked.concurrency ?? 1;
  const stage: Stage<In, Out> = async function* mapBatchesStage(input, context) {
    // Batches with a call in flight keep their reservations until their results go on (each result
    // is marked as made from its input), rather than give them back when the next batch is taken.
    async function* kept(): AsyncGenerator<Batch<In>> {
      for await (const batch of input) {
        context.memory.keep(batch);
        yield batch;
      }
    }
    const results = orderedMap(
      kept(),
      async (batch, { signal }) => {
        const output = await fn(batch, { ...context, signal });
        markDerived(output, batch);
        return output;
      },
      { concurrency, signal: context.signal },
    );
    yield* results;
  };
  stage.stageName = 'mapBatches';
  if (checked.threadSafe === true) stage.rowWise = true;
  return stage;
}
