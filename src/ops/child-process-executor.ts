/**
 * Runs each scheduled run in a child process of its own (src/ops/child-entry.ts), in its own process
 * group. A run that crashes, hangs or runs out of memory takes only its own process down; its report
 * then says how the process ended (exit code or signal, and the last lines it wrote to stderr).
 *
 * The request goes to the child and the report comes back over the IPC channel Node opens between
 * them: no command-line flags to keep in step, and no report file in a shared folder (a predictable
 * name under /tmp can be taken over by another user's symlink). The channel also supervises: when it
 * closes because this process is gone, even by SIGKILL, the child stops its run, so no orphan run holds
 * a lock.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { unrecordedFailure, type Executor, type RunHandle, type RunReport, type RunRequest } from './executor.ts';

/** Messages from the scheduler to a run's process: the one request it is started for. */
export type ToChild = { type: 'run'; request: RunRequest };
/** Messages from a run's process to the scheduler: its report, once, at the end. */
export type ToParent = { type: 'report'; report: RunReport };

// The entry sits beside this module, in the same tree of the package: dist/ (compiled, where the package is
// installed) or src/ (a checkout). The extension says which; the compiler rewrites imports, not URLs.
const EXTENSION = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const CHILD_ENTRY = fileURLToPath(new URL(`./child-entry${EXTENSION}`, import.meta.url));
// Imported before the entry, so that the child can load TypeScript: the pipeline file (and, in a checkout, Sluice).
const REGISTER_TYPESCRIPT = new URL('./register-typescript.js', import.meta.url).href;
/** Of what a run's process wrote to stderr, the end is kept for the report of a crash. */
const STDERR_KEPT = 4000;

export function childProcessExecutor(): Executor {
  return { start: startChild };
}

function startChild(request: RunRequest): RunHandle {
  const startedAt = new Date();
  // stdout ignored: the run is quiet; what a crash prints goes to stderr.
  const child = spawn(process.execPath, ['--import', REGISTER_TYPESCRIPT, CHILD_ENTRY], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], detached: true, serialization: 'json' });
  let report: RunReport | undefined;
  let killedBecause: { code: string; message: string } | undefined;
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-STDERR_KEPT);
  });
  child.on('message', (message: ToParent) => {
    if (message?.type === 'report') report = message.report;
  });
  const done = new Promise<RunReport>((resolve) => {
    const ended = (code: number | null, signal: NodeJS.Signals | null) => {
      if (report !== undefined) return resolve(report);
      // No report: the process crashed, was killed (out of memory, a signal, the scheduler) or never started.
      const how = signal !== null ? `was killed by ${signal}` : code !== null ? `exited with code ${code}` : 'could not be started';
      const lastLines = stderr.trim().split('\n').slice(-3).join(' | ');
      const error = killedBecause ?? { code: 'RUN_PROCESS', message: `the run's process ${how}${lastLines ? `: ${lastLines}` : ''}` };
      resolve(unrecordedFailure(request, startedAt, error, child.pid));
    };
    child.on('error', (error) => {
      stderr += error.message;
      // Only a process that never started ends here; a failed kill or send leaves it running.
      if (child.pid === undefined) ended(null, null);
    });
    child.on('close', ended);
  });
  // A child gone before it read this has its exit reported instead.
  child.send({ type: 'run', request } satisfies ToChild, () => {});
  return {
    label: `pid ${child.pid}`,
    done,
    stop: () => child.kill('SIGTERM'),
    kill(because) {
      killedBecause ??= because;
      child.kill('SIGKILL');
    },
  };
}
