/**
 * Sort bench (issue 15): the bench's orders CSV sorted by (country, unit_price desc) into a CSV file,
 * under a 128 MB memory limit, by Sluice (`csv → sort → toCsv` under `memory: '128MB'`: it must spill)
 * and by DuckDB on one thread (`SET memory_limit = '128MB'`, `COPY (… ORDER BY …) TO`), each beside
 * its own copy without the sort (CSV → CSV), so what the sort itself costs shows too. Every case runs
 * in a child process of its own (peak RSS from VmHWM); runs alternate between the cases and the
 * figures are medians. The sorted outputs are checked: the same number of rows, in the same key order.
 *
 *   npm run bench -- sort [--rows 10000000] [--runs 3] [--memory 128MB] [--keep] [--no-check]
 */
import { createReadStream, existsSync } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { BenchOptions, BenchResult } from '../main.ts';
import { peakRss, runChild } from '../support/child.ts';
import { Order, writeOrdersCsv } from '../support/orders.ts';

const MB = 1024 * 1024;
/** Bytes per orders CSV line, about: the generator is asked for bytes. */
const LINE_BYTES = 75;
const thisFile = fileURLToPath(import.meta.url);

interface ChildResult {
  wallMs: number;
  cpuMs: number;
  peakRss: number;
  rows: number;
  spilled?: number;
  /** The engine gave up (DuckDB's out-of-memory error under the limit), with its message. */
  failed?: string;
}


/** One case, in this (child) process. */
async function child(mode: string, input: string, output: string, memory: string): Promise<ChildResult> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  let rows = 0;
  let spilled: number | undefined;
  if (mode === 'sluice-sort' || mode === 'sluice-copy') {
    const { csv, pipeline, run, toCsv } = await import('../../../src/index.ts');
    const from = pipeline({ name: 'bench-sort', memory }).from(csv(input, { schema: Order }));
    const summary = await run((mode === 'sluice-sort' ? from.sort(['country', { column: 'unit_price', descending: true }]) : from).to(toCsv(output)));
    if (summary.status !== 'succeeded') throw new Error(JSON.stringify(summary.error));
    rows = summary.rows.written;
    spilled = summary.stages[0]?.spilledBytes;
  } else {
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const connection = await (await DuckDBInstance.create(':memory:', { threads: '1' })).connect();
    if (mode !== 'duckdb-sort-unlimited') await connection.run(`SET memory_limit = '${memory}'`);
    await connection.run(`SET temp_directory = '${join(tmpdir(), 'sluice-bench-sort-duckdb.tmp').replaceAll("'", "''")}'`);
    await connection.run('SET preserve_insertion_order = false');
    const source = `read_csv('${input.replaceAll("'", "''")}', header = true)`;
    const query = mode === 'duckdb-copy' ? `SELECT * FROM ${source}` : `SELECT * FROM ${source} ORDER BY country, unit_price DESC`;
    try {
      const result = await connection.runAndReadAll(`COPY (${query}) TO '${output.replaceAll("'", "''")}' (HEADER, DELIMITER ',')`);
      rows = Number(result.getRows()[0]?.[0] ?? 0);
    } catch (error) {
      const used = process.cpuUsage(cpu);
      return { wallMs: performance.now() - started, cpuMs: (used.user + used.system) / 1000, peakRss: await peakRss(), rows: 0, failed: String((error as Error).message).split('\n')[0] };
    }
  }
  const used = process.cpuUsage(cpu);
  return { wallMs: performance.now() - started, cpuMs: (used.user + used.system) / 1000, peakRss: await peakRss(), rows, spilled };
}

function spawnChild(mode: string, input: string, output: string, memory: string): Promise<ChildResult> {
  return runChild<ChildResult>(thisFile, [mode, input, output, memory]);
}

