/**
 * One session setup: the source (both modes), the sink and the state store see the same DateStyle,
 * extra_float_digits and statement_timeout, whatever the server or the connection string set before.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pipeline, postgres, run, toPostgres } from '../../../src/index.ts';
import { sessionSql } from '../../../src/connectors/postgres/session.ts';
import { createPoolRegistry } from '../../../src/connectors/postgres/pools.ts';
import { PostgresStateStore } from '../../../src/ops/state.ts';
import { collect, counting } from '../../support/fakes.ts';
import { testSchema } from '../../support/db.ts';

const db = await testSchema('pg_session');

/** The test schema's URL with other session defaults than Sluice's, as a server or role might have. */
function urlWithOtherDefaults(): string {
  const url = new URL(db.url);
  url.searchParams.set('options', `${url.searchParams.get('options')} -c DateStyle=SQL,DMY -c extra_float_digits=0 -c statement_timeout=5000`);
  return url.toString();
}

const SETTINGS = `current_setting('DateStyle') as date_style, current_setting('extra_float_digits') as float_digits, current_setting('statement_timeout') as timeout`;
const EXPECTED = { date_style: 'ISO, DMY', float_digits: '3', timeout: '1234ms' };

test('the source (cursor and copy), the sink and the state store get the same session settings', async () => {
  const connection = { connectionString: urlWithOtherDefaults(), statementTimeout: 1234 };
  const seen: Record<string, unknown> = {};

  for (const mode of ['cursor', 'copy'] as const) {
    const sink = collect();
    const summary = await run(pipeline({ name: `session-${mode}` }).from(postgres({ query: `select ${SETTINGS}` }, { connection, mode })).to(sink));
    assert.equal(summary.status, 'succeeded', summary.error?.message);
    seen[`source ${mode}`] = { ...sink.rows[0] };
  }

  // Column defaults are evaluated in the session that inserts: the sink's COPY.
  await db.query(`create table sink_settings (n int, date_style text default current_setting('DateStyle'),
    float_digits text default current_setting('extra_float_digits'), timeout text default current_setting('statement_timeout'))`);
  const written = await run(pipeline({ name: 'session-sink' }).from(counting(1, 1)).to(toPostgres({ table: 'sink_settings', connection })));
  assert.equal(written.status, 'succeeded', written.error?.message);
  seen['sink'] = (await db.query('select date_style, float_digits, timeout from sink_settings')).rows[0];

  // And in the state store's session, when it records a run.
  const store = new PostgresStateStore(connection, db.schema);
  try {
    await store.readState('p');
    await db.query(`alter table sluice_runs add column date_style text default current_setting('DateStyle'),
      add column float_digits text default current_setting('extra_float_digits'), add column timeout text default current_setting('statement_timeout')`);
    const now = new Date().toISOString();
    await store.record({ pipeline: 'p', status: 'succeeded', trigger: 'manual', startedAt: now, endedAt: now, rowsIn: 0, rowsOut: 0, rowsRejected: 0, peakRss: 0 });
  } finally {
    await store.close();
  }
  seen['state store'] = (await db.query('select date_style, float_digits, timeout from sluice_runs')).rows[0];

  assert.deepEqual(seen, { 'source cursor': EXPECTED, 'source copy': EXPECTED, sink: EXPECTED, 'state store': EXPECTED });
});

test('statementTimeout 0 means no limit, even over a default the connection string sets', async () => {
  const pools = createPoolRegistry();
  try {
    const pool = pools.pool({ connectionString: urlWithOtherDefaults(), statementTimeout: 0 });
    assert.equal((await pool.query('show statement_timeout')).rows[0].statement_timeout, '0');
    const untouched = pools.pool(urlWithOtherDefaults());
    assert.equal((await untouched.query('show statement_timeout')).rows[0].statement_timeout, '5s', 'without the option, the server or connection default stays');
  } finally {
    await pools.closeAll();
  }
});

test('the session statements: ISO dates, exact floats, and the timeout only when given', () => {
  assert.equal(sessionSql(undefined), "SET DateStyle = 'ISO'; SET extra_float_digits = 3");
  assert.equal(sessionSql(250), "SET DateStyle = 'ISO'; SET extra_float_digits = 3; SET statement_timeout = 250");
});
