/**
 * Stopping runs: SIGTERM to `etl schedule` (a run that ends within --shutdown-timeout finishes, one that
 * does not is stopped and cleans up), and the per-run timeout (a run that stops itself, a hung one that
 * is killed; both recorded as failed and run again at the next tick).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ADVISORY_LOCK_CLASS } from '../../src/ops/lock.ts';
import { testSchema } from '../support/db.ts';
import { tempDir } from '../support/fakes.ts';
import { folderHistory, loggedRuns, startScheduler, timedPipeline, until } from '../support/scheduler.ts';

const lines = async (file: string) => (await readFile(file, 'utf8').catch(() => '')).split('\n').filter(Boolean);

/**
 * A pipeline that takes a minute: 200 batches of 100 rows, 300 ms each in a tap stage that logs
 * "batch <pid>" per batch. `hangFirst`: the first run blocks its event loop for good instead.
 */
async function longPipeline(dir: string, name: string, options: string, sink: string, hangFirst = false): Promise<{ file: string; log: string }> {
  const log = join(dir, `${name}.log`);
  const input = join(dir, `${name}.in.csv`);
  await writeFile(input, `seq\n${Array.from({ length: 20_000 }, (_, k) => k + 1).join('\n')}\n`);
  const file = join(dir, `${name}.ts`);
  const hang = hangFirst
    ? `if (!existsSync(${JSON.stringify(`${log}.hung`)})) { writeFileSync(${JSON.stringify(`${log}.hung`)}, ''); for (;;) {} }`
    : '';
  await writeFile(
    file,
    `import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { csv, pipeline, toCsv, toPostgres } from 'sluice';
export default pipeline({ name: ${JSON.stringify(name)}, batchRows: 100, ${options} })
  .from(csv(${JSON.stringify(input)}))
  .tap(async () => {
    ${hang}
    appendFileSync(${JSON.stringify(log)}, \`batch \${process.pid}\\n\`);
    await new Promise((resolve) => setTimeout(resolve, ${hangFirst ? 0 : 300}));
  })
  .to(${sink});
`,
  );
  return { file, log };
}

/** Files a sink or a lock might leave behind: temporary outputs and lock files. */
async function debris(dir: string): Promise<string[]> {
  const found = (await readdir(dir)).filter((name) => name.endsWith('.tmp'));
  const locks = await readdir(join(dir, '.sluice', 'locks')).catch(() => []);
  return [...found, ...locks.filter((name) => name.endsWith('.lock') && !name.startsWith('.dead-')).map((name) => `.sluice/locks/${name}`)];
}

