/**
 * The scheduler's metrics in Prometheus' text format (version 0.0.4), served by `etl schedule
 * --metrics [host]:port` on localhost unless a host is given: runs started and ended by status, rows,
 * bytes read, run durations as a histogram, each pipeline's last peak RSS, runs going on, and ticks
 * skipped because another process held the pipeline's lock. Counted per run, never per row or batch.
 * https://prometheus.io/docs/instrumenting/exposition_formats/
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SluiceError } from '../core/errors.ts';

/** A run's end, as the scheduler tells it. */
export interface RunEnded {
  pipeline: string;
  status: 'succeeded' | 'failed' | 'skipped';
  durationMs: number;
  rowsIn: number;
  rowsOut: number;
  rowsRejected: number;
  bytesRead: number;
  peakRss: number;
  /** Skipped because another process held the pipeline's lock. */
  lockHeld?: boolean;
}

/** Seconds: from a sub-second run to an hour-long one. */
const DURATION_BUCKETS = [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600];

interface PipelineFigures {
  started: number;
  running: number;
  ended: Record<RunEnded['status'], number>;
  rows: { in: number; out: number; rejected: number };
  bytesRead: number;
  lockWaits: number;
  peakRss: number;
  durations: { buckets: number[]; sum: number; count: number };
}

export class SchedulerMetrics {
  private readonly pipelines = new Map<string, PipelineFigures>();

  private of(pipeline: string): PipelineFigures {
    let figures = this.pipelines.get(pipeline);
    if (figures === undefined) {
      figures = {
        started: 0,
        running: 0,
        ended: { succeeded: 0, failed: 0, skipped: 0 },
        rows: { in: 0, out: 0, rejected: 0 },
        bytesRead: 0,
        lockWaits: 0,
        peakRss: 0,
        durations: { buckets: DURATION_BUCKETS.map(() => 0), sum: 0, count: 0 },
      };
      this.pipelines.set(pipeline, figures);
    }
    return figures;
  }

  /** A pipeline the scheduler runs: its series exist (at 0) before its first run. */
  known(pipeline: string): void {
    this.of(pipeline);
  }

  started(pipeline: string): void {
    const figures = this.of(pipeline);
    figures.started++;
    figures.running++;
  }

  ended(run: RunEnded, wasStarted = true): void {
    const figures = this.of(run.pipeline);
    if (wasStarted) figures.running = Math.max(0, figures.running - 1);
    figures.ended[run.status]++;
    if (run.lockHeld) figures.lockWaits++;
    if (run.status === 'skipped') return;
    figures.rows.in += run.rowsIn;
    figures.rows.out += run.rowsOut;
    figures.rows.rejected += run.rowsRejected;
    figures.bytesRead += run.bytesRead;
    if (run.peakRss > 0) figures.peakRss = run.peakRss;
    const seconds = run.durationMs / 1000;
    DURATION_BUCKETS.forEach((bound, i) => {
      if (seconds <= bound) figures.durations.buckets[i]++;
    });
    figures.durations.sum += seconds;
    figures.durations.count++;
  }

  /** The exposition text. */
  render(): string {
    const out: string[] = [];
    const family = (name: string, type: 'counter' | 'gauge' | 'histogram', help: string, lines: string[]) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...lines);
    };
    const entries = [...this.pipelines.entries()].sort(([a], [b]) => a.localeCompare(b));
    const label = (pipeline: string, extra = '') => `{pipeline="${escapeLabel(pipeline)}"${extra}}`;
    family('sluice_runs_started_total', 'counter', 'Runs the scheduler started.', entries.map(([name, f]) => `sluice_runs_started_total${label(name)} ${f.started}`));
    family(
      'sluice_runs_total',
      'counter',
      'Runs ended, by status (skipped: the lock was held, the tick had run, or the previous run was still going).',
      entries.flatMap(([name, f]) => (Object.keys(f.ended) as RunEnded['status'][]).map((status) => `sluice_runs_total${label(name, `,status="${status}"`)} ${f.ended[status]}`)),
    );
    family('sluice_runs_running', 'gauge', 'Runs going on now.', entries.map(([name, f]) => `sluice_runs_running${label(name)} ${f.running}`));
    family(
      'sluice_rows_total',
      'counter',
      'Rows of ended runs: read (in), written (out) and rejected.',
      entries.flatMap(([name, f]) => (['in', 'out', 'rejected'] as const).map((kind) => `sluice_rows_total${label(name, `,kind="${kind}"`)} ${f.rows[kind]}`)),
    );
    family('sluice_bytes_read_total', 'counter', 'Bytes the ended runs read from their sources.', entries.map(([name, f]) => `sluice_bytes_read_total${label(name)} ${f.bytesRead}`));
    family('sluice_lock_waits_total', 'counter', "Ticks skipped because another process held the pipeline's lock.", entries.map(([name, f]) => `sluice_lock_waits_total${label(name)} ${f.lockWaits}`));
    family('sluice_run_peak_rss_bytes', 'gauge', "The last ended run's peak RSS.", entries.map(([name, f]) => `sluice_run_peak_rss_bytes${label(name)} ${f.peakRss}`));
    family(
      'sluice_run_duration_seconds',
      'histogram',
      'How long the runs that ran took.',
      entries.flatMap(([name, f]) => [
        ...DURATION_BUCKETS.map((bound, i) => `sluice_run_duration_seconds_bucket${label(name, `,le="${bound}"`)} ${f.durations.buckets[i]}`),
        `sluice_run_duration_seconds_bucket${label(name, ',le="+Inf"')} ${f.durations.count}`,
        `sluice_run_duration_seconds_sum${label(name)} ${f.durations.sum}`,
        `sluice_run_duration_seconds_count${label(name)} ${f.durations.count}`,
      ]),
    );
    return `${out.join('\n')}\n`;
  }
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** `:9464`, `9464` or `host:9464` → host and port; a bare port listens on 127.0.0.1 only. */
export function parseListenAddress(value: string): { host: string; port: number } {
  const match = /^(?:(\[[^\]]+\]|[^:]*):)?(\d+)$/.exec(value.trim());
  const port = match === null ? NaN : Number(match[2]);
  if (match === null || !Number.isInteger(port) || port > 65535) {
    throw new SluiceError('INVALID_OPTION', `Expected --metrics to be [host]:port, e.g. :9464 (localhost) or 0.0.0.0:9464, got ${JSON.stringify(value)}.`, { option: 'metrics' });
  }
  const host = match[1] === undefined || match[1] === '' ? '127.0.0.1' : match[1].replace(/^\[|\]$/g, '');
  return { host, port };
}

/** Serves `metrics` at GET /metrics; resolves once listening, with the address it took. */
export async function serveMetrics(metrics: SchedulerMetrics, address: { host: string; port: number }): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer((request, response) => {
    if (request.method !== 'GET' || (request.url !== '/metrics' && request.url !== '/')) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('Not found: the metrics are at /metrics\n');
      return;
    }
    response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(metrics.render());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(new SluiceError('INVALID_OPTION', `Cannot serve metrics on ${address.host}:${address.port}: ${error.code ?? error.message}.`, { option: 'metrics', cause: error })),
    );
    server.listen(address.port, address.host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return {
    url: `http://${host}:${port}/metrics`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
