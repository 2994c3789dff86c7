/**
 * pg and its helpers, loaded on first use: a run that touches no database (a CSV → CSV pipeline) does
 * not pay for loading them, ~150 ms of CPU at startup under tsx (measured for issue 3). They are
 * CommonJS, so `require` loads them synchronously and the adapters keep their synchronous shape.
 */
import { createRequire } from 'node:module';
import type pgModule from 'pg';
import type copyStreamsModule from 'pg-copy-streams';

const require = createRequire(import.meta.url);

/** A row as the cursor reader asks pg for it: the server's text of each column, or null. */
export type TextRow = (string | null)[];

/**
 * pg-cursor's public API (it ships no types): a query submitted to a client (`client.query(cursor)`)
 * whose rows are fetched `rows` at a time from a portal; `read`'s callback gets the result too, whose
 * `fields` describe the columns.
 */
export interface PgCursor extends pgModule.Submittable {
  read(rows: number, callback: (error: Error | undefined, rows: TextRow[], result: pgModule.QueryResult) => void): void;
  close(): Promise<void>;
}

export interface PgCursorConfig {
  rowMode?: 'array';
  types?: { getTypeParser: (...args: any[]) => (text: string) => unknown };
}

type PgCursorClass = new (text: string, values: readonly unknown[] | undefined, config: PgCursorConfig) => PgCursor;

let pg: typeof pgModule | undefined;
let copyStreams: typeof copyStreamsModule | undefined;
let cursor: PgCursorClass | undefined;

export function pgDriver(): typeof pgModule {
  return (pg ??= require('pg') as typeof pgModule);
}

export function pgCopyStreams(): typeof copyStreamsModule {
  return (copyStreams ??= require('pg-copy-streams') as typeof copyStreamsModule);
}

export function pgCursor(): PgCursorClass {
  return (cursor ??= require('pg-cursor') as PgCursorClass);
}

let prepareValue: ((value: unknown) => unknown) | undefined;

/** pg's conversion of a query parameter to what it sends (Date, Buffer, arrays, objects as JSON), as pg-cursor uses it. */
export function pgPrepareValue(value: unknown): unknown {
  prepareValue ??= (require('pg/lib/utils.js') as { prepareValue: (value: unknown) => unknown }).prepareValue;
  return prepareValue(value);
}