describe('stopping runs', { concurrency: true }, () => {
  test('SIGTERM: no new ticks; a run that ends within --shutdown-timeout finishes; the others are sent SIGTERM and clean up (locks released, nothing committed, no temporary output)', async () => {
    const db = await testSchema('shutdown');
    const dir = await tempDir('sluice-shutdown-');
    await db.query('create table dst (seq int)');
    const pgState = `state: { connection: ${JSON.stringify(db.url)}, schema: ${JSON.stringify(db.schema)} }`;
    const every = `schedule: '* * * * * *'`;
    const short = await timedPipeline(dir, 'short', every, 3000);
    const longPg = await longPipeline(dir, 'long_pg', `${every}, ${pgState}`, `toPostgres({ table: 'dst', connection: ${JSON.stringify(db.url)} })`);
    const longCsv = await longPipeline(dir, 'long_csv', every, `toCsv(${JSON.stringify(join(dir, 'long_csv.out.csv'))})`);

    const scheduler = startScheduler([dir, '--shutdown-timeout', '5000', '--kill-timeout', '5000']);
    const going = await until(async () => (await loggedRuns(short.log)).length === 1 && (await lines(longPg.log)).length >= 2 && (await lines(longCsv.log)).length >= 2, 20_000);
    assert.ok(going, scheduler.output());
    const sigtermAt = Date.now();
    const code = await scheduler.stop();
    const output = scheduler.output();
    assert.equal(code, 0, output);

    // No new ticks once stopping: every pipeline started exactly once, and nothing started after.
    const [, afterStop] = output.split(/^.* stopping: no new runs.*$/m);
    assert.match(output, /stopping: no new runs; waiting up to 5000 ms for long_csv, long_pg, short/);
    assert.doesNotMatch(afterStop, / started /, output);
    assert.deepEqual((await readFile(longPg.log, 'utf8')).match(/^batch \d+$/gm)!.map((line) => line.split(' ')[1]).filter((pid, k, all) => all.indexOf(pid) === k).length, 1);
    assert.deepEqual(new Set((await lines(longCsv.log)).map((line) => line.split(' ')[1])).size, 1);

    // The short run was going at SIGTERM and was let finish.
    const [shortRun, ...moreShort] = await loggedRuns(short.log);
    assert.equal(moreShort.length, 0);
    assert.ok(shortRun.start < sigtermAt && shortRun.end! > sigtermAt, `the short run spanned the SIGTERM: ${JSON.stringify(shortRun)} ${sigtermAt}`);
    assert.ok(existsSync(short.output));

    // The long ones were sent SIGTERM past the timeout; they aborted, rolled back, released their locks.
    assert.match(output, /stopping: long_csv, long_pg still running; sending SIGTERM/);
    const folder = await folderHistory(dir);
    assert.deepEqual(
      folder.filter((record) => record.status !== 'skipped').map((record) => [record.pipeline, record.status, record.error?.code]).sort(),
      [
        ['long_csv', 'failed', 'ABORTED'],
        ['short', 'succeeded', undefined],
      ],
    );
    const pgRuns = await db.query<{ status: string; error: { code: string } }>(`select status, error from "${db.schema}".sluice_runs where pipeline = 'long_pg' and status <> 'skipped'`);
    assert.deepEqual(pgRuns.rows.map((row) => [row.status, row.error.code]), [['failed', 'ABORTED']]);
    assert.equal(Number((await db.query('select count(*) as n from dst')).rows[0].n), 0, 'nothing half-committed');
    assert.equal(existsSync(join(dir, 'long_csv.out.csv')), false, 'no partial output');
    assert.deepEqual(await debris(dir), [], 'no temporary output, no lock file left');
    const lock = await db.query<{ locked: boolean }>('select pg_try_advisory_lock($1::int, hashtext($2)) as locked', [ADVISORY_LOCK_CLASS, `${db.schema}.long_pg`]);
    assert.equal(lock.rows[0].locked, true, 'the advisory lock was released');
    await db.query('select pg_advisory_unlock($1::int, hashtext($2))', [ADVISORY_LOCK_CLASS, `${db.schema}.long_pg`]);
  });

  test('run timeout: a run past it stops itself, a hung one is killed --kill-timeout later; both are recorded as failed (RUN_TIMEOUT) and run again at the next tick', async () => {
    const dir = await tempDir('sluice-timeout-');
    const every = `schedule: '* * * * * *'`;
    // Timeouts count from the run's process start, loading included (a few seconds on a busy machine).
    // slow: the scheduler's --run-timeout; hung: its own runTimeoutMs, and its first run blocks its event loop.
    const slow = await longPipeline(dir, 'slow', every, `toCsv(${JSON.stringify(join(dir, 'slow.out.csv'))})`);
    const hung = await longPipeline(dir, 'hung', `${every}, runTimeoutMs: 5500`, `toCsv(${JSON.stringify(join(dir, 'hung.out.csv'))})`, true);
    await writeFile(join(dir, 'hung.in.csv'), 'seq\n1\n2\n'); // once it no longer hangs, a short run

    const scheduler = startScheduler([dir, '--run-timeout', '5000', '--kill-timeout', '1500']);
    const records = () => folderHistory(dir);
    const done = await until(async () => {
      const all = await records();
      return all.filter((record) => record.pipeline === 'slow' && record.status === 'failed').length >= 2 && all.some((record) => record.pipeline === 'hung' && record.status === 'succeeded');
    }, 30_000);
    const code = await scheduler.stop();
    const output = scheduler.output();
    assert.ok(done, output);
    assert.equal(code, 0, output);
    const history = await records();

    const slowRuns = history.filter((record) => record.pipeline === 'slow' && record.status !== 'skipped');
    assert.ok(slowRuns.length >= 2);
    for (const record of slowRuns.slice(0, 2)) {
      assert.equal(record.status, 'failed');
      assert.deepEqual(record.error, { code: 'RUN_TIMEOUT', message: 'The run of slow was stopped after 5000 ms (runTimeoutMs).' });
    }
    assert.notEqual(slowRuns[0].tick, slowRuns[1].tick, 'ran again at a later tick');
    assert.doesNotMatch(output, /slow: tick \S+ still running/, 'slow stopped itself: not killed');

    const hungRuns = history.filter((record) => record.pipeline === 'hung' && record.status !== 'skipped');
    assert.equal(hungRuns[0].status, 'failed');
    assert.equal(hungRuns[0].error.code, 'RUN_TIMEOUT');
    assert.match(hungRuns[0].error.message, /did not stop at its timeout \(runTimeoutMs 5500\) and was killed 1500 ms later/);
    assert.match(output, /hung: tick \S+ still running 5500 ms \+ 1500 ms after it started; killing it \(SIGKILL\)/);
    // The next tick took the dead run's lock over and ran.
    const next = hungRuns.find((record) => record.status === 'succeeded');
    assert.ok(next !== undefined && next.tick > hungRuns[0].tick, JSON.stringify(hungRuns));
    assert.deepEqual(await debris(dir), []);
  });
});
