import { SluiceError } from '../core/errors.ts';
import { childProcessExecutor } from '../ops/child-process-executor.ts';
import { parseListenAddress, SchedulerMetrics, serveMetrics } from '../ops/metrics.ts';
import { loadScheduled, nextRunTimes, Scheduler } from '../ops/scheduler.ts';
import { EXIT } from './exit-codes.ts';
import { byteSizeFlag, type CommandIO, milliseconds, parseFlags } from './args.ts';

export const SCHEDULE_HELP = `Usage: etl schedule <files or folders> [options]

Runs each pipeline when its \`schedule\` (cron) says so, until stopped with SIGTERM or Ctrl-C. Each run is
a child process of its own, so a run that crashes, hangs or runs out of memory never stops the scheduler or
the other pipelines. Runs hold the pipeline's lock, as etl run does: several schedulers (on one machine
or, with a PostgreSQL state store, on several) and crontab lines never run a pipeline twice at once.

Options:
  --memory <size>             One memory budget for all runs going at once (default: 1GB). Each run gets
                              its pipeline's \`memory\`, else the budget divided by the number of pipelines,
                              as its memory budget; a run waits while its share does not fit.
  --list                      Print each pipeline with its next run times, and exit.
  --shutdown-timeout <ms>     On SIGTERM/SIGINT: how long running runs may finish before they are stopped
                              with SIGTERM (default: 30000).
  --kill-timeout <ms>         How long a run has to stop after that SIGTERM, or past its run timeout,
                              before it is killed with SIGKILL (default: 10000).
  --run-timeout <ms>          Stop a run still going after this long and record it as failed (RUN_TIMEOUT),
                              for pipelines without their own \`runTimeoutMs\` (default: none).
  --distributed               Each tick becomes a distributed run (as etl run --distributed), run by etl
                              workers; every scheduler may fire a tick, and the first to queue it runs it,
                              so several schedulers on several hosts run each tick once.
  --connection <url>          With --distributed: the queue's database when the pipeline's
                              distributed.connection does not say (default: DATABASE_URL).
  --metrics <[host]:port>     Serve Prometheus metrics at http://host:port/metrics while scheduling: runs
                              started and ended by status, rows, bytes read, durations (histogram), peak
                              RSS, runs going on, lock waits. ":9464" listens on 127.0.0.1 only.
  -h, --help                  This help.

A folder means its .ts/.js files (not sub-folders); files there that are not pipelines are passed over.`;

export async function scheduleCommand(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseFlags('etl schedule', argv, {
    memory: { type: 'string' },
    list: { type: 'boolean' },
    'shutdown-timeout': { type: 'string' },
    'kill-timeout': { type: 'string' },
    'run-timeout': { type: 'string' },
    metrics: { type: 'string' },
    distributed: { type: 'boolean' },
    connection: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    io.stdout.write(`${SCHEDULE_HELP}\n`);
    return EXIT.ok;
  }
  if (positionals.length === 0) throw new SluiceError('INVALID_OPTION', 'etl schedule needs pipeline files or folders. See etl schedule --help.');
  if (values.connection !== undefined && !values.distributed) throw new SluiceError('INVALID_OPTION', 'etl schedule: --connection goes with --distributed (the queue of distributed runs).');
  const memory = byteSizeFlag(values.memory ?? '1GB', '--memory')!;
  const shutdownTimeoutMs = milliseconds(values['shutdown-timeout'], '--shutdown-timeout') ?? 30_000;
  const killTimeoutMs = milliseconds(values['kill-timeout'], '--kill-timeout') ?? 10_000;
  const runTimeoutMs = milliseconds(values['run-timeout'], '--run-timeout', 1);
  const metricsAddress = values.metrics === undefined ? undefined : parseListenAddress(values.metrics);
  const entries = await loadScheduled(positionals, (line) => io.stderr.write(`etl: ${line}\n`));
  if (values.list) {
    const now = new Date();
    for (const entry of entries) {
      const { schedule, timezone, overlap, catchUp } = entry.settings;
      if (schedule === undefined) {
        io.stdout.write(`${entry.name}  ${entry.file}\n  no schedule: not run by etl schedule\n`);
        continue;
      }
      io.stdout.write(`${entry.name}  ${entry.file}\n  schedule ${JSON.stringify(schedule)}${timezone ? ` (${timezone})` : ''}, overlap ${overlap}, catchUp ${catchUp}\n`);
      for (const at of nextRunTimes(entry, 5, now)) io.stdout.write(`  next ${at.toISOString()}\n`);
    }
    return EXIT.ok;
  }
  if (!entries.some((entry) => entry.cron !== undefined)) {
    throw new SluiceError('INVALID_OPTION', `None of ${positionals.join(', ')} has a \`schedule\`: nothing to run. Add e.g. schedule: '0 * * * *' to a pipeline.`);
  }
  for (const entry of entries) if (entry.cron === undefined) io.stderr.write(`etl: ${entry.file}: no schedule, not run\n`);
  const metrics = metricsAddress === undefined ? undefined : new SchedulerMetrics();
  const served = metrics === undefined ? undefined : await serveMetrics(metrics, metricsAddress!);
  if (served !== undefined) io.stdout.write(`${new Date().toISOString()} metrics at ${served.url}\n`);
  try {
    const log = (line: string) => io.stdout.write(`${line}\n`);
    // Loaded only with --distributed, as etl run --distributed and etl worker do: pg-boss is not part of etl's startup.
    const executor = values.distributed ? (await import('../ops/distributed/executor.ts')).distributedExecutor(values.connection, log) : childProcessExecutor();
    const scheduler = new Scheduler(entries, { memory, shutdownTimeoutMs, killTimeoutMs, runTimeoutMs, signal: io.signal, log, executor, metrics });
    await scheduler.run();
  } finally {
    await served?.close();
  }
  return EXIT.ok;
}
