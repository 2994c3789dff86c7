/**
 * The scheduler has its runs done through the executor interface (RunRequest → RunReport): with a fake
 * executor it schedules, skips, queues, times out and shuts down as it does with processes; the
 * child-process executor reports every way a run's process can end, and a scheduled run writes nothing
 * in the OS temporary folder.
 */
import assert from 'node:assert/strict';
import { existsSync, watch } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { childProcessExecutor } from '../../src/ops/child-process-executor.ts';
import type { RunRequest } from '../../src/ops/executor.ts';
import { Scheduler, scheduledPipeline } from '../../src/ops/scheduler.ts';
import { pipeline, type PipelineOptions } from '../../src/runtime/pipeline.ts';
import { collect, fromRows, tempDir } from '../support/fakes.ts';
import { fakeExecutor, type FakeBehaviour, type FakeRun, folderHistory, startScheduler, timedPipeline, until } from '../support/scheduler.ts';

const MB = 1024 * 1024;

/** A pipeline the scheduler knows by its file; with a fake executor nothing loads or runs it. */
function entry(dir: string, options: PipelineOptions & { name: string }) {
  return scheduledPipeline(join(dir, `${options.name}.ts`), pipeline(options).from(fromRows([{ id: 1 }])).to(collect()));
}

/** Runs a scheduler in this process until `done()` holds (or 20 s), then stops it; returns its log. */
async function schedule(entries: ReturnType<typeof entry>[], behaviour: (request: RunRequest) => FakeBehaviour, done: (runs: FakeRun[], log: string) => boolean | Promise<boolean>, options: { runTimeoutMs?: number; shutdownTimeoutMs?: number; killTimeoutMs?: number } = {}) {
  const executor = fakeExecutor(behaviour);
  const controller = new AbortController();
  const lines: string[] = [];
  const scheduler = new Scheduler(entries, { memory: '64MB', signal: controller.signal, log: (line) => lines.push(line), executor, ...options });
  const running = scheduler.run();
  const reached = await until(() => done(executor.runs, lines.join('\n')), 20_000);
  controller.abort();
  await running;
  const log = lines.join('\n');
  assert.ok(reached, log);
  return { runs: executor.runs, log };
}

const runsOf = (runs: FakeRun[], name: string) => runs.filter((run) => run.request.pipeline === name);

