import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getHeapSpaceStatistics } from 'node:v8';
import { MemoryBudget } from '../../src/index.ts';
import { MemoryWatch } from '../../src/runtime/memory-watch.ts';

test('the watch samples peaks at or above its baseline', () => {
  const watch = new MemoryWatch(1024 * 1024 * 1024);
  const kept = new Uint8Array(8 * 1024 * 1024).fill(1);
  const peaks = watch.peaks();
  assert.ok(peaks.peakRss >= peaks.baselineRss);
  assert.ok(peaks.peakArrayBuffers >= kept.byteLength);
  assert.ok(peaks.peakHeapUsed > 0);
  assert.equal(peaks.pressureEvents, 0);
});

test('above baseline + budget the watch sets pressure on the budget, and clears it', async () => {
  const budget = new MemoryBudget(4 * 1024 * 1024);
  // A limit of 1 byte: any RSS growth over the baseline is over it.
  const states: boolean[] = [];
  const watch = new MemoryWatch(1, (pressure) => {
    states.push(pressure);
    budget.setPressure(pressure);
  });
  const kept = Buffer.alloc(32 * 1024 * 1024, 1); // touched pages: RSS grows
  watch.sample();
  assert.equal(kept[0], 1);
  assert.deepEqual(states, [true]);
  assert.ok(budget.underPressure);
  assert.equal(watch.peaks().pressureEvents, 1);
  // Under pressure, a reservation waits while anything else is reserved…
  await budget.reserve(1000);
  let granted = false;
  const waiting = budget.reserve(1000).then(() => (granted = true));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(granted, false);
  // …and goes ahead when the watch clears the pressure.
  watch.stop();
  assert.deepEqual(states, [true, false]);
  await waiting;
  assert.equal(granted, true);
  budget.release(2000);
  assert.equal(budget.reserved, 0);
});

test('batches given back to the budget are collected soon: released() asks for a young-generation collection', () => {
  const watch = new MemoryWatch(64 * 1024 * 1024);
  const newSpace = () => getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')!.space_used_size;
  let sink = 0;
  for (let round = 0; round < 5; round++) {
    // Garbage in the young generation, like the small objects that hold written batches' columns.
    for (let i = 0; i < 2000; i++) sink += [i, i + 1, i + 2].length;
    const before = newSpace();
    watch.released(1024 * 1024); // under the threshold: nothing asked
    watch.released(8 * 1024 * 1024);
    const after = newSpace();
    assert.ok(after < before, `round ${round}: new space ${before} → ${after} bytes`);
  }
  assert.ok(sink > 0);
});
