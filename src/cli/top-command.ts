import { formatNumber } from '../core/format-number.ts';
import { SluiceError } from '../core/errors.ts';
import { liveStatusFolder, type LiveStatus, readLiveStatuses } from '../ops/live-status.ts';
import { type CommandIO, milliseconds, parseFlags } from './args.ts';
import { EXIT } from './exit-codes.ts';

export const TOP_HELP = `Usage: etl top [options]

A live view of the runs going on on this machine — each etl run and each child of etl schedule — one
line per run (pipeline, pid, rows read per second, RSS, bytes reserved of the budget, elapsed) and one
per stage under it (rows out per second, bytes held), refreshed every second. Ctrl-C quits.

Runs publish their figures about every second to files in a private folder (no network listener):
${liveStatusFolder()} (set SLUICE_RUNS_DIR to use another).

Options:
  --interval <ms>    Refresh every <ms> (default: 1000).
  --once             Print one frame and exit (for scripts).
  --json             With --once: the runs' figures as one JSON array.
  -h, --help         This help.`;

function megabytes(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MB`;
}

function elapsed(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(s).padStart(2, '0')}s`;
}

function count(value: number): string {
  return formatNumber(Math.round(value));
}

/** One frame: a header, then each run and its stages. */
export function formatTop(statuses: readonly LiveStatus[], now = new Date()): string {
  const lines = [`etl top — ${statuses.length} run${statuses.length === 1 ? '' : 's'} · ${now.toISOString().slice(11, 19)}`, ''];
  lines.push(`${'PIPELINE / STAGE'.padEnd(28)} ${'PID'.padStart(7)} ${'ROWS/S'.padStart(11)} ${'ROWS'.padStart(13)} ${'HELD'.padStart(10)} ${'RSS'.padStart(10)} ${'RESERVED/BUDGET'.padStart(19)} ${'ELAPSED'.padStart(8)}`);
  for (const status of statuses) {
    const reserved = `${megabytes(status.reserved)}/${megabytes(status.budget).replace(' MB', '')}`;
    lines.push(
      `${status.pipeline.slice(0, 28).padEnd(28)} ${String(status.pid).padStart(7)} ${count(status.source.rowsPerSecond).padStart(11)} ${count(status.source.rows).padStart(13)} ${''.padStart(10)} ${megabytes(status.rss).padStart(10)} ${reserved.padStart(19)} ${elapsed(status.elapsedMs).padStart(8)}`,
    );
    for (const stage of status.stages) {
      lines.push(`${`  ${stage.name}`.slice(0, 28).padEnd(28)} ${''.padStart(7)} ${count(stage.rowsPerSecond).padStart(11)} ${count(stage.rowsOut).padStart(13)} ${megabytes(stage.held).padStart(10)}`);
    }
  }
  if (statuses.length === 0) lines.push('(no runs going on)');
  return lines.join('\n');
}

export async function topCommand(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseFlags('etl top', argv, {
    interval: { type: 'string' },
    once: { type: 'boolean' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    io.stdout.write(`${TOP_HELP}\n`);
    return EXIT.ok;
  }
  if (positionals.length > 0) throw new SluiceError('INVALID_OPTION', `etl top takes no arguments; got ${positionals.join(' ')}. See etl top --help.`);
  if (values.json && !values.once) throw new SluiceError('INVALID_OPTION', 'etl top --json prints one frame: add --once.', { option: 'json' });
  const interval = milliseconds(values.interval, '--interval', 100) ?? 1000;
  if (values.once) {
    const statuses = readLiveStatuses();
    io.stdout.write(values.json ? `${JSON.stringify(statuses, null, 2)}\n` : `${formatTop(statuses)}\n`);
    return EXIT.ok;
  }
  // Clear the screen and draw from the top left each time: a terminal shows the latest frame only.
  while (!io.signal.aborted) {
    io.stdout.write(`\u001b[H\u001b[2J${formatTop(readLiveStatuses())}\n`);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, interval);
      io.signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
    });
  }
  return EXIT.ok;
}
