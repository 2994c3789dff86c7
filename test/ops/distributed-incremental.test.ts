/**
 * Incremental file sources in distributed runs, with real workers and the real PostgreSQL: the run
 * plans only the files no earlier run finished, and marks its files finished once, in its finalize,
 * in the transaction that ends the run (the state store is on the queue's database here).
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { runCli } from '../support/cli.ts';
import { testSchema, type TestSchema } from '../support/db.ts';
import { distributedHarness, startEtl } from '../support/distributed.ts';
import { tempDir } from '../support/fakes.ts';

const db: TestSchema = await testSchema('distributed_incremental');
const { queueSchema, startWorker, ready, target, partitionsOf, runIdOf } = distributedHarness(db);
const dir = await tempDir();

/** `orders-<n>.csv` holding seq first…first+rows-1. */
async function part(n: number, first: number, rows: number): Promise<void> {
  const lines = Array.from({ length: rows }, (_, k) => `${first + k},row ${first + k}`);
  await writeFile(join(dir, `orders-${n}.csv`), `seq,label\n${lines.join('\n')}\n`);
}

async function finishedFiles(): Promise<string[]> {
  const { rows } = await db.query<{ state: Record<string, Record<string, unknown>> }>(`select state from "${db.schema}".sluice_state where pipeline = 'incremental'`);
  return Object.keys(rows[0]?.state?.['files.finished'] ?? {}).sort();
}

describe('incremental file sources in distributed runs', { timeout: 600_000 }, () => {
  test('each run reads only the files no earlier run finished; the finished files advance once, in finalize; a run with nothing new queues nothing', async () => {
    const file = join(dir, 'incremental.ts');
    const distributed = { connection: db.url, schema: db.schema, queueSchema, heartbeatSeconds: 10 };
    await writeFile(
      file,
      `import { z } from 'zod';
import { csv, pipeline, toPostgres } from 'sluice';
export default pipeline({ name: 'incremental', distributed: ${JSON.stringify(distributed)}, state: { connection: ${JSON.stringify(db.url)}, schema: ${JSON.stringify(db.schema)} } })
  .from(csv(${JSON.stringify(join(dir, 'orders-*.csv'))}, { incremental: true, schema: z.object({ seq: z.number().int(), label: z.string() }) }))
  .to(toPostgres({ table: 'incremental_target', mode: 'append', createTable: true, connection: ${JSON.stringify(db.url)} }));
`,
    );
    for (let n = 0; n < 3; n++) await part(n, n * 100 + 1, 100);
    const worker = startWorker(file, 2);
    await ready(worker);

    const first = startEtl(['run', file, '--distributed'], 300_000);
    assert.equal(await first.exited, 0, first.output());
    assert.equal((await partitionsOf(runIdOf(first.output()))).length, 3);
    assert.deepEqual(await target('incremental_target'), { rows: 300, distinct: 300, low: 1, high: 300 });
    assert.deepEqual(await finishedFiles(), [0, 1, 2].map((n) => join(dir, `orders-${n}.csv`)));

    // A new file: the next run has one partition, for it alone; every row is in the target once.
    await part(3, 301, 50);
    const second = startEtl(['run', file, '--distributed'], 300_000);
    assert.equal(await second.exited, 0, second.output());
    const partitions = await partitionsOf(runIdOf(second.output()));
    assert.deepEqual(
      partitions.map((row) => row.label),
      [join(dir, 'orders-3.csv')],
    );
    assert.deepEqual(await target('incremental_target'), { rows: 350, distinct: 350, low: 1, high: 350 });
    assert.deepEqual(await finishedFiles(), [0, 1, 2, 3].map((n) => join(dir, `orders-${n}.csv`)));

    // Nothing new: no run is queued, and the command succeeds.
    const third = await runCli(['run', file, '--distributed']);
    assert.equal(third.code, 0, third.stderr);
    assert.match(third.stderr, /incremental: nothing to run: the incremental source has nothing new since its last committed run/);
    const { rows } = await db.query<{ n: number }>(`select count(*)::int as n from "${db.schema}".sluice_distributed_runs where pipeline = 'incremental'`);
    assert.equal(rows[0].n, 2);
    assert.deepEqual(await target('incremental_target'), { rows: 350, distinct: 350, low: 1, high: 350 });

    worker.child.kill('SIGTERM');
    assert.equal(await worker.exited, 0, worker.output());
  });
});
