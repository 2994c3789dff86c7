/**
 * One pipeline, several outputs: `tee(toCsv(a), toNdjson(b))` writes every batch to each sink.
 *
 * The sinks go in lockstep: the next batch is read only when every sink has written the current one, so
 * the run holds one batch for all of them, not one per sink, and the memory budget sees it once. At the end
 * they commit one after the other, in the order given: a sink commits only when every batch reached every
 * sink and the sinks before it committed. When one sink fails, the others are stopped before they commit
 * (their inputs throw, so file sinks remove their temporary files and PostgreSQL sinks roll back); a sink
 * that fails at its own commit leaves the outputs of the sinks before it in place, and the run fails.
 * The run's incremental state commits with the last sink (put a PostgreSQL sink last to commit it in
 * that sink's transaction).
 */
import type { AnyRow, Batch } from '../batch/batch.ts';
import type { Sink, SinkContext, SinkResult } from '../contracts/contracts.ts';
import { SluiceError } from '../core/errors.ts';

interface Waiter<R> {
  resolve(result: IteratorResult<Batch<R>>): void;
  reject(error: unknown): void;
}

export function tee<R = AnyRow>(...sinks: Sink<R>[]): Sink<R> {
  if (sinks.length === 0 || sinks.some((sink) => typeof sink?.write !== 'function')) {
    throw new SluiceError('INVALID_OPTION', 'tee() takes one or more sinks, e.g. tee(toCsv(\'out.csv\'), toNdjson(\'out.ndjson\')).');
  }
  const location = () => sinks.map((sink) => sink.describe().location).join(' + ');
  return {
    kind: 'tee',
    describe: () => ({ kind: 'tee', location: location(), notes: sinks.map((sink) => `${sink.describe().kind} ${sink.describe().location}`) }),
    write: (input, context) => writeAll(sinks, input, context),
  };
}

async function writeAll<R>(sinks: readonly Sink<R>[], input: AsyncIterable<Batch<R>>, context: SinkContext): Promise<SinkResult> {
  const upstream = input[Symbol.asyncIterator]();
  const waiting: (Waiter<R> | undefined)[] = new Array(sinks.length).fill(undefined);
  const active = new Set(sinks.map((_, k) => k));
  let pulling = false;
  let ended = false;
  let failure: { error: unknown } | undefined;

  const fail = (error: unknown) => {
    if (failure !== undefined) return;
    failure = { error };
    for (let k = 0; k < waiting.length; k++) {
      waiting[k]?.reject(error);
      waiting[k] = undefined;
    }
    void upstream.return?.().catch(() => {});
  };

  const pump = () => {
    if (failure !== undefined) return;
    if (ended) {
      // Commit one sink at a time: only the first sink still writing is told that the input ended.
      const first = Math.min(...active);
      const waiter = waiting[first];
      if (waiter !== undefined) {
        waiting[first] = undefined;
        waiter.resolve({ done: true, value: undefined });
      }
      return;
    }
    if (pulling || active.size === 0) return;
    for (const k of active) if (waiting[k] === undefined) return; // a sink is still writing the last batch
    pulling = true;
    upstream.next().then(
      (result) => {
        pulling = false;
        if (failure !== undefined) return;
        if (result.done === true) {
          ended = true;
          pump();
          return;
        }
        for (const k of active) {
          const waiter = waiting[k]!;
          waiting[k] = undefined;
          waiter.resolve(result);
        }
      },
      (error) => {
        pulling = false;
        fail(error);
      },
    );
  };

  const inputFor = (k: number): AsyncIterable<Batch<R>> => ({
    [Symbol.asyncIterator]: () => ({
      next: () =>
        new Promise<IteratorResult<Batch<R>>>((resolve, reject) => {
          if (failure !== undefined) return reject(failure.error);
          waiting[k] = { resolve, reject };
          pump();
        }),
      // A sink that stops reading early no longer holds the others back.
      return: async () => {
        active.delete(k);
        waiting[k] = undefined;
        pump();
        return { done: true, value: undefined };
      },
    }),
  });

  const last = sinks.length - 1;
  const results: SinkResult[] = new Array(sinks.length);
  const writes = sinks.map((sink, k) => {
    const sinkContext: SinkContext = { ...context };
    if (k !== last) delete sinkContext.beforeCommit;
    return Promise.resolve()
      .then(() => sink.write(inputFor(k), sinkContext))
      .then(
        (result) => {
          results[k] = result;
          active.delete(k);
          waiting[k] = undefined;
          pump();
        },
        (error) => fail(error),
      );
  });
  await Promise.all(writes);
  if (failure !== undefined) throw failure.error;
  return {
    rowsWritten: results[0].rowsWritten,
    location: results.map((result) => result.location).join(' + '),
    bytesWritten: results.reduce((sum, result) => sum + (result.bytesWritten ?? 0), 0),
  };
}
