/**
 * Retries: a transient error (connection refused) is retried with doubling backoff up to `retries.max`,
 * each attempt and wait recorded; any other error (bad SQL) fails the run at once, with one attempt.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { runCli } from '../support/cli.ts';
import { closedPort, testSchema } from '../support/db.ts';
import { tempDir } from '../support/fakes.ts';
import { folderHistory } from '../support/scheduler.ts';

describe('retries', { concurrency: true }, () => {
  test('connection refused is transient: retried after 200 ms then 400 ms, then the run fails; every attempt and wait is recorded', async () => {
    const dir = await tempDir('sluice-retry-');
    const file = join(dir, 'refused.ts');
    await writeFile(
      file,
      `import { pipeline, postgres, toCsv } from 'sluice';
export default pipeline({ name: 'refused', retries: { max: 2, backoffMs: 200 } })
  .from(postgres({ query: 'select 1 as x' }, { connection: 'postgres://postgres@127.0.0.1:${await closedPort()}/test' }))
  .to(toCsv(${JSON.stringify(join(dir, 'out.csv'))}));
`,
    );
    const result = await runCli(['run', file, '--quiet']);
    assert.equal(result.code, 1, result.stderr);
    const retryLines = result.stderr.match(/^etl: attempt \d+ failed with a transient error \[PG_CONNECT\]; retrying in \d+ ms$/gm);
    assert.deepEqual(retryLines, [
      'etl: attempt 1 failed with a transient error [PG_CONNECT]; retrying in 200 ms',
      'etl: attempt 2 failed with a transient error [PG_CONNECT]; retrying in 400 ms',
    ]);
    assert.match(result.stderr, /etl: \[PG_CONNECT\] .*refused/i);
    const [record, ...others] = await folderHistory(dir);
    assert.equal(others.length, 0);
    assert.equal(record.status, 'failed');
    assert.equal(record.attempts, 3);
    assert.equal(record.error.code, 'PG_CONNECT');
    assert.deepEqual(
      record.retries.map((retry: any) => [retry.attempt, retry.error.code, retry.delayMs]),
      [
        [1, 'PG_CONNECT', 200],
        [2, 'PG_CONNECT', 400],
      ],
    );
    // The record spans every attempt, the waits included.
    assert.ok(Date.parse(record.endedAt) - Date.parse(record.startedAt) >= 600, JSON.stringify(record));
  });

  test('a SQL syntax error is not transient: the run fails at once, with one attempt and no retry (PostgreSQL state store)', async () => {
    const db = await testSchema('retries');
    const dir = await tempDir('sluice-noretry-');
    const file = join(dir, 'bad_sql.ts');
    await writeFile(
      file,
      `import { pipeline, postgres, toCsv } from 'sluice';
const connection = ${JSON.stringify(db.url)};
export default pipeline({ name: 'bad_sql', retries: { max: 2, backoffMs: 5000 }, state: { connection, schema: ${JSON.stringify(db.schema)} } })
  .from(postgres({ query: 'selec 1 as x' }, { connection }))
  .to(toCsv(${JSON.stringify(join(dir, 'out.csv'))}));
`,
    );
    const result = await runCli(['run', file, '--quiet']);
    assert.equal(result.code, 1, result.stderr);
    assert.doesNotMatch(result.stderr, /retrying/);
    assert.match(result.stderr, /etl: \[PG_QUERY\] .*syntax error/);
    const runs = await db.query<{ status: string; attempts: number; retries: unknown; error: { code: string }; ms: number }>(
      `select status, attempts, retries, error, extract(epoch from ended_at - started_at) * 1000 as ms from "${db.schema}".sluice_runs where pipeline = 'bad_sql'`,
    );
    assert.deepEqual(
      runs.rows.map((row) => [row.status, row.attempts, row.retries, row.error.code]),
      [['failed', 1, null, 'PG_QUERY']],
    );
    // The run's own span, not the process's (whose start is slow on a busy machine): shorter than one backoff.
    assert.ok(Number(runs.rows[0].ms) < 5000, `no backoff was waited: the run took ${runs.rows[0].ms} ms`);
  });
});
