/**
 * A bench of Sluice against DuckDB and a hand-written JS baseline, over the bench's 10-column orders CSV
 * (cases/csv.ts generates it), for the stateful operators: group-by now, sort and join as further
 * scenarios. A case file lists its scenarios and calls {@link runScenarios}; each run of each mode is a
 * child process of its own (its peak RSS from VmHWM, its idle RSS before it starts), modes taken in
 * turns run after run (A B C, A B C, …: the machine is noisy), figures the medians. Every mode returns
 * a fingerprint of its result (groups, sums, a key-weighted checksum), and the bench fails when one
 * differs from DuckDB's.
 *
 * A scenario names: the Sluice pipeline (its stages, over `csv(input, { schema: Order })`), the
 * DuckDB SQL over `read_csv(…)` of the same file, the fingerprint of their output rows, and optionally
 * a hand-written JS version and a memory budget (Sluice's `--memory`, DuckDB's `memory_limit`).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { Batch } from '../../../src/batch/batch.ts';
import { csv, pipeline, run, type PipelineBuilder, type RowOf, type RunSummary, type Sink } from '../../../src/index.ts';
import type { BenchOptions, BenchResult } from '../main.ts';
import { generate, Order } from '../cases/csv.ts';

const MB = 1024 * 1024;

/** Sums over a result's rows that two correct results share exactly (floats to 1e-9 relative). */
export type Fingerprint = Record<string, number>;

/** Folds output rows into a fingerprint; `add` sees one batch's columns at a time. */
export interface Folder {
  add(batch: Batch): void;
  result(): Fingerprint;
}

export interface Scenario {
  name: string;
  label: string;
  /** Sluice's `--memory` and DuckDB's `memory_limit`; without it, Sluice's default and DuckDB's. */
  memory?: string;
  /** The stages after the CSV source. */
  sluice(builder: PipelineBuilder<OrderRow>): PipelineBuilder<any>;
  /** DuckDB's statement over `source` (a `read_csv(…)` of the same file, typed as Order). */
  duckdb(source: string): string;
  /** The fingerprint of output rows. */
  folder(): Folder;
  /**
   * The same fingerprint in SQL over DuckDB's result (`query`), for results too large to hand to JS
   * (ten million groups); without it, DuckDB's rows go through `folder()`.
   */
  fingerprintSql?(query: string): string;
  /** A hand-written version over Sluice's reader, as a user would write it from the README (a custom stage). */
  handWritten?(builder: PipelineBuilder<OrderRow>, fold: Folder): PipelineBuilder<any>;
}

type OrderRow = RowOf<typeof Order, string>;

const DUCKDB_COLUMNS =
  "{'order_id':'BIGINT','customer_id':'INTEGER','ordered_at':'TIMESTAMP','country':'VARCHAR','status':'VARCHAR'," +
  "'quantity':'TINYINT','unit_price':'DOUBLE','discount':'DOUBLE','gift':'BOOLEAN','note':'VARCHAR'}";

interface ChildResult {
  /** DuckDB under the scenario's memory_limit may not complete: its error, and no figures. */
  failed?: string;
  wallMs: number;
  cpuMs: number;
  peakRss: number;
  idleRss: number;
  fingerprint: Fingerprint;
  summary?: Pick<RunSummary, 'rows' | 'stages' | 'source'>;
}

const MODES = ['sluice', 'duckdb-1', 'duckdb-all', 'hand-written'] as const;
/** `duckdb-reference`: DuckDB without the memory limit, for the expected result when the limited runs fail. */
type Mode = (typeof MODES)[number] | 'duckdb-reference';
const LABELS: Record<Mode, string> = {
  sluice: 'Sluice',
  'duckdb-1': 'DuckDB threads=1',
  'duckdb-all': 'DuckDB all threads',
  'hand-written': 'hand-written JS Map',
  'duckdb-reference': 'DuckDB without memory_limit',
};

