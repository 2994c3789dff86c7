/**
 * Helpers for tests of `etl schedule` with real processes: start the scheduler, wait for a condition,
 * write pipeline files whose runs log their intervals, read a folder state store's history. And an
 * executor that runs nothing, for tests of the cron code alone.
 */
import type { ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Executor, RunReport, RunRequest } from '../../src/ops/executor.ts';
import { startEtl } from './cli.ts';

export interface RunningScheduler {
  child: ChildProcess;
  /** Everything it printed so far (stdout and stderr). */
  output: () => string;
  /** Resolves with the exit code when it ends. */
  exited: Promise<number | null>;
  /** Sends SIGTERM and waits for the scheduler to end. */
  stop(): Promise<number | null>;
}

export function startScheduler(args: string[], maxMs = 60_000, env: NodeJS.ProcessEnv = {}): RunningScheduler {
  const { child, output, exited } = startEtl(['schedule', ...args], maxMs, env);
  return {
    child,
    output,
    exited,
    async stop() {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `done()` holds (polled), at most `maxMs`: timing on a busy machine varies. */
export async function until(done: () => boolean | Promise<boolean>, maxMs: number): Promise<boolean> {
  const deadline = Date.now() + maxMs;
  while (Date.now() < deadline) {
    if (await done()) return true;
    await sleep(150);
  }
  return false;
}

/** A run's interval as a pipeline's tap stage logged it: `start <pid> <ms>` … `end <pid> <ms>`. */
export interface LoggedRun {
  pid: string;
  start: number;
  end?: number;
}

export async function loggedRuns(log: string): Promise<LoggedRun[]> {
  const text = await readFile(log, 'utf8').catch(() => '');
  const runs: LoggedRun[] = [];
  for (const [event, pid, at] of text.trim().split('\n').filter(Boolean).map((line) => line.split(' '))) {
    if (event === 'start') runs.push({ pid, start: Number(at) });
    else if (event === 'end') runs.find((run) => run.pid === pid && run.end === undefined)!.end = Number(at);
  }
  return runs;
}

/** Folder state store history, in file order (the order runs ended). */
export async function folderHistory(dir: string): Promise<any[]> {
  const text = await readFile(join(dir, '.sluice', 'runs.ndjson'), 'utf8').catch(() => '');
  return text.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line));
}

/**
 * A pipeline file reading a two-row CSV whose tap stage logs "start"/"end" lines around a wait of
 * `runMs`, writing `<name>.out.csv`. `options` is pasted into `pipeline({ … })`.
 */
export async function timedPipeline(dir: string, name: string, options: string, runMs: number): Promise<{ file: string; log: string; output: string }> {
  const log = join(dir, `${name}.log`);
  const file = join(dir, `${name}.ts`);
  const output = join(dir, `${name}.out.csv`);
  await writeFile(join(dir, `${name}.in.csv`), 'id,name\n1,a\n2,b\n');
  await writeFile(
    file,
    `import { appendFileSync } from 'node:fs';
import { csv, pipeline, toCsv } from 'sluice';
export default pipeline({ name: ${JSON.stringify(name)}, ${options} })
  .from(csv(${JSON.stringify(join(dir, `${name}.in.csv`))}))
  .tap(async () => {
    appendFileSync(${JSON.stringify(log)}, \`start \${process.pid} \${Date.now()}\\n\`);
    await new Promise((resolve) => setTimeout(resolve, ${runMs}));
    appendFileSync(${JSON.stringify(log)}, \`end \${process.pid} \${Date.now()}\\n\`);
  })
  .to(toCsv(${JSON.stringify(output)}));
`,
  );
  return { file, log, output };
}

/** Asserts-friendly: the runs never overlap (each starts after the previous ended). */
export function overlapping(runs: readonly LoggedRun[]): string | undefined {
  for (let k = 1; k < runs.length; k++) {
    const previous = runs[k - 1];
    if (previous.end === undefined || runs[k].start < previous.end) return `run ${runs[k].pid} started while run ${previous.pid} was going`;
  }
  return undefined;
}

/** A run a {@link FakeExecutor} was asked for, and what became of it. */
export interface FakeRun {
  request: RunRequest;
  startedAt: number;
  endedAt?: number;
  /** Times `stop()` and `kill()` were called (epoch ms), and what kill gave as the reason. */
  stoppedAt?: number;
  killedAt?: number;
  killedBecause?: { code: string; message: string };
  report?: RunReport;
}

/** How a fake run goes: it takes `ms` (Infinity: until stopped or killed), and may not heed `stop()`. */
export interface FakeBehaviour {
  ms: number;
  ignoresStop?: boolean;
}

export interface FakeExecutor extends Executor {
  /** Every run asked for, in the order asked. */
  runs: FakeRun[];
}

/**
 * An executor that runs nothing: each run waits, then reports success with two rows, unrecorded (so the
 * scheduler records it). Stopped, it reports ABORTED; killed, the reason it was given.
 */
export function fakeExecutor(behaviour: (request: RunRequest) => FakeBehaviour): FakeExecutor {
  const runs: FakeRun[] = [];
  return {
    runs,
    start(request) {
      const run: FakeRun = { request, startedAt: Date.now() };
      runs.push(run);
      const { ms, ignoresStop = false } = behaviour(request);
      let end!: (status: 'succeeded' | 'failed', error?: { code: string; message: string }) => void;
      const done = new Promise<RunReport>((resolve) => {
        const timer = Number.isFinite(ms) ? setTimeout(() => end('succeeded'), ms) : undefined;
        end = (status, error) => {
          if (run.report !== undefined) return;
          clearTimeout(timer);
          run.endedAt = Date.now();
          const rows = status === 'succeeded' ? 2 : 0;
          const record = { pipeline: request.pipeline, status, trigger: request.trigger, tick: request.tick, startedAt: new Date(run.startedAt).toISOString(), endedAt: new Date(run.endedAt).toISOString(), rowsIn: rows, rowsOut: rows, rowsRejected: 0, peakRss: 0, error };
          run.report = { status, error, record, recorded: false };
          resolve(run.report);
        };
      });
      return {
        label: `fake run ${runs.length}`,
        done,
        stop() {
          run.stoppedAt ??= Date.now();
          if (!ignoresStop) end('failed', { code: 'ABORTED', message: 'stopped' });
        },
        kill(because) {
          run.killedAt ??= Date.now();
          run.killedBecause = because;
          end('failed', because ?? { code: 'RUN_PROCESS', message: 'killed' });
        },
      };
    },
  };
}
