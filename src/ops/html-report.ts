/**
 * A run, or a pipeline's history, as one self-contained HTML file: inline SVG charts and CSS, no script
 * and nothing fetched, so it opens from disk in any browser, offline, and can be mailed or attached to
 * a ticket. A run's page: memory over time (RSS, heap, bytes reserved against the budget, and the bytes
 * each stage held, stacked), rows per second per stage, the summary's tables, and its warnings and
 * error with their locations. The history's page: duration, rows and peak RSS per run.
 */
import { formatNumber } from '../core/format-number.ts';
import { formatLocation } from '../core/errors.ts';
import type { RunSummary } from '../runtime/summary.ts';
import type { RunSamples } from '../runtime/time-series.ts';
import type { RunRecord } from './history.ts';

const WIDTH = 880;
const HEIGHT = 240;
const MARGIN = { left: 64, right: 16, top: 12, bottom: 28 };
const PALETTE = ['#4c78a8', '#f58518', '#54a24b', '#b279a2', '#e45756', '#72b7b2', '#eeca3b', '#9d755d', '#bab0ac'];

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

function megabytes(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MB`;
}

function count(value: number): string {
  return formatNumber(Math.round(value));
}

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

interface Line {
  label: string;
  values: readonly number[];
  color: string;
  dashed?: boolean;
}

interface Chart {
  id: string;
  title: string;
  t: readonly number[];
  lines: readonly Line[];
  /** Areas stacked from 0, under the lines. */
  stacked?: readonly Line[];
  format: (value: number) => string;
  /** A vertical mark, e.g. where a failed run stopped. */
  mark?: { t: number; label: string };
  /** The labels at both ends of the time axis. @default 0 s and the last time */
  axis?: readonly [string, string];
}

/** A line chart in SVG, with its axis labels and a legend; `data-*` attributes name what it shows. */
function chart({ id, title, t, lines, stacked = [], format, mark, axis }: Chart): string {
  const innerWidth = WIDTH - MARGIN.left - MARGIN.right;
  const innerHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const lastT = Math.max(1, t[t.length - 1] ?? 1, mark?.t ?? 0);
  const sums = t.map((_, i) => stacked.reduce((sum, area) => sum + (area.values[i] ?? 0), 0));
  const top = Math.max(1, ...sums, ...lines.flatMap((line) => line.values)) * 1.05;
  const x = (ms: number) => MARGIN.left + (ms / lastT) * innerWidth;
  const y = (value: number) => MARGIN.top + innerHeight - (value / top) * innerHeight;
  const parts: string[] = [];
  for (let tick = 0; tick <= 4; tick++) {
    const value = (top / 4) * tick;
    parts.push(`<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y(value).toFixed(1)}" y2="${y(value).toFixed(1)}" class="grid"/>`);
    parts.push(`<text x="${MARGIN.left - 6}" y="${(y(value) + 4).toFixed(1)}" text-anchor="end">${escapeHtml(format(value))}</text>`);
  }
  const [first, last] = axis ?? ['0 s', seconds(lastT)];
  parts.push(`<text x="${MARGIN.left}" y="${HEIGHT - 8}">${escapeHtml(first)}</text>`);
  parts.push(`<text x="${WIDTH - MARGIN.right}" y="${HEIGHT - 8}" text-anchor="end">${escapeHtml(last)}</text>`);
  const base = t.map(() => 0);
  stacked.forEach((area) => {
    const upper = base.map((below, i) => below + (area.values[i] ?? 0));
    const forward = t.map((ms, i) => `${x(ms).toFixed(1)},${y(upper[i]).toFixed(1)}`);
    const back = t.map((ms, i) => `${x(ms).toFixed(1)},${y(base[i]).toFixed(1)}`).reverse();
    parts.push(`<polygon class="area" data-series="${escapeHtml(area.label)}" fill="${area.color}" points="${[...forward, ...back].join(' ')}"/>`);
    upper.forEach((value, i) => (base[i] = value));
  });
  for (const line of lines) {
    const points = t.map((ms, i) => `${x(ms).toFixed(1)},${y(line.values[i] ?? 0).toFixed(1)}`).join(' ');
    parts.push(`<polyline class="line${line.dashed ? ' dashed' : ''}" data-series="${escapeHtml(line.label)}" stroke="${line.color}" points="${points}"/>`);
  }
  if (mark !== undefined) {
    parts.push(`<line class="mark" x1="${x(mark.t).toFixed(1)}" x2="${x(mark.t).toFixed(1)}" y1="${MARGIN.top}" y2="${MARGIN.top + innerHeight}"/>`);
    parts.push(`<text class="mark-label" x="${(x(mark.t) - 4).toFixed(1)}" y="${MARGIN.top + 12}" text-anchor="end">${escapeHtml(mark.label)}</text>`);
  }
  const legend = [...lines, ...stacked]
    .map((line) => `<span class="key"><i style="background:${line.color}"></i>${escapeHtml(line.label)}</span>`)
    .join('');
  return `<figure id="${id}"><figcaption>${escapeHtml(title)}</figcaption><svg viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" role="img" aria-label="${escapeHtml(title)}">${parts.join('')}</svg><div class="legend">${legend}</div></figure>`;
}

