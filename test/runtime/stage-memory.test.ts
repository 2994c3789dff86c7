// What a stage keeps between batches: `context.memory` reserves it from the run's budget (counted in
// "reserved ≤ budget", shown per stage in the summary, given back when the stage ends, also on an
// error), and `context.tempDir()` is a private folder for spills, removed when the run ends.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { access, stat, writeFile } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { test } from 'node:test';
import { MemoryBudget, pipeline, run, type Sink, type Stage, type StageContext } from '../../src/index.ts';
import { formatSummary } from '../../src/runtime/format-summary.ts';
import { collect, counting, tempDir } from '../support/fakes.ts';

const MB = 1024 * 1024;

/** A pass-through stage that runs `body` with its context before the first batch. */
function stageWith(name: string, body: (context: StageContext) => Promise<void> | void, after?: (context: StageContext) => void): Stage {
  const stage: Stage = async function* (input, context) {
    await body(context);
    for await (const batch of input) yield batch;
    after?.(context);
  };
  stage.stageName = name;
  return stage;
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

test('a stage that reserves and releases memory shows its peak in the summary, within the budget', async () => {
  const budget = new MemoryBudget(8 * MB);
  const seen: number[] = [];
  const grow: Stage = async function* grow(input, { memory }) {
    for await (const batch of input) {
      // A table that grows by 1 MB a batch up to 3 MB, then is spilled (released) and starts again.
      if (memory.held >= 3 * MB) memory.release(memory.held);
      await memory.reserve(MB);
      assert.ok(budget.reserved >= memory.held + batch.byteSize, 'the stage\'s reservation counts with the batch it is working on');
      yield batch;
    }
  };
  grow.stageName = 'grow';
  const memorySink = collect({ keep: false, onBatch: () => seen.push(budget.reserved) });
  let reservedAfterLastBatch = -1;
  const sink: Sink = {
    ...memorySink,
    async write(input, context) {
      const result = await memorySink.write(input, context);
      reservedAfterLastBatch = budget.reserved; // the stage has ended, the run has not
      return result;
    },
  };
  const summary = await run(pipeline({ name: 'state' }).from(counting(10, 1000)).pipe(grow).to(sink), { budget });
  assert.equal(summary.status, 'succeeded', summary.error?.message);
  const stage = summary.stages.find((candidate) => candidate.name === 'grow')!;
  assert.equal(stage.peakStateBytes, 3 * MB);
  assert.ok(summary.memory.peakReserved >= 3 * MB && summary.memory.peakReserved <= budget.limit, `peak ${summary.memory.peakReserved}`);
  assert.ok(seen.every((reserved) => reserved <= budget.limit));
  assert.ok(summary.memory.heldAtPeak.grow >= 3 * MB, JSON.stringify(summary.memory.heldAtPeak));
  assert.match(formatSummary(summary), /stage +grow .*peak state 3\.0 MB/);
  assert.equal(reservedAfterLastBatch, 0, 'given back when the stage ended');
  assert.equal(budget.reserved, 0);
});

test('a stage\'s reservations are given back when it throws', async () => {
  const budget = new MemoryBudget(8 * MB);
  let held = 0;
  const summary = await run(
    pipeline({ name: 'throws' })
      .from(counting(5, 1000))
      .pipe(
        stageWith('leaky', async ({ memory }) => {
          await memory.reserve(2 * MB);
          assert.ok(memory.tryReserve(MB));
          held = memory.held;
          throw new Error('lost its state');
        }),
      )
      .to(collect()),
    { budget },
  );
  assert.equal(summary.status, 'failed');
  assert.equal(summary.error!.code, 'STAGE_FAILED');
  assert.equal(held, 3 * MB);
  assert.equal(summary.stages[0].peakStateBytes, 3 * MB);
  assert.equal(budget.reserved, 0);
});

test('tryReserve refuses what does not fit in the budget now, and reserves nothing then', async () => {
  const budget = new MemoryBudget(4 * MB);
  const answers: boolean[] = [];
  const held: number[] = [];
  const summary = await run(
    pipeline({ name: 'spills' })
      .from(counting(2, 1000))
      .pipe(
        stageWith('spiller', ({ memory }) => {
          answers.push(memory.tryReserve(4 * MB + 1)); // more than the whole budget
          answers.push(memory.tryReserve(2 * MB));
          held.push(memory.held);
          answers.push(memory.tryReserve(2 * MB + 1)); // one byte more than is left
          held.push(memory.held);
          assert.ok(budget.reserved <= budget.limit);
          memory.release(MB);
          answers.push(memory.tryReserve(MB));
          held.push(memory.held);
        }),
      )
      .to(collect()),
    { budget },
  );
  assert.equal(summary.status, 'succeeded', summary.error?.message);
  assert.deepEqual(answers, [false, true, false, true]);
  assert.deepEqual(held, [2 * MB, 2 * MB, 2 * MB]);
  assert.equal(budget.reserved, 0);
});

test('reserve waits for room and stops waiting when the run is aborted', async () => {
  const budget = new MemoryBudget(4 * MB);
  const controller = new AbortController();
  let waited = false;
  const summary = await run(
    pipeline({ name: 'waits' })
      .from(counting(2, 1000))
      .pipe(
        stageWith('greedy', async ({ memory }) => {
          await memory.reserve(3 * MB);
          setTimeout(() => controller.abort(), 50);
          waited = true;
          await memory.reserve(2 * MB); // 3 MB + a batch are reserved: this cannot fit
          waited = false;
        }),
      )
      .to(collect()),
    { budget, signal: controller.signal },
  );
  assert.equal(summary.status, 'failed');
  assert.equal(summary.error!.code, 'ABORTED');
  assert.ok(waited, 'it was still waiting when the run stopped');
  assert.equal(budget.reserved, 0);
});

test('reserving more than the whole budget at once fails at once, naming the stage', async () => {
  const summary = await run(
    pipeline({ name: 'too-much' })
      .from(counting(1, 10))
      .pipe(stageWith('huge', ({ memory }) => memory.reserve(5 * MB)))
      .to(collect()),
    { memory: '4MB' },
  );
  assert.equal(summary.status, 'failed');
  assert.equal(summary.error!.code, 'MEMORY_BUDGET_TOO_SMALL');
  assert.equal(summary.error!.stage, 'huge');
  assert.match(summary.error!.message, /stage huge asked to reserve 5\.0 MB at once, more than the whole memory budget of 4\.0 MB/);
});

test('tempDir is a private folder that exists during the run and is gone after it', async () => {
  const base = await tempDir('sluice-temp-base-');
  const previous = process.env.SLUICE_TEMP_DIR;
  process.env.SLUICE_TEMP_DIR = base;
  try {
    let folder = '';
    let again = '';
    let other = '';
    const summary = await run(
      pipeline({ name: 'spill' })
        .from(counting(3, 100))
        .pipe(
          stageWith('first', async ({ tempDir }) => {
            folder = await tempDir();
            again = await tempDir();
            await writeFile(join(folder, 'run-0.bin'), Buffer.alloc(1024));
            const mode = (await stat(folder)).mode & 0o777;
            assert.equal(mode, 0o700);
            assert.equal((await stat(join(folder, '..'))).mode & 0o777, 0o700);
          }),
        )
        .pipe(
          stageWith('second', async ({ tempDir }) => {
            other = await tempDir();
          }),
        )
        .to(collect({ onBatch: () => assert.ok(existsSync(join(folder, 'run-0.bin')), 'the folder and its file exist while the run goes on') })),
    );
    assert.equal(summary.status, 'succeeded', summary.error?.message);
    assert.ok(folder.startsWith(base + sep), `${folder} is under SLUICE_TEMP_DIR`);
    assert.equal(again, folder, 'the same folder on every call');
    assert.notEqual(other, folder, 'each stage has its own');
    assert.equal(await exists(folder), false);
    assert.equal(await exists(join(folder, '..')), false, 'the run\'s folder is removed too');
  } finally {
    if (previous === undefined) delete process.env.SLUICE_TEMP_DIR;
    else process.env.SLUICE_TEMP_DIR = previous;
  }
});

test('tempDir is removed after a failed run too', async () => {
  let folder = '';
  const summary = await run(
    pipeline({ name: 'spill-fails' })
      .from(counting(3, 100))
      .pipe(
        stageWith('spills-then-fails', async ({ tempDir }) => {
          folder = await tempDir();
          await writeFile(join(folder, 'partial.bin'), 'x');
          throw new Error('disk trouble');
        }),
      )
      .to(collect()),
  );
  assert.equal(summary.status, 'failed');
  assert.ok(folder !== '');
  assert.equal(await exists(folder), false);
  assert.equal(await exists(join(folder, '..')), false);
});