async function vmHwm(): Promise<number> {
  const status = await readFile('/proc/self/status', 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

/** A sink that folds every batch into the fingerprint and keeps nothing. */
function foldingSink(fold: Folder): Sink {
  return {
    kind: 'fingerprint',
    describe: () => ({ kind: 'fingerprint', location: 'memory' }),
    async write(input) {
      let rows = 0;
      for await (const batch of input) {
        fold.add(batch);
        rows += batch.length;
      }
      return { rowsWritten: rows, location: 'memory' };
    },
  };
}

/** One mode of one scenario, in this (child) process. */
async function child(scenario: Scenario, mode: Mode, input: string, temp: string): Promise<ChildResult> {
  const idleRss = process.memoryUsage().rss;
  const started = performance.now();
  const cpu = process.cpuUsage();
  let fingerprint: Fingerprint;
  let summary: ChildResult['summary'];
  if (mode === 'sluice' || mode === 'hand-written') {
    const fold = scenario.folder();
    const from = pipeline({ name: scenario.name }).from(csv(input, { schema: Order }));
    const built = mode === 'sluice' ? scenario.sluice(from) : scenario.handWritten!(from, fold);
    const result = await run(built.to(foldingSink(fold)), { memory: scenario.memory });
    if (result.status !== 'succeeded') throw new Error(JSON.stringify(result.error));
    summary = { rows: result.rows, stages: result.stages, source: result.source };
    fingerprint = fold.result();
  } else {
    const instance = await DuckDBInstance.create(':memory:', {
      threads: mode === 'duckdb-1' ? '1' : String((await import('node:os')).availableParallelism()),
      temp_directory: temp,
      ...(scenario.memory === undefined || mode === 'duckdb-reference' ? {} : { memory_limit: scenario.memory }),
    });
    const connection = await instance.connect();
    const source = `read_csv('${input.replaceAll("'", "''")}', header = true, columns = ${DUCKDB_COLUMNS})`;
    const query = scenario.duckdb(source);
    try {
      if (scenario.fingerprintSql !== undefined) {
        const [row] = (await connection.runAndReadAll(scenario.fingerprintSql(query))).getRowObjectsJS();
        fingerprint = Object.fromEntries(Object.entries(row).map(([key, value]) => [key, Number(value)]));
      } else {
        const fold = scenario.folder();
        fold.add(duckdbBatch((await connection.runAndReadAll(query)).getRowObjectsJS() as Record<string, unknown>[]));
        fingerprint = fold.result();
      }
    } catch (error) {
      // DuckDB under memory_limit can run out ("could not allocate block"): that is a finding, not a crash.
      return { failed: (error as Error).message.split('\n')[0], wallMs: 0, cpuMs: 0, peakRss: await vmHwm(), idleRss, fingerprint: {} };
    }
  }
  const used = process.cpuUsage(cpu);
  return { wallMs: performance.now() - started, cpuMs: (used.user + used.system) / 1000, peakRss: await vmHwm(), idleRss, fingerprint, summary };
}

/** DuckDB's rows as a batch-like object for the same folder (only `length` and `column(name).get(i)` are used). */
function duckdbBatch(rows: Record<string, unknown>[]): Batch {
  const number = (value: unknown) => (typeof value === 'bigint' ? Number(value) : value);
  return {
    length: rows.length,
    column: (name: string) => ({ get: (i: number) => number(rows[i][name]) }),
  } as unknown as Batch;
}

function spawnChild(file: string, scenario: string, mode: Mode, input: string, temp: string): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--conditions=sluice-source', '--import', 'tsx', file, '--scenario-child', scenario, mode, input, temp], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    proc.stdout.on('data', (chunk) => (stdout += chunk));
    proc.on('error', reject);
    proc.on('close', (code) => {
      if (code !== 0) return reject(new Error(`bench child ${scenario} ${mode} exited with ${code}`));
      resolve(JSON.parse(stdout.trim().split('\n').pop()!) as ChildResult);
    });
  });
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

/** Whether two fingerprints agree: integers exactly, floats to 1e-9 relative. */
function same(a: Fingerprint, b: Fingerprint): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of keys) {
    const x = a[key];
    const y = b[key];
    if (x === undefined || y === undefined) return false;
    if (Number.isInteger(x) && Number.isInteger(y) ? x !== y : Math.abs(x - y) > 1e-9 * Math.max(1, Math.abs(x), Math.abs(y))) return false;
  }
  return true;
}

/** The bench's orders file of `rows` rows (10 columns; cases/csv.ts), made once and kept in the temp folder. */
async function ordersFile(rows: number, log: (message: string) => void): Promise<string> {
  const path = join(tmpdir(), `sluice-bench-orders10-${rows}-rows.csv`);
  if (!existsSync(path)) {
    log(`generating ${path}`);
    await generate(path, Infinity, rows);
  }
  return path;
}

/**
 * Runs every scenario's modes `--runs` times in turns and reports medians and ratios: Sluice's speed
 * against each other mode (their time / Sluice's time: above 1 is Sluice faster), and Sluice's peak RSS
 * above its idle RSS against the budget.
 */
