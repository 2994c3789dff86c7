// The one concurrency engine (run([...]), mapBatches): bounded calls in flight, bounded items taken
// ahead of the consumer, input order kept, and an abort that stops it and closes the input.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { orderedMap } from '../../src/core/ordered-map.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An input that counts what was pulled from it and whether it was closed. */
function numbers(count: number) {
  const probe = { pulled: 0, closed: false };
  async function* generate() {
    try {
      for (let i = 0; i < count; i++) {
        probe.pulled++;
        yield i;
      }
    } finally {
      probe.closed = true;
    }
  }
  return { probe, input: generate() };
}

for (const [concurrency, backpressure] of [
  [1, 1],
  [3, 3],
  [3, 10],
  [4, 40],
] as const) {
  test(`concurrency ${concurrency}, backpressure ${backpressure}: calls in flight ≤ concurrency, items ahead ≤ backpressure, order kept`, async () => {
    const { probe, input } = numbers(40);
    let inFlight = 0;
    let maxInFlight = 0;
    let consumed = 0;
    let maxAhead = 0;
    const seen: number[] = [];
    const results = orderedMap(
      input,
      async (n) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        maxAhead = Math.max(maxAhead, probe.pulled - consumed);
        await sleep((n * 7) % 5); // later items often finish first
        inFlight--;
        return n * 10;
      },
      { concurrency, backpressure },
    );
    for await (const value of results) {
      consumed++;
      seen.push(value);
      await sleep(1); // a slow consumer: results wait for it
    }
    assert.deepEqual(
      seen,
      Array.from({ length: 40 }, (_, i) => i * 10),
    );
    assert.equal(maxInFlight, concurrency, `max in flight ${maxInFlight}`);
    assert.ok(maxAhead <= backpressure, `${maxAhead} items taken ahead of the consumer`);
    assert.ok(probe.closed);
  });
}

test('with backpressure above concurrency, a slow call at the head does not hold the next calls back', async () => {
  const started: number[] = [];
  const results = orderedMap(
    [0, 1, 2, 3],
    async (n) => {
      started.push(n);
      await sleep(n === 0 ? 60 : 5);
      return n;
    },
    { concurrency: 2, backpressure: 4 },
  );
  const order: number[] = [];
  let startedWhenFirstCame = 0;
  for await (const value of results) {
    if (order.length === 0) startedWhenFirstCame = started.length;
    order.push(value);
  }
  assert.deepEqual(order, [0, 1, 2, 3]);
  assert.equal(startedWhenFirstCame, 4, 'calls 2 and 3 ran while call 0 was still going');
});

test('an abort stops it: the iteration fails with the reason, calls in flight see the signal, no call starts after, the input is closed', async () => {
  const { probe, input } = numbers(1000);
  const controller = new AbortController();
  const signals: AbortSignal[] = [];
  let started = 0;
  const results = orderedMap(
    input,
    async (n, { signal }) => {
      started++;
      signals.push(signal);
      if (n === 5) controller.abort(new Error('enough'));
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, 20);
        signal.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve(undefined);
        });
      });
      return n;
    },
    { concurrency: 3, backpressure: 6, signal: controller.signal },
  );
  const seen: number[] = [];
  await assert.rejects(
    (async () => {
      for await (const value of results) seen.push(value);
    })(),
    /enough/,
  );
  const startedAtStop = started;
  await sleep(50);
  assert.equal(started, startedAtStop, 'no call started after the abort');
  assert.ok(started < 20, `started ${started}`);
  assert.ok(signals.every((signal) => signal.aborted));
  assert.ok(probe.closed, 'the input was closed');
  assert.ok(probe.pulled < 20, `pulled ${probe.pulled}`);
  assert.ok(seen.length <= 6);
});

test('a failing call fails the iteration in order, after the results before it', async () => {
  const seen: number[] = [];
  await assert.rejects(
    (async () => {
      for await (const value of orderedMap(
        [0, 1, 2, 3, 4],
        async (n) => {
          if (n === 3) throw new Error('three');
          await sleep(5);
          return n;
        },
        { concurrency: 4 },
      )) {
        seen.push(value);
      }
    })(),
    /three/,
  );
  assert.deepEqual(seen, [0, 1, 2]);
});

test('concurrency and backpressure are checked at once', async () => {
  const first = (options: object) => orderedMap([1], (n) => n, options).next();
  await assert.rejects(first({ concurrency: 0 }), { code: 'INVALID_OPTION', message: /`concurrency` to be a whole number from 1 and up; got 0/ });
  await assert.rejects(first({ concurrency: 3, backpressure: 2 }), { code: 'INVALID_OPTION', message: /`backpressure` to be a number from `concurrency` \(3\) up; got 2/ });
});
