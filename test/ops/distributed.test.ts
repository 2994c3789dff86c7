/**
 * Distributed runs with real processes and the real PostgreSQL: `etl worker`s take the partitions of
 * an `etl run --distributed` from pg-boss. Whatever happens to a worker (kill -9 in the middle of its
 * COPY, a pause past its heartbeat), the target ends with exactly the source's rows: numbered 1…N,
 * none missing, none twice.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { runCli } from '../support/cli.ts';
import { testSchema, type TestSchema } from '../support/db.ts';
import { batchesByProcess, connectionsTo, distributedHarness, type EtlProcess, midPartition, parentOf, partitionedInput, startEtl } from '../support/distributed.ts';
import { tempDir } from '../support/fakes.ts';
import { sleep, until } from '../support/scheduler.ts';

const db: TestSchema = await testSchema('distributed');
const { queueSchema, startWorker, ready, target, partitionsOf, runIdOf } = distributedHarness(db);
const dir = await tempDir();

describe('distributed runs', { timeout: 600_000 }, () => {
  test('8 partitions on 3 workers, one killed with SIGKILL in the middle of its COPY: every row once, the partition retried on another worker', async () => {
    const input = await partitionedInput(dir, { name: 'killed', partitions: 8, rowsEach: 1500, batchRows: 150, batchMs: 150, table: 'killed_target', url: db.url, schema: db.schema, queueSchema });
    const pool = [startWorker(input.file), startWorker(input.file), startWorker(input.file)];
    for (const worker of pool) await ready(worker);
    const submit = startEtl(['run', input.file, '--distributed'], 400_000);

    // A partition's process one to four batches (of ten) into its partition: its COPY has begun, and its transaction is open.
    let victim: { child: number; worker: EtlProcess } | undefined;
    assert.ok(
      await until(async () => {
        const found = await midPartition(input.markers, (pid) => pool.some((candidate) => candidate.pid === parentOf(pid)), 1, 4);
        const worker = found === undefined ? undefined : pool.find((candidate) => candidate.pid === parentOf(found.pid));
        if (found !== undefined && worker !== undefined) victim = { child: found.pid, worker };
        return victim !== undefined;
      }, 120_000),
      `no partition got going:\n${submit.output()}`,
    );
    victim!.worker.child.kill('SIGKILL');
    process.kill(victim!.child, 'SIGKILL');
    const killedName = `:${victim!.worker.pid}`;

    assert.equal(await submit.exited, 0, submit.output());
    const runId = runIdOf(submit.output());
    assert.deepEqual(await target('killed_target'), { rows: input.rows, distinct: input.rows, low: 1, high: input.rows });
    const partitions = await partitionsOf(runId);
    assert.equal(partitions.length, 8);
    assert.ok(partitions.every((row) => row.status === 'committed'), JSON.stringify(partitions));
    assert.equal(partitions.reduce((total, row) => total + Number(row.rows_written), 0), input.rows);
    // The killed worker's partition went to another worker, on a later attempt.
    const retried = partitions.filter((row) => row.attempts > 1);
    assert.ok(retried.length >= 1, JSON.stringify(partitions));
    assert.ok(partitions.every((row) => !row.worker.endsWith(killedName)), JSON.stringify(partitions));
    assert.match(submit.output(), /succeeded in .* \(distributed run /);
    // A worker runs its partitions one after the other in one process (a slot's), not a process each.
    assert.ok((await batchesByProcess(input.markers)).size <= pool.length, `more processes than workers read partitions: ${[...(await batchesByProcess(input.markers)).keys()]}`);

    // One history record for the run, with every row.
    const history = await runCli(['runs', input.file, '--json']);
    const records = JSON.parse(history.stdout) as { trigger: string; status: string; rowsOut: number; note: string }[];
    const ours = records.filter((record) => record.note?.includes(runId));
    assert.equal(ours.length, 1, history.stdout);
    assert.equal(ours[0].status, 'succeeded');
    assert.equal(ours[0].trigger, 'distributed');
    assert.equal(ours[0].rowsOut, input.rows);

    // SIGTERM drains: the workers left end cleanly.
    for (const worker of pool.filter((candidate) => candidate !== victim!.worker)) {
      worker.child.kill('SIGTERM');
      assert.equal(await worker.exited, 0, worker.output());
    }
  });

  test("a partition's process killed with SIGKILL in the middle of its COPY: only that partition is lost, retried in a new process, and the worker goes on", async () => {
    const input = await partitionedInput(dir, { name: 'crashed', partitions: 4, rowsEach: 600, batchRows: 100, batchMs: 150, table: 'crashed_target', url: db.url, schema: db.schema, queueSchema });
    const worker = startWorker(input.file);
    await ready(worker);
    const submit = startEtl(['run', input.file, '--distributed'], 300_000);
    let victim: number | undefined;
    assert.ok(
      await until(async () => {
        victim = (await midPartition(input.markers, (pid) => parentOf(pid) === worker.pid, 1, 3))?.pid;
        return victim !== undefined;
      }, 120_000),
      `no partition got going:\n${submit.output()}`,
    );
    process.kill(victim!, 'SIGKILL');
    assert.equal(await submit.exited, 0, submit.output());
    assert.deepEqual(await target('crashed_target'), { rows: input.rows, distinct: input.rows, low: 1, high: input.rows });
    const partitions = await partitionsOf(runIdOf(submit.output()));
    assert.deepEqual(
      partitions.map((row) => row.attempts).sort(),
      [1, 1, 1, 2],
      JSON.stringify(partitions),
    );
    assert.match(worker.output(), /attempt 1: failed \[RUN_PROCESS\] the partition's process was killed by SIGKILL; to be retried/);
    // The killed process and the one that replaced it; no process per partition.
    const processes = [...(await batchesByProcess(input.markers)).keys()];
    assert.equal(processes.length, 2, String(processes));
    assert.ok(processes.every((pid) => pid === victim || parentOf(pid) === worker.pid));
    worker.child.kill('SIGTERM');
    assert.equal(await worker.exited, 0, worker.output());
  });

  test('a worker paused (SIGSTOP) past its heartbeat loses its partition to another worker; resumed, its commit is fenced and rolls back', async () => {
    const input = await partitionedInput(dir, { name: 'paused', partitions: 3, rowsEach: 1000, batchRows: 100, batchMs: 300, table: 'paused_target', url: db.url, schema: db.schema, queueSchema });
    const pool = [startWorker(input.file), startWorker(input.file)];
    for (const worker of pool) await ready(worker);
    const submit = startEtl(['run', input.file, '--distributed'], 400_000);

    let paused: { child: number; worker: EtlProcess; file: string } | undefined;
    assert.ok(
      await until(async () => {
        const found = await midPartition(input.markers, (pid) => pool.some((candidate) => candidate.pid === parentOf(pid)), 2, 5);
        const worker = found === undefined ? undefined : pool.find((candidate) => candidate.pid === parentOf(found.pid));
        if (found !== undefined && worker !== undefined) paused = { child: found.pid, worker, file: found.file };
        return paused !== undefined;
      }, 120_000),
      `no partition got going:\n${submit.output()}`,
    );
    process.kill(paused!.child, 'SIGSTOP');
    paused!.worker.child.kill('SIGSTOP');
    let resumed = false;
    try {
      // Past the heartbeat (10 s), the other worker takes the partition and the run ends without the paused one.
      assert.equal(await submit.exited, 0, submit.output());
      // The partition's process resumes first and reads on to its commit, its worker still paused (so
      // nothing tells it that its claim lapsed): the fence in its transaction refuses the commit. Its
      // attempt has ended when it has closed its connection to the database (the process stays, for
      // the next partition).
      process.kill(paused!.child, 'SIGCONT');
      assert.ok(await until(() => connectionsTo(paused!.child) === 0, 120_000), 'the resumed partition did not end');
      paused!.worker.child.kill('SIGCONT');
      resumed = true;
    } finally {
      if (!resumed) {
        process.kill(paused!.child, 'SIGCONT');
        paused!.worker.child.kill('SIGCONT');
      }
    }
    const runId = runIdOf(submit.output());
    assert.ok(await until(() => /fenced: Partition \d+ of run .* lost its claim/.test(paused!.worker.output()), 120_000), paused!.worker.output());
    await sleep(500);
    assert.deepEqual(await target('paused_target'), { rows: input.rows, distinct: input.rows, low: 1, high: input.rows });
    const partitions = await partitionsOf(runId);
    assert.ok(partitions.every((row) => row.status === 'committed'), JSON.stringify(partitions));
    const taken = partitions.find((row) => row.label === paused!.file);
    assert.ok(taken !== undefined && taken.attempts > 1 && !taken.worker.endsWith(`:${paused!.worker.pid}`), JSON.stringify(partitions));
    for (const worker of pool) {
      worker.child.kill('SIGTERM');
      assert.equal(await worker.exited, 0, worker.output());
    }
  });

  test("the partitions' connections terminated by the server in the middle of their COPY: those attempts fail, are retried, and every row is loaded once", async () => {
    const input = await partitionedInput(dir, { name: 'cut', partitions: 4, rowsEach: 1000, batchRows: 100, batchMs: 200, table: 'cut_target', url: db.url, schema: db.schema, queueSchema });
    const pool = [startWorker(input.file), startWorker(input.file)];
    for (const worker of pool) await ready(worker);
    const submit = startEtl(['run', input.file, '--distributed'], 300_000);
    let terminated = 0;
    assert.ok(
      await until(async () => {
        const started = [...(await batchesByProcess(input.markers)).values()].some((files) => files.length >= 2);
        if (!started) return false;
        const { rows } = await db.query<{ done: boolean }>(
          `select pg_terminate_backend(pid) as done from pg_stat_activity where pid <> pg_backend_pid() and query like 'COPY "cut_target"%'`,
        );
        terminated = rows.filter((row) => row.done).length;
        return terminated > 0;
      }, 120_000),
      `no COPY to cut:\n${submit.output()}`,
    );
    assert.equal(await submit.exited, 0, submit.output());
    assert.deepEqual(await target('cut_target'), { rows: input.rows, distinct: input.rows, low: 1, high: input.rows });
    const partitions = await partitionsOf(runIdOf(submit.output()));
    assert.ok(partitions.filter((row) => row.attempts > 1).length >= 1, JSON.stringify(partitions));
    assert.match(submit.output(), /attempt 1 failed on .*: \[PG_CONNECTION_LOST\]/);
    for (const worker of pool) {
      worker.child.kill('SIGTERM');
      assert.equal(await worker.exited, 0, worker.output());
    }
  });

  test('a table split by key ranges, upserted per partition by 2 workers: the target is the source; etl runs --distributed shows the partitions', async () => {
    await db.query('create table pg_source (seq int primary key, label text)');
    await db.query(`insert into pg_source select k, 'row ' || k from generate_series(1, 6000) as k`);
    const file = `${dir}/by-key.ts`;
    const distributed = { connection: db.url, schema: db.schema, queueSchema, heartbeatSeconds: 10 };
    await writeFile(
      file,
      `import { pipeline, postgres, toPostgres } from 'sluice';
export default pipeline({ name: 'by-key', distributed: ${JSON.stringify(distributed)}, state: { connection: ${JSON.stringify(db.url)}, schema: ${JSON.stringify(db.schema)} } })
  .from(postgres({ table: 'pg_source' }, { connection: ${JSON.stringify(db.url)}, partitionBy: { column: 'seq', partitions: 4 } }))
  .to(toPostgres({ table: 'pg_target', mode: 'upsert', key: 'seq', createTable: true, connection: ${JSON.stringify(db.url)} }));
`,
    );
    const pool = [startWorker(file), startWorker(file)];
    for (const worker of pool) await ready(worker);
    const submit = startEtl(['run', file, '--distributed'], 300_000);
    assert.equal(await submit.exited, 0, submit.output());
    const { rows: differences } = await db.query('(select * from pg_source except all select * from pg_target) union all (select * from pg_target except all select * from pg_source)');
    assert.deepEqual(differences, []);
    const shown = await runCli(['runs', file, '--distributed']);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /by-key {2}succeeded .* 4\/4 partitions committed/);
    for (const label of ['seq < 1501 or null', 'seq in [1501, 3001)', 'seq in [3001, 4501)', 'seq >= 4501']) assert.ok(shown.stdout.includes(`(${label}) committed on `), shown.stdout);
    for (const worker of pool) {
      worker.child.kill('SIGTERM');
      assert.equal(await worker.exited, 0, worker.output());
    }
  });

  test('a sink that cannot commit a partition in a transaction is refused before anything is queued', async () => {
    const file = `${dir}/to-csv.ts`;
    await writeFile(`${dir}/in-1.csv`, 'a\n1\n');
    await writeFile(
      file,
      `import { csv, pipeline, toCsv } from 'sluice';
export default pipeline({ name: 'to-csv' }).from(csv(${JSON.stringify(`${dir}/in-*.csv`)})).to(toCsv(${JSON.stringify(`${dir}/out.csv`)}));
`,
    );
    const result = await runCli(['run', file, '--distributed', '--connection', db.url]);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /\[DISTRIBUTED_UNSUPPORTED\] to-csv: the csv sink cannot be written by a distributed run yet/);
  });
});
