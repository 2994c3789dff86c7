/**
 * The run history: one record per run, manual (`etl run`) or scheduled, including ticks skipped because
 * the pipeline was already running. Kept in `sluice_runs` (PostgreSQL state store) or appended to
 * `runs.ndjson` in the state folder (one `write` per record on an O_APPEND file, so concurrent writers
 * never interleave and a crash leaves at most a torn last line, which readers skip).
 *
 * The folder's history is bounded: past {@link HISTORY_ROTATE_BYTES} the file is renamed to
 * `runs.1.ndjson` (replacing the one before), so at most two files' worth is kept. Readers go backwards
 * from the end and stop as soon as nothing further back can matter, so "has this tick run?" and "the
 * last 20 runs" read a few kilobytes whatever the size.
 */
import { appendFile, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type pg from 'pg';
import type { RunSummary } from '../runtime/summary.ts';
import { formatBytes } from '../core/bytes.ts';
import { stateWriteError } from './state-error.ts';

export type RunStatus = 'succeeded' | 'failed' | 'skipped';

/** A failed attempt that was retried: its transient error and the wait before the next attempt. */
export interface RetryRecord {
  attempt: number;
  error: { code: string; message: string };
  delayMs: number;
}

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
  /** The attempts that failed with a transient error and were retried, with the backoff waited after each. */
  retries?: RetryRecord[];
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

/** Runs of one pipeline kept in `sluice_runs` by default: about what a state folder's two files hold. */
export const HISTORY_KEEP_RUNS = 20_000;

/** Size past which `runs.ndjson` is rotated to `runs.1.ndjson`: some 10,000 runs a file. */
export const HISTORY_ROTATE_BYTES = 4 * 1024 * 1024;

/** `runs.ndjson` → `runs.1.ndjson`. */
export function rotatedHistoryFile(file: string): string {
  return join(dirname(file), basename(file).replace(/(\.ndjson)?$/, '.1$1'));
}

/** The history files, oldest first. */
function historyFiles(file: string): string[] {
  return [rotatedHistoryFile(file), file];
}

export async function appendRecord(file: string, record: RunRecord, rotateBytes = HISTORY_ROTATE_BYTES): Promise<void> {
  try {
    await mkdir(dirname(file), { recursive: true });
    // One call, one line: appendFile opens with O_APPEND and writes the whole buffer at once.
    await appendFile(file, `${JSON.stringify(record)}\n`);
  } catch (error) {
    throw stateWriteError(file, 'record the run in the history', error, record.pipeline);
  }
  const size = await stat(file).then((info) => info.size, () => 0);
  if (size > rotateBytes) await rotate(file, rotateBytes);
}

/** A rotation guard older than this was left by a crash. */
const STALE_ROTATION_MS = 60_000;

/**
 * Renames the full file to `runs.1.ndjson`. Under an O_EXCL guard file, with the size checked again
 * once held, so two writers crossing the limit together rotate once (a second rename would move the
 * fresh, nearly empty file over the rotated one). A writer appending during the rename lands in one file
 * or the other; both are read.
 */
async function rotate(file: string, rotateBytes: number): Promise<void> {
  const guard = `${file}.rotating`;
  let handle;
  try {
    handle = await open(guard, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const age = await stat(guard).then((info) => Date.now() - info.mtimeMs, () => 0);
    if (age > STALE_ROTATION_MS) await rm(guard, { force: true });
    return; // someone else is rotating (or the next append will)
  }
  try {
    const size = await stat(file).then((info) => info.size, () => 0);
    if (size > rotateBytes) await rename(file, rotatedHistoryFile(file));
  } finally {
    await handle.close();
    await rm(guard, { force: true });
  }
}

const SCAN_CHUNK_BYTES = 64 * 1024;

/**
 * Visits the records of the history files newest-appended first, reading each file backwards in chunks,
 * until `visit` returns false. Returns the bytes read (tests check that a look-up stays cheap).
 */
export async function scanBackward(file: string, visit: (record: RunRecord) => boolean | void): Promise<number> {
  let bytesRead = 0;
  for (const path of historyFiles(file).reverse()) {
    let handle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    try {
      let position = (await handle.stat()).size;
      // The start of a line whose beginning is in a chunk not read yet.
      let partial = Buffer.alloc(0);
      while (position > 0) {
        const start = Math.max(0, position - SCAN_CHUNK_BYTES);
        const chunk = Buffer.alloc(position - start);
        const { bytesRead: got } = await handle.read(chunk, 0, chunk.length, start);
        bytesRead += got;
        position = start;
        const buffer = Buffer.concat([chunk.subarray(0, got), partial]);
        // Before the first newline is part of a line that starts further back, unless this is the file's start.
        const cut = start > 0 ? buffer.indexOf(0x0a) : -1;
        if (start > 0 && cut === -1) {
          partial = buffer;
          continue;
        }
        partial = buffer.subarray(0, Math.max(0, cut));
        const lines = buffer.subarray(cut + 1).toString('utf8').split('\n');
        for (let k = lines.length - 1; k >= 0; k--) {
          if (lines[k].trim() === '') continue;
          let record: RunRecord;
          try {
            record = JSON.parse(lines[k]) as RunRecord;
          } catch {
            continue; // a torn last line from a crash mid-append
          }
          if (visit(record) === false) return bytesRead;
        }
      }
    } finally {
      await handle.close();
    }
  }
  return bytesRead;
}

/**
 * Records are appended as runs end, so the files are in order of `endedAt` (on one clock). A record that
 * ended before the oldest start kept so far, and everything before it, cannot be among the newest.
 */
export async function readRecords(file: string, query: HistoryQuery = {}): Promise<RunRecord[]> {
  const records: RunRecord[] = [];
  const byStartDescending = (a: RunRecord, b: RunRecord) => (a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : 0);
  const limit = query.limit;
  let oldestKept: string | undefined;
  await scanBackward(file, (record) => {
    if (limit !== undefined && oldestKept !== undefined && record.endedAt < oldestKept) return false;
    if (query.pipeline !== undefined && record.pipeline !== query.pipeline) return;
    records.push(record);
    if (limit !== undefined && records.length >= limit) {
      records.sort(byStartDescending);
      records.length = limit;
      oldestKept = records[limit - 1].startedAt;
    }
  });
  // Shown by start, newest first.
  records.sort(byStartDescending);
  return limit === undefined ? records : records.slice(0, limit);
}

/** How far before a tick a record may have been appended and still be a run of that tick (clocks, ordering). */
const TICK_SCAN_SLACK_MS = 5 * 60_000;

/**
 * True when a run of `pipeline` for `tick` is recorded (succeeded or failed). A run of a tick starts at
 * the tick or later, so the backward scan stops at the first record that ended well before it.
 */
export async function findTickRun(file: string, pipeline: string, tick: string): Promise<{ found: boolean; bytesRead: number }> {
  const stopBefore = Date.parse(tick) - TICK_SCAN_SLACK_MS;
  let found = false;
  const bytesRead = await scanBackward(file, (record) => {
    if (record.pipeline === pipeline && record.tick === tick && record.status !== 'skipped') {
      found = true;
      return false;
    }
    return !(Date.parse(record.endedAt) < stopBefore);
  });
  return { found, bytesRead };
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
  retries jsonb,
  error jsonb,
  note text,
  host text,
  pid int
)`;
}

export async function insertRecord(client: pg.Pool | pg.PoolClient, qualified: string, record: RunRecord): Promise<void> {
  await client.query(
    `insert into ${qualified} (pipeline, status, trigger, tick, started_at, ended_at, rows_in, rows_out, rows_rejected, peak_rss,
       watermark_before, watermark_after, attempts, retries, error, note, host, pid)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
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
      record.retries === undefined ? null : JSON.stringify(record.retries),
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
    retries: row.retries ?? undefined,
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
