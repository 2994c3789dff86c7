import { SluiceError } from '../core/errors.ts';
import { queuePlace } from '../ops/distributed/place.ts';
import { loadScheduled } from '../ops/scheduler.ts';
import { EXIT } from './exit-codes.ts';
import { byteSizeFlag, type CommandIO, milliseconds, parseFlags, wholeNumber } from './args.ts';

export const WORKER_HELP = `Usage: etl worker <files or folders> [options]

Runs the partitions of distributed runs (etl run --distributed) of the pipelines named, on this host,
until stopped with SIGTERM or Ctrl-C. Partitions run in child processes, one per --concurrency slot,
each running partition after partition with the pipelines loaded once; one that crashes or runs out of
memory takes only itself down: its job is retried, here or on another worker, and the slot gets a new
process.
Start workers on as many hosts as you like: they share the queue (pg-boss, in PostgreSQL).

Options:
  --connection <url>          The queue's database (default: DATABASE_URL).
  --queue-schema <name>       Schema of pg-boss's tables (default: pgboss).
  --concurrency <n>           Partitions run at once (default: 1).
  --memory <size>             One memory budget for them, shared equally (default: 1GB).
  --supervise-interval <s>    How often this worker looks for workers whose heartbeat lapsed, to retry
                              their partitions elsewhere, in seconds (default: 10).
  --shutdown-timeout <ms>     On SIGTERM/SIGINT: how long running partitions may finish before they are
                              stopped with SIGTERM and retried elsewhere (default: 30000).
  --kill-timeout <ms>         How long a partition has to stop after that SIGTERM before SIGKILL (default: 10000).
  -h, --help                  This help.

A folder means its .ts/.js files (not sub-folders); files there that are not pipelines are passed over.
Pipelines are known by name: a run queued from pipelines/orders.ts on one host is run by the worker of
any host that was given a pipeline named "orders". Its input files must be at the same path there.`;

export async function workerCommand(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseFlags('etl worker', argv, {
    connection: { type: 'string' },
    'queue-schema': { type: 'string' },
    concurrency: { type: 'string' },
    memory: { type: 'string' },
    'supervise-interval': { type: 'string' },
    'shutdown-timeout': { type: 'string' },
    'kill-timeout': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    io.stdout.write(`${WORKER_HELP}\n`);
    return EXIT.ok;
  }
  if (positionals.length === 0) throw new SluiceError('INVALID_OPTION', 'etl worker needs pipeline files or folders. See etl worker --help.');
  const concurrency = wholeNumber(values.concurrency, '--concurrency') ?? 1;
  const memory = byteSizeFlag(values.memory ?? '1GB', '--memory')!;
  const superviseIntervalSeconds = wholeNumber(values['supervise-interval'], '--supervise-interval') ?? 10;
  const shutdownTimeoutMs = milliseconds(values['shutdown-timeout'], '--shutdown-timeout') ?? 30_000;
  const killTimeoutMs = milliseconds(values['kill-timeout'], '--kill-timeout') ?? 10_000;
  const entries = await loadScheduled(positionals, (line) => io.stderr.write(`etl: ${line}\n`));
  if (entries.length === 0) throw new SluiceError('INVALID_OPTION', `No pipeline in ${positionals.join(', ')}: nothing to work on.`);
  const place = queuePlace(undefined, values.connection, { queueSchema: values['queue-schema'] });
  // Loaded only here, as `etl worker` is the one command that needs pg-boss's workers.
  const { Worker } = await import('../ops/distributed/worker.ts');
  const worker = new Worker(entries, { place, memory, concurrency, superviseIntervalSeconds, shutdownTimeoutMs, killTimeoutMs, signal: io.signal, log: (line) => io.stdout.write(`${line}\n`) });
  await worker.run();
  return EXIT.ok;
}