/** Rows per second between consecutive points of a cumulative count (the first point: 0). */
function rates(t: readonly number[], totals: readonly number[]): number[] {
  return totals.map((total, i) => (i === 0 ? 0 : ((total - totals[i - 1]) / Math.max(1, t[i] - t[i - 1])) * 1000));
}

function table(headers: readonly string[], rows: readonly (readonly string[])[], className = ''): string {
  const head = headers.map((header) => `<th>${escapeHtml(header)}</th>`).join('');
  const body = rows.map((row) => `<tr>${row.map((cell) => `<td>${escapeHtml(cell)}</td>`).join('')}</tr>`).join('');
  return `<table class="${className}"><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 920px; color: #222; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 24px 0 8px; }
.status { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff; font-size: 12px; vertical-align: middle; }
.succeeded { background: #2e7d32; } .failed { background: #c62828; } .skipped { background: #757575; }
table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid #e5e5e5; }
td:not(:first-child), th:not(:first-child) { text-align: right; } table.text td { text-align: left; }
figure { margin: 12px 0; } figcaption { font-weight: 600; margin-bottom: 4px; }
svg text { font-size: 11px; fill: #555; } .grid { stroke: #eee; } .line { fill: none; stroke-width: 1.6; }
.dashed { stroke-dasharray: 5 4; } .area { opacity: 0.55; } .mark { stroke: #c62828; stroke-width: 1.5; } .mark-label { fill: #c62828; }
.legend { font-size: 12px; } .key { margin-right: 14px; white-space: nowrap; } .key i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; vertical-align: -1px; }
.error { border-left: 4px solid #c62828; background: #fdecea; padding: 8px 12px; white-space: pre-wrap; }
.warning { border-left: 4px solid #ef6c00; background: #fff3e0; padding: 6px 12px; margin: 4px 0; }
</style></head><body>
${body}
</body></html>
`;
}

