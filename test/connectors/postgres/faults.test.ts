import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { csv, pipeline, postgres, run, toPostgres, type RunSummary } from '../../../src/index.ts';
import { counting, collect, tempDir } from '../../support/fakes.ts';
import { runCli } from '../../support/cli.ts';
import { testSchema } from '../../support/db.ts';

const db = await testSchema('pg_faults');
const dir = await tempDir('sluice-pg-faults-');
const RUN = db.schema.slice(-8);

/** The test schema's URL, with an application_name to find (and kill) the session by. */
function urlFor(applicationName: string): string {
  const url = new URL(db.url);
  url.searchParams.set('application_name', `${applicationName}_${RUN}`);
  return url.toString();
}

/** Waits until a session of `applicationName` runs a statement matching `like`, then terminates it. */
async function killWhen(applicationName: string, like: string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const { rows } = await db.query<{ killed: boolean }>(
      `select pg_terminate_backend(pid) as killed from pg_stat_activity where application_name = $1 and query like $2`,
      [`${applicationName}_${RUN}`, like],
    );
    if (rows.some((row) => row.killed)) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  assert.fail(`no session ${applicationName} running ${like}`);
}

function failedWith(summary: RunSummary, code: string): string {
  assert.equal(summary.status, 'failed');
  assert.equal(summary.error?.code, code, summary.error?.message);
  return summary.error!.message;
}

async function count(table: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`select count(*)::int as n from ${table}`);
  return rows[0].n;
}

