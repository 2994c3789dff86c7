import { formatNumber } from '../core/format-number.ts';
import type { ThreadFigures } from './threads/figures.ts';
import { formatBytes } from '../core/bytes.ts';
import type { RunWarning } from '../core/warnings.ts';
import type { RunSummary } from './summary.ts';


function duration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes}m${Math.round(seconds % 60)
    .toString()
    .padStart(2, '0')}s`;
}

/** A warning as people read it, in the summary and as it happens. */
export function formatWarning(warning: RunWarning): string {
  return warning.message;
}

/** `read 2 of 10 (country, quantity)`: what the projection push-down left the source to decode. */
export function columnsLine(read: readonly string[], of: number): string {
  return `read ${formatNumber(read.length)} of ${formatNumber(of)} (${read.join(', ')}): no stage or sink uses the others`;
}

/** The summary a person reads at the end of `etl run`. */
export function formatSummary(summary: RunSummary): string {
  const lines: string[] = [];
  const status = summary.status === 'succeeded' ? (summary.dryRun ? 'dry run finished' : 'succeeded') : 'FAILED';
  lines.push(`${summary.pipeline}: ${status} in ${duration(summary.elapsedMs)}`);
  const { read, written, dropped, rejected } = summary.rows;
  const inFlight = summary.rows.inFlight ? `, in flight when it stopped ${formatNumber(summary.rows.inFlight)}` : '';
  lines.push(`  rows       read ${formatNumber(read)}, written ${formatNumber(written)}, dropped ${formatNumber(dropped)}, rejected ${formatNumber(rejected)}${inFlight}`);
  const { engine, engineDetail } = summary.source;
  lines.push(`  source     ${summary.source.kind} ${summary.source.location}${engine ? ` [${engine}${engineDetail ? `: ${engineDetail}` : ''}]` : ''}`);
  const columns = summary.source.columns;
  if (columns !== undefined && columns.read.length < columns.of) lines.push(`  columns    ${columnsLine(columns.read, columns.of)}`);
  for (const stage of summary.stages) {
    const groups = stage.peakGroups === undefined ? (stage.peakRows === undefined ? '' : `, rows held ${formatNumber(stage.peakRows)}`) : `, groups held ${formatNumber(stage.peakGroups)}`;
    const side = stage.sideSource;
    const build =
      side === undefined
        ? ''
        : `, build ${formatNumber(stage.buildRows ?? side.rowsRead)} rows of ${formatNumber(side.rowsRead)} read from ${side.kind} ${side.location}${side.columns === undefined ? '' : ` (columns read ${side.columns.read.length} of ${side.columns.of}: ${side.columns.read.join(', ')})`}${side.rejected > 0 ? ` (${formatNumber(side.rejected)} rejected)` : ''}`;
    const pieces = stage.spilledRuns === undefined ? `${formatNumber(stage.spilledPartitions ?? 0)} partitions` : `${formatNumber(stage.spilledRuns)} runs`;
    const spilled = stage.spilledBytes ? `, spilled ${formatBytes(stage.spilledBytes)} in ${pieces} (${duration(Math.round(stage.spillMs ?? 0))})` : '';
    lines.push(`  stage      ${stage.name.padEnd(12)} in ${formatNumber(stage.rowsIn)}, out ${formatNumber(stage.rowsOut)}, peak held ${formatBytes(stage.peakBytesHeld)}${stage.peakStateBytes > 0 ? `, peak state ${formatBytes(stage.peakStateBytes)}` : ''}${groups}${build}${spilled}`);
  }
  const threads = summary.source.threads;
  if (threads !== undefined) lines.push(`  threads    ${threadsLine(threads)}`);
  lines.push(`  sink       ${summary.sink.kind} ${summary.sink.location}${summary.sink.engine ? ` [${summary.sink.engine}]` : ''}`);
  lines.push(
    `  speed      ${formatNumber(summary.rowsPerSecond)} rows/s, ${summary.megabytesPerSecond} MB/s (${formatBytes(summary.input.bytesRead)} read)`,
  );
  const memory = summary.memory;
  lines.push(
    `  memory     peak RSS ${formatBytes(memory.peakRss)} (idle ${formatBytes(memory.baselineRss)}), peak heap ${formatBytes(memory.peakHeapUsed)}, ` +
      `peak reserved ${formatBytes(memory.peakReserved)} of ${formatBytes(memory.budget)} budget`,
  );
  const heldAtPeak = Object.entries(memory.heldAtPeak).filter(([, bytes]) => bytes > 0);
  if (heldAtPeak.length > 0) {
    lines.push(`  held       at the peak: ${heldAtPeak.map(([name, bytes]) => `${name} ${formatBytes(bytes)}`).join(', ')}`);
  }
  const batches = summary.batches;
  if (batches.count > 0 && batches.columnarBytes > 0) {
    lines.push(
      `  batches    ${formatNumber(batches.count)} × ~${formatNumber(batches.meanRows)} rows (size ${formatNumber(batches.rowsPerBatch)}): ${formatBytes(batches.columnarBytes)} as typed columns vs ` +
        `${formatBytes(batches.objectBytes)} as JS objects (${batches.savingRatio}× smaller)`,
    );
  }
  if (summary.rejectsPath !== undefined) lines.push(`  rejects    ${summary.rejectsPath}${summary.dryRun ? ' (dry run: not written)' : ''}`);
  for (const warning of summary.warnings) lines.push(`  warning    ${formatWarning(warning)}`);
  if (summary.error !== undefined) lines.push(`  error      [${summary.error.code}] ${summary.error.message}`);
  return lines.join('\n');
}

/** `2 (14 parts; filter, derive in the workers): worker 1 51% of rows, 7 parts, busy 1.2 s; …`, or `1 of 2 asked: why`. */
function threadsLine(threads: ThreadFigures): string {
  if (threads.used <= 1) return `1 of ${threads.asked} asked: ${threads.reason ?? 'read on the main thread'}`;
  const workers = threads.workers ?? [];
  const rows = workers.reduce((sum, worker) => sum + worker.rows, 0);
  const shares = workers.map((worker, k) => `worker ${k + 1} ${rows > 0 ? Math.round((worker.rows / rows) * 100) : 0}% of rows, ${worker.parts} parts, busy ${(worker.busyMs / 1000).toFixed(1)} s`);
  const stages = threads.stages !== undefined && threads.stages.length > 0 ? `; ${threads.stages.join(', ')} in the workers` : '';
  return `${threads.used} (${threads.parts} parts${stages}): ${shares.join('; ')}`;
}
