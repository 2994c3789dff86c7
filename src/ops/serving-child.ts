/**
 * A supervised child process (supervised-child.ts) that serves request after request, one at a time,
 * instead of one: what `etl worker` runs its partitions in, a process per slot, so that a partition
 * does not pay for starting Node and loading Sluice and the pipeline (about a second of CPU each). It
 * stays as isolated as one process per request where it matters: a crash, an out-of-memory or a kill
 * takes down the one request it was serving, and the next request gets a new process.
 *
 * Protocol over the IPC channel: `{ type: 'prepare', data }` (once, before the first request: work the
 * child may do ahead, such as loading modules), `{ type: 'run', id, request }` answered by
 * `{ type: 'report', id, report }`, and `{ type: 'cancel', id }` to stop that request only.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { ChildOutcome } from './supervised-child.ts';
import { spawnSupervised } from './supervised-child.ts';

export interface ServingChild<Request, Report> {
  readonly pid: number | undefined;
  /** False once the process is gone (or going): it takes no more requests. */
  readonly alive: boolean;
  /** Runs one request; resolves with its report, or how the process ended without one. Never rejects. */
  request(request: Request): Promise<ChildOutcome<Report>>;
  /** Asks the child to stop the request it is serving; the process stays for the next one. */
  cancel(): void;
  /** Sends SIGTERM: the child stops the request it serves, reports, and exits. */
  stop(): void;
  /** Sends SIGKILL. */
  kill(): void;
  /** Resolves once the child has done its `prepare` (or is gone). */
  readonly ready: Promise<void>;
  /** Resolves when the process is gone. */
  readonly exited: Promise<string>;
}

/** Starts `entry` (an absolute path of a module that calls {@link serveRequests}) and sends it `prepare`. */
export function startServingChild<Request, Report>(entry: string, prepare?: unknown): ServingChild<Request, Report> {
  const waiting = new Map<number, (report: Report) => void>();
  let next = 0;
  let current: number | undefined;
  let alive = true;
  let prepared = () => {};
  const ready = new Promise<void>((resolve) => (prepared = resolve));
  const child = spawnSupervised(entry, (message: { type?: string; id?: number; report?: Report }) => {
    if (message?.type === 'prepared') prepared();
    if (message?.type !== 'report' || message.id === undefined) return;
    waiting.get(message.id)?.(message.report!);
    waiting.delete(message.id);
  });
  const exited = child.ended.then((how) => {
    alive = false;
    prepared();
    return how;
  });
  if (prepare !== undefined) child.process.send({ type: 'prepare', data: prepare }, () => {});
  else prepared();
  return {
    get pid() {
      return child.process.pid;
    },
    get alive() {
      return alive;
    },
    exited,
    ready,
    request(request) {
      const id = next++;
      current = id;
      const reported = new Promise<ChildOutcome<Report>>((resolve) => waiting.set(id, (report) => resolve({ report })));
      // A process gone before it answered: how it went instead of a report.
      const outcome = Promise.race([reported, exited.then((how) => ({ how }))]);
      if (alive) child.process.send({ type: 'run', id, request }, () => {});
      return outcome.finally(() => {
        waiting.delete(id);
        if (current === id) current = undefined;
      });
    },
    cancel() {
      if (current !== undefined && alive) child.process.send({ type: 'cancel', id: current }, () => {});
    },
    stop() {
      alive = false;
      child.process.kill('SIGTERM');
    },
    kill() {
      alive = false;
      child.process.kill('SIGKILL');
    },
  };
}

/**
 * The child's side: serves requests one at a time with `handle`, each with a signal that aborts on its
 * `cancel`, when the parent is gone (the IPC channel closed, even by SIGKILL: no orphan goes on) and on
 * SIGTERM/SIGINT; after those two, it sends the report of the request it was serving and exits.
 * `prepare` gets the parent's `prepare` data first (answered by `{ type: 'prepared' }`); requests wait for it. `what` and `parent` name the
 * two for messages.
 */
export function serveRequests<Request, Report extends { status: string }>(
  what: string,
  parent: string,
  handle: (request: Request, signal: AbortSignal) => Promise<Report>,
  prepare?: (data: unknown) => Promise<void>,
): void {
  if (process.send === undefined) {
    process.stderr.write(`This process runs ${what}: it is started by ${parent}, with an IPC channel, not by hand.\n`);
    process.exit(2);
  }
  const supervisor = new AbortController();
  let prepared: Promise<void> = Promise.resolve();
  let serving: { id: number; controller: AbortController } | undefined;
  const leave = async () => {
    if (process.connected) process.disconnect();
    // What the requests left open (a pool, a timer) must not keep an orphan alive.
    await delay(5000, undefined, { ref: false });
    process.exit(process.exitCode ?? 0);
  };
  const end = (reason: Error) => {
    supervisor.abort(reason);
    if (serving === undefined) void leave();
  };
  process.on('disconnect', () => end(new Error(`the ${parent} that started ${what} is gone`)));
  process.on('SIGTERM', () => end(new Error('stopped by SIGTERM')));
  process.on('SIGINT', () => end(new Error('stopped by SIGINT')));
  process.on('message', async (message: { type: string; id?: number; request?: Request; data?: unknown }) => {
    if (message.type === 'prepare' && prepare !== undefined) {
      // A failed preparation is not fatal: the request that needs it meets the same error and reports it.
      prepared = prepare(message.data)
        .catch(() => {})
        .then(() => {
          if (process.connected) process.send!({ type: 'prepared' }, undefined, {}, () => {});
        });
    } else if (message.type === 'cancel') {
      const current = serving;
      if (current !== undefined && current.id === message.id) current.controller.abort(new Error(`${what} was cancelled by the ${parent}`));
    } else if (message.type === 'run') {
      const controller = new AbortController();
      const onEnd = () => controller.abort(supervisor.signal.reason);
      supervisor.signal.addEventListener('abort', onEnd, { once: true });
      if (supervisor.signal.aborted) onEnd();
      serving = { id: message.id!, controller };
      let report: Report;
      try {
        await prepared;
        report = await handle(message.request!, controller.signal);
      } finally {
        supervisor.signal.removeEventListener('abort', onEnd);
        serving = undefined;
      }
      if (process.connected) await new Promise<void>((resolve) => process.send!({ type: 'report', id: message.id, report }, undefined, {}, () => resolve()));
      if (supervisor.signal.aborted) {
        process.exitCode = report.status === 'failed' ? 1 : 0;
        await leave();
      }
    }
  });
}
