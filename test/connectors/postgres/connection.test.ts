import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { DEFAULT_CONNECTION_TIMEOUT_MS, resolveConnection } from '../../../src/connectors/postgres/connection.ts';
import { positionInQuery, wrapPgError } from '../../../src/connectors/postgres/errors.ts';
import { createPoolRegistry, type IdleConnectionError } from '../../../src/connectors/postgres/pools.ts';
import { isSluiceError, SluiceError, type ErrorCode } from '../../../src/core/errors.ts';
import { testSchema } from '../../support/db.ts';

const db = await testSchema('connection');
const PASSWORD = 'Top$ecret#42';
// Unique per run: tests kill sessions by application_name and must not hit a concurrent run's.
const RUN = db.schema.slice(-8);

/** Every way an error can reach a person: message, stack, JSON, util.inspect (which shows the cause). */
function assertNoPassword(error: SluiceError, password = PASSWORD): void {
  const views = [error.message, String(error.stack), JSON.stringify(error), inspect(error, { depth: 5 })];
  for (const view of views) {
    assert.ok(!view.includes(password), `leaked password in ${view}`);
    assert.ok(!view.includes(encodeURIComponent(password)), `leaked encoded password in ${view}`);
  }
}

async function rejectsWith(promise: Promise<unknown>, code: ErrorCode, wrap: (error: unknown) => SluiceError): Promise<SluiceError> {
  try {
    await promise;
  } catch (error) {
    const wrapped = wrap(error);
    assert.equal(wrapped.code, code, wrapped.message);
    return wrapped;
  }
  assert.fail(`expected a rejection with ${code}`);
}

function urlWith(change: (url: URL) => void): string {
  const url = new URL(db.url);
  change(url);
  return url.toString();
}

test('resolution: the explicit option wins over DATABASE_URL', () => {
  const resolved = resolveConnection('postgres://a@explicit/x', { DATABASE_URL: 'postgres://b@environment/y' });
  assert.equal(resolved.config.connectionString, 'postgres://a@explicit/x');
});

test('resolution: DATABASE_URL is used when no option is given, also under an options-only object', () => {
  const environment = { DATABASE_URL: 'postgres://b:pw@environment/y' };
  assert.equal(resolveConnection(undefined, environment).config.connectionString, environment.DATABASE_URL);
  const resolved = resolveConnection({ statementTimeout: 500 }, environment);
  assert.equal(resolved.config.connectionString, environment.DATABASE_URL);
  assert.equal(resolved.config.statement_timeout, 500);
  assert.equal(resolved.description, 'postgres://b:***@environment/y');
  assert.deepEqual(resolved.secrets, ['pw']);
});

test('resolution: defaults are keepAlive on and a bounded connection timeout', () => {
  const { config } = resolveConnection('postgres://a@h/d', {});
  assert.equal(config.keepAlive, true);
  assert.equal(config.connectionTimeoutMillis, DEFAULT_CONNECTION_TIMEOUT_MS);
  assert.equal(resolveConnection({ connectionString: 'postgres://a@h/d', connectionTimeoutMillis: 50 }, {}).config.connectionTimeoutMillis, 50);
});

test('resolution: nothing given and no DATABASE_URL fails with INVALID_OPTION saying how to fix it', () => {
  assert.throws(
    () => resolveConnection(undefined, {}),
    (error) => isSluiceError(error, 'INVALID_OPTION') && /DATABASE_URL/.test(error.message) && /postgres:\/\//.test(error.message),
  );
});

test('resolution: bad options fail at the boundary with INVALID_OPTION and no password', () => {
  for (const options of [
    { connectionString: 'postgres://h/d', statementTimeout: -1 },
    { connectionString: 'postgres://h/d', statementTimeout: 1.5 },
    { connectionString: 'postgres://h/d', connectionTimeoutMillis: -5 },
    `host=h password=${PASSWORD} dbname=d`,
    `mysql://u:${PASSWORD}@h/d`,
    '',
  ]) {
    assert.throws(
      () => resolveConnection(options, {}),
      (error) => {
        assert.ok(isSluiceError(error, 'INVALID_OPTION'), String(error));
        assertNoPassword(error);
        return true;
      },
      JSON.stringify(options),
    );
  }
});

test('registry: one pool per distinct connection, all ended by closeAll', async () => {
  const pools = createPoolRegistry();
  const first = pools.pool(db.url);
  assert.equal(pools.pool(db.url), first);
  assert.equal(pools.pool({ connectionString: db.url }), first);
  const other = pools.pool({ connectionString: db.url, statementTimeout: 1000 });
  assert.notEqual(other, first);
  assert.equal(pools.size, 2);
  await Promise.all([first.query('select 1'), other.query('select 1')]);
  await pools.closeAll();
  assert.equal(pools.size, 0);
  assert.equal(first.totalCount + other.totalCount, 0);
  assert.equal(first.ended && other.ended, true);
});

