import { existsSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { SluiceError } from '../core/errors.ts';
import type { DistributedOptions, StateOptions } from '../runtime/pipeline.ts';
import { distributedRuns, formatDistributedRuns } from '../ops/distributed/runs.ts';
import { queuePlace } from '../ops/distributed/place.ts';
import { formatRecords } from '../ops/history.ts';
import { historyReportHtml } from '../ops/html-report.ts';
import { DEFAULT_STATE_FOLDER, openStateStore } from '../ops/state.ts';
import { EXIT } from './exit-codes.ts';
import { loadPipeline } from '../ops/load.ts';
import { type CommandIO, parseFlags, wholeNumber } from './args.ts';

export const RUNS_HELP = `Usage: etl runs [pipeline] [options]

Prints the run history, newest first: start, pipeline, status (succeeded, failed, skipped), trigger,
duration, rows in/out/rejected, peak RSS, watermark after the run, and the error.

[pipeline] is a pipeline file (its own state store is read, and only its runs are shown) or a pipeline
name (looked up in --state). Without it, every pipeline of --state. A file is loaded (its top-level code
runs) to learn its name and state store; with --state, or when loading fails, it is not needed: the
file's base name is used, with the ${DEFAULT_STATE_FOLDER} folder next to it unless --state says otherwise.

Options:
  --state <where>    A state folder, or a postgres:// URL (default: ${DEFAULT_STATE_FOLDER} in the current folder).
  --schema <name>    Schema of the history table with a postgres:// --state, or with --distributed of
                     the run records (default: sluice, or the pipeline's distributed.schema).
  --limit <n>        At most this many runs (default: 20).
  --json             One JSON array, for machines.
  --html <file>      Also write the runs as one self-contained HTML page: duration, rows and peak RSS
                     per run, charted, and the table (open it in any browser; no network).
  --distributed      The distributed runs (etl run --distributed) instead, running ones too, each
                     with its partitions: status, worker, attempts, rows. From the queue's database:
                     the pipeline's distributed.connection, else --connection, else DATABASE_URL.
  --connection <url> With --distributed: the queue's database.
  -h, --help         This help.`;

export async function runsCommand(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseFlags('etl runs', argv, {
    state: { type: 'string' },
    schema: { type: 'string' },
    limit: { type: 'string' },
    json: { type: 'boolean' },
    html: { type: 'string' },
    distributed: { type: 'boolean' },
    connection: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    io.stdout.write(`${RUNS_HELP}\n`);
    return EXIT.ok;
  }
  if (positionals.length > 1) throw new SluiceError('INVALID_OPTION', `etl runs takes at most one pipeline; got ${positionals.join(' ')}. See etl runs --help.`);
  const limit = wholeNumber(values.limit, '--limit') ?? 20;
  const target = positionals[0];
  let name: string | undefined = target;
  let stateOptions: StateOptions | undefined;
  let distributedOptions: DistributedOptions | undefined;
  let file: string | undefined;
  if (target !== undefined && /\.[cm]?[jt]s$/.test(target) && existsSync(target) && statSync(target).isFile()) {
    file = target;
    // Loading a pipeline file runs its top-level code (a lookup, an environment variable it needs), only
    // to learn its name and state store: with --state, or when that code fails, the file name stands in.
    const fileName = basename(target, extname(target));
    if (values.state !== undefined) {
      name = fileName;
      io.stderr.write(`etl: ${target} is not loaded with --state: showing the runs of ${JSON.stringify(name)} (its file name; give the pipeline's name if it has another)\n`);
    } else {
      try {
        const pipeline = await loadPipeline(target);
        name = pipeline.name;
        stateOptions = pipeline.state;
        distributedOptions = pipeline.distributed;
      } catch (error) {
        name = fileName;
        const why = error instanceof SluiceError ? `[${error.code}] ${error.message}` : String(error);
        io.stderr.write(
          `etl: ${target} could not be loaded (${why}); showing the runs of ${JSON.stringify(name)} (its file name) in ${join(dirname(resolve(target)), DEFAULT_STATE_FOLDER)}\n`,
        );
      }
    }
  }
  if (values.distributed === true) {
    const place = queuePlace(distributedOptions, values.connection, { schema: values.schema });
    const runs = await distributedRuns(place, name, limit);
    io.stdout.write(values.json ? `${JSON.stringify(runs, null, 2)}\n` : `${formatDistributedRuns(runs)}\n`);
    return EXIT.ok;
  }
  if (values.connection !== undefined) throw new SluiceError('INVALID_OPTION', 'etl runs: --connection goes with --distributed. See etl runs --help.', { option: '--connection' });
  if (values.state !== undefined) {
    stateOptions = /^postgres(ql)?:\/\//.test(values.state) ? { connection: values.state, schema: values.schema } : { folder: values.state };
    file = undefined;
  }
  const store = openStateStore(stateOptions, file);
  try {
    const records = await store.history({ pipeline: name, limit });
    io.stdout.write(values.json ? `${JSON.stringify(records, null, 2)}\n` : `${formatRecords(records)}\n`);
    if (values.html !== undefined) {
      await mkdir(dirname(resolve(values.html)), { recursive: true });
      await writeFile(values.html, historyReportHtml(`Runs of ${name ?? 'every pipeline'}`, records));
    }
    return EXIT.ok;
  } finally {
    await store.close();
  }
}
