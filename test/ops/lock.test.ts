import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import pg from 'pg';
import { ADVISORY_LOCK_CLASS, acquireAdvisoryLock, acquireFileLock } from '../../src/ops/lock.ts';
import { resolveScheduleOptions } from '../../src/ops/schedule-options.ts';
import { isTransientError } from '../../src/ops/tracked-run.ts';
import { SluiceError } from '../../src/core/errors.ts';
import { repoRoot, runCli } from '../support/cli.ts';
import { testSchema } from '../support/db.ts';
import { tempDir } from '../support/fakes.ts';

const dir = await tempDir('sluice-lock-');
await writeFile(join(dir, 'in.csv'), 'id,name\n1,a\n2,b\n');

async function pipelineFile(name: string, options: string): Promise<string> {
  const file = join(dir, `${name}.ts`);
  await writeFile(
    file,
    `import { csv, pipeline, toCsv } from 'sluice';\n` +
      `export default pipeline({ name: ${JSON.stringify(name)}, ${options} }).from(csv(${JSON.stringify(join(dir, 'in.csv'))})).to(toCsv(${JSON.stringify(join(dir, `${name}.out.csv`))}));\n`,
  );
  return file;
}

async function history(folder: string): Promise<Record<string, any>[]> {
  const text = await readFile(join(folder, 'runs.ndjson'), 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean).map((line) => JSON.parse(line));
}

/** A pid that was alive a moment ago and is not any more. */
function deadPid(): number {
  const child = spawnSync('sh', ['-c', 'echo $$']);
  return Number(String(child.stdout).trim());
}

