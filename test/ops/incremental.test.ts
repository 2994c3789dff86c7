import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { repoRoot, runCli } from '../support/cli.ts';
import { testSchema } from '../support/db.ts';
import { tempDir } from '../support/fakes.ts';
import { folderHistory } from '../support/scheduler.ts';
import { postgres, toPostgres } from '../../src/index.ts';
import { pipeline } from '../../src/runtime/pipeline.ts';
import { runTracked } from '../../src/ops/tracked-run.ts';

const etl = fileURLToPath(new URL('../../bin/etl.js', import.meta.url));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(done: () => Promise<boolean>, maxMs: number): Promise<boolean> {
  const deadline = Date.now() + maxMs;
  while (Date.now() < deadline) {
    if (await done()) return true;
    await sleep(200);
  }
  return false;
}

describe('incremental loads from PostgreSQL', () => {
  test('rows inserted between two runs, including rows tied on the watermark, are loaded exactly once', async () => {
    const db = await testSchema('incremental_ties');
    const dir = await tempDir('sluice-incremental-');
    await db.query('create table src (id int primary key, seq int not null, updated_at timestamptz)');
    await db.query('create table dst (id int, seq int, updated_at timestamptz)');
    const file = join(dir, 'ties.ts');
    await writeFile(
      file,
      `import { pipeline, postgres, toPostgres } from 'sluice';
const connection = ${JSON.stringify(db.url)};
export default pipeline({ name: 'ties', state: { connection, schema: ${JSON.stringify(db.schema)} } })
  .from(postgres({ table: 'src' }, { connection, batchRows: 2, incremental: { column: 'updated_at', key: 'id' } }))
  .to(toPostgres({ table: 'dst', connection }));
`,
    );
    // Microseconds matter: a JS Date would cut them and re-read or skip rows.
    const t1 = '2026-01-01 10:00:00.123456+00';
    const t2 = '2026-01-01 10:00:00.123457+00';
    await db.query(`insert into src select i, i, $1 from generate_series(1, 5) i`, [t1]);
    await db.query(`insert into src values (100, 100, null)`); // never read: no watermark value
    const first = await runCli(['run', file, '--quiet']);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual((await db.query('select seq from dst order by seq')).rows.map((row) => row.seq), [1, 2, 3, 4, 5]);

    // Tied on the watermark value (t1) with larger keys, and past it (t2).
    await db.query(`insert into src select i, i, $1 from generate_series(6, 8) i`, [t1]);
    await db.query(`insert into src select i, i, $1 from generate_series(9, 10) i`, [t2]);
    const second = await runCli(['run', file, '--quiet']);
    assert.equal(second.code, 0, second.stderr);
    const third = await runCli(['run', file, '--quiet']);
    assert.equal(third.code, 0, third.stderr);
    const seqs = (await db.query('select seq from dst order by seq')).rows.map((row) => row.seq);
    assert.deepEqual(seqs, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);

    const runs = await db.query<{ rows_in: string; watermark_before: any; watermark_after: any }>(`select rows_in, watermark_before, watermark_after from "${db.schema}".sluice_runs where pipeline = 'ties' order by id`);
    assert.deepEqual(runs.rows.map((row) => Number(row.rows_in)), [5, 5, 0]);
    assert.equal(runs.rows[0].watermark_before, null);
    assert.equal(runs.rows[0].watermark_after['postgres.watermark'].keyValue, '5');
    assert.equal(runs.rows[1].watermark_after['postgres.watermark'].keyValue, '10');
    assert.match(runs.rows[1].watermark_after['postgres.watermark'].value, /10:00:00\.123457/);
  });

  test('a scheduler killed (SIGKILL) mid-run: the next one takes over and resumes from the last committed watermark; every row lands exactly once', async () => {
    const db = await testSchema('incremental_kill');
    const dir = await tempDir('sluice-kill-');
    const log = join(dir, 'batches.log');
    await db.query('create table src (seq int primary key, updated_at timestamptz not null default clock_timestamp())');
    await db.query('create table dst (seq int, updated_at timestamptz)');
    const file = join(dir, 'resume.ts');
    // 250 rows a batch, 150 ms a batch: a run of a few thousand rows takes seconds, time to kill it.
    await writeFile(
      file,
      `import { appendFileSync } from 'node:fs';
import { pipeline, postgres, toPostgres } from 'sluice';
const connection = ${JSON.stringify(db.url)};
export default pipeline({ name: 'resume', schedule: '* * * * * *', state: { connection, schema: ${JSON.stringify(db.schema)} } })
  .from(postgres({ table: 'src' }, { connection, batchRows: 250, incremental: { column: 'updated_at', key: 'seq' } }))
  .tap(async (batch) => {
    appendFileSync(${JSON.stringify(log)}, \`\${process.pid} \${batch.length}\\n\`);
    await new Promise((resolve) => setTimeout(resolve, 150));
  })
  .to(toPostgres({ table: 'dst', connection }));
`,
    );
    // Rows of one statement share now(): ties on the watermark everywhere.
    const insert = (from: number, to: number) => db.query('insert into src select i, now() from generate_series($1::int, $2::int) i', [from, to]);
    await insert(1, 1000);
    const first = await runCli(['run', file, '--quiet']);
    assert.equal(first.code, 0, first.stderr);
    await insert(1001, 4000);

    const scheduler = spawn(process.execPath, [etl, 'schedule', file], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    scheduler.stdout.setEncoding('utf8').on('data', (chunk) => (output += chunk));
    scheduler.stderr.setEncoding('utf8').on('data', (chunk) => (output += chunk));
    const batchesOfRun = async () => {
      const lines = (await readFile(log, 'utf8').catch(() => '')).trim().split('\n').filter(Boolean);
      const pids = lines.map((line) => Number(line.split(' ')[0]));
      const last = pids.at(-1);
      return { pid: last, count: pids.filter((pid) => pid === last).length, all: lines.length };
    };
    const before = (await batchesOfRun()).all;
    assert.ok(await until(async () => (await batchesOfRun()).all >= before + 3, 20_000), `the scheduled run got going:\n${output}`);
    const { pid: runPid } = await batchesOfRun();
    // Down at once: the scheduler and the run it started, neither gets to clean up.
    scheduler.kill('SIGKILL');
    process.kill(runPid!, 'SIGKILL');
    if (scheduler.exitCode === null && scheduler.signalCode === null) await new Promise((resolve) => scheduler.on('exit', resolve));
    assert.equal(Number((await db.query('select count(*) from dst')).rows[0].count), 1000, 'the killed run committed nothing');

    await insert(4001, 5000);
    const next = spawn(process.execPath, [etl, 'schedule', file, '--shutdown-timeout', '20000'], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let nextOutput = '';
    next.stdout.setEncoding('utf8').on('data', (chunk) => (nextOutput += chunk));
    next.stderr.setEncoding('utf8').on('data', (chunk) => (nextOutput += chunk));
    const loaded = await until(async () => Number((await db.query('select count(*) from dst')).rows[0].count) >= 5000, 40_000);
    next.kill('SIGTERM');
    const code = await new Promise((resolve) => next.on('exit', resolve));
    assert.ok(loaded, `all rows loaded after the restart:\n${nextOutput}`);
    assert.equal(code, 0, nextOutput);
    const check = await db.query<{ rows: string; distinct: string; min: number; max: number }>(
      'select count(*) as rows, count(distinct seq) as distinct, min(seq) as min, max(seq) as max from dst',
    );
    const { rows, distinct, min, max } = check.rows[0];
    assert.deepEqual({ rows: Number(rows), distinct: Number(distinct), min, max }, { rows: 5000, distinct: 5000, min: 1, max: 5000 }, 'no gaps, no repeats');
    const history = await db.query<{ status: string; trigger: string; rows_out: string }>(
      `select status, trigger, rows_out from "${db.schema}".sluice_runs where pipeline = 'resume' and status = 'succeeded' order by id`,
    );
    assert.equal(history.rows.reduce((sum, row) => sum + Number(row.rows_out), 0), 5000, 'the succeeded runs wrote every row once');
  });
});

describe('incremental file globs', () => {
  test('a run reads only the files not finished before (path, size and mtime); a changed file is read again', async () => {
    const dir = await tempDir('sluice-files-');
    const file = join(dir, 'files.ts');
    await writeFile(
      file,
      `import { csv, pipeline, toNdjson } from 'sluice';
export default pipeline({ name: 'files' })
  .from(csv(${JSON.stringify(join(dir, 'in', '*.csv'))}, { incremental: true }))
  .to(toNdjson(${JSON.stringify(join(dir, 'out.ndjson'))}));
`,
    );
    const { mkdir } = await import('node:fs/promises');
    await mkdir(join(dir, 'in'));
    await writeFile(join(dir, 'in', 'a.csv'), 'id\n1\n2\n');
    await writeFile(join(dir, 'in', 'b.csv'), 'id\n3\n');
    const rowsOf = async () => (await readFile(join(dir, 'out.ndjson'), 'utf8')).trim().split('\n').filter(Boolean).map((line) => JSON.parse(line).id);
    assert.equal((await runCli(['run', file, '--quiet'])).code, 0);
    assert.deepEqual(await rowsOf(), [1, 2, 3]);
    await writeFile(join(dir, 'in', 'c.csv'), 'id\n4\n5\n');
    assert.equal((await runCli(['run', file, '--quiet'])).code, 0);
    assert.deepEqual(await rowsOf(), [4, 5]);
    await writeFile(join(dir, 'in', 'a.csv'), 'id\n1\n2\n6\n');
    assert.equal((await runCli(['run', file, '--quiet'])).code, 0);
    assert.deepEqual(await rowsOf(), [1, 2, 6]);
    const state = JSON.parse(await readFile(join(dir, '.sluice', 'state', 'files.json'), 'utf8'));
    assert.deepEqual(Object.keys(state['files.finished']).sort(), ['a.csv', 'b.csv', 'c.csv'].map((name) => join(dir, 'in', name)));
  });

  test('ndjson: the same, and a file cut short by --limit is not finished (read again in full next time)', async () => {
    const dir = await tempDir('sluice-ndjson-files-');
    const file = join(dir, 'events.ts');
    await writeFile(
      file,
      `import { ndjson, pipeline, toNdjson } from 'sluice';
import { z } from 'zod';
export default pipeline({ name: 'events' })
  .from(ndjson(${JSON.stringify(join(dir, 'in', '*.ndjson'))}, { schema: z.object({ id: z.number() }), incremental: true }))
  .to(toNdjson(${JSON.stringify(join(dir, 'out.ndjson'))}));
`,
    );
    const { mkdir } = await import('node:fs/promises');
    await mkdir(join(dir, 'in'));
    const lines = (ids: number[]) => ids.map((id) => `{"id":${id}}\n`).join('');
    await writeFile(join(dir, 'in', 'a.ndjson'), lines([1, 2]));
    await writeFile(join(dir, 'in', 'b.ndjson'), lines([3]));
    const rowsOf = async () => (await readFile(join(dir, 'out.ndjson'), 'utf8')).trim().split('\n').filter(Boolean).map((line) => JSON.parse(line).id);
    const finished = async () => Object.keys(JSON.parse(await readFile(join(dir, '.sluice', 'state', 'events.json'), 'utf8'))['files.finished']).map((path) => path.slice(join(dir, 'in').length + 1)).sort();
    const run = async (...extra: string[]) => {
      const result = await runCli(['run', file, '--quiet', ...extra]);
      assert.equal(result.code, 0, result.stderr);
    };
    await run();
    assert.deepEqual(await rowsOf(), [1, 2, 3]);
    await writeFile(join(dir, 'in', 'c.ndjson'), lines([4, 5]));
    await run('--limit', '1');
    assert.deepEqual(await rowsOf(), [4]);
    assert.deepEqual(await finished(), ['a.ndjson', 'b.ndjson'], 'c.ndjson was cut short: not finished');
    await run();
    assert.deepEqual(await rowsOf(), [4, 5]);
    await run();
    assert.deepEqual(await rowsOf(), []);
    assert.deepEqual(await finished(), ['a.ndjson', 'b.ndjson', 'c.ndjson']);
  });
});

describe('incremental loads from PostgreSQL cut short', () => {
  test('take() cuts a page: the watermark is the last row the sink wrote, so runs of 150 load every row once, through a filter and past rejected rows too', async () => {
    const db = await testSchema('incremental_take');
    await db.query('create table src (id int primary key, at int not null, note text)');
    // 1,000 rows; one in 97 has a date the schema-less decode cannot hold (`infinity`): rejected, not loaded.
    await db.query(`insert into src select i, i, case when i % 97 = 0 then 'bad' else 'ok' end from generate_series(1, 1000) i`);
    await db.query('alter table src add column day date');
    await db.query(`update src set day = case when note = 'bad' then 'infinity'::date else '2026-01-01'::date end`);
    const state = { connection: db.url, schema: db.schema };
    const load = (name: string, table: string, keep: (id: number) => boolean) =>
      pipeline({ name, state, rejects: { path: join(dirOf.path, `${name}.rejects.ndjson`) } })
        .from(postgres({ table: 'src' }, { connection: db.url, batchRows: 100, incremental: { column: 'at', key: 'id' } }))
        .filter((row) => keep(row.id))
        .take(150)
        .to(toPostgres({ table, connection: db.url, createTable: true }));
    const dirOf = { path: await tempDir('sluice-take-') };
    const expected = (keep: (id: number) => boolean) => Array.from({ length: 1000 }, (_, i) => i + 1).filter((id) => id % 97 !== 0 && keep(id));
    for (const [name, keep] of [['take_all', () => true], ['take_odd', (id: number) => id % 2 === 1]] as const) {
      const table = `dst_${name}`;
      for (let k = 0; k < 12; k++) {
        const result = await runTracked(load(name, table, keep));
        assert.equal(result.status, 'ran');
        if (result.status === 'ran') assert.equal(result.summary.status, 'succeeded', result.summary.error?.message);
      }
      const ids = (await db.query(`select id from ${table} order by id`)).rows.map((row) => row.id);
      assert.deepEqual(ids, expected(keep), name);
    }
  });

  // Item: a stop that comes while the sink commits. The COMMIT (a deferred constraint trigger) or the
  // upsert's final INSERT … ON CONFLICT (a plain trigger) is held open by pg_sleep, SIGTERM is sent
  // then; the database keeps the rows, so the state and the history must say so too.
  for (const [mode, when, statement] of [
    ['append', 'deferrable initially deferred', /^COMMIT/i],
    ['upsert', '', /ON CONFLICT/i],
  ] as const) {
    test(`SIGTERM while the ${mode} sink's ${mode === 'append' ? 'COMMIT' : 'INSERT … ON CONFLICT'} runs: the run succeeds with a warning, the folder state and the history match the table, a re-run loads nothing twice`, async () => {
      const db = await testSchema(`incremental_stop_${mode}`);
      const dir = await tempDir('sluice-stop-');
      await db.query('create table src (id int primary key, at int not null)');
      await db.query('insert into src select i, i from generate_series(1, 5000) i');
      await db.query('create table dst (id int primary key, at int)');
      await db.query(`create function slow() returns trigger language plpgsql as $$ begin if new.id = 1 then perform pg_sleep(3); end if; return null; end $$`);
      await db.query(`create constraint trigger slow after insert on dst ${when} for each row execute function slow()`);
      const file = join(dir, 'stop.ts');
      await writeFile(
        file,
        `import { pipeline, postgres, toPostgres } from 'sluice';
const connection = ${JSON.stringify(db.url)};
export default pipeline({ name: 'stop' })
  .from(postgres({ table: 'src' }, { connection, batchRows: 1000, incremental: { column: 'at', key: 'id' } }))
  .to(toPostgres({ table: 'dst', connection, mode: ${JSON.stringify(mode)}${mode === 'upsert' ? ", key: ['id']" : ''} }));
`,
      );
      let signalled = false;
      const first = await runCli(['run', file], {
        onSpawn: (pid) => {
          void until(async () => {
            const active = await db.query<{ query: string }>(`select query from pg_stat_activity where datname = current_database() and state = 'active' and pid <> pg_backend_pid()`);
            if (!active.rows.some((row) => statement.test(row.query.trim()))) return false;
            process.kill(pid, 'SIGTERM');
            signalled = true;
            return true;
          }, 30_000);
        },
      });
      assert.ok(signalled, 'the statement was seen running and the run signalled during it');
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stdout + first.stderr, /a stop was asked .* after the sink of stop had committed/);
      assert.equal(Number((await db.query('select count(*) as n from dst')).rows[0].n), 5000);
      const state = JSON.parse(await readFile(join(dir, '.sluice', 'state', 'stop.json'), 'utf8'));
      assert.equal(state['postgres.watermark'].keyValue, '5000');
      const history = await folderHistory(dir);
      assert.equal(history.length, 1);
      assert.equal(history[0].status, 'succeeded');
      assert.equal(history[0].rowsOut, 5000);
      assert.equal(history[0].watermarkAfter['postgres.watermark'].keyValue, '5000');

      const again = await runCli(['run', file, '--quiet']);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(Number((await db.query('select count(*) as n from dst')).rows[0].n), 5000);
      assert.equal((await folderHistory(dir))[1].rowsOut, 0);
    });
  }
});