/** A run's report: what `etl run --report run.html` writes. */
export function runReportHtml(summary: RunSummary, file?: string): string {
  const samples: RunSamples = summary.samples;
  const { memory, rows } = summary;
  const stageNames = Object.keys(samples.stages);
  const color = (i: number) => PALETTE[i % PALETTE.length];
  const failedAt = summary.status === 'failed' ? { t: summary.elapsedMs, label: 'failed here' } : undefined;
  const memoryChart = chart({
    id: 'memory',
    title: 'Memory over time',
    t: samples.t,
    lines: [
      { label: 'RSS', values: samples.rss, color: '#222' },
      { label: 'heap used', values: samples.heapUsed, color: '#8e24aa' },
      { label: 'reserved', values: samples.reserved, color: '#1e88e5' },
      { label: 'budget', values: samples.t.map(() => samples.budget), color: '#c62828', dashed: true },
      { label: 'idle RSS + budget', values: samples.t.map(() => memory.baselineRss + samples.budget), color: '#ef9a9a', dashed: true },
    ],
    stacked: stageNames.map((name, i) => ({ label: `held: ${name}`, values: samples.stages[name].held, color: color(i) })),
    format: megabytes,
    mark: failedAt,
  });
  const throughputChart = chart({
    id: 'throughput',
    title: 'Rows per second',
    t: samples.t,
    lines: [
      { label: 'source', values: rates(samples.t, samples.source.rows), color: '#222' },
      ...stageNames.map((name, i) => ({ label: name, values: rates(samples.t, samples.stages[name].rowsOut), color: color(i) })),
    ],
    format: count,
    mark: failedAt,
  });
  const stagesTable = table(
    ['stage', 'rows in', 'rows out', 'peak held', 'peak state', 'spilled'],
    summary.stages.map((stage) => [
      stage.name,
      count(stage.rowsIn),
      count(stage.rowsOut),
      megabytes(stage.peakBytesHeld),
      megabytes(stage.peakStateBytes),
      stage.spilledBytes ? `${megabytes(stage.spilledBytes)} in ${stage.spilledRuns === undefined ? `${stage.spilledPartitions ?? 0} partitions` : `${stage.spilledRuns} runs`}` : '',
    ]),
  );
  const facts = table(
    ['', ''],
    [
      ['source', `${summary.source.kind} ${summary.source.location}${summary.source.engine ? ` [${summary.source.engine}${summary.source.engineDetail ? `: ${summary.source.engineDetail}` : ''}]` : ''}`],
      ['sink', `${summary.sink.kind} ${summary.sink.location}${summary.sink.engine ? ` [${summary.sink.engine}]` : ''}`],
      ['rows', `read ${count(rows.read)}, written ${count(rows.written)}, dropped ${count(rows.dropped)}, rejected ${count(rows.rejected)}`],
      ['speed', `${count(summary.rowsPerSecond)} rows/s, ${summary.megabytesPerSecond} MB/s`],
      ['peak RSS', `${megabytes(memory.peakRss)} (idle ${megabytes(memory.baselineRss)})`],
      ['peak heap', megabytes(memory.peakHeapUsed)],
      ['peak reserved', `${megabytes(memory.peakReserved)} of ${megabytes(memory.budget)} budget`],
      ['pauses for memory', count(memory.pressureEvents)],
    ],
    'text',
  );
  const error = summary.error === undefined ? '' : `<h2>Error</h2><div class="error" id="error">[${escapeHtml(summary.error.code)}] ${escapeHtml(summary.error.message)}${locationOf(summary.error)}</div>`;
  const warnings =
    summary.warnings.length === 0 ? '' : `<h2>Warnings</h2>${summary.warnings.map((warning) => `<div class="warning">[${escapeHtml(warning.code)}] ${escapeHtml(warning.message)}</div>`).join('')}`;
  const heading = `<h1>${escapeHtml(summary.pipeline)} <span class="status ${summary.status}" id="status">${summary.status}</span></h1>
<div>${escapeHtml(summary.startedAt)} · ${escapeHtml(seconds(summary.elapsedMs))}${file === undefined ? '' : ` · ${escapeHtml(file)}`}</div>`;
  return page(`${summary.pipeline}: ${summary.status}`, `${heading}${error}${memoryChart}${throughputChart}<h2>Summary</h2>${facts}<h2>Stages</h2>${stagesTable}${warnings}`);
}

function locationOf(error: NonNullable<RunSummary['error']>): string {
  const place = formatLocation(error as Parameters<typeof formatLocation>[0]);
  return place ? `\nat ${escapeHtml(place)}` : '';
}

/** A pipeline's history: what `etl runs <pipeline> --html out.html` writes, oldest run on the left. */
export function historyReportHtml(title: string, records: readonly RunRecord[]): string {
  const runs = [...records].reverse();
  const t = runs.map((_, i) => i * 1000);
  const duration = runs.map((record) => Date.parse(record.endedAt) - Date.parse(record.startedAt));
  const axis = [runs[0]?.startedAt ?? '', runs[runs.length - 1]?.startedAt ?? ''] as const;
  const charts = [
    chart({ id: 'durations', title: 'Duration per run', t, axis, lines: [{ label: 'duration', values: duration, color: '#4c78a8' }], format: seconds }),
    chart({
      id: 'rows',
      title: 'Rows per run',
      t,
      axis,
      lines: [
        { label: 'rows in', values: runs.map((record) => record.rowsIn), color: '#222' },
        { label: 'rows out', values: runs.map((record) => record.rowsOut), color: '#54a24b' },
      ],
      format: count,
    }),
    chart({ id: 'peak-rss', title: 'Peak RSS per run', t, axis, lines: [{ label: 'peak RSS', values: runs.map((record) => record.peakRss), color: '#8e24aa' }], format: megabytes }),
  ];
  const rows = records.map((record, i) => [
    record.startedAt,
    record.status,
    record.trigger,
    seconds(duration[records.length - 1 - i]),
    count(record.rowsIn),
    count(record.rowsOut),
    count(record.rowsRejected),
    megabytes(record.peakRss),
    record.error === undefined ? '' : `[${record.error.code}] ${record.error.message}`,
  ]);
  const list = table(['started', 'status', 'trigger', 'duration', 'rows in', 'rows out', 'rejected', 'peak RSS', 'error'], rows, 'history');
  return page(title, `<h1>${escapeHtml(title)}</h1><div>${records.length} runs, newest first in the table</div>${charts.join('')}<h2>Runs</h2>${list}`);
}
