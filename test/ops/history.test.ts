/**
 * The folder store's run history stays cheap to query and bounded: look-ups read backwards from the end
 * and stop early; past its size limit `runs.ndjson` is rotated to `runs.1.ndjson`.
 */
import assert from 'node:assert/strict';
import { appendFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { findTickRun, type RunRecord } from '../../src/ops/history.ts';
import { FolderStateStore, openStateStore } from '../../src/ops/state.ts';
import { testSchema } from '../support/db.ts';
import { tempDir } from '../support/fakes.ts';

const MINUTE = 60_000;

function record(pipeline: string, at: number, extra: Partial<RunRecord> = {}): RunRecord {
  const iso = new Date(at).toISOString();
  return { pipeline, status: 'succeeded', trigger: 'schedule', tick: iso, startedAt: iso, endedAt: new Date(at + 500).toISOString(), rowsIn: 1, rowsOut: 1, rowsRejected: 0, peakRss: 0, ...extra };
}

describe('run history in a state folder', () => {
  test('"has this tick run?" reads the end of a large history only', async () => {
    const folder = await tempDir('sluice-history-');
    const file = join(folder, 'runs.ndjson');
    const now = Date.now();
    // A day of runs every few seconds (some 6 MB), then the last minutes'.
    const old: string[] = [];
    for (let k = 0; k < 20_000; k++) old.push(JSON.stringify(record(k % 2 === 0 ? 'a' : 'b', now - 24 * 60 * MINUTE + k * 4000, { note: 'x'.repeat(100) })));
    await writeFile(file, `${old.join('\n')}\n`);
    const recent = [0, 1, 2, 3].map((k) => record('a', now - (4 - k) * MINUTE));
    await appendFile(file, `${recent.map((line) => JSON.stringify(line)).join('\n')}\n{"pipeline":"a","status":"succ`); // a torn last line
    assert.ok((await stat(file)).size > 5_000_000);

    const hit = await findTickRun(file, 'a', recent[1].tick!);
    assert.equal(hit.found, true);
    assert.ok(hit.bytesRead <= 64 * 1024, `read ${hit.bytesRead} bytes`);
    // A tick not run: the scan stops at records that ended well before it.
    const miss = await findTickRun(file, 'a', new Date(now).toISOString());
    assert.equal(miss.found, false);
    assert.ok(miss.bytesRead <= 64 * 1024, `read ${miss.bytesRead} bytes`);
    // An old tick is still found (reading further back).
    assert.equal((await findTickRun(file, 'b', JSON.parse(old[101]).tick)).found, true);

    const store = new FolderStateStore(folder);
    assert.equal(await store.ranTick('a', recent[3].tick!), true);
    assert.equal(await store.ranTick('b', recent[3].tick!), false);
    const latest = await store.history({ pipeline: 'a', limit: 3 });
    assert.deepEqual(latest.map((entry) => entry.tick), [recent[3].tick, recent[2].tick, recent[1].tick]);
    // Newest first by start, though appended in order of end: a long run that ended last started earlier.
    await store.record(record('a', now - 10 * MINUTE, { endedAt: new Date(now).toISOString(), tick: undefined, trigger: 'manual' }));
    assert.deepEqual((await store.history({ limit: 2 })).map((entry) => entry.tick), [recent[3].tick, recent[2].tick]);
  });

  test('past its size limit runs.ndjson is rotated to runs.1.ndjson: two files at most, both read', async () => {
    const folder = await tempDir('sluice-rotate-');
    const store = new FolderStateStore(folder, 4000);
    const start = Date.now() - 1000 * MINUTE;
    const written: RunRecord[] = [];
    for (let k = 0; k < 120; k++) {
      written.push(record('p', start + k * MINUTE));
      await store.record(written[k]);
    }
    assert.deepEqual((await readdir(folder)).sort(), ['runs.1.ndjson', 'runs.ndjson']);
    for (const name of ['runs.ndjson', 'runs.1.ndjson']) assert.ok((await stat(join(folder, name))).size <= 4000 + 400, name);
    const kept = await store.history({ limit: 1000 });
    assert.ok(kept.length > 10 && kept.length < 40, `kept ${kept.length}`);
    // What is kept is the newest runs, without a gap across the two files.
    assert.deepEqual(kept.map((entry) => entry.tick), written.slice(-kept.length).reverse().map((entry) => entry.tick));
    assert.equal(await store.ranTick('p', kept.at(-1)!.tick!), true, 'a tick in runs.1.ndjson');
    assert.equal(await store.ranTick('p', written[0].tick!), false, 'dropped with the rotation before');
  });
});

describe('run history in PostgreSQL', () => {
  test('sluice_runs keeps the newest keepRuns runs of each pipeline, other pipelines untouched', async () => {
    const db = await testSchema('history_keep');
    const store = openStateStore({ connection: db.url, schema: db.schema, keepRuns: 5 });
    try {
      const now = Date.now();
      for (let k = 0; k < 12; k++) await store.record(record('busy', now - (12 - k) * MINUTE));
      for (let k = 0; k < 3; k++) await store.record(record('quiet', now - (3 - k) * MINUTE));
      const busy = await store.history({ pipeline: 'busy', limit: 100 });
      assert.equal(busy.length, 5);
      // The newest five, newest first.
      assert.deepEqual(
        busy.map((run) => new Date(run.startedAt).getTime()),
        [1, 2, 3, 4, 5].map((k) => now - k * MINUTE),
      );
      assert.equal((await store.history({ pipeline: 'quiet', limit: 100 })).length, 3);
      const { rows } = await db.query<{ count: string }>(`select count(*) from ${db.schema}.sluice_runs`);
      assert.equal(Number(rows[0].count), 8);
    } finally {
      await store.close();
    }
  });

  test('keepRuns must be a whole number from 1', () => {
    assert.throws(() => openStateStore({ connection: 'postgres://localhost/x', keepRuns: 0 }), /state\.keepRuns/);
  });
});
