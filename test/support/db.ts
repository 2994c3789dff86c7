/**
 * A fresh PostgreSQL schema per test file, dropped when the file's tests end:
 *
 * ```ts
 * const db = await testSchema('scanner');
 * await db.query('create table t (id int)');          // lands in db.schema
 * const pools = createPoolRegistry();
 * pools.pool(db.url);                                   // so does any pool made from db.url
 * ```
 *
 * `db.url` carries `options=-c search_path=<schema>`, which pg sends in the startup packet, so every
 * connection made from it resolves unqualified names in the test's schema.
 * Tests read DATABASE_URL and default to postgres://postgres@127.0.0.1:5432/test.
 */
import { after } from 'node:test';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import pg from 'pg';

export const DEFAULT_TEST_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';

export function databaseUrl(): string {
  const url = process.env['DATABASE_URL'];
  return url === undefined || url === '' ? DEFAULT_TEST_DATABASE_URL : url;
}

export interface TestSchema {
  /** The schema's name, e.g. `sluice_test_scanner_3f9a1c`. Unquoted-safe: lowercase letters, digits, `_`. */
  readonly schema: string;
  /** The database URL with `search_path` set to the schema (and `public` after it). */
  readonly url: string;
  /** A small pool on `url`, for setting up and checking data. */
  readonly pool: pg.Pool;
  query<Row extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<pg.QueryResult<Row>>;
  /** Drops the schema and ends the pool. Registered with `after` already; calling it twice is fine. */
  close(): Promise<void>;
}

/**
 * Creates `sluice_test_<name>_<random>` and registers its removal with node:test's `after` (of the
 * enclosing test, or of the file when called at top level).
 */
export async function testSchema(name: string): Promise<TestSchema> {
  const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, '').slice(0, 30) || 'x';
  const schema = `sluice_test_${slug}_${randomBytes(4).toString('hex')}`;
  const url = withSearchPath(databaseUrl(), schema);
  const admin = new pg.Client({ connectionString: databaseUrl(), connectionTimeoutMillis: 5000 });
  await admin.connect();
  try {
    await admin.query(`create schema "${schema}"`);
  } finally {
    await admin.end();
  }

  const pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 5000 });
  pool.on('error', () => {}); // an idle test connection killed by a test must not crash the run

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      try {
        await pool.query(`drop schema if exists "${schema}" cascade`);
      } finally {
        await pool.end();
      }
    })();
    return closing;
  };
  after(close);

  return {
    schema,
    url,
    pool,
    query: (sql, params) => pool.query(sql, params),
    close,
  };
}

/** Adds `-c search_path=<schema>,public` to the URL's `options` parameter (keeping existing options). */
export function withSearchPath(databaseUrlText: string, schema: string): string {
  const url = new URL(databaseUrlText);
  const existing = url.searchParams.get('options');
  const option = `-c search_path=${schema},public`;
  url.searchParams.set('options', existing ? `${existing} ${option}` : option);
  return url.toString();
}

/** A port nothing listens on: one the system just gave out and took back (a connection there is refused). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
