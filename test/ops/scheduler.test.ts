import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { repoRoot } from '../support/cli.ts';
import { testSchema } from '../support/db.ts';
import { tempDir } from '../support/fakes.ts';

const etl = fileURLToPath(new URL('../../bin/etl.js', import.meta.url));

interface Scheduler {
  child: ChildProcess;
  output: () => string;
  /** Sends SIGTERM and waits for the scheduler to end. */
  stop(): Promise<number | null>;
}

function startScheduler(args: string[]): Scheduler {
  const child = spawn(process.execPath, [etl, 'schedule', ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk) => (output += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const killer = setTimeout(() => child.kill('SIGKILL'), 50_000);
  return {
    child,
    output: () => output,
    async stop() {
      child.kill('SIGTERM');
      const code = await exited;
      clearTimeout(killer);
      return code;
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `done()` holds (polled), at most `maxMs`: timing on a busy machine varies. */
async function until(done: () => Promise<boolean>, maxMs: number): Promise<void> {
  const deadline = Date.now() + maxMs;
  while (Date.now() < deadline && !(await done())) await sleep(250);
}

const startsIn = async (log: string) => ((await readFile(log, 'utf8').catch(() => '')).match(/^start /gm) ?? []).length;

/**
 * A pipeline whose run takes `runMs`: a tap stage appends "start <pid> <ms>" and "end <pid> <ms>" to a
 * log, so the test sees every run's interval whoever started it.
 */
async function slowPipeline(dir: string, name: string, schedule: string, runMs: number, extra = ''): Promise<{ file: string; log: string }> {
  const log = join(dir, `${name}.log`);
  const file = join(dir, `${name}.ts`);
  await writeFile(join(dir, 'in.csv'), 'id,name\n1,a\n2,b\n');
  await writeFile(
    file,
    `import { appendFileSync } from 'node:fs';
import { csv, pipeline, toCsv } from 'sluice';
export default pipeline({ name: ${JSON.stringify(name)}, schedule: ${JSON.stringify(schedule)}${extra} })
  .from(csv(${JSON.stringify(join(dir, 'in.csv'))}))
  .tap(async () => {
    appendFileSync(${JSON.stringify(log)}, \`start \${process.pid} \${Date.now()}\\n\`);
    await new Promise((resolve) => setTimeout(resolve, ${runMs}));
    appendFileSync(${JSON.stringify(log)}, \`end \${process.pid} \${Date.now()}\\n\`);
  })
  .to(toCsv(${JSON.stringify(join(dir, `${name}.out.csv`))}));
`,
  );
  return { file, log };
}

/** Run intervals from the log; asserts that none starts before the previous one ended. */
async function assertNeverTwoAtOnce(log: string): Promise<number> {
  const lines = (await readFile(log, 'utf8')).trim().split('\n').map((line) => line.split(' '));
  let open: string | undefined;
  let runs = 0;
  for (const [event, pid] of lines) {
    if (event === 'start') {
      assert.equal(open, undefined, `run ${pid} started while run ${open} was going:\n${lines.join('\n')}`);
      open = pid;
      runs++;
    } else {
      assert.equal(pid, open);
      open = undefined;
    }
  }
  assert.equal(open, undefined, 'the last run finished before the scheduler stopped');
  return runs;
}

describe('etl schedule', () => {
  test('a pipeline due every second whose run takes 3 s never runs twice at once; the ticks in between are skipped, logged and recorded', async () => {
    const dir = await tempDir('sluice-schedule-');
    const { file, log } = await slowPipeline(dir, 'every_second', '* * * * * *', 3000);
    const scheduler = startScheduler([file, '--shutdown-timeout', '10000']);
    // Two runs started: the second one starts only after the first has ended, ticks in between skipped.
    await until(async () => (await startsIn(log)) >= 2, 20_000);
    const code = await scheduler.stop();
    const output = scheduler.output();
    assert.equal(code, 0, output);
    const runs = await assertNeverTwoAtOnce(log);
    assert.ok(runs >= 2, `at least two runs:\n${output}`);
    const skippedLines = output.match(/every_second: tick \S+ skipped: previous run still going \(overlap: skip\)/g) ?? [];
    assert.ok(skippedLines.length >= 3, output);
    assert.match(output, /stopping: no new runs; waiting up to 10000 ms for every_second/);
    assert.match(output, /stopped\n/);
    const records = (await readFile(join(dir, '.sluice', 'runs.ndjson'), 'utf8')).trim().split('\n').map((line) => JSON.parse(line));
    const succeeded = records.filter((record) => record.status === 'succeeded');
    const skipped = records.filter((record) => record.status === 'skipped');
    assert.equal(succeeded.length, runs, 'every run is in the history');
    assert.equal(skipped.length, skippedLines.length, 'every skipped tick is in the history');
    for (const record of [...succeeded, ...skipped]) {
      assert.equal(record.trigger, 'schedule');
      assert.match(record.tick, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
    }
    assert.equal(new Set(records.map((record) => record.tick)).size, records.length, 'one record per tick');
  });

  test('two schedulers on the same pipelines (PostgreSQL state): each tick runs at most once (exactly once unless the previous run was still going), never two at once', async () => {
    const db = await testSchema('two_schedulers');
    const dir = await tempDir('sluice-schedule2-');
    const state = `, state: { connection: ${JSON.stringify(db.url)}, schema: ${JSON.stringify(db.schema)} }`;
    const first = await slowPipeline(dir, 'shared_a', '*/2 * * * * *', 300, state);
    const second = await slowPipeline(dir, 'shared_b', '1-59/2 * * * * *', 300, state);
    const schedulers = [startScheduler([dir, '--memory', '512MB']), startScheduler([dir, '--memory', '512MB'])];
    await until(async () => (await startsIn(first.log)) >= 3 && (await startsIn(second.log)) >= 3, 25_000);
    const codes = await Promise.all(schedulers.map((scheduler) => scheduler.stop()));
    assert.deepEqual(codes, [0, 0], schedulers.map((scheduler) => scheduler.output()).join('\n----\n'));
    for (const { log } of [first, second]) await assertNeverTwoAtOnce(log);
    const runs = await db.query<{ pipeline: string; tick: Date; succeeded: string; skipped: string }>(
      `select pipeline, tick, count(*) filter (where status = 'succeeded') as succeeded, count(*) filter (where status = 'skipped') as skipped
         from "${db.schema}".sluice_runs group by pipeline, tick order by pipeline, tick`,
    );
    for (const pipeline of ['shared_a', 'shared_b']) {
      const ticks = runs.rows.filter((row) => row.pipeline === pipeline);
      const notes = await db.query<{ tick: Date; status: string; note: string | null }>(
        `select tick, status, coalesce(note, error::text) as note from "${db.schema}".sluice_runs where pipeline = $1 order by tick, id`,
        [pipeline],
      );
      const detail = notes.rows.map((row) => `${row.tick.toISOString()} ${row.status} ${row.note ?? ''}`).join('\n');
      for (const tick of ticks) {
        // Both schedulers fired every tick: one ran it, the other was kept out by the lock or the tick
        // record. A tick can go unrun only when the previous run was still going (overlap: skip).
        assert.ok(Number(tick.succeeded) <= 1, `${pipeline} tick ${tick.tick.toISOString()} ran ${tick.succeeded} times:\n${detail}`);
        if (Number(tick.succeeded) === 0) {
          const reasons = notes.rows.filter((row) => row.tick.getTime() === tick.tick.getTime()).map((row) => row.note ?? '');
          assert.ok(reasons.length > 0 && reasons.every((reason) => /previous run still going|already running/.test(reason)), detail);
        }
      }
      const ran = ticks.filter((tick) => Number(tick.succeeded) === 1).length;
      assert.ok(ran >= 3, `${pipeline}: at least 3 ticks ran:\n${detail}`);
      const lines = (await readFile(join(dir, `${pipeline}.log`), 'utf8')).trim().split('\n');
      assert.equal(lines.length / 2, ran, `${pipeline}: one run per tick that ran`);
    }
  });
});
