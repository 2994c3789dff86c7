/**
 * `overlap: 'queue'` and `catchUp: 'none' | 'latest' | 'all'`, with one real scheduler running four
 * pipelines at once (one process start for all of them keeps the file fast).
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { tempDir } from '../support/fakes.ts';
import { folderHistory, loggedRuns, overlapping, type LoggedRun, startScheduler, timedPipeline, until } from '../support/scheduler.ts';

const HOUR = 3_600_000;

describe('etl schedule: overlap queue and catch-up after missed ticks', () => {
  let dir: string;
  let output: string;
  let history: any[];
  // The catch-up pipelines run hourly at a minute half an hour from now's, so no live tick falls within
  // the test (one at the top of the hour used to add a run); their seeded last run is three ticks back.
  const now = Date.now();
  const minute = (new Date(now).getUTCMinutes() + 30) % 60;
  let latestPastTick = Math.floor(now / HOUR) * HOUR + minute * 60_000;
  if (latestPastTick > now) latestPastTick -= HOUR;
  const lastTick = new Date(latestPastTick - 3 * HOUR).toISOString();
  const logs: Record<string, string> = {};
  /** Each pipeline's runs as its tap logged them, read before the temporary folder goes. */
  const runsOf: Record<string, LoggedRun[]> = {};

  before(async () => {
    dir = await tempDir('sluice-policies-');
    // Every second, 2.5 s a run: while one runs, one tick waits and the others are skipped.
    logs.queued = (await timedPipeline(dir, 'queued', `schedule: '* * * * * *', overlap: 'queue'`, 2500)).log;
    // Hourly in UTC, last run three ticks ago: the scheduler "was down" for the ticks since.
    for (const policy of ['none', 'latest', 'all']) {
      logs[policy] = (await timedPipeline(dir, `catch_${policy}`, `schedule: '${minute} * * * *', timezone: 'UTC', catchUp: '${policy}'`, 200)).log;
    }
    await mkdir(join(dir, '.sluice'));
    const seed = ['none', 'latest', 'all'].map((policy) =>
      JSON.stringify({ pipeline: `catch_${policy}`, status: 'succeeded', trigger: 'schedule', tick: lastTick, startedAt: lastTick, endedAt: lastTick, rowsIn: 2, rowsOut: 2, rowsRejected: 0, peakRss: 0 }),
    );
    await writeFile(join(dir, '.sluice', 'runs.ndjson'), `${seed.join('\n')}\n`);

    const scheduler = startScheduler([dir, '--shutdown-timeout', '10000']);
    const missed = () => Number(/catch_all: (\d+) tick\(s\) missed/.exec(scheduler.output())?.[1] ?? Infinity);
    const done = await until(async () => {
      const records = await folderHistory(dir);
      const catchUps = records.filter((record) => record.pipeline === 'catch_all' && record.trigger === 'catch-up').length;
      const queuedRuns = (await loggedRuns(logs.queued)).filter((run) => run.end !== undefined).length;
      return catchUps >= missed() && queuedRuns >= 2 && /queued: tick \S+ skipped/.test(scheduler.output());
    }, 30_000);
    const code = await scheduler.stop();
    output = scheduler.output();
    assert.ok(done, `the scheduler did the expected runs in time:\n${output}`);
    assert.equal(code, 0, output);
    history = await folderHistory(dir);
    for (const [key, log] of Object.entries(logs)) runsOf[key] = await loggedRuns(log);
  });

  test("overlap: 'queue' keeps one waiting run at most: it starts as soon as the running one ends; ticks meanwhile are skipped, logged and recorded", async () => {
    const runs = runsOf.queued;
    assert.equal(overlapping(runs), undefined, output);
    // Replay the scheduler's log: a tick is queued only when none waits, is skipped only when one waits,
    // and the waiting one is what starts next.
    const lines = output.split('\n').filter((line) => line.includes(' queued: tick '));
    let waiting: string | undefined;
    let queuedCount = 0;
    let skippedCount = 0;
    let lastEnd: number | undefined;
    for (const line of lines) {
      const [at, , , tick, ...rest] = line.split(' ');
      const what = rest.join(' ');
      if (what === 'queued (previous run still going)') {
        assert.equal(waiting, undefined, `a second run was queued while ${waiting} waited:\n${lines.join('\n')}`);
        waiting = tick;
        queuedCount++;
      } else if (what.startsWith('skipped: ')) {
        assert.equal(what, 'skipped: previous run still going and one run already queued (overlap: queue)');
        assert.notEqual(waiting, undefined, `skipped while nothing waited:\n${lines.join('\n')}`);
        skippedCount++;
      } else if (what.startsWith('started')) {
        if (waiting !== undefined) {
          assert.equal(tick, waiting, 'the waiting tick is the one that starts');
          // Started when the previous run ended, not at the next tick.
          assert.ok(lastEnd !== undefined && Date.parse(at) - lastEnd < 900, `the queued run started ${Date.parse(at) - lastEnd!} ms after the previous one ended:\n${lines.join('\n')}`);
          waiting = undefined;
        }
      } else if (what.startsWith('succeeded')) {
        lastEnd = Date.parse(at);
      }
    }
    assert.ok(queuedCount >= 1 && skippedCount >= 1, lines.join('\n'));
    const records = history.filter((record) => record.pipeline === 'queued');
    assert.equal(records.filter((record) => record.status === 'skipped').length, skippedCount, 'every skipped tick is recorded');
    for (const record of records.filter((record) => record.status === 'skipped')) assert.match(record.note, /one run already queued \(overlap: queue\)/);
    const succeeded = records.filter((record) => record.status === 'succeeded');
    assert.equal(succeeded.length, runs.length);
    // The queued run ran for its own tick (recorded as such), a tick that had passed when it started.
    const late = succeeded.filter((record) => Date.parse(record.startedAt) - Date.parse(record.tick) > 1500);
    assert.ok(late.length >= 1, JSON.stringify(succeeded, null, 2));
  });

  /** The ticks missed since the seeded run, as the scheduler logged their number. */
  function missedTicks(name: string): string[] {
    const count = Number(new RegExp(`${name}: (\\d+) tick\\(s\\) missed since ${lastTick.replace(/[.]/g, '\\.')}`).exec(output)?.[1]);
    assert.equal(count, 3, output);
    return Array.from({ length: count }, (_, k) => new Date(Date.parse(lastTick) + (k + 1) * HOUR).toISOString());
  }

  test("catchUp: 'none' runs none of the missed ticks, and says so", async () => {
    const missed = missedTicks('catch_none');
    assert.match(output, new RegExp(`catch_none: ${missed.length} tick\\(s\\) missed since \\S+; catchUp none: none run`));
    assert.deepEqual(runsOf.none.length, 0);
    assert.deepEqual(history.filter((record) => record.pipeline === 'catch_none').length, 1, 'only the seeded record');
  });

  test("catchUp: 'latest' runs once, for the latest missed tick", async () => {
    const missed = missedTicks('catch_latest');
    assert.match(output, new RegExp(`catch_latest: ${missed.length} tick\\(s\\) missed since \\S+; catchUp latest: running 1`));
    const records = history.filter((record) => record.pipeline === 'catch_latest' && record.trigger === 'catch-up');
    assert.deepEqual(records.map((record) => [record.tick, record.status]), [[missed.at(-1), 'succeeded']]);
    assert.equal(runsOf.latest.length, 1);
  });

  test("catchUp: 'all' runs once per missed tick, oldest first, one after the other", async () => {
    const missed = missedTicks('catch_all');
    assert.match(output, new RegExp(`catch_all: ${missed.length} tick\\(s\\) missed since \\S+; catchUp all: running ${missed.length}`));
    const records = history.filter((record) => record.pipeline === 'catch_all' && record.trigger === 'catch-up');
    assert.deepEqual(records.map((record) => [record.tick, record.status]), missed.map((tick) => [tick, 'succeeded']));
    const runs = runsOf.all;
    assert.equal(runs.length, missed.length);
    assert.equal(overlapping(runs), undefined);
  });
});
