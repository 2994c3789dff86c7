/**
 * The run history: one record per run, manual (`etl run`) or scheduled, including ticks skipped because
 * the pipeline was already running. Kept in `sluice_runs` (PostgreSQL state store) or appended to
 * `runs.ndjson` in the state folder (one `write` per record on an O_APPEND file, so concurrent writers
 * never interleave and a crash leaves at most a torn last line, which readers skip).
 */
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type pg from 'pg';
import type { RunSummary } from '../report/summary.ts';
import { formatBytes } from '../scheduler/bytes.ts';

export type RunStatus = 'succeeded' | 'failed' | 'skipped';

export interface RunRecord {
  pipeline: string;
  status: RunStatus;
  /** `manual` (etl run), `schedule` (a tick), `catch-up` (a missed tick run on start), `retry`. */
  trigger: string;
  /** The scheduled time this run is for (ISO), when it ran for a tick. */
  tick?: string;
  startedAt: string;
  endedAt: string;
  rowsIn: number;
  rowsOut: number;
  rowsRejected: number;
  /** Bytes, as the run measured it (the process's peak resident set size). */
  peakRss: number;
  /** Incremental state before and after the run (watermark, finished files); after = before when nothing committed. */
  watermarkBefore?: unknown;
  watermarkAfter?: unknown;
  /** Attempts made (1 + retries). */
  attempts?: number;
  error?: { code: string; message: string };
  /** Why it was skipped, or other notes. */
  note?: string;
  host?: string;
  pid?: number;
}

export interface HistoryQuery {
  pipeline?: string;
  /** Newest first, at most this many. @default 20 */
  limit?: number;
}

/** A record of a run from its summary. */
export function recordFromSummary(summary: RunSummary, extra: Partial<RunRecord> = {}): RunRecord {
  return {
    pipeline: summary.pipeline,
    status: summary.status,
    trigger: 'manual',
    startedAt: summary.startedAt,
    endedAt: summary.endedAt,
    rowsIn: summary.rows.read,
    rowsOut: summary.rows.written,
    rowsRejected: summary.rows.rejected,
    peakRss: summary.memory.peakRss,
    error: summary.error === undefined ? undefined : { code: summary.error.code, message: summary.error.message },
    host: undefined,
    pid: process.pid,
    ...extra,
  };
}

export async function appendRecord(file: string, record: RunRecord): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  // One call, one line: appendFile opens with O_APPEND and writes the whole buffer at once.
  await appendFile(file, `${JSON.stringify(record)}\n`);
}

export async function readRecords(file: string, query: HistoryQuery = {}): Promise<RunRecord[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const records: RunRecord[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const record = JSON.parse(line) as RunRecord;
      if (query.pipeline === undefined || record.pipeline === query.pipeline) records.push(record);
    } catch {
      // A torn last line from a crash mid-append.
    }
  }
  records.reverse();
  // Appended as runs end; shown by start, newest first.
  records.sort((a, b) => (a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : 0));
  return query.limit === undefined ? records : records.slice(0, query.limit);
}

/** DDL of the history table, in the state schema (quoted by the caller). */
export function historyTableSql(qualified: string): string {
  return `create table if not exists ${qualified} (
  id bigserial primary key,
  pipeline text not null,
  status text not null check (status in ('succeeded', 'failed', 'skipped')),
  trigger text not null,
  tick timestamptz,
  started_at timestamptz not null,
  ended_at timestamptz not null,
  rows_in bigint not null default 0,
  rows_out bigint not null default 0,
  rows_rejected bigint not null default 0,
  peak_rss bigint not null default 0,
  watermark_before jsonb,
  watermark_after jsonb,
  attempts int,
  error jsonb,
  note text,
  host text,
  pid int
)`;
}

export async function insertRecord(client: pg.Pool | pg.PoolClient, qualified: string, record: RunRecord): Promise<void> {
  await client.query(
    `insert into ${qualified} (pipeline, status, trigger, tick, started_at, ended_at, rows_in, rows_out, rows_rejected, peak_rss,
       watermark_before, watermark_after, attempts, error, note, host, pid)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
    [
      record.pipeline,
      record.status,
      record.trigger,
      record.tick ?? null,
      record.startedAt,
      record.endedAt,
      record.rowsIn,
      record.rowsOut,
      record.rowsRejected,
      Math.round(record.peakRss),
      record.watermarkBefore === undefined ? null : JSON.stringify(record.watermarkBefore),
      record.watermarkAfter === undefined ? null : JSON.stringify(record.watermarkAfter),
      record.attempts ?? null,
      record.error === undefined ? null : JSON.stringify(record.error),
      record.note ?? null,
      record.host ?? null,
      record.pid ?? null,
    ],
  );
}

export async function selectRecords(client: pg.Pool, qualified: string, query: HistoryQuery = {}): Promise<RunRecord[]> {
  const result = await client.query(
    `select * from ${qualified} where ($1::text is null or pipeline = $1) order by started_at desc, id desc limit $2`,
    [query.pipeline ?? null, query.limit ?? 20],
  );
  return result.rows.map((row) => ({
    pipeline: row.pipeline,
    status: row.status,
    trigger: row.trigger,
    tick: row.tick === null ? undefined : (row.tick as Date).toISOString(),
    startedAt: (row.started_at as Date).toISOString(),
    endedAt: (row.ended_at as Date).toISOString(),
    rowsIn: Number(row.rows_in),
    rowsOut: Number(row.rows_out),
    rowsRejected: Number(row.rows_rejected),
    peakRss: Number(row.peak_rss),
    watermarkBefore: row.watermark_before ?? undefined,
    watermarkAfter: row.watermark_after ?? undefined,
    attempts: row.attempts ?? undefined,
    error: row.error ?? undefined,
    note: row.note ?? undefined,
    host: row.host ?? undefined,
    pid: row.pid ?? undefined,
  }));
}

/** The history as a table for people. */
export function formatRecords(records: readonly RunRecord[]): string {
  if (records.length === 0) return 'No runs recorded.';
  const rows = records.map((record) => [
    record.startedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
    record.pipeline,
    record.status,
    record.trigger,
    `${Math.max(0, Date.parse(record.endedAt) - Date.parse(record.startedAt))} ms`,
    `${record.rowsIn}/${record.rowsOut}/${record.rowsRejected}`,
    record.peakRss > 0 ? formatBytes(record.peakRss) : '-',
    record.watermarkAfter === undefined ? '' : JSON.stringify(record.watermarkAfter).slice(0, 40),
    record.error !== undefined ? `[${record.error.code}] ${record.error.message.split('\n')[0].slice(0, 100)}` : (record.note ?? ''),
  ]);
  const header = ['started', 'pipeline', 'status', 'trigger', 'took', 'in/out/rej', 'peak RSS', 'watermark', 'error / note'];
  const widths = header.map((title, k) => Math.max(title.length, ...rows.map((row) => row[k].length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, k) => (k === cells.length - 1 ? cell : cell.padEnd(widths[k])))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
