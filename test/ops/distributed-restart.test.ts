/**
 * PostgreSQL restarted in the middle of a distributed run, on a cluster of this test's own (made with
 * pg_createcluster on a free port, dropped after): the partitions whose connections it cut fail those
 * attempts and are retried, the workers and the waiting `etl run --distributed` ride it out, and the
 * target ends with every row exactly once.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { closedPort } from '../support/db.ts';
import { distributedHarness, midPartition, parentOf, partitionedInput, startEtl } from '../support/distributed.ts';
import { tempDir } from '../support/fakes.ts';
import { until } from '../support/scheduler.ts';

const VERSION = '15';
const canMakeClusters = existsSync('/usr/bin/pg_createcluster') && process.getuid?.() === 0;
const cluster = `sluice_restart_${process.pid}`;
const port = await closedPort();
const url = `postgres://postgres@127.0.0.1:${port}/postgres`;

describe('PostgreSQL restarted in the middle of a distributed run', { timeout: 600_000, skip: canMakeClusters ? false : 'needs pg_createcluster and root, to make a cluster of its own' }, () => {
  if (!canMakeClusters) return;
  execFileSync('pg_createcluster', [VERSION, cluster, '-p', String(port), '--start', '--', '--auth=trust'], { stdio: 'ignore' });
  const schema = 'restart';
  const db = {
    schema,
    url: `${url}?options=${encodeURIComponent(`-c search_path=${schema}`)}`,
    query: async <Row extends pg.QueryResultRow>(sql: string, params?: unknown[]) => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`create schema if not exists ${schema}; set search_path = ${schema}`);
        return await client.query<Row>(sql, params);
      } finally {
        await client.end();
      }
    },
  };
  const { queueSchema, startWorker, ready, target, partitionsOf, runIdOf } = distributedHarness(db, url);
  // After the harness's clean-up (its workers killed, its queue schema dropped), which needs the cluster.
  after(() => {
    execFileSync('pg_dropcluster', [VERSION, cluster, '--stop'], { stdio: 'ignore' });
  });

  test('a fast restart mid-COPY: the attempts it cut are retried, the run succeeds, every row once', async () => {
    const dir = await tempDir();
    await db.query('select 1');
    const input = await partitionedInput(dir, { name: 'restarted', partitions: 4, rowsEach: 1000, batchRows: 100, batchMs: 200, table: 'restarted_target', url: db.url, schema, queueSchema });
    const pool = [startWorker(input.file), startWorker(input.file)];
    for (const worker of pool) await ready(worker);
    const submit = startEtl(['run', input.file, '--distributed'], 400_000);
    assert.ok(
      await until(async () => (await midPartition(input.markers, (pid) => pool.some((worker) => worker.pid === parentOf(pid)), 2, 6)) !== undefined, 120_000),
      `no partition got going:\n${submit.output()}`,
    );
    execFileSync('pg_ctlcluster', [VERSION, cluster, 'restart', '-m', 'fast'], { stdio: 'ignore' });
    assert.equal(await submit.exited, 0, submit.output());
    assert.deepEqual(await target('restarted_target'), { rows: input.rows, distinct: input.rows, low: 1, high: input.rows });
    const partitions = await partitionsOf(runIdOf(submit.output()));
    assert.ok(partitions.every((row) => row.status === 'committed'), JSON.stringify(partitions));
    assert.ok(partitions.some((row) => row.attempts > 1), `no attempt was cut: ${JSON.stringify(partitions)}`);
    for (const worker of pool) {
      worker.child.kill('SIGTERM');
      assert.equal(await worker.exited, 0, worker.output());
    }
  });
});