describe('locks', () => {
  test('etl run on a pipeline whose lock file is held exits 3, says who holds it, and records the skip', async () => {
    const file = await pipelineFile('held', `schedule: '0 * * * *'`);
    const lock = await acquireFileLock(join(dir, '.sluice', 'locks', 'held.lock'), 'test');
    assert.equal(lock.acquired, true);
    try {
      const result = await runCli(['run', file, '--quiet']);
      assert.equal(result.code, 3, result.stderr);
      assert.match(result.stderr, new RegExp(`held skipped: already running: pid ${process.pid} on ${hostname()}`));
      assert.equal(existsSync(join(dir, 'held.out.csv')), false, 'nothing was written');
    } finally {
      if (lock.acquired) await lock.release();
    }
    const records = await history(join(dir, '.sluice'));
    assert.deepEqual(records.map((record) => [record.pipeline, record.status, record.trigger]), [['held', 'skipped', 'manual']]);
    // Released: the next run goes through and is recorded with its rows.
    const again = await runCli(['run', file, '--quiet']);
    assert.equal(again.code, 0, again.stderr);
    const last = (await history(join(dir, '.sluice'))).at(-1)!;
    assert.equal(last.status, 'succeeded');
    assert.equal(last.rowsIn, 2);
    assert.equal(last.rowsOut, 2);
    assert.ok(last.peakRss > 0);
    assert.equal(existsSync(join(dir, '.sluice', 'locks', 'held.lock')), false, 'the run released its lock');
  });

  test("a dead owner's lock file is taken over; a live one, or one from another host, is not", async () => {
    const file = await pipelineFile('stale', `state: { folder: 'stale-state' }`);
    const lockPath = join(dir, 'stale-state', 'locks', 'stale.lock');
    await mkdir(join(dir, 'stale-state', 'locks'), { recursive: true });
    const dead = deadPid();
    await writeFile(lockPath, JSON.stringify({ pid: dead, hostname: hostname(), startedAt: '2020-01-01T00:00:00.000Z' }));
    const result = await runCli(['run', file, '--quiet']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(existsSync(lockPath), false);

    await writeFile(lockPath, JSON.stringify({ pid: dead, hostname: 'some-other-host', startedAt: '2020-01-01T00:00:00.000Z' }));
    const other = await runCli(['run', file, '--quiet']);
    assert.equal(other.code, 3, other.stderr);
    assert.match(other.stderr, /pid \d+ on some-other-host/);

    // Two processes racing for the same dead owner's lock: exactly one gets it.
    await writeFile(lockPath, JSON.stringify({ pid: dead, hostname: hostname(), startedAt: '2020-01-01T00:00:00.000Z' }));
    const attempts = await Promise.all(Array.from({ length: 8 }, () => acquireFileLock(lockPath)));
    assert.equal(attempts.filter((attempt) => attempt.acquired).length, 1);
    for (const attempt of attempts) if (attempt.acquired) await attempt.release();
  });

  test('with a PostgreSQL state store, etl run exits 3 while another session holds the advisory lock', async () => {
    const db = await testSchema('schedule_lock');
    const file = await pipelineFile('pg_locked', `state: { connection: ${JSON.stringify(db.url)}, schema: ${JSON.stringify(db.schema)} }`);
    const lock = await acquireAdvisoryLock(db.url, db.schema, 'pg_locked', 'test');
    assert.equal(lock.acquired, true);
    const second = await acquireAdvisoryLock(db.url, db.schema, 'pg_locked');
    assert.equal(second.acquired, false);
    if (!second.acquired) assert.match(second.holder, new RegExp(`sluice ${hostname()} pid ${process.pid}`));
    try {
      const result = await runCli(['run', file, '--quiet']);
      assert.equal(result.code, 3, result.stderr);
      assert.match(result.stderr, /already running: sluice .* holds the lock \(PostgreSQL/);
    } finally {
      if (lock.acquired) await lock.release();
    }
    const ok = await runCli(['run', file, '--quiet']);
    assert.equal(ok.code, 0, ok.stderr);
    const runs = await db.query<{ status: string; rows_in: string }>(`select status, rows_in from "${db.schema}".sluice_runs order by id`);
    assert.deepEqual(runs.rows.map((row) => [row.status, Number(row.rows_in)]), [['skipped', 0], ['succeeded', 2]]);
    const json = await runCli(['runs', file, '--json', '--limit', '1']);
    assert.equal(json.code, 0, json.stderr);
    assert.equal(JSON.parse(json.stdout)[0].status, 'succeeded');
  });

  test('right after a kill -9, before its parent has reaped it (a zombie), the next run takes the dead run\'s lock file', async () => {
    const slow = join(dir, 'killed.ts');
    await writeFile(
      slow,
      `import { csv, pipeline, toCsv } from 'sluice';\n` +
        `export default pipeline({ name: 'killed', state: { folder: 'killed-state' } }).from(csv(${JSON.stringify(join(dir, 'in.csv'))}))` +
        `.tap(async () => { if (process.env.SLOW) await new Promise((r) => setTimeout(r, 60_000)); }).to(toCsv(${JSON.stringify(join(dir, 'killed.out.csv'))}));\n`,
    );
    const lockPath = join(dir, 'killed-state', 'locks', 'killed.lock');
    // The run's parent is \`sleep\`, which never waits for children: killed, the run stays a zombie.
    const parent = spawn('sh', ['-c', `"$0" "$@" & echo $!; exec sleep 60`, process.execPath, join(repoRoot, 'bin', 'etl.js'), 'run', slow, '--quiet'], {
      cwd: dir,
      env: { ...process.env, SLOW: '1' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const pid = Number(String(await once(parent.stdout!, 'data')).trim());
      for (let waited = 0; !(await readFile(lockPath, 'utf8').catch(() => '')).includes(`"pid":${pid}`); waited += 50) {
        assert.ok(waited < 30_000, 'the run took its lock');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      process.kill(pid, 'SIGKILL');
      for (let waited = 0; !/\) Z /.test(await readFile(`/proc/${pid}/stat`, 'utf8')); waited += 10) {
        assert.ok(waited < 5_000, 'the killed run is a zombie');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const rerun = await runCli(['run', slow, '--quiet'], { cwd: dir });
      assert.equal(rerun.code, 0, rerun.stderr);
      assert.equal(existsSync(lockPath), false, 'the re-run released the lock it took over');
      assert.equal(await readFile(join(dir, 'killed.out.csv'), 'utf8'), 'id,name\n1,a\n2,b\n');
    } finally {
      parent.kill('SIGKILL');
    }
  });

  test("an advisory lock still held by a dead owner's session is waited for (bounded by lockTimeoutMs); a live owner's is not", async () => {
    const db = await testSchema('dead_owner_lock');
    const key = `${db.schema}.dead_owner`;
    const holdAs = async (pid: number) => {
      const session = new pg.Client({ connectionString: db.url, application_name: `sluice ${hostname()} pid ${pid} dead_owner` });
      await session.connect();
      await session.query('select pg_advisory_lock($1::int, hashtext($2))', [ADVISORY_LOCK_CLASS, key]);
      return session;
    };
    // A killed owner's session, which the server ends 700 ms later: the run waits for it and takes the lock.
    const dead = await holdAs(deadPid());
    const ending = new Promise((resolve) => setTimeout(resolve, 700)).then(() => dead.end());
    const started = Date.now();
    const taken = await acquireAdvisoryLock(db.url, db.schema, 'dead_owner', 'test');
    const waited = Date.now() - started;
    await ending;
    assert.equal(taken.acquired, true);
    assert.ok(waited >= 600 && waited < 5_000, `waited ${waited} ms`);
    if (taken.acquired) await taken.release();
    // Held past the timeout: skipped, after about lockTimeoutMs.
    const stuck = await holdAs(deadPid());
    try {
      const begun = Date.now();
      const busy = await acquireAdvisoryLock(db.url, db.schema, 'dead_owner', 'test', 300);
      assert.equal(busy.acquired, false);
      assert.ok(Date.now() - begun >= 300);
    } finally {
      await stuck.end();
    }
    // A live owner (this process): skipped at once.
    const live = await holdAs(process.pid);
    try {
      const begun = Date.now();
      const busy = await acquireAdvisoryLock(db.url, db.schema, 'dead_owner', 'test');
      assert.equal(busy.acquired, false);
      assert.ok(Date.now() - begun < 1_000, `took ${Date.now() - begun} ms`);
    } finally {
      await live.end();
    }
  });

  test('a bad schedule expression is an error at load naming it (exit 2)', async () => {
    const file = await pipelineFile('bad_schedule', `schedule: '61 * * * *'`);
    for (const args of [['run', file], ['schedule', file, '--list']]) {
      const result = await runCli(args);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, /\[SCHEDULE_INVALID\] .*bad_schedule\.ts: pipeline\(\): schedule "61 \* \* \* \*" is not a valid cron expression \(.*minute/);
    }
    const zone = await pipelineFile('bad_zone', `schedule: '0 * * * *', timezone: 'Mars/Olympus'`);
    const result = await runCli(['run', zone]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /\[SCHEDULE_INVALID\] .*`timezone` "Mars\/Olympus" is not a time zone/);
  });

  test('runTimeoutMs is checked at load, with how to fix it', () => {
    assert.equal(resolveScheduleOptions({ runTimeoutMs: 60_000 }).runTimeoutMs, 60_000);
    assert.equal(resolveScheduleOptions({}).runTimeoutMs, undefined);
    for (const [bad, shown] of [[0, '0'], [-1, '-1'], [Number.NaN, 'NaN'], ['10m', '"10m"']]) {
      assert.throws(() => resolveScheduleOptions({ name: 'p', runTimeoutMs: bad as number }), {
        code: 'INVALID_OPTION',
        message: `p: expected \`runTimeoutMs\` to be a number of milliseconds above 0; got ${shown}.`,
      });
    }
  });

  test('transient errors are the ones their connector flagged, on the error or on a cause it wraps; the message is not read', () => {
    assert.equal(isTransientError({ code: 'PG_CONNECTION_LOST', message: 'lost', transient: true }), true);
    assert.equal(isTransientError({ code: 'PG_QUERY', message: 'could not serialize access (SQLSTATE 40001).', transient: true }), true);
    assert.equal(isTransientError({ code: 'PG_QUERY', message: 'could not serialize access (SQLSTATE 40001).' }), false);
    const flagged = new SluiceError('PG_CONNECT', 'Could not connect: connection refused (127.0.0.1:1).', { transient: true });
    assert.equal(isTransientError({ code: 'STAGE_FAILED', message: 'wrapped' }, new SluiceError('STAGE_FAILED', 'wrapped', { cause: flagged })), true);
    assert.equal(isTransientError({ code: 'PG_CONNECT', message: 'password authentication failed (SQLSTATE 28P01).' }), false);
    assert.equal(isTransientError({ code: 'SCHEMA_VIOLATION', message: 'bad' }), false);
    assert.equal(isTransientError(undefined), false);
  });
});
