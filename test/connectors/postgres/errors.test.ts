/**
 * Errors from a real server are flagged transient (worth a retry) or not where they are made, and a run
 * that fails carries the flag to its summary, where tracked runs read it (isTransientError).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pipeline, postgres, run } from '../../../src/index.ts';
import { wrapPgError } from '../../../src/connectors/postgres/errors.ts';
import { createPoolRegistry } from '../../../src/connectors/postgres/pools.ts';
import type { SluiceError } from '../../../src/core/errors.ts';
import { isTransientError } from '../../../src/ops/tracked-run.ts';
import { collect } from '../../support/fakes.ts';
import { closedPort, testSchema } from '../../support/db.ts';

const db = await testSchema('pg_errors');

/** The error the server gives for `sql`, wrapped as the connector wraps it. */
async function serverError(sql: string, connection = db.url): Promise<SluiceError> {
  const pools = createPoolRegistry();
  try {
    await pools.pool(connection).query(sql);
  } catch (error) {
    return wrapPgError(error, { operation: 'query', query: sql, connection });
  } finally {
    await pools.closeAll();
  }
  assert.fail(`${sql} succeeded`);
}

const raise = (sqlState: string) => `do $$ begin raise exception 'provoked' using errcode = '${sqlState}'; end $$`;

test('serialization failures, deadlocks and a terminated session are transient', async () => {
  for (const [sql, code] of [
    [raise('40001'), 'PG_QUERY'],
    [raise('40P01'), 'PG_QUERY'],
    ['select pg_terminate_backend(pg_backend_pid())', 'PG_CONNECTION_LOST'],
  ] as const) {
    const error = await serverError(sql);
    assert.equal(error.code, code, error.message);
    assert.equal(error.details.transient, true, error.message);
    assert.equal(isTransientError(error.toJSON() as { code: string; message: string }), true);
  }
});

test('a refused connection is transient; an unknown role or database is not', async () => {
  const refused = await serverError('select 1', `postgres://postgres@127.0.0.1:${await closedPort()}/test`);
  assert.equal(refused.code, 'PG_CONNECT');
  assert.equal(refused.details.transient, true);
  const role = new URL(db.url);
  role.username = 'sluice_no_such_role';
  const unknownRole = await serverError('select 1', role.toString());
  assert.equal(unknownRole.code, 'PG_CONNECT');
  assert.equal(unknownRole.details.transient, undefined);
  const database = new URL(db.url);
  database.pathname = '/sluice_no_such_database';
  assert.equal((await serverError('select 1', database.toString())).details.transient, undefined);
});

test('bad SQL, a missing table and a constraint violation are not transient', async () => {
  await db.query('create table unique_ids (id int primary key)');
  await db.query('insert into unique_ids values (1)');
  for (const sql of ['selec 1', 'select * from no_such_table', 'insert into unique_ids values (1)', raise('22012')]) {
    const error = await serverError(sql);
    assert.equal(error.code, 'PG_QUERY', error.message);
    assert.equal(error.details.transient, undefined, error.message);
    assert.equal(isTransientError(error.toJSON() as { code: string; message: string }), false);
  }
});

test("a run's summary carries the flag: a failed run is retried only when its error was transient", async () => {
  const outcome = async (query: string) => {
    const summary = await run(pipeline({ name: 'flagged' }).from(postgres({ query }, { connection: db.url })).to(collect()));
    assert.equal(summary.status, 'failed');
    return { transient: summary.error?.transient, retried: isTransientError(summary.error, (summary as { cause?: unknown }).cause) };
  };
  const function_ = `create function provoke() returns setof int language plpgsql as $$ begin raise exception 'conflict' using errcode = '40001'; end $$`;
  await db.query(function_);
  assert.deepEqual(await outcome('select * from provoke() as x'), { transient: true, retried: true });
  assert.deepEqual(await outcome('select x from nowhere'), { transient: undefined, retried: false });
});
