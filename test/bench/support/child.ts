/**
 * Bench cases that run each measurement in a child process of its own (so each has its own peak RSS):
 * the child's side reads its peak from the kernel, the parent's side starts the case file again with
 * `--child …` and reads the result the child prints as its last line of JSON.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';

/** This process's peak RSS as the kernel counts it (VmHWM), in bytes; the current RSS where /proc is missing. */
export async function peakRss(): Promise<number> {
  const status = await readFile('/proc/self/status', 'utf8').catch(() => '');
  const match = /VmHWM:\s+(\d+) kB/.exec(status);
  return match ? Number(match[1]) * 1024 : process.memoryUsage().rss;
}

/** Runs `node --import tsx <file> --child <args…>` and resolves with the JSON of its last stdout line. */
export function runChild<T>(file: string, args: readonly string[]): Promise<T> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--conditions=sluice-source', '--import', 'tsx', file, '--child', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    proc.stdout.on('data', (chunk) => (stdout += chunk));
    proc.on('error', reject);
    proc.on('close', (code) => {
      if (code !== 0) return reject(new Error(`bench child ${args[0]} exited with ${code}`));
      resolve(JSON.parse(stdout.trim().split('\n').pop()!) as T);
    });
  });
}
