/**
 * Memory bench (issue 4): the bench pipeline (CSV → schema → filter → derive → CSV) run as a child
 * `etl run --memory 128MB` on generated orders files, its peak RSS as the OS reports it
 * (/usr/bin/time -v, else VmHWM from /proc) above the idle baseline of the same command on a tiny
 * file; the naive contrast (fs.readFile + csv-parse/sync); eight pipelines under one 256MB budget.
 *
 *   npm run bench -- memory [--size 1GB | --sizes 1GB,8GB] [--repeat 1] [--memory 128MB] [--naive-max 2GB] [--keep]
 *
 * `--sizes` runs the pipeline on each size (smallest first) and adds the flatness figure: how far the
 * largest file's peak above idle is from the smallest's, in % of the smaller (acceptance: ≤ 10%, the
 * peak must not grow with the input). The naive read, the profile estimate and the eight pipelines
 * (each on 1/8 of it) use the smallest size; the naive read is skipped above --naive-max. A peak moves
 * by a few MB from one run to the next: `--repeat N` runs each size N times and keeps the median.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatBytes, parseBytes } from '../../../src/core/bytes.ts';
import { profile } from '../../../src/profile/profile.ts';
import type { RunSummary } from '../../../src/runtime/summary.ts';
import type { BenchOptions, BenchResult } from '../main.ts';
import { median } from '../support/runs.ts';
import { Order, writeOrdersCsv } from '../support/orders.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const etl = join(root, 'bin/etl.js');
const pipelineFile = join(root, 'test/bench/pipelines/orders.ts');
const MB = 1024 * 1024;

interface Measured {
  exitCode: number | null;
  peakRss: number;
  elapsedMs: number;
  /** User + system CPU seconds, when /usr/bin/time reports them. */
  cpuSeconds?: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Runs a command as a child and reads its peak RSS as the OS keeps it. */
