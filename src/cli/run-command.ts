import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SluiceError } from '../core/errors.ts';
import type { RunWarning } from '../core/warnings.ts';
import { columnsLine, formatSummary, formatWarning } from '../runtime/format-summary.ts';
import { pipelineColumns } from '../runtime/pipeline.ts';
import { checkStagesAtPlan } from '../runtime/plan-check.ts';
import { uniqueStageNames } from '../runtime/meter-stage.ts';
import { pushDownStop } from '../contracts/columns.ts';
import { createProgress } from '../runtime/progress.ts';
import { run, type ProgressEvent } from '../runtime/run.ts';
import type { RunSummary } from '../runtime/summary.ts';
import { runReportHtml } from '../ops/html-report.ts';
import { publishLiveStatus } from '../ops/live-status.ts';
import { runTracked } from '../ops/tracked-run.ts';
import { describePlan } from '../schema/plan.ts';
import { EXIT } from './exit-codes.ts';
import { loadPipeline } from '../ops/load.ts';
import { byteSizeFlag, type CommandIO, folderFlag, milliseconds, parseFlags, wholeNumber } from './args.ts';

export const RUN_HELP = `Usage: etl run <pipeline.ts> [options]

Loads a pipeline file (TypeScript, no build step), runs it, and prints a summary.

Options:
  --memory <size>    Memory budget for the run, e.g. 128MB, 1GB (default: the pipeline's, else 256MB).
                     Sources wait when the budget is spent; batches shrink to fit it.
  --threads <n>      Worker threads that read the input and run the row-wise stages (filter, derive,
                     map, select, rename) on parts of it, in input order (default: the pipeline's
                     threads, else 1). CSV and NDJSON files split into byte ranges, a glob into its files.
  --limit <rows>     Stop after reading this many rows.
  --dry-run          Print the plan and schema (source, engine, columns and their types); write nothing.
                     With --limit, also run that many rows through the stages, still writing nothing.
  --temp-dir <dir>   Folder for the temporary files of stages that spill (sort, groupBy, distinct,
                     dedupe); removed when the run ends, also on failure or Ctrl-C (default: the
                     pipeline's tempDir, else SLUICE_TEMP_DIR, else the OS temporary folder).
  --report <file>    Write the run summary to <file>: JSON (for machines, with memory and throughput
                     over time), or, for a name ending in .html, one self-contained HTML page with
                     charts of memory and rows/s per stage (open it in any browser; no network).
  --run-timeout <ms> Stop the run (retries included) this long after the command started and record
                     it as failed (RUN_TIMEOUT); overrides the pipeline's runTimeoutMs.
  --quiet            No progress and no summary; errors only.
  --distributed      Split the run into partitions (the files of its glob) and queue them for
                     etl worker processes on any host (pg-boss); wait for the run, telling each
                     partition's progress, and exit with its status.
  --connection <url> With --distributed: the queue's database (default: the pipeline's
                     distributed.connection, else DATABASE_URL). A PostgreSQL sink must be on it.
  --detach           With --distributed: print the run id once queued and exit 0 (see etl runs).
  -h, --help         This help.

The run holds the pipeline's lock (an advisory lock with a PostgreSQL state store, else a lock file in
.sluice/ next to the pipeline file) and is recorded in its history (etl runs). When the pipeline is
already running (the lock is held), it does not run and exits 3. For cron:
  */15 * * * *  cd /srv/etl && npx etl run pipelines/orders.ts --quiet || [ $? -eq 3 ]

Exit codes: 0 succeeded, 1 the run failed, 2 bad arguments or pipeline file, 3 skipped because the
pipeline is already running (or the tick already ran), 130 interrupted.`;

