/**
 * Bench dispatcher: `npm run bench -- [case…] [--json] [case options]`. Each case is a module
 * test/bench/cases/<name>.ts exporting `run(options): Promise<BenchResult[]>`; with no case named,
 * every case runs. Prints a table for people, or one JSON object per line with --json.
 *
 *   npm run bench -- memory --size 1GB
 *   npm run bench -- memory --sizes 1GB,8GB
 */
import { readdir } from 'node:fs/promises';

export interface BenchResult {
  case: string;
  name: string;
  value: number;
  unit: string;
  note?: string;
}

export interface BenchOptions {
  /** Options after the case names, as given (`--size 1GB` → { size: '1GB' }). */
  values: Record<string, string | boolean | undefined>;
  /** Progress for people (stderr). */
  log: (message: string) => void;
}

const casesDir = new URL('./cases/', import.meta.url);
const { values, positionals } = parseCommandLine(process.argv.slice(2));
const available = (await readdir(casesDir)).filter((file) => file.endsWith('.ts')).map((file) => file.slice(0, -3));
if (values.help === true) {
  process.stdout.write(`Usage: npm run bench -- [case…] [--json] [case options]

Cases (all of them when none is named): ${available.join(', ')}
  aggregate --rows 10000000 --runs 3       groupBy vs DuckDB (threads=1 and all) over the 10-column orders CSV, and a
            --scenario country-status      hand-written JS Map: (country, status); customer_id and order_id under 64MB.
                                           Results checked against DuckDB; medians of runs taken in turns, wall and CPU
  arrow     --rows 1000000 --runs 3        Sluice's Arrow IPC sink and source vs apache-arrow's tableToIPC / tableFromIPC
                                           over the same orders, taking turns: median MB/s, CPU times, ratios
  csv       --size 200MB --runs 3 --keep   csv-parse baseline vs Sluice's reader and whole pipeline; DuckDB (1 thread)
                                           as a reference when @duckdb/node-api is installed (npm install --no-save)
  memory    --size 1GB --keep              peak RSS of a run under --memory 128MB vs the naive read; 8 runs under one budget
            --sizes 1GB,8GB                runs on each size and prints how far the peaks above idle are apart
                                           (acceptance ≤ 10%); --repeat 3: median of 3 runs per size;
                                           --naive-max 2GB: no naive read above it
  parquet   --rows 1000000 --runs 3        Sluice's Parquet sink and source vs DuckDB (1 thread) writing and reading
                                           the same orders (zstd), taking turns: median MB/s, CPU times, file sizes, ratios
  join      --size 200MB --runs 3          the csv case's orders joined with 500,000 customers (CSV to CSV): in memory, under
            --tight 64MB --keep            --tight (spilling) and without the join, vs DuckDB threads=1 (same join, one COPY)
  parquet-memory --rows 1000000,10000000  peak RSS of etl run CSV → Parquet (zstd) under --memory 128MB on each row count,
            --memory 128MB --repeat 1      and the largest's peak over the smallest's (acceptance: within 10%)
  distributed --size 200MB --runs 3        orders CSV → PostgreSQL in 8 partitions: etl run vs etl run --distributed on 1
                                           and 2 local workers, psql \copy as the peer; medians of alternating rounds
  postgres  --rows 1000000                 psql \\copy and pg-query-stream baselines vs Sluice's source and sink
  sort      --rows 10000000 --runs 3       CSV → sort by (country, unit_price desc) → CSV under --memory 128MB, Sluice vs
            --memory 128MB --no-check      DuckDB (1 thread, memory_limit), each beside its plain copy; medians of runs
                                           in turns; checks both outputs have the same rows in the same key order
  startup   --runs 9                       etl run of a one-row .ts pipeline, compiled (dist/, built first) vs the tsx
                                           path over the sources and node -e 0: wall time and peak RSS, medians
Every case runs its baseline in the same invocation, so figures are ratios. --json prints one object per line.
`);
  process.exit(0);
}
const names = positionals.length > 0 ? positionals : available;
for (const name of names) {
  if (!available.includes(name)) {
    process.stderr.write(`bench: no case ${JSON.stringify(name)} (cases: ${available.join(', ')})\n`);
    process.exit(2);
  }
}
const json = values.json === true;
for (const name of names) {
  const module = (await import(new URL(`${name}.ts`, casesDir).href)) as { run: (options: BenchOptions) => Promise<BenchResult[]> };
  const results = await module.run({ values, log: (message) => process.stderr.write(`[${name}] ${message}\n`) });
  if (json) {
    for (const result of results) process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    const width = Math.max(...results.map((result) => result.name.length));
    process.stdout.write(`\n${name}\n`);
    for (const result of results) {
      const value = Number.isInteger(result.value) ? String(result.value) : result.value.toFixed(2);
      process.stdout.write(`  ${result.name.padEnd(width)}  ${value.padStart(10)} ${result.unit.padEnd(6)}${result.note ? `  ${result.note}` : ''}\n`);
    }
  }
}

/** Case names, then `--flag` (boolean: json, keep) or `--name value` / `--name=value` options for the cases. */
function parseCommandLine(args: string[]): { values: BenchOptions['values']; positionals: string[] } {
  const flags = new Set(['json', 'keep', 'help']);
  const values: BenchOptions['values'] = {};
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const [name, inline] = arg.slice(2).split(/=(.*)/s, 2);
    if (inline !== undefined) values[name] = inline;
    else if (!flags.has(name) && i + 1 < args.length && !args[i + 1].startsWith('--')) values[name] = args[++i];
    else values[name] = true;
  }
  return { values, positionals };
}
