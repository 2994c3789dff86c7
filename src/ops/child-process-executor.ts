/**
 * Runs each scheduled run in a child process of its own (src/ops/child-entry.ts, started by
 * supervised-child.ts), in its own process group. A run that crashes, hangs or runs out of memory takes
 * only its own process down; its report then says how the process ended (exit code or signal, and the
 * last lines it wrote to stderr). When the scheduler is gone, even by SIGKILL, the child stops its run,
 * so no orphan run holds a lock.
 */
import { unrecordedFailure, type Executor, type RunHandle, type RunReport, type RunRequest } from './executor.ts';
import { siblingModule, startSupervisedChild } from './supervised-child.ts';

const CHILD_ENTRY = siblingModule(import.meta.url, 'child-entry');

export function childProcessExecutor(): Executor {
  return { start: startChild };
}

function startChild(request: RunRequest): RunHandle {
  const startedAt = new Date();
  const child = startSupervisedChild<RunRequest, RunReport>(CHILD_ENTRY, request);
  let killedBecause: { code: string; message: string } | undefined;
  const done = child.done.then((outcome) => {
    if (outcome.report !== undefined) return outcome.report;
    const error = killedBecause ?? { code: 'RUN_PROCESS', message: `the run's process ${outcome.how}` };
    return unrecordedFailure(request, startedAt, error, child.pid);
  });
  return {
    label: `pid ${child.pid}`,
    done,
    stop: () => child.stop(),
    kill(because) {
      killedBecause ??= because;
      child.kill();
    },
  };
}
