/**
 * Parquet memory bench (issue 16): a CSV → Parquet (zstd) run as a child `etl run --memory 128MB` on
 * generated orders of 1M and 10M rows, its peak RSS as the OS reports it (/usr/bin/time -v, else
 * VmHWM), and how far the larger run's peak is from the smaller's (acceptance: within 10%; the peak
 * must not grow with the input, the sink's row groups included).
 *
 *   npm run bench -- parquet-memory [--rows 1000000,10000000] [--memory 128MB] [--repeat 1] [--keep]
 */
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunSummary } from '../../../src/runtime/summary.ts';
import type { BenchOptions, BenchResult } from '../main.ts';
import { median } from '../support/runs.ts';
import { writeOrdersCsv } from '../support/orders.ts';
import { measure } from './memory.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const etl = join(root, 'bin/etl.js');
const pipelineFile = join(root, 'test/bench/pipelines/orders-to-parquet.ts');
const MB = 1024 * 1024;
/** Bytes per orders CSV line, about: the generator is asked for bytes. */
const LINE_BYTES = 75;

export async function run({ values, log }: BenchOptions): Promise<BenchResult[]> {
  const counts = String(values.rows ?? '1000000,10000000').split(',').map(Number);
  const memory = String(values.memory ?? '128MB');
  const repeat = Math.max(1, Number(values.repeat ?? 1));
  const dir = join(tmpdir(), 'sluice-bench-parquet-memory');
  await mkdir(dir, { recursive: true });
  const results: BenchResult[] = [];
  const add = (name: string, value: number, unit: string, note?: string) => results.push({ case: 'parquet-memory', name, value, unit, note });
  const mb = (bytes: number) => Number((bytes / MB).toFixed(1));
  const peaks: number[] = [];
  try {
    for (const wanted of counts) {
      const input = join(dir, `orders-${wanted}.csv`);
      const known = await stat(input).catch(() => undefined);
      if (known === undefined) {
        log(`generating about ${wanted} orders`);
        await writeOrdersCsv(input, wanted * LINE_BYTES);
      }
      const output = join(dir, 'out.parquet');
      const report = join(dir, 'run.json');
      const runs: { peak: number; cpu?: number; ms: number; summary: RunSummary; bytes: number }[] = [];
      for (let r = 0; r < repeat; r++) {
        log(`etl run --memory ${memory}: ${wanted} orders CSV → Parquet${repeat > 1 ? ` (${r + 1} of ${repeat})` : ''}`);
        const measured = await measure([etl, 'run', pipelineFile, '--memory', memory, '--report', report, '--quiet'], { SLUICE_BENCH_INPUT: input, SLUICE_BENCH_OUTPUT: output });
        if (measured.exitCode !== 0) throw new Error(`etl run failed (${measured.exitCode}): ${measured.stderr}`);
        const summary = JSON.parse(await readFile(report, 'utf8')) as RunSummary;
        runs.push({ peak: measured.peakRss, cpu: measured.cpuSeconds, ms: measured.elapsedMs, summary, bytes: (await stat(output)).size });
        await rm(output, { force: true });
      }
      const peak = median(runs.map((one) => one.peak));
      const one = runs[0];
      peaks.push(peak);
      const cpu = one.cpu === undefined ? '' : `, CPU ${one.cpu.toFixed(1)} s`;
      const all = runs.length > 1 ? `; median of ${runs.map((each) => mb(each.peak)).join(', ')} MB` : '';
      add(`peak RSS (${one.summary.rows.read} rows)`, mb(peak), 'MB', `${(one.ms / 1000).toFixed(1)} s${cpu}, ${mb(one.bytes)} MB of Parquet${all}`);
      add(`  in-process: peak reserved (${one.summary.rows.read} rows)`, mb(one.summary.memory.peakReserved), 'MB', `peak heap used ${mb(one.summary.memory.peakHeapUsed)} MB`);
    }
    if (peaks.length > 1) {
      const small = peaks[0];
      const large = peaks[peaks.length - 1];
      add(`peak RSS ratio (${counts[counts.length - 1]} / ${counts[0]} rows)`, Number((large / small).toFixed(3)), 'x', `${mb(large)} MB vs ${mb(small)} MB (acceptance: within 10%, ≤ 1.10)`);
    }
    return results;
  } finally {
    if (values.keep !== true) await rm(dir, { recursive: true, force: true });
  }
}
