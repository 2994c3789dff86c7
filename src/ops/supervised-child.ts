/**
 * A child process of Node over an IPC channel, in its own process group: one request goes in, one
 * report comes back. What the scheduler runs each run in (child-process-executor.ts) and what `etl
 * worker` runs each partition in (distributed/worker.ts), so a crash, a hang or an out-of-memory takes
 * down one run, not the process that started it.
 *
 * The request goes to the child and the report comes back over the IPC channel Node opens between
 * them: no command-line flags to keep in step, and no report file in a shared folder (a predictable
 * name under /tmp can be taken over by another user's symlink). The channel also supervises: when it
 * closes because this process is gone, even by SIGKILL, the child stops (see child-entry.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// Imported before the entry, so that the child can load TypeScript: the pipeline file (and, in a checkout, Sluice).
const REGISTER_TYPESCRIPT = new URL('./register-typescript.js', import.meta.url).href;
/** Of what a child wrote to stderr, the end is kept for the report of a crash. */
const STDERR_KEPT = 4000;

/** How a child ended: its report, or, without one, how the process went (exit code or signal, last lines of stderr). */
export type ChildOutcome<Report> = { report: Report } | { report?: undefined; how: string };

export interface SupervisedChild<Report> {
  readonly pid: number | undefined;
  /** Resolves when the process is gone; never rejects. */
  readonly done: Promise<ChildOutcome<Report>>;
  /** Sends SIGTERM: the child stops what it does and cleans up. */
  stop(): void;
  /** Sends SIGKILL. */
  kill(): void;
}

/** Starts `entry` (an absolute path of a module) and sends it `{ type: 'run', request }`. */
export function startSupervisedChild<Request, Report>(entry: string, request: Request): SupervisedChild<Report> {
  let report: Report | undefined;
  const child = spawnSupervised(entry, (message: { type?: string; report?: Report }) => {
    if (message?.type === 'report') report = message.report;
  });
  const done = child.ended.then((how) => (report !== undefined ? { report } : { how }));
  // A child gone before it read this has its exit reported instead.
  child.process.send({ type: 'run', request }, () => {});
  return { pid: child.process.pid, done, stop: () => child.process.kill('SIGTERM'), kill: () => child.process.kill('SIGKILL') };
}

/**
 * Spawns Node on `entry` in its own process group, with the IPC channel, `onMessage` called for what it
 * sends. `ended` resolves when the process is gone, with how it went: exit code or signal, and the last
 * lines it wrote to stderr (for the report of a crash); it never rejects.
 */
export function spawnSupervised(entry: string, onMessage: (message: any) => void): { process: ChildProcess; ended: Promise<string> } {
  // stdout ignored: the child is quiet; what a crash prints goes to stderr.
  const child = spawn(process.execPath, ['--import', REGISTER_TYPESCRIPT, entry], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], detached: true, serialization: 'json' });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-STDERR_KEPT);
  });
  child.on('message', onMessage);
  const ended = new Promise<string>((resolve) => {
    const gone = (code: number | null, signal: NodeJS.Signals | null) => {
      const how = signal !== null ? `was killed by ${signal}` : code !== null ? `exited with code ${code}` : 'could not be started';
      const lastLines = stderr.trim().split('\n').slice(-3).join(' | ');
      resolve(`${how}${lastLines ? `: ${lastLines}` : ''}`);
    };
    child.on('error', (error) => {
      stderr += error.message;
      // Only a process that never started ends here; a failed kill or send leaves it running.
      if (child.pid === undefined) gone(null, null);
    });
    child.on('close', gone);
  });
  return { process: child, ended };
}

/** The path of a module beside `base` (an `import.meta.url`), in the same tree: dist/ (.js, installed) or src/ (.ts, a checkout). */
export function siblingModule(base: string, name: string): string {
  // The compiler rewrites imports, not URLs: the extension of the module asking says which tree this is.
  const extension = base.endsWith('.ts') ? '.ts' : '.js';
  return fileURLToPath(new URL(`./${name}${extension}`, base));
}

/**
 * The child's side: takes the one request, runs `handle` with a signal that aborts when the parent is
 * gone (the IPC channel closed, even by SIGKILL: no orphan goes on) or on SIGTERM/SIGINT, sends the
 * report back, and exits 1 when it says `failed`. `what` and `parent` name the two for messages.
 */
export function serveOneRequest<Request, Report extends { status: string }>(what: string, parent: string, handle: (request: Request, signal: AbortSignal) => Promise<Report>): void {
  if (process.send === undefined) {
    process.stderr.write(`This process runs ${what}: it is started by ${parent}, with an IPC channel, not by hand.\n`);
    process.exit(2);
  }
  const supervisor = new AbortController();
  const parentGone = () => supervisor.abort(new Error(`the ${parent} that started ${what} is gone`));
  const terminate = (signal: NodeJS.Signals) => supervisor.abort(new Error(`stopped by ${signal}`));
  process.on('disconnect', parentGone);
  process.on('SIGTERM', terminate);
  process.on('SIGINT', terminate);
  process.once('message', async (message: { type: 'run'; request: Request }) => {
    const report = await handle(message.request, supervisor.signal);
    process.off('disconnect', parentGone);
    if (process.connected) {
      await new Promise<void>((resolve) => process.send!({ type: 'report', report }, undefined, {}, () => resolve()));
      process.disconnect();
    }
    process.exitCode = report.status === 'failed' ? 1 : 0;
  });
}
