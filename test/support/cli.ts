import { spawn, type ChildProcess } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const etl = fileURLToPath(new URL('../../bin/etl.js', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Peak RSS of the child as the kernel counts it (VmHWM), in bytes, when it could be read. */
  peakRss?: number;
}

/**
 * Runs the real `etl` command as a child process on the same Node as the tests (Node 22). Reads the
 * child's VmHWM from /proc just before it exits, to compare with what the summary reports.
 */
export function runCli(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; onSpawn?: (pid: number) => void } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [etl, ...args], {
      cwd: options.cwd ?? repoRoot,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    if (child.pid !== undefined) options.onSpawn?.(child.pid);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/**
 * Top lines for a pipeline file run by {@link runCli}: they print the process's peak RSS as the kernel
 * counts it (VmHWM) on stderr as it exits, for {@link peakRssOf}.
 */
export const PRINT_PEAK_RSS = `import { readFileSync } from 'node:fs';
process.on('exit', () => {
  const status = readFileSync('/proc/self/status', 'utf8');
  process.stderr.write('VmHWM ' + Number(/VmHWM:\\s+(\\d+)/.exec(status)![1]) * 1024 + '\\n');
});
`;

/** The peak RSS, in bytes, a pipeline file with {@link PRINT_PEAK_RSS} printed. */
export function peakRssOf(result: CliResult): number {
  const match = /VmHWM (\d+)/.exec(result.stderr);
  if (match === null) throw new Error(`no VmHWM line in the output: ${result.stderr}`);
  return Number(match[1]);
}

export interface EtlProcess {
  child: ChildProcess;
  pid: number;
  /** Everything it printed so far (stdout and stderr). */
  output: () => string;
  /** Resolves with the exit code when it ends. */
  exited: Promise<number | null>;
}

/** Starts `etl <args>` (a scheduler, a worker: a command that goes on), killed after `maxMs` at the latest. */
export function startEtl(args: string[], maxMs: number, env: NodeJS.ProcessEnv = {}): EtlProcess {
  const child = spawn(process.execPath, [etl, ...args], { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk) => (output += chunk));
  const killer = setTimeout(() => child.kill('SIGKILL'), maxMs);
  const exited = new Promise<number | null>((resolve) =>
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve(code);
    }),
  );
  return { child, pid: child.pid!, output: () => output, exited };
}

/** Every file under `folder`, at any depth. */
export async function filesUnder(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
}

/**
 * Runs `etl` with `args` and sends it SIGINT once a file ending in `suffix` appears under `folder` (a
 * spill file: the stage is spilling); `written` is false when none appeared within `waitMs`.
 */
export async function interruptOnceWritten(args: string[], folder: string, suffix: string, waitMs = 120_000): Promise<{ result: CliResult; written: boolean }> {
  let pid = 0;
  // Generous timeouts: the machine running the tests may be shared and slow.
  const running = runCli(args, { onSpawn: (childPid) => (pid = childPid), timeoutMs: 300_000 });
  const deadline = Date.now() + waitMs;
  let written = false;
  while (!written && Date.now() < deadline) {
    written = (await filesUnder(folder)).some((path) => path.endsWith(suffix));
    if (!written) await new Promise((resolve) => setTimeout(resolve, 25));
  }
  if (written) process.kill(pid, 'SIGINT');
  return { result: await running, written };
}
