/**
 * `etl schedule --distributed` with real processes and the real PostgreSQL: two schedulers fire the
 * same ticks of one pipeline; each tick becomes one distributed run, run by a worker, however many
 * schedulers fired it.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { testSchema, type TestSchema } from '../support/db.ts';
import { distributedHarness, startEtl } from '../support/distributed.ts';
import { tempDir } from '../support/fakes.ts';
import { until } from '../support/scheduler.ts';

const db: TestSchema = await testSchema('distributed_schedule');
const { queueSchema, startWorker, ready } = distributedHarness(db);
const dir = await tempDir();

describe('etl schedule --distributed', { timeout: 600_000 }, () => {
  test('two schedulers on the same pipeline: each tick is one distributed run, its rows loaded once', async () => {
    for (let n = 0; n < 2; n++) await writeFile(join(dir, `ticks-${n}.csv`), `seq,label\n${n * 2 + 1},a\n${n * 2 + 2},b\n`);
    const file = join(dir, 'ticks.ts');
    const distributed = { connection: db.url, schema: db.schema, queueSchema, heartbeatSeconds: 10 };
    await writeFile(
      file,
      `import { z } from 'zod';
import { csv, pipeline, toPostgres } from 'sluice';
export default pipeline({ name: 'ticks', schedule: '*/3 * * * * *', distributed: ${JSON.stringify(distributed)}, state: { connection: ${JSON.stringify(db.url)}, schema: ${JSON.stringify(db.schema)} } })
  .from(csv(${JSON.stringify(join(dir, 'ticks-*.csv'))}, { schema: z.object({ seq: z.number().int(), label: z.string() }) }))
  .to(toPostgres({ table: 'ticks_target', mode: 'append', createTable: true, connection: ${JSON.stringify(db.url)} }));
`,
    );
    const worker = startWorker(file, 2);
    await ready(worker);
    const schedulers = [0, 1].map(() => startEtl(['schedule', file, '--distributed'], 300_000));
    const runs = async () =>
      (await db.query<{ tick: string; status: string }>(`select tick, status from "${db.schema}".sluice_distributed_runs where pipeline = 'ticks' order by tick`).catch(() => ({ rows: [] }))).rows;
    try {
      assert.ok(await until(async () => (await runs()).filter((run) => run.status === 'succeeded').length >= 3, 180_000), `${schedulers.map((one) => one.output()).join('\n---\n')}`);
      // Both fire every tick; one queues the run and the other skips it. Which one wins each race is
      // up to timing (the same one may win them all), so: some tick was refused as queued already.
      assert.ok(
        await until(() => schedulers.some((one) => /tick \S+ skipped: tick \S+ was queued already \(by another scheduler\)/.test(one.output())), 60_000),
        schedulers.map((one) => one.output()).join('\n---\n'),
      );
    } finally {
      for (const one of schedulers) one.child.kill('SIGTERM');
      await Promise.all(schedulers.map((one) => one.exited));
    }
    // A run queued before the schedulers stopped goes on on the worker: let it end.
    assert.ok(await until(async () => (await runs()).every((run) => run.status !== 'running'), 120_000), JSON.stringify(await runs()));
    const ended = await runs();
    const ticks = ended.map((run) => run.tick);
    assert.equal(new Set(ticks).size, ticks.length, `a tick ran twice: ${ticks}`);
    assert.ok(ended.every((run) => run.status === 'succeeded'), JSON.stringify(ended));
    // Every run loaded the 4 rows once: as many copies of each row as runs that succeeded.
    const { rows } = await db.query<{ seq: number; copies: number }>('select seq, count(*)::int as copies from ticks_target group by seq order by seq');
    const succeeded = ended.filter((run) => run.status === 'succeeded').length;
    assert.deepEqual(
      rows,
      [1, 2, 3, 4].map((seq) => ({ seq, copies: succeeded })),
    );
    worker.child.kill('SIGTERM');
    assert.equal(await worker.exited, 0, worker.output());
  });
});