/** The (country, unit_price) of each data line of a sorted output, in order, folded into a count and a hash. */
async function keySequence(path: string): Promise<{ rows: number; hash: number; ordered: boolean }> {
  const lines = createInterface({ input: createReadStream(path, { highWaterMark: MB }), crlfDelay: Infinity });
  let header: string[] | undefined;
  let countryAt = 0;
  let priceAt = 0;
  let rows = 0;
  let hash = 0x811c9dc5;
  let ordered = true;
  let lastCountry = '';
  let lastPrice = Infinity;
  for await (const line of lines) {
    if (header === undefined) {
      header = line.split(',');
      countryAt = header.indexOf('country');
      priceAt = header.indexOf('unit_price');
      continue;
    }
    // Neither column is quoted, and both come before the only quoted one (note).
    const fields = line.split(',', priceAt + 1);
    const country = fields[countryAt];
    const price = Number(fields[priceAt]);
    if (country < lastCountry || (country === lastCountry && price > lastPrice)) ordered = false;
    lastCountry = country;
    lastPrice = price;
    const key = `${country}|${price}`;
    for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
    rows++;
  }
  return { rows, hash: hash >>> 0, ordered };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export async function run(options: BenchOptions): Promise<BenchResult[]> {
  const wanted = Number(options.values.rows ?? 10_000_000);
  const runs = Number(options.values.runs ?? 3);
  const memory = String(options.values.memory ?? '128MB');
  const dir = tmpdir();
  const input = join(dir, `sluice-bench-sort-orders-${wanted}.csv`);
  const theirs = join(dir, 'sluice-bench-sort.duckdb.csv');
  const outputs = { 'sluice-sort': join(dir, 'sluice-bench-sort.sluice.csv'), 'duckdb-sort': theirs, 'duckdb-sort-unlimited': theirs } as Record<string, string>;
  const copyOutput = join(dir, 'sluice-bench-sort.copy.csv');
  if (!existsSync(input)) {
    options.log(`generating about ${wanted} orders`);
    await writeOrdersCsv(input, wanted * LINE_BYTES);
  }
  const bytes = (await stat(input)).size;
  const modes = ['sluice-sort', 'duckdb-sort', 'sluice-copy', 'duckdb-copy'];
  const results: Record<string, ChildResult[]> = Object.fromEntries([...modes, 'duckdb-sort-unlimited'].map((mode) => [mode, []]));
  try {
    // In turns (A, B, A, B, …): a burst of load on the shared machine falls on every case alike.
    for (let round = 0; round < runs; round++) {
      for (const mode of modes) {
        const result = await spawnChild(mode, input, outputs[mode] ?? copyOutput, memory);
        results[mode].push(result);
        options.log(`${mode} run ${round + 1}/${runs}: ${result.failed ? `FAILED (${result.failed}) after ` : ''}${(result.wallMs / 1000).toFixed(1)} s wall, ${(result.cpuMs / 1000).toFixed(1)} s cpu, peak RSS ${(result.peakRss / MB).toFixed(0)} MB`);
        // DuckDB out of memory under the limit: its time without one is the reference left.
        if (result.failed !== undefined && mode === 'duckdb-sort') {
          const unlimited = await spawnChild('duckdb-sort-unlimited', input, theirs, memory);
          results['duckdb-sort-unlimited'].push(unlimited);
          options.log(`duckdb-sort-unlimited run ${round + 1}/${runs}: ${(unlimited.wallMs / 1000).toFixed(1)} s wall, ${(unlimited.cpuMs / 1000).toFixed(1)} s cpu, peak RSS ${(unlimited.peakRss / MB).toFixed(0)} MB`);
        }
      }
    }
    const wall = (mode: string) => median(results[mode].map((result) => result.wallMs)) / 1000;
    const cpu = (mode: string) => median(results[mode].map((result) => result.cpuMs)) / 1000;
    const rss = (mode: string) => Math.max(...results[mode].map((result) => result.peakRss)) / MB;
    const rows = results['sluice-sort'][0].rows;
    const out: BenchResult[] = [{ case: 'sort', name: 'rows', value: rows, unit: 'rows', note: `${(bytes / MB).toFixed(0)} MB of CSV, memory limit ${memory}, medians of ${runs} runs in turns` }];
    const duckFailed = results['duckdb-sort'].find((result) => result.failed !== undefined)?.failed;
    if (duckFailed !== undefined) {
      out.push({ case: 'sort', name: 'duckdb-sort under the limit', value: 0, unit: 'bool', note: `DuckDB did not complete under memory_limit ${memory}: ${duckFailed}; ratios below are to DuckDB without a limit` });
    }
    const reference = duckFailed === undefined ? 'duckdb-sort' : 'duckdb-sort-unlimited';
    for (const mode of duckFailed === undefined ? modes : [...modes.filter((mode) => mode !== 'duckdb-sort'), reference]) {
      out.push({ case: 'sort', name: `${mode} wall`, value: Number(wall(mode).toFixed(2)), unit: 's', note: `cpu ${cpu(mode).toFixed(2)} s, peak RSS ${rss(mode).toFixed(0)} MB${results[mode][0].spilled ? `, spilled ${(results[mode][0].spilled! / MB).toFixed(0)} MB` : ''}` });
    }
    out.push(
      { case: 'sort', name: `sort: sluice / ${reference}`, value: Number((wall('sluice-sort') / wall(reference)).toFixed(2)), unit: 'x', note: 'wall time, CSV → sorted CSV (target ≤ 2)' },
      { case: 'sort', name: `sort cpu: sluice / ${reference}`, value: Number((cpu('sluice-sort') / cpu(reference)).toFixed(2)), unit: 'x', note: 'cpu time' },
      {
        case: 'sort',
        name: 'sort alone cpu: sluice / duckdb',
        value: Number(((cpu('sluice-sort') - cpu('sluice-copy')) / Math.max(0.01, cpu(reference) - cpu('duckdb-copy'))).toFixed(2)),
        unit: 'x',
        note: 'cpu time of the sorted copy minus the plain copy, each engine its own (cpu: the machine is shared)',
      },
    );
    if (options.values['no-check'] !== true) {
      const [ours, duck] = await Promise.all([keySequence(outputs['sluice-sort']), keySequence(theirs)]);
      const same = ours.ordered && duck.ordered && ours.rows === duck.rows && ours.hash === duck.hash;
      out.push({ case: 'sort', name: 'outputs agree', value: same ? 1 : 0, unit: 'bool', note: `rows ${ours.rows} vs ${duck.rows}, key order ${ours.hash === duck.hash ? 'same' : 'DIFFERENT'}, sluice sorted: ${ours.ordered}` });
      if (!same) throw new Error(`sort bench: the outputs disagree (${JSON.stringify({ ours, duck })})`);
    }
    return out;
  } finally {
    await Promise.all([...Object.values(outputs), copyOutput].map((path) => rm(path, { force: true })));
    if (options.values.keep !== true) await rm(input, { force: true });
  }
}

if (process.argv[2] === '--child') {
  const [, , , mode, input, output, memory] = process.argv;
  process.stdout.write(`${JSON.stringify(await child(mode, input, output, memory))}\n`);
}