test('registry: closeAll ends connections that were never released, within closeTimeoutMillis', async () => {
  const pools = createPoolRegistry({ closeTimeoutMillis: 200 });
  const pool = pools.pool(db.url);
  const leaked = await pool.connect();
  const started = Date.now();
  await pools.closeAll();
  assert.ok(Date.now() - started < 2000);
  await assert.rejects(leaked.query('select 1'));
});

test('statementTimeout is set on the server and a slow statement fails with PG_QUERY saying so', async () => {
  const pools = createPoolRegistry();
  try {
    const pool = pools.pool({ connectionString: db.url, statementTimeout: 100 });
    const shown = await pool.query('show statement_timeout');
    assert.equal(shown.rows[0].statement_timeout, '100ms');
    const query = 'select pg_sleep(5)';
    const error = await rejectsWith(pool.query(query), 'PG_QUERY', (cause) => wrapPgError(cause, { operation: 'query', query }));
    assert.match(error.message, /SQLSTATE 57014/);
    assert.match(error.message, /statementTimeout/);
  } finally {
    await pools.closeAll();
  }
});

test('a nonexistent role fails with PG_CONNECT (28000), naming the fix, without the password', async () => {
  // The test server trusts 127.0.0.1 (see pg_hba.conf), so a wrong password cannot be provoked; an
  // unknown role is the authentication-class error (SQLSTATE class 28, like 28P01) we can provoke.
  const url = urlWith((u) => {
    u.username = 'sluice_no_such_role';
    u.password = PASSWORD;
  });
  const pools = createPoolRegistry();
  try {
    const error = await rejectsWith(pools.pool(url).query('select 1'), 'PG_CONNECT', (cause) =>
      wrapPgError(cause, { operation: 'connect', connection: url }),
    );
    assert.match(error.message, /SQLSTATE 28000/);
    assert.match(error.message, /sluice_no_such_role/);
    assert.match(error.message, /user name/);
    assertNoPassword(error);
  } finally {
    await pools.closeAll();
  }
});

test('a nonexistent database fails with PG_CONNECT (3D000) suggesting createdb', async () => {
  const url = urlWith((u) => {
    u.pathname = '/sluice_no_such_database';
    u.password = PASSWORD;
  });
  const pools = createPoolRegistry();
  try {
    const error = await rejectsWith(pools.pool(url).query('select 1'), 'PG_CONNECT', (cause) =>
      wrapPgError(cause, { operation: 'connect', connection: url }),
    );
    assert.match(error.message, /3D000/);
    assert.match(error.message, /createdb/);
    assertNoPassword(error);
  } finally {
    await pools.closeAll();
  }
});

test('an unknown host fails with PG_CONNECT within seconds', async () => {
  const url = `postgres://postgres:${encodeURIComponent(PASSWORD)}@nosuch.invalid:5432/test`;
  const pools = createPoolRegistry();
  const started = Date.now();
  try {
    const error = await rejectsWith(pools.pool(url).query('select 1'), 'PG_CONNECT', (cause) =>
      wrapPgError(cause, { operation: 'connect', connection: url }),
    );
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
    assert.match(error.message, /nosuch\.invalid/);
    assert.match(error.message, /host name/);
    assertNoPassword(error);
  } finally {
    await pools.closeAll();
  }
});

test('a refused connection fails with PG_CONNECT telling to start the server', async () => {
  const url = `postgres://postgres:${encodeURIComponent(PASSWORD)}@127.0.0.1:1/test`;
  const pools = createPoolRegistry();
  try {
    const error = await rejectsWith(pools.pool(url).query('select 1'), 'PG_CONNECT', (cause) =>
      wrapPgError(cause, { operation: 'connect', connection: url }),
    );
    assert.match(error.message, /connection refused/);
    assert.match(error.message, /127\.0\.0\.1:1/);
    assertNoPassword(error);
  } finally {
    await pools.closeAll();
  }
});

test('a missing table fails with PG_QUERY (42P01) pointing at line:column of the query', async () => {
  const query = 'select id\nfrom sluice_missing_table\nwhere id > 1';
  const error = await rejectsWith(db.query(query), 'PG_QUERY', (cause) => wrapPgError(cause, { operation: 'query', query, row: 3 }));
  assert.match(error.message, /sluice_missing_table/);
  assert.match(error.message, /\(SQLSTATE 42P01\) at line 2, column 6 of the query, row 3\./);
  assert.match(error.message, /search_path/);
  assert.equal(error.details.line, 2);
  assert.equal(error.details.column, 6);
  assert.equal(error.details.query, query);
  assert.equal(error.details.row, 3);
});