describe('the scheduler through the executor interface', { concurrency: true }, () => {
  test('with a fake executor it schedules, skips and queues as with processes: one request per tick run, never two runs of a pipeline at once, skipped ticks recorded and never requested', async () => {
    const dir = await tempDir('sluice-executor-');
    const every = '* * * * * *';
    const entries = [entry(dir, { name: 'skipper', schedule: every }), entry(dir, { name: 'queuer', schedule: every, overlap: 'queue' })];
    const { runs, log } = await schedule(
      entries,
      () => ({ ms: 2300 }),
      (all, text) => runsOf(all, 'skipper').filter((run) => run.endedAt !== undefined).length >= 2 && runsOf(all, 'queuer').filter((run) => run.endedAt !== undefined).length >= 2 && /queuer: tick \S+ skipped/.test(text),
      { runTimeoutMs: 60_000 },
    );
    const history = await folderHistory(dir);

    for (const run of runs) {
      // What `etl schedule` used to pass as flags, now typed: the file, the share of 64MB, the tick, the timeout.
      const { file, pipeline: name, memory, tick, trigger, runTimeoutMs } = run.request;
      assert.equal(file, resolve(dir, `${name}.ts`));
      assert.equal(memory, 32 * MB, 'half the budget each');
      assert.match(tick, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
      assert.equal(trigger, 'schedule');
      assert.equal(runTimeoutMs, 60_000);
      assert.equal(run.stoppedAt, undefined, `${name}'s run ${tick} ended on its own before the shutdown`);
    }
    for (const name of ['skipper', 'queuer']) {
      const mine = runsOf(runs, name);
      for (let k = 1; k < mine.length; k++) assert.ok(mine[k].startedAt >= mine[k - 1].endedAt!, `${name}: a run started while the previous one was going`);
      const records = history.filter((record) => record.pipeline === name);
      const skipped = records.filter((record) => record.status === 'skipped');
      const requested = new Set(mine.map((run) => run.request.tick));
      assert.ok(skipped.length >= 1, log);
      for (const record of skipped) assert.equal(requested.has(record.tick), false, `${name}: skipped tick ${record.tick} was run too`);
      assert.equal(requested.size, mine.length, `${name}: one request per tick`);
      // The fake's reports say they are not recorded: the scheduler recorded each, as it does a crashed run's.
      assert.deepEqual(
        records.filter((record) => record.status === 'succeeded').map((record) => record.tick),
        mine.map((run) => run.request.tick),
      );
    }
    assert.equal((log.match(/skipper: tick \S+ skipped: previous run still going \(overlap: skip\)/g) ?? []).length, history.filter((record) => record.pipeline === 'skipper' && record.status === 'skipped').length);
    // The queued tick starts as the run before it ends, for its own (by then past) tick. Runs start on a
    // whole second and take 2.3 s: one started by the next tick instead would start some 700 ms later.
    const queued = runsOf(runs, 'queuer').slice(1);
    assert.ok(queued.length >= 1);
    for (const [k, run] of queued.entries()) {
      const previous = runsOf(runs, 'queuer')[k];
      assert.ok(run.startedAt - previous.endedAt! < 500, `queued run started ${run.startedAt - previous.endedAt!} ms after the previous one ended:\n${log}`);
      assert.ok(run.startedAt - Date.parse(run.request.tick) > 1000, 'it ran for the tick it was queued at');
    }
    assert.match(log, /queuer: tick \S+ queued \(previous run still going\)/);
    assert.match(log, /skipper: tick \S+ started \(fake run \d+\)/);
  });

  test('with a fake executor: a run past its timeout is killed the grace period later and recorded RUN_TIMEOUT; at shutdown runs still going are stopped, then killed', async () => {
    const dir = await tempDir('sluice-executor-stop-');
    const entries = [entry(dir, { name: 'hung', schedule: '* * * * * *', runTimeoutMs: 300 }), entry(dir, { name: 'stubborn', schedule: '* * * * * *' })];
    let abortedAt = 0;
    const { runs, log } = await schedule(
      entries,
      () => ({ ms: Infinity, ignoresStop: true }),
      (all) => {
        const enough = runsOf(all, 'hung').filter((run) => run.killedAt !== undefined).length >= 2 && runsOf(all, 'stubborn').length === 1;
        if (enough) abortedAt = Date.now();
        return enough;
      },
      { shutdownTimeoutMs: 400, killTimeoutMs: 250 },
    );
    const history = await folderHistory(dir);
    for (const run of runsOf(runs, 'hung').filter((run) => run.stoppedAt === undefined)) {
      // 300 ms its own timeout, 250 ms the grace period: then killed, with the reason the scheduler gave.
      const after = run.killedAt! - run.startedAt;
      assert.ok(after >= 540 && after < 2000, `killed ${after} ms after it started`);
      assert.deepEqual(run.killedBecause, { code: 'RUN_TIMEOUT', message: 'the run did not stop at its timeout (runTimeoutMs 300) and was killed 250 ms later' });
      const record = history.find((candidate) => candidate.pipeline === 'hung' && candidate.tick === run.request.tick);
      assert.deepEqual([record?.status, record?.error], ['failed', run.killedBecause]);
    }
    assert.match(log, /hung: tick \S+ still running 300 ms \+ 250 ms after it started; killing it \(SIGKILL\)/);
    // The one stubborn run: asked to stop after --shutdown-timeout, killed --kill-timeout later.
    const [stubborn] = runsOf(runs, 'stubborn');
    assert.ok(stubborn.stoppedAt! - abortedAt >= 350, `stopped ${stubborn.stoppedAt! - abortedAt} ms after the shutdown began`);
    assert.ok(stubborn.killedAt! - stubborn.stoppedAt! >= 200, `killed ${stubborn.killedAt! - stubborn.stoppedAt!} ms after it was stopped`);
    assert.equal(stubborn.killedBecause, undefined);
    assert.match(log, /stopping: .*stubborn.* still running; sending SIGTERM/);
    assert.deepEqual(
      history.filter((record) => record.pipeline === 'stubborn' && record.status !== 'skipped').map((record) => [record.status, record.error?.code]),
      [['failed', 'RUN_PROCESS']],
    );
  });
});

/**
 * A pipeline file in `dir` reading `rows` rows, `batchRows` a batch, whose tap stage runs `tap` (code) on
 * each batch; `options` is pasted into `pipeline({ … })`.
 */
async function pipelineFile(dir: string, name: string, tap: string, rows = 2, batchRows = 1000, options = ''): Promise<string> {
  await writeFile(join(dir, `${name}.in.csv`), `id\n${Array.from({ length: rows }, (_, k) => k + 1).join('\n')}\n`);
  const file = join(dir, `${name}.ts`);
  await writeFile(
    file,
    `import { csv, pipeline, toCsv } from 'sluice';
export default pipeline({ name: ${JSON.stringify(name)}, batchRows: ${batchRows}, ${options} })
  .from(csv(${JSON.stringify(join(dir, `${name}.in.csv`))}))
  .tap(async () => { ${tap} })
  .to(toCsv(${JSON.stringify(join(dir, `${name}.out.csv`))}));
`,
  );
  return file;
}

const request = (file: string, name: string): RunRequest => ({ file, pipeline: name, memory: 64 * MB, tick: '2026-01-01T00:00:00.000Z', trigger: 'schedule' });

describe('the child-process executor', { concurrency: true }, () => {
  test('a run reports over IPC: its summary, its record (written by the run, in its own process)', async () => {
    const dir = await tempDir('sluice-child-');
    const file = await pipelineFile(dir, 'fine', '');
    const run = childProcessExecutor().start(request(file, 'fine'));
    assert.match(run.label, /^pid \d+$/);
    const report = await run.done;
    assert.equal(report.status, 'succeeded', JSON.stringify(report));
    assert.equal(report.recorded, true);
    assert.equal(report.summary?.rows.written, 2);
    assert.deepEqual([report.record.tick, report.record.trigger, report.record.rowsOut], ['2026-01-01T00:00:00.000Z', 'schedule', 2]);
    assert.equal(report.record.pid, Number(run.label.slice(4)));
    assert.deepEqual(await folderHistory(dir), [report.record]);
  });

  test('a process that exits, is killed by a signal or cannot load its file is reported failed, unrecorded, with how it ended', async () => {
    const dir = await tempDir('sluice-child-crash-');
    const executor = childProcessExecutor();
    const cases = [
      { name: 'exits', tap: `process.stderr.write('giving up\\n'); process.exit(7);`, code: 'RUN_PROCESS', message: /^the run's process exited with code 7: .*giving up$/ },
      { name: 'killed', tap: `process.kill(process.pid, 'SIGKILL');`, code: 'RUN_PROCESS', message: /^the run's process was killed by SIGKILL$/ },
      { name: 'broken', tap: 'const = ;', code: 'PIPELINE_LOAD', message: /broken\.ts:\d+:\d+: syntax error/ },
    ];
    await Promise.all(
      cases.map(async ({ name, tap, code, message }) => {
        const file = await pipelineFile(dir, name, tap);
        const report = await executor.start(request(file, name)).done;
        assert.equal(report.status, 'failed', name);
        assert.equal(report.error?.code, code, `${name}: ${report.error?.message}`);
        assert.match(report.error!.message, message);
        // The scheduler records it from here: the run did not.
        assert.equal(report.recorded, false);
        assert.deepEqual([report.record.status, report.record.pipeline, report.record.tick, report.record.error], ['failed', name, '2026-01-01T00:00:00.000Z', report.error]);
      }),
    );
    assert.deepEqual(await folderHistory(dir), []);
  });

  test('stop() makes the run abort and record itself; kill() ends it at once, with the reason given', async () => {
    const dir = await tempDir('sluice-child-stop-');
    const executor = childProcessExecutor();
    const [stopped, killed] = await Promise.all(
      ['stopped', 'killed'].map(async (name) => {
        // 200 batches of 10 rows, 200 ms each: going for 40 s unless stopped; it marks that it got going.
        const going = join(dir, `${name}.going`);
        const tap = `(await import('node:fs')).writeFileSync(${JSON.stringify(going)}, ''); await new Promise((resolve) => setTimeout(resolve, 200));`;
        const run = executor.start(request(await pipelineFile(dir, name, tap, 2000, 10), name));
        assert.ok(await until(() => existsSync(going), 20_000), `${name} got going`);
        if (name === 'stopped') run.stop();
        else run.kill({ code: 'RUN_TIMEOUT', message: 'too slow' });
        return run.done;
      }),
    );
    assert.deepEqual([stopped.status, stopped.error?.code, stopped.recorded], ['failed', 'ABORTED', true]);
    assert.deepEqual([killed.status, killed.error, killed.recorded], ['failed', { code: 'RUN_TIMEOUT', message: 'too slow' }, false]);
    assert.deepEqual((await folderHistory(dir)).map((record) => [record.pipeline, record.status, record.error?.code]), [['stopped', 'failed', 'ABORTED']]);
  });
});

test('a run whose scheduler is killed (SIGKILL) stops: its IPC channel closes, it aborts, records why and exits, leaving no orphan', async () => {
  const dir = await tempDir('sluice-orphan-');
  const going = join(dir, 'going');
  const tap = `(await import('node:fs')).writeFileSync(${JSON.stringify(going)}, ''); await new Promise((resolve) => setTimeout(resolve, 200));`;
  const file = await pipelineFile(dir, 'orphan', tap, 2000, 10, `schedule: '* * * * * *'`);
  const scheduler = startScheduler([file]);
  assert.ok(await until(() => existsSync(going), 20_000), scheduler.output());
  scheduler.child.kill('SIGKILL');
  await scheduler.exited;
  const failed = () => folderHistory(dir).then((records) => records.find((record) => record.status === 'failed'));
  assert.ok(await until(async () => (await failed()) !== undefined, 10_000), 'the run recorded that it stopped');
  const record = (await failed())!;
  assert.equal(record.error.code, 'ABORTED');
  const alive = () => {
    try {
      return process.kill(record.pid, 0);
    } catch {
      return false;
    }
  };
  assert.ok(await until(() => !alive(), 5000), `the run's process ${record.pid} ended`);
});

test('a scheduled run writes nothing in the OS temporary folder: its request and report go over IPC', async () => {
  const dir = await tempDir('sluice-no-tmp-');
  const tmp = await tempDir('sluice-tmpdir-');
  const { file } = await timedPipeline(dir, 'quiet', `schedule: '* * * * * *'`, 0);
  // Every name created in the folder, however briefly (the old report file was removed after reading).
  const created: string[] = [];
  const watcher = watch(tmp, (_event, name) => created.push(String(name)));
  try {
    // TMPDIR is where the scheduler and its runs find the OS temporary folder; tsx's compile cache would be
    // there too, and is not the run's: it is turned off.
    const scheduler = startScheduler([file], 60_000, { TMPDIR: tmp, TSX_DISABLE_CACHE: '1' });
    const ran = await until(async () => (await folderHistory(dir)).some((record) => record.status === 'succeeded'), 20_000);
    assert.equal(await scheduler.stop(), 0, scheduler.output());
    assert.ok(ran, scheduler.output());
    assert.match(scheduler.output(), /quiet: tick \S+ succeeded in [\d.]+ s: rows in 2, out 2, rejected 0/);
  } finally {
    watcher.close();
  }
  assert.deepEqual(created, []);
  assert.deepEqual(await readdir(tmp), []);
});
