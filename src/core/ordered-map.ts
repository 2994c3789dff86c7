import pLimit from 'p-limit';
import { SluiceError } from './errors.ts';

export interface OrderedMapOptions {
  /**
   * Calls of the mapper at once.
   * @default 1
   */
  concurrency?: number;
  /**
   * Items taken from the input and not yet consumed: calls in flight or waiting to start, and results
   * waiting for the consumer (p-map's `backpressure`), so a slow consumer never makes results pile up
   * beyond this. At least `concurrency`; more lets calls go on past a slow one at the head, whose
   * result the consumer waits for (their results wait in order).
   * @default concurrency
   */
  backpressure?: number;
  /** Stops pulling and aborts the calls in flight. */
  signal?: AbortSignal;
}

/**
 * The one concurrency engine: maps an async iterable with at most `concurrency` calls in flight (a
 * p-limit limiter) and yields the results in input order. On an error or an abort it stops pulling,
 * drops the calls not started, lets those in flight settle (their `signal` is aborted) and closes the
 * input, so no promise is left unhandled and the input's `finally` runs. Modelled on Node's
 * `Readable.prototype.map` and p-map. `run([...])` and `mapBatches` run on it.
 *
 * @example
 * for await (const page of orderedMap(urls, (url, { signal }) => fetch(url, { signal }), { concurrency: 4 })) …
 */
export async function* orderedMap<T, U>(
  input: AsyncIterable<T> | Iterable<T>,
  mapper: (item: T, options: { index: number; signal: AbortSignal }) => Promise<U> | U,
  options: OrderedMapOptions = {},
): AsyncGenerator<U> {
  const concurrency = options.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new SluiceError('INVALID_OPTION', `Expected \`concurrency\` to be a whole number from 1 and up; got ${concurrency}.`);
  }
  const backpressure = options.backpressure ?? concurrency;
  if (!(backpressure >= concurrency)) {
    throw new SluiceError('INVALID_OPTION', `Expected \`backpressure\` to be a number from \`concurrency\` (${concurrency}) up; got ${backpressure}.`);
  }
  // rejectOnClear: calls dropped before they started settle (rejected), so waiting on the queue ends.
  const limit = pLimit({ concurrency, rejectOnClear: true });
  const controller = new AbortController();
  const iterator = Symbol.asyncIterator in input ? (input as AsyncIterable<T>)[Symbol.asyncIterator]() : (input as Iterable<T>)[Symbol.iterator]();
  // Started calls in input order; a failure to pull is queued as a rejected entry, so it surfaces in order.
  const queue: Promise<U>[] = [];
  let finished = false;
  let stopped = false;
  let pulling = false;
  let wakePump: (() => void) | undefined;
  let wakeConsumer: (() => void) | undefined;
  const wake = (which: 'pump' | 'consumer') => {
    const resolve = which === 'pump' ? wakePump : wakeConsumer;
    if (which === 'pump') wakePump = undefined;
    else wakeConsumer = undefined;
    resolve?.();
  };
  // An abort stops pulling, drops the calls not started and fails the iteration with its reason.
  const onAbort = () => {
    controller.abort(options.signal!.reason);
    limit.clearQueue();
    wake('pump');
    wake('consumer');
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) controller.abort(options.signal.reason);
  // The pump pulls and starts calls while the consumer waits for the oldest result: pulling must not
  // wait for a result to be taken, or a source that waits for memory the results hold would deadlock.
  const pump = async () => {
    let index = 0;
    try {
      for (;;) {
        while (queue.length >= backpressure && !stopped && !controller.signal.aborted) await new Promise<void>((resolve) => (wakePump = resolve));
        if (stopped || controller.signal.aborted) return;
        pulling = true;
        const next = await iterator.next();
        pulling = false;
        if (next.done === true || stopped || controller.signal.aborted) return;
        const item = next.value;
        const task = limit(mapper, item, { index: index++, signal: controller.signal });
        task.catch(() => {}); // handled when it reaches the head of the queue
        queue.push(task);
        wake('consumer');
      }
    } catch (error) {
      pulling = false;
      const failed = Promise.reject(error);
      failed.catch(() => {});
      queue.push(failed);
    } finally {
      finished = true;
      wake('consumer');
    }
  };
  void pump();
  try {
    for (;;) {
      options.signal?.throwIfAborted();
      if (queue.length === 0) {
        if (finished) return;
        await new Promise<void>((resolve) => (wakeConsumer = resolve));
        continue;
      }
      let result: U;
      try {
        result = await queue[0];
      } catch (error) {
        options.signal?.throwIfAborted(); // a call dropped by the abort: the abort's reason, not the drop's
        throw error;
      }
      options.signal?.throwIfAborted();
      queue.shift();
      wake('pump');
      yield result;
    }
  } finally {
    stopped = true;
    options.signal?.removeEventListener('abort', onAbort);
    if (!finished || queue.length > 0) controller.abort(new SluiceError('ABORTED', 'ordered map stopped'));
    limit.clearQueue();
    wake('pump');
    await Promise.allSettled(queue);
    // Close the input. If the pump is still waiting on it (a source waiting for memory), the close is
    // queued behind that pull and happens once it settles; waiting for it here could deadlock.
    if (pulling) Promise.resolve(iterator.return?.()).catch(() => {});
    else await iterator.return?.();
  }
}