export async function runScenarios(caseName: string, file: string, scenarios: readonly Scenario[], options: BenchOptions): Promise<BenchResult[]> {
  const rows = Number(options.values.rows ?? 10_000_000);
  const runs = Number(options.values.runs ?? 3);
  const only = typeof options.values.scenario === 'string' ? options.values.scenario.split(',') : undefined;
  const input = await ordersFile(rows, options.log);
  const fileBytes = (await stat(input)).size;
  const temp = await mkdtemp(join(tmpdir(), 'sluice-bench-spill-'));
  const results: BenchResult[] = [];
  try {
    for (const scenario of scenarios) {
      if (only !== undefined && !only.includes(scenario.name)) continue;
      const modes: Mode[] = MODES.filter((mode) => mode !== 'hand-written' || scenario.handWritten !== undefined);
      const taken = new Map<Mode, ChildResult[]>(modes.map((mode) => [mode, []]));
      for (let r = 0; r < runs; r++) {
        for (const mode of modes) {
          const result = await spawnChild(file, scenario.name, mode, input, temp);
          taken.get(mode)!.push(result);
          options.log(`${scenario.name} ${mode} run ${r + 1}/${runs}: ${(result.wallMs / 1000).toFixed(2)} s, peak RSS ${(result.peakRss / MB).toFixed(0)} MB`);
        }
      }
      const completed = [...taken].filter(([, list]) => list.every((result) => result.failed === undefined)).map(([mode]) => mode);
      const failed = modes.filter((mode) => !completed.includes(mode));
      const reference = completed.includes('duckdb-1')
        ? taken.get('duckdb-1')![0].fingerprint
        : (await spawnChild(file, scenario.name, 'duckdb-reference', input, temp)).fingerprint;
      for (const mode of failed) {
        const why = taken.get(mode)!.find((result) => result.failed !== undefined)!.failed;
        results.push({ case: caseName, name: `${scenario.name}: ${LABELS[mode]}`, value: 0, unit: 'failed', note: `did not complete under memory_limit ${scenario.memory}: ${why}` });
      }
      for (const [mode, list] of taken) {
        if (failed.includes(mode)) continue;
        for (const result of list) {
          if (!same(result.fingerprint, reference)) {
            throw new Error(`${scenario.name}: ${mode} gave ${JSON.stringify(result.fingerprint)}, DuckDB ${JSON.stringify(reference)}`);
          }
        }
      }
      const seconds = (mode: Mode) => median(taken.get(mode)!.map((result) => result.wallMs)) / 1000;
      const cpuSeconds = (mode: Mode) => median(taken.get(mode)!.map((result) => result.cpuMs)) / 1000;
      const ours = seconds('sluice');
      const oursCpu = cpuSeconds('sluice');
      for (const mode of completed) {
        const list = taken.get(mode)!;
        const peak = median(list.map((result) => result.peakRss)) / MB;
        const idle = median(list.map((result) => result.idleRss)) / MB;
        const stage = list[0].summary?.stages.at(-1);
        const spill = stage?.spilledBytes ? `, spilled ${(stage.spilledBytes / MB).toFixed(0)} MB in ${stage.spilledPartitions} partitions` : '';
        const columns = list[0].summary?.source.columns;
        results.push({
          case: caseName,
          name: `${scenario.name}: ${LABELS[mode]}`,
          value: Number(seconds(mode).toFixed(2)),
          unit: 's',
          note: `median of ${runs}, cpu ${cpuSeconds(mode).toFixed(2)} s, ${((fileBytes / MB) / seconds(mode)).toFixed(0)} MB/s, peak RSS ${peak.toFixed(0)} MB (idle ${idle.toFixed(0)})${spill}${columns ? `, columns read ${columns.read.length} of ${columns.of}` : ''}`,
          rows,
          cpuSeconds: Number(cpuSeconds(mode).toFixed(2)),
          peakRssMB: Number(peak.toFixed(1)),
          idleRssMB: Number(idle.toFixed(1)),
          groups: list[0].fingerprint.groups,
        } as BenchResult);
      }
      for (const mode of completed.filter((m) => m !== 'sluice')) {
        results.push({ case: caseName, name: `${scenario.name}: Sluice vs ${LABELS[mode]}`, value: Number((seconds(mode) / ours).toFixed(2)), unit: 'x', note: 'their median wall time / Sluice median wall time (above 1: Sluice faster)' });
        // On a shared machine wall time is mostly the neighbours': CPU time (user + system) is the
        // steadier figure, and fair against one thread (not against all threads, which spend more CPU to finish sooner).
        if (mode !== 'duckdb-all') {
          results.push({ case: caseName, name: `${scenario.name}: Sluice vs ${LABELS[mode]} (cpu)`, value: Number((cpuSeconds(mode) / oursCpu).toFixed(2)), unit: 'x', note: 'their median CPU time / Sluice median CPU time' });
        }
      }
      if (scenario.memory !== undefined) {
        const list = taken.get('sluice')!;
        const above = median(list.map((result) => result.peakRss - result.idleRss)) / MB;
        results.push({ case: caseName, name: `${scenario.name}: Sluice peak RSS above idle`, value: Number(above.toFixed(1)), unit: 'MB', note: `budget ${scenario.memory}; target: at most the budget` });
      }
    }
  } finally {
    await rm(temp, { recursive: true, force: true });
    if (options.values.keep !== true) await rm(input, { force: true });
  }
  return results;
}

/** The child's entry: `file --scenario-child <scenario> <mode> <input> <temp>`. Call at the end of the case file. */
export async function childMain(scenarios: readonly Scenario[]): Promise<void> {
  if (process.argv[2] !== '--scenario-child') return;
  const [, , , name, mode, input, temp] = process.argv;
  const scenario = scenarios.find((candidate) => candidate.name === name)!;
  process.stdout.write(`${JSON.stringify(await child(scenario, mode as Mode, input, temp))}\n`);
}