test('a syntax error gives the position of the offending token, counted in characters', async () => {
  const query = "select 'é€😀' as x,\n  1 +\n  from nowhere";
  const error = await rejectsWith(db.query(query), 'PG_QUERY', (cause) => wrapPgError(cause, { operation: 'query', query }));
  assert.match(error.message, /syntax error at or near "from"/);
  assert.equal(error.details.line, 3);
  assert.equal(error.details.column, 3);
});

test('a server error during COPY is PG_COPY; constraint names go to details.rule', async () => {
  await db.query('create table unique_ids (id int constraint unique_ids_pk primary key)');
  await db.query('insert into unique_ids values (1)');
  const query = 'insert into unique_ids values (1)';
  const error = await rejectsWith(db.query(query), 'PG_COPY', (cause) => wrapPgError(cause, { operation: 'copy', query }));
  assert.equal(error.details.rule, 'unique_ids_pk');
  assert.match(error.message, /Detail: Key \(id\)=\(1\) already exists/);
});

test('a password inside the query text or the server message is redacted everywhere', async () => {
  const query = `select 1 from sluice_missing where secret = '${PASSWORD}'`;
  const url = urlWith((u) => (u.password = PASSWORD));
  const error = await rejectsWith(db.query(query), 'PG_QUERY', (cause) => wrapPgError(cause, { operation: 'query', query, connection: url }));
  assert.ok(error.details.query?.includes('***'));
  assertNoPassword(error);
});

test('a query killed by pg_terminate_backend rejects with PG_CONNECTION_LOST, fast, and the pool recovers', async () => {
  const idleErrors: IdleConnectionError[] = [];
  const pools = createPoolRegistry({ onIdleError: (event) => idleErrors.push(event) });
  try {
    const pool = pools.pool({ connectionString: db.url, application_name: `sluice_kill_me_${RUN}` });
    const query = 'select pg_sleep(30)';
    const running = pool.query(query);
    const observed = running.catch((error: unknown) => error);
    await waitFor(async () => {
      const active = await db.query("select count(*)::int as n from pg_stat_activity where application_name = $1 and state = 'active'", [`sluice_kill_me_${RUN}`]);
      return active.rows[0].n === 1;
    });
    const started = Date.now();
    await db.query('select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1', [`sluice_kill_me_${RUN}`]);
    const error = wrapPgError(await observed, { operation: 'query', query });
    assert.ok(Date.now() - started < 3000);
    assert.equal(error.code, 'PG_CONNECTION_LOST', error.message);
    assert.match(error.message, /57P01/);
    assert.match(error.message, /pg_terminate_backend/);
    // The dead client was discarded: the same pool serves the next query.
    assert.equal((await pool.query('select 1 as one')).rows[0].one, 1);
  } finally {
    await pools.closeAll();
  }
});

test('idle connections killed in the pool and while checked out never crash the process', async () => {
  const idleErrors: IdleConnectionError[] = [];
  const pools = createPoolRegistry({ onIdleError: (event) => idleErrors.push(event) });
  try {
    const pool = pools.pool({ connectionString: db.url, application_name: `sluice_idle_victim_${RUN}` });
    const held = await pool.connect(); // checked out, idle between queries
    const idle = await pool.connect();
    idle.release(); // idle in the pool
    await held.query('select 1');
    assert.equal(pool.totalCount, 2);
    await db.query('select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1', [`sluice_idle_victim_${RUN}`]);
    await waitFor(async () => idleErrors.length >= 1);
    assert.equal(idleErrors[0].error.code, 'PG_CONNECTION_LOST');
    assert.match(idleErrors[0].connection, /^postgres:\/\//);
    const error = await rejectsWith(held.query('select 1'), 'PG_CONNECTION_LOST', (cause) => wrapPgError(cause, { operation: 'query' }));
    assert.match(error.message, /lost/);
    held.release(true); // a dead client is destroyed, not returned to the pool
    // The idle one is dropped by the pool once its own error arrives; only then is the pool clean.
    await waitFor(async () => pool.totalCount === 0);
    assert.equal((await pool.query('select 2 as two')).rows[0].two, 2);
  } finally {
    await pools.closeAll();
  }
});

test('positionInQuery counts code points and lines, 1-based', () => {
  assert.deepEqual(positionInQuery('abc', '1'), { line: 1, column: 1 });
  assert.deepEqual(positionInQuery('ab\ncd', 4), { line: 2, column: 1 });
  assert.deepEqual(positionInQuery('😀x', 2), { line: 1, column: 2 });
  assert.equal(positionInQuery('abc', undefined), undefined);
  assert.equal(positionInQuery('abc', '0'), undefined);
});

async function waitFor(condition: () => Promise<boolean>, timeoutMillis = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMillis;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