export async function measure(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 30 * 60_000): Promise<Measured> {
  const useTime = existsSync('/usr/bin/time');
  const command = useTime ? '/usr/bin/time' : process.execPath;
  const argv = useTime ? ['-v', process.execPath, ...args] : args;
  const started = Date.now();
  const child = spawn(command, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  let polled = 0;
  // Without /usr/bin/time, the child's own high-water mark, read while it runs.
  const poll = useTime
    ? undefined
    : setInterval(async () => {
        try {
          const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
          const match = /VmHWM:\s+(\d+) kB/.exec(status);
          if (match) polled = Math.max(polled, Number(match[1]) * 1024);
        } catch {}
      }, 50);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  const exitCode = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearTimeout(timer);
  if (poll) clearInterval(poll);
  const timeMatch = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
  const user = /User time \(seconds\): ([\d.]+)/.exec(stderr);
  const system = /System time \(seconds\): ([\d.]+)/.exec(stderr);
  const cpuSeconds = user && system ? Number(user[1]) + Number(system[1]) : undefined;
  return { exitCode, peakRss: timeMatch ? Number(timeMatch[1]) * 1024 : polled, elapsedMs: Date.now() - started, cpuSeconds, stdout, stderr, timedOut };
}

async function etlRun(input: string, output: string, report: string, memory: string): Promise<Measured & { summary: RunSummary }> {
  const measured = await measure([etl, 'run', pipelineFile, '--memory', memory, '--report', report, '--quiet'], {
    SLUICE_BENCH_INPUT: input,
    SLUICE_BENCH_OUTPUT: output,
  });
  if (measured.exitCode !== 0) throw new Error(`etl run failed (${measured.exitCode}): ${measured.stderr}`);
  return { ...measured, summary: JSON.parse(await readFile(report, 'utf8')) as RunSummary };
}

export async function run({ values, log }: BenchOptions): Promise<BenchResult[]> {
  const sizes = parseSizes(values);
  const size = sizes[0];
  const memory = String(values.memory ?? '128MB');
  const budget = parseBytes(memory, '--memory');
  const naiveMax = parseBytes(String(values['naive-max'] ?? '2GB'), '--naive-max');
  const dir = join(tmpdir(), 'sluice-bench-memory');
  await mkdir(dir, { recursive: true });
  const inputs = sizes.map((bytes) => join(dir, `orders-${bytes}.csv`));
  const big = inputs[0];
  const tiny = join(dir, 'orders-tiny.csv');
  const eighth = join(dir, `orders-${Math.round(size / 8)}.csv`);
  const results: BenchResult[] = [];
  const add = (name: string, value: number, unit: string, note?: string) => results.push({ case: 'memory', name, value, unit, note });
  const mb = (bytes: number) => Number((bytes / MB).toFixed(1));
  // With several sizes, each size's figures carry its size in their name.
  const label = (bytes: number) => (sizes.length > 1 ? ` (${formatBytes(bytes)})` : '');
  try {
    for (const [file, bytes] of [
      ...sizes.map((bytes, k) => [inputs[k], bytes] as const),
      [tiny, 64 * 1024],
      [eighth, Math.round(size / 8)],
    ] as const) {
      const known = await stat(file).catch(() => undefined);
      if (known === undefined || Math.abs(known.size - bytes) > 1024) {
        log(`generating ${file} (${mb(bytes)} MB)`);
        await writeOrdersCsv(file, bytes);
      }
    }

    // The idle peak moves by several MB from one start to the next (code loaded, heap sized): the median
    // of a few runs, so one lucky or unlucky start does not shift every figure above it.
    log(`idle baseline: etl run on a tiny file, ${IDLE_RUNS} times`);
    const idlePeaks: number[] = [];
    for (let k = 0; k < IDLE_RUNS; k++) idlePeaks.push((await etlRun(tiny, join(dir, 'out-tiny.csv'), join(dir, 'tiny.json'), memory)).peakRss);
    const idle = { peakRss: median(idlePeaks) };
    add('idle baseline RSS (tiny file)', mb(idle.peakRss), 'MB', `median of ${idlePeaks.map(mb).join(', ')} MB: etl run of the same pipeline on 64 KB; the OS figure`);

    const repeat = Math.max(1, Number(values.repeat ?? 1));
    const aboveIdle: number[] = [];
    const peaks: number[] = [];
    let first: (Measured & { summary: RunSummary }) | undefined;
    for (const [k, bytes] of sizes.entries()) {
      // With --repeat, the run with the median peak stands for its size (the others are listed in its note).
      const runs: (Measured & { summary: RunSummary })[] = [];
      for (let r = 0; r < repeat; r++) {
        log(`etl run --memory ${memory} on ${mb(bytes)} MB${repeat > 1 ? ` (${r + 1} of ${repeat})` : ''}`);
        runs.push(await etlRun(inputs[k], join(dir, 'out.csv'), join(dir, 'run.json'), memory));
        await rm(join(dir, 'out.csv'), { force: true });
      }
      runs.sort((a, b) => a.peakRss - b.peakRss);
      // The figure is the median peak (the mean of the middle two for an even count); the summary's
      // in-process figures come from the run at or just below it.
      const sluice = runs[(runs.length - 1) >> 1];
      const peak = median(runs.map((run) => run.peakRss));
      const above = peak - idle.peakRss;
      aboveIdle.push(above);
      peaks.push(peak);
      first ??= sluice;
      const s = sluice.summary;
      const cpu = sluice.cpuSeconds === undefined ? '' : `, CPU ${sluice.cpuSeconds.toFixed(0)} s`;
      const speed = `${(bytes / MB / (sluice.elapsedMs / 1000)).toFixed(0)} MB/s`;
      const all = runs.length > 1 ? `; median of ${runs.map((run) => mb(run.peakRss)).join(', ')} MB` : '';
      add(`sluice peak RSS${label(bytes)}`, mb(peak), 'MB', `${s.rows.read} rows in ${(sluice.elapsedMs / 1000).toFixed(0)} s (${speed}${cpu})${all}`);
      add(`sluice peak RSS above idle${label(bytes)}`, mb(above), 'MB', `${((above / budget) * 100).toFixed(0)}% of the ${memory} budget (acceptance: ≤ 100%)`);
      add(`  in-process: peak RSS above run start${label(bytes)}`, mb(s.memory.peakRss - s.memory.baselineRss), 'MB', 'the memory watch, from summary');
      add(`  in-process: peak heap used${label(bytes)}`, mb(s.memory.peakHeapUsed), 'MB');
      add(`  in-process: peak reserved${label(bytes)}`, mb(s.memory.peakReserved), 'MB', `held at peak: ${JSON.stringify(s.memory.heldAtPeak)}`);
      add(`  pressure events / forced GCs${label(bytes)}`, s.memory.pressureEvents, '', `${s.memory.collections} collections`);
    }
    if (sizes.length > 1) {
      // The peak must not grow with the input: the largest file's peak against the smallest's, as the OS
      // reports it and (stricter: the same megabytes over a smaller base) its part above idle.
      for (const [what, figures] of [
        ['peak RSS', peaks],
        ['peak above idle', aboveIdle],
      ] as const) {
        const small = figures[0];
        const large = figures[figures.length - 1];
        const difference = (Math.abs(large - small) / Math.min(small, large)) * 100;
        add(
          `${what}: ${formatBytes(sizes[sizes.length - 1])} vs ${formatBytes(size)}`,
          Number(difference.toFixed(1)),
          '%',
          `${mb(large)} MB vs ${mb(small)} MB (${large >= small ? '+' : '-'}${mb(Math.abs(large - small))} MB; acceptance: ≤ 10%)`,
        );
      }
    }

    const s = first!.summary;
    const above = aboveIdle[0];
    const estimate = await profile(big, { memory, schema: Order });
    const atRun = estimate.suggestion.estimate;
    add(`profile: estimated peak reserved${label(size)}`, mb(atRun.peakReserved), 'MB', `measured ${mb(s.memory.peakReserved)} MB (${ratio(atRun.peakReserved, s.memory.peakReserved)})`);
    add(`profile: estimated RSS above idle${label(size)}`, mb(atRun.peakAboveBaseline), 'MB', `measured ${mb(above)} MB (${ratio(atRun.peakAboveBaseline, above)})`);

    if (size <= naiveMax) {
      log(`naive: fs.readFile + csv-parse/sync on ${mb(size)} MB`);
      const naive = await measure(
        ['--max-old-space-size=16384', '--import', 'tsx', join(root, 'test/bench/support/naive.ts'), big, join(dir, 'out-naive.csv')],
        {},
        20 * 60_000,
      );
      const naiveAbove = naive.peakRss - idle.peakRss;
      const ok = naive.exitCode === 0 && !naive.timedOut;
      add(`naive peak RSS above idle${label(size)}`, mb(naiveAbove), 'MB', ok ? `${(naive.elapsedMs / 1000).toFixed(0)} s` : `did not finish (${naive.timedOut ? 'timeout' : `exit ${naive.exitCode}`})`);
      add(`naive / sluice (above idle)${label(size)}`, Number((naiveAbove / above).toFixed(1)), '×');
    } else {
      add('naive', 0, '', `skipped: ${mb(size)} MB is above --naive-max ${mb(naiveMax)} MB`);
    }

    log(`eight pipelines at once under one 256MB budget, each on ${mb(size / 8)} MB`);
    const eightDir = join(dir, 'eight');
    await mkdir(eightDir, { recursive: true });
    const eightIdle = await measure(['--import', 'tsx', join(root, 'test/bench/support/eight.ts'), tiny, eightDir, '256MB']);
    const eight = await measure(['--import', 'tsx', join(root, 'test/bench/support/eight.ts'), eighth, eightDir, '256MB']);
    if (eight.exitCode !== 0) throw new Error(`eight pipelines failed: ${eight.stderr}`);
    const eightSummary = JSON.parse(eight.stdout) as { peakReserved: number; rows: number; pressureEvents: number };
    const eightAbove = eight.peakRss - eightIdle.peakRss;
    add('eight: peak reserved', mb(eightSummary.peakReserved), 'MB', `of 256 MB (${eightSummary.rows} rows)`);
    add('eight: peak RSS above idle', mb(eightAbove), 'MB', `${((eightAbove / (256 * MB)) * 100).toFixed(0)}% of 256 MB; ${eightSummary.pressureEvents} pressure events`);
  } finally {
    if (values.keep !== true) await rm(dir, { recursive: true, force: true });
  }
  return results;
}

/** `--sizes 1GB,8GB` (smallest first), else `--size 1GB`; 128MB by default. */
function parseSizes(values: BenchOptions['values']): number[] {
  if (values.sizes !== undefined && values.size !== undefined) throw new Error('bench memory: give --size or --sizes, not both');
  if (values.sizes === true || values.size === true) throw new Error('bench memory: --size and --sizes take a value, e.g. --sizes 1GB,8GB');
  const list = values.sizes !== undefined ? String(values.sizes).split(',') : [String(values.size ?? '128MB')];
  const sizes = list.map((item) => parseBytes(item.trim(), values.sizes !== undefined ? '--sizes' : '--size'));
  return [...new Set(sizes)].sort((a, b) => a - b);
}

const IDLE_RUNS = 3;

function ratio(estimate: number, measured: number): string {
  if (measured <= 0) return 'n/a';
  const off = (estimate / measured - 1) * 100;
  return `estimate ${off >= 0 ? '+' : ''}${off.toFixed(0)}%`;
}
