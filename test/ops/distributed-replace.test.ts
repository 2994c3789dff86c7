/**
 * Distributed runs in `replace` mode, with real workers and the real PostgreSQL: the partitions append
 * into a staging table of the run, and finalize swaps it in once. Readers see the old rows until then,
 * the new rows after, never a mix; a failed run leaves the target as it was and no staging table.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { testSchema, type TestSchema } from '../support/db.ts';
import { distributedHarness, partitionedInput, startEtl } from '../support/distributed.ts';
import { tempDir } from '../support/fakes.ts';
import { until } from '../support/scheduler.ts';

const db: TestSchema = await testSchema('distributed_replace');
const { queueSchema, startWorker, ready, target, partitionsOf, runIdOf } = distributedHarness(db);
const dir = await tempDir();

async function stagingTables(): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(`select tablename as name from pg_tables where schemaname = $1 and tablename like 'sluice\\_run\\_%'`, [db.schema]);
  return rows.map((row) => row.name);
}

/** A target holding 5 old rows (seq 1001…1005), which no partition has. */
async function oldTarget(table: string): Promise<void> {
  await db.query(`create table "${table}" (seq int not null, label text)`);
  await db.query(`insert into "${table}" select k, 'old ' || k from generate_series(1001, 1005) as k`);
}

describe('distributed runs in replace mode', { timeout: 600_000 }, () => {
  test('4 partitions on 2 slots replace the target once, in finalize: the old rows until then, exactly the new rows after, no staging table left', async () => {
    const input = await partitionedInput(dir, { name: 'swap', partitions: 4, rowsEach: 500, batchRows: 100, batchMs: 150, table: 'swap_target', url: db.url, schema: db.schema, queueSchema, mode: 'replace' });
    await oldTarget('swap_target');
    const worker = startWorker(input.file, 2);
    await ready(worker);
    const submit = startEtl(['run', input.file, '--distributed'], 300_000);
    // Partitions have committed, into the staging table: the target still shows the old rows only.
    let sawCommitted = false;
    assert.ok(
      await until(async () => {
        const match = /run ([0-9a-f-]{36}) of /.exec(submit.output());
        if (match === null) return false;
        const partitions = await partitionsOf(match[1]);
        const committed = partitions.filter((row) => row.status === 'committed').length;
        if (committed === 0 || committed === partitions.length) return committed === partitions.length;
        sawCommitted = true;
        assert.deepEqual(await target('swap_target'), { rows: 5, distinct: 5, low: 1001, high: 1005 });
        assert.equal((await stagingTables()).length, 1);
        return true;
      }, 120_000),
      submit.output(),
    );
    assert.equal(await submit.exited, 0, submit.output());
    assert.ok(sawCommitted, 'the run ended before the test saw a partition committed and the run not yet finalized');
    assert.deepEqual(await target('swap_target'), { rows: input.rows, distinct: input.rows, low: 1, high: input.rows });
    const partitions = await partitionsOf(runIdOf(submit.output()));
    assert.equal(partitions.reduce((total, row) => total + Number(row.rows_written), 0), input.rows);
    assert.deepEqual(await stagingTables(), []);
    worker.child.kill('SIGTERM');
    assert.equal(await worker.exited, 0, worker.output());
  });

  test('a partition that fails on every attempt fails the run: the target keeps its old rows, the staging table is dropped', async () => {
    const input = await partitionedInput(dir, { name: 'broken', partitions: 3, rowsEach: 300, batchRows: 100, batchMs: 50, table: 'broken_target', url: db.url, schema: db.schema, queueSchema, mode: 'replace' });
    // A fourth file in the glob, whose row breaks the schema (seq >= 1), every attempt.
    await writeFile(join(dir, 'broken-99.csv'), 'seq,label\n0,zero\n');
    await oldTarget('broken_target');
    const worker = startWorker(input.file, 2);
    await ready(worker);
    const submit = startEtl(['run', input.file, '--distributed'], 300_000);
    assert.equal(await submit.exited, 1, submit.output());
    assert.match(submit.output(), /failed in .* \(distributed run /);
    assert.match(submit.output(), /error {6}\[SCHEMA_VIOLATION\] .*broken-99\.csv:2: column "seq"/);
    assert.deepEqual(await target('broken_target'), { rows: 5, distinct: 5, low: 1001, high: 1005 });
    // The failure is recorded, then the staging table dropped; partitions still running roll back (their run has ended).
    assert.ok(await until(async () => (await stagingTables()).length === 0, 30_000), String(await stagingTables()));
    assert.deepEqual(await target('broken_target'), { rows: 5, distinct: 5, low: 1001, high: 1005 });
    worker.child.kill('SIGTERM');
    assert.equal(await worker.exited, 0, worker.output());
  });
});