export async function runCommand(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseFlags('etl run', argv, {
    memory: { type: 'string' },
    limit: { type: 'string' },
    threads: { type: 'string' },
    'dry-run': { type: 'boolean' },
    report: { type: 'string' },
    'temp-dir': { type: 'string' },
    'run-timeout': { type: 'string' },
    quiet: { type: 'boolean' },
    distributed: { type: 'boolean' },
    connection: { type: 'string' },
    detach: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    io.stdout.write(`${RUN_HELP}\n`);
    return EXIT.ok;
  }
  if (positionals.length !== 1) {
    throw new SluiceError('INVALID_OPTION', `etl run takes one pipeline file; got ${positionals.length === 0 ? 'none' : positionals.join(' ')}. See etl run --help.`);
  }
  const memory = byteSizeFlag(values.memory, '--memory');
  const limit = wholeNumber(values.limit, '--limit');
  const threads = wholeNumber(values.threads, '--threads');
  const runTimeoutMs = milliseconds(values['run-timeout'], '--run-timeout', 1);
  const tempDir = folderFlag(values['temp-dir'], '--temp-dir');
  if (values.distributed !== true && (values.connection !== undefined || values.detach === true)) {
    throw new SluiceError('INVALID_OPTION', `etl run: ${values.connection !== undefined ? '--connection' : '--detach'} goes with --distributed. See etl run --help.`, {
      option: values.connection !== undefined ? '--connection' : '--detach',
    });
  }
  const pipeline = await loadPipeline(positionals[0]);
  if (values.distributed === true) {
    const refused = (['dry-run', 'limit', 'memory', 'report', 'run-timeout'] as const).find((flag) => values[flag] !== undefined);
    if (refused !== undefined) {
      throw new SluiceError('INVALID_OPTION', `etl run: --${refused} does not go with --distributed yet (each worker has its own --memory). See etl run --help.`, { option: `--${refused}` });
    }
    // Loaded only here: pg-boss and the queue code cost every other `etl run` nothing at startup.
    const { runDistributed } = await import('./distributed-run.ts');
    return await runDistributed(pipeline, positionals[0], { connection: values.connection, detach: values.detach === true, quiet: values.quiet === true }, io);
  }
  const dryRun = values['dry-run'] === true;
  if (dryRun) {
    const controller = new AbortController();
    const warnings: RunWarning[] = [];
    const columns = pipelineColumns(pipeline);
    const context = { pipeline: pipeline.name!, signal: controller.signal, warn: (warning: RunWarning) => warnings.push(warning) };
    const description = await pipeline.source.describe({ ...context, columns });
    // What a run would refuse before reading a row (a join's key types), a dry run refuses too.
    await checkStagesAtPlan(pipeline.stages, uniqueStageNames(pipeline.stages), description, context);
    const sink = pipeline.sink.describe();
    const lines = [
      `pipeline   ${pipeline.name}`,
      `source     ${description.kind} ${description.location}${description.engine ? ` [engine: ${description.engine}]` : ''}`,
      ...pushDownLines(pipeline, description.columns?.map((column) => column.name), description.columnsOf),
      ...(description.columns ?? []).map((column) => `  column   ${column.name.padEnd(20)} ${describePlan(column)}${column.origin === 'inferred' ? ' (inferred)' : ''}`),
      ...pipeline.stages.map((stage) => `stage      ${stage.stageName ?? (stage.name || 'stage')}${stage.stageDetail ? ` ${stage.stageDetail}` : ''}`),
      `sink       ${sink.kind} ${sink.location} (dry run: nothing is written)`,
      `memory     ${memory ?? pipeline.memory ?? '256MB'}`,
      ...(tempDir ?? pipeline.tempDir ? [`temp       ${tempDir ?? pipeline.tempDir}`] : []),
      ...warnings.map((warning) => `warning    ${formatWarning(warning)}`),
    ];
    io.stdout.write(`${lines.join('\n')}\n`);
    if (limit === undefined) return EXIT.ok;
  }
  const { signal } = io;
  const progress = values.quiet ? undefined : createProgress(io.stderr);
  // `etl top` shows the run while it goes (live-status.ts); the file goes when the run ends.
  const live = publishLiveStatus(positionals[0]);
  const runOptions = { memory, limit, threads, dryRun, signal, tempDir, onProgress: progress === undefined ? undefined : (event: ProgressEvent) => progress.update(event), onSample: live.onSample };
  // A dry run writes nothing: it takes no lock and is not recorded.
  let outcome: Awaited<ReturnType<typeof runTracked>> | { status: 'ran'; summary: RunSummary };
  try {
    outcome = dryRun
      ? { status: 'ran' as const, summary: await run(pipeline, runOptions) }
      : await runTracked(pipeline, {
          ...runOptions,
          file: positionals[0],
          // Counted from this process's start, loading included: that bounds the whole `etl run`.
          runTimeoutMs,
          runTimeoutFrom: performance.timeOrigin,
          onRetry: (attempt, error, delayMs) => io.stderr.write(`etl: attempt ${attempt} failed with a transient error [${error.code}]; retrying in ${delayMs} ms\n`),
        });
  } finally {
    live.close();
  }
  progress?.done();
  if (outcome.status === 'skipped') {
    if (values.report !== undefined) {
      await mkdir(dirname(values.report), { recursive: true });
      await writeFile(values.report, `${JSON.stringify({ file: positionals[0], pipeline: pipeline.name, status: 'skipped', reason: outcome.reason }, null, 2)}\n`);
    }
    io.stderr.write(`etl: ${pipeline.name} skipped: ${outcome.reason}\n`);
    return EXIT.skipped;
  }
  const summary = outcome.summary;
  if (values.report !== undefined) {
    await mkdir(dirname(values.report), { recursive: true });
    await writeFile(values.report, /\.html?$/i.test(values.report) ? runReportHtml(summary, positionals[0]) : `${JSON.stringify({ file: positionals[0], ...summary }, null, 2)}\n`);
  }
  if (!values.quiet) io.stdout.write(`${formatSummary(summary)}\n`);
  else if (summary.error !== undefined) io.stderr.write(`etl: [${summary.error.code}] ${summary.error.message}\n`);
  if (summary.status === 'succeeded') return EXIT.ok;
  return signal.aborted ? EXIT.interrupted : EXIT.failed;
}


/**
 * What the projection push-down does, for --dry-run: the columns read of all, or the stage that stops
 * it (one that may read any column, before one that drops some).
 */
function pushDownLines(pipeline: Awaited<ReturnType<typeof loadPipeline>>, read: string[] | undefined, of: number | undefined): string[] {
  if (read !== undefined && of !== undefined && read.length < of) return [`columns    ${columnsLine(read, of)}`];
  if (pipeline.pushDown === false) return ['columns    every column is read (pushDown: false)'];
  const stop = pushDownStop(pipeline.stages);
  if (stop === undefined) return [];
  const stage = pipeline.stages[stop];
  return [`columns    every column is read: ${stage.stageName ?? (stage.name || 'stage')} (stage ${stop + 1}) may read any column; give it \`reads\` (or your own stage \`stage.columns\`) to read fewer`];
}