describe('PostgreSQL faults', () => {
  test('a missing table fails the CLI run with a clear error and a non-zero exit', async () => {
    const file = join(dir, 'missing.ts');
    await writeFile(file, `import { pipeline, postgres, toCsv } from 'sluice';\nexport default pipeline({ name: 'missing' }).from(postgres({ table: 'no_such_table' })).to(toCsv(${JSON.stringify(join(dir, 'out.csv'))}));\n`);
    const result = await runCli(['run', file], { env: { DATABASE_URL: db.url } });
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(result.stdout + result.stderr, /relation "no_such_table" does not exist \(SQLSTATE 42P01\)/);
  });

  test('a syntax error gives its position in the query', async () => {
    for (const mode of ['cursor', 'copy'] as const) {
      const summary = await run(pipeline({ name: 'syntax' }).from(postgres({ query: 'select 1 as a,\n  from where' }, { connection: db.url, mode })).to(collect()));
      const message = failedWith(summary, 'PG_QUERY');
      assert.match(message, /syntax error at or near "from" \(SQLSTATE 42601\) at line 2, column 3 of the query/, mode);
    }
  });

  test('NOT NULL and unique violations name the row, the column and the source line', async () => {
    await db.query('create table strict_target (id int primary key, name text not null)');
    const nulls = join(dir, 'nulls.csv');
    await writeFile(nulls, 'id,name\n1,a\n2,\n3,c\n');
    const notNull = await run(pipeline({ name: 'not-null' }).from(csv(nulls)).to(toPostgres({ table: 'strict_target', connection: db.url })));
    let message = failedWith(notNull, 'PG_COPY');
    assert.match(message, /rejected row 2 .*nulls\.csv:3, column "name"/);
    assert.match(message, /null value in column "name"/);

    const duplicates = join(dir, 'duplicates.csv');
    await writeFile(duplicates, 'id,name\n1,a\n2,b\n3,c\n2,again\n');
    const unique = await run(pipeline({ name: 'unique' }).from(csv(duplicates)).to(toPostgres({ table: 'strict_target', mode: 'replace', connection: db.url })));
    message = failedWith(unique, 'PG_COPY');
    assert.match(message, /rejected row 4 .*duplicates\.csv:5, column "id"/);
    assert.match(message, /duplicate key value violates unique constraint/);
    assert.equal(await count('strict_target'), 0);
  });

  test('a type PostgreSQL cannot take is a PG_COPY error with the value', async () => {
    await db.query('create table dated (day date)');
    const file = join(dir, 'dates.csv');
    await writeFile(file, 'day\n2024-01-01\nnot a date\n');
    const summary = await run(pipeline({ name: 'bad-type' }).from(csv(file)).to(toPostgres({ table: 'dated', connection: db.url })));
    const message = failedWith(summary, 'PG_COPY');
    assert.match(message, /dates\.csv:3, column "day".*invalid input syntax for type date: "not a date"/);
  });

  test('a connection killed mid-cursor fails the run within seconds', async () => {
    const started = Date.now();
    const source = postgres({ query: 'select i, md5(i::text) from generate_series(1, 5000000) i' }, { connection: urlFor('kill_cursor'), batchRows: 500 });
    const running = run(pipeline({ name: 'kill-cursor' }).from(source).to(collect({ keep: false, delayMs: 2 })));
    await killWhen('kill_cursor', '%generate_series%');
    const message = failedWith(await running, 'PG_CONNECTION_LOST');
    assert.match(message, /terminating connection due to administrator command/);
    assert.ok(Date.now() - started < 10_000);
  });

  test('a connection killed mid-result fails the run within seconds, for binary COPY and binary cursor rows read below pg', async () => {
    for (const mode of ['copy', 'cursor'] as const) {
      const started = Date.now();
      const name = `kill_binary_${mode}`;
      const source = postgres({ query: 'select i, md5(i::text) as h from generate_series(1, 5000000) i' }, { connection: urlFor(name), mode, batchRows: 500 });
      const running = run(pipeline({ name }).from(source).to(collect({ keep: false, delayMs: 2 })));
      await killWhen(name, '%generate_series%');
      const summary = await running;
      assert.equal(summary.source.engineDetail, mode === 'copy' ? 'binary format' : 'binary rows');
      const message = failedWith(summary, 'PG_CONNECTION_LOST');
      assert.match(message, /terminating connection due to administrator command/, mode);
      assert.ok(summary.rows.read < 5000000, `${mode}: read ${summary.rows.read}`);
      assert.ok(Date.now() - started < 10_000, mode);
    }
  });

  test('a connection killed mid-COPY leaves nothing visible, in append and in replace mode', async () => {
    await db.query('create table killed_append (n bigint)');
    await db.query('create table killed_replace (n bigint)');
    await db.query('insert into killed_replace values (-1), (-2)');
    for (const mode of ['append', 'replace'] as const) {
      const table = `killed_${mode}`;
      const started = Date.now();
      const slow = pipeline({ name: `kill-copy-${mode}` })
        .from(counting(2000, 2000))
        .tap(() => new Promise((resolve) => setTimeout(resolve, 2)))
        .to(toPostgres({ table, mode, connection: urlFor(`kill_copy_${mode}`) }));
      const running = run(slow);
      await killWhen(`kill_copy_${mode}`, 'COPY%');
      failedWith(await running, 'PG_CONNECTION_LOST');
      assert.ok(Date.now() - started < 10_000);
    }
    assert.equal(await count('killed_append'), 0);
    assert.deepEqual((await db.query('select n from killed_replace order by n')).rows.map((row) => Number(row.n)), [-2, -1]);
  });

  test('a wrong database or role is PG_CONNECT, without the password', async () => {
    const wrongDatabase = new URL(db.url);
    wrongDatabase.pathname = '/no_such_database';
    wrongDatabase.password = 'Hunter2@secret';
    let summary = await run(pipeline({ name: 'db' }).from(postgres({ query: 'select 1' }, { connection: wrongDatabase.toString() })).to(collect()));
    let message = failedWith(summary, 'PG_CONNECT');
    assert.match(message, /database "no_such_database" does not exist/);
    assert.ok(!JSON.stringify(summary).includes('Hunter2'));

    const wrongRole = new URL(db.url);
    wrongRole.username = 'no_such_role';
    summary = await run(pipeline({ name: 'role' }).from(counting(1, 1)).to(toPostgres({ table: 'x', connection: wrongRole.toString() })));
    message = failedWith(summary, 'PG_CONNECT');
    assert.match(message, /role "no_such_role" does not exist/);
  });
});
