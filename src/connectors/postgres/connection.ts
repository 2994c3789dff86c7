/**
 * How to reach PostgreSQL: the `connection` option (a URL or a pg PoolConfig) or the environment,
 * resolved once into the configuration pg gets, the secrets to redact and a description for messages.
 * Pools are in pools.ts, the session setup in session.ts, errors in errors.ts.
 */
import type pg from 'pg';
import { SluiceError } from '../../core/errors.ts';
import { connectionSecrets, redactConnectionString } from './redact.ts';

/** A pg pool configuration plus Sluice's own options. */
export interface PgPoolOptions extends pg.PoolConfig {
  /**
   * Server-side `statement_timeout` in milliseconds for every statement on these connections; a statement
   * running longer is cancelled by the server (PG_QUERY, SQLSTATE 57014). 0 means no limit.
   * @default undefined (the server's setting)
   * @example { connectionString: process.env.DATABASE_URL, statementTimeout: 60_000 }
   */
  statementTimeout?: number | undefined;
}

/**
 * How to reach PostgreSQL: a URL (`postgres://user:password@host:5432/database?options=...`) or a pg
 * PoolConfig object. Omitted: the `DATABASE_URL` environment variable.
 */
export type PgConnectionOptions = string | PgPoolOptions;

/**
 * How long to wait for a connection (DNS, TCP, TLS, authentication) before failing with PG_CONNECT.
 * pg's own default is to wait forever; an unreachable host must fail in seconds, not hang a run.
 */
export const DEFAULT_CONNECTION_TIMEOUT_MS = 10_000;

/** Reported to the server as `application_name`, visible in `pg_stat_activity`. */
export const DEFAULT_APPLICATION_NAME = 'sluice';

export interface ResolvedConnection {
  /** The configuration of its connections (give pg `sessionConfig(this)`, see session.ts). Contains the password: never print it. */
  readonly config: pg.PoolConfig;
  /** The passwords in every spelling: pass to redactSecrets and wrapPgError. */
  readonly secrets: readonly string[];
  /** Where it connects, for messages: the URL with its password masked, or host:port/database. */
  readonly description: string;
  /** Identifies the connection within a registry: equal options share one pool. */
  readonly key: string;
}

const URL_SCHEMES = new Set(['postgres:', 'postgresql:', 'socket:']);
const HOW_TO_CONNECT =
  'Pass `connection` as a URL such as postgres://user@127.0.0.1:5432/database (or a pg PoolConfig object), ' +
  'or set the DATABASE_URL environment variable';

/**
 * Resolves connection options, in order: the explicit option, else `DATABASE_URL`, else pg's `PGHOST`/
 * `PGDATABASE` environment variables; with none of them, fails with INVALID_OPTION saying how to fix it.
 * An object without connection fields (e.g. only `{ statementTimeout }`) takes its address from the same
 * environment variables.
 */
export function resolveConnection(
  options?: PgConnectionOptions | null,
  environment: NodeJS.ProcessEnv = process.env,
): ResolvedConnection {
  let given: PgPoolOptions;
  if (options === undefined || options === null) {
    given = {};
  } else if (typeof options === 'string') {
    given = { connectionString: options };
  } else if (typeof options === 'object') {
    given = { ...options };
  } else {
    throw new SluiceError('INVALID_OPTION', `Expected the PostgreSQL connection to be a string or an object, got ${typeof options}. ${HOW_TO_CONNECT}`);
  }

  const hasAddress =
    given.connectionString !== undefined || given.host !== undefined || given.database !== undefined || given.port !== undefined;
  if (!hasAddress) {
    const url = environment['DATABASE_URL'];
    if (url !== undefined && url !== '') given.connectionString = url;
    else if (!environment['PGHOST'] && !environment['PGDATABASE']) {
      throw new SluiceError('INVALID_OPTION', `No PostgreSQL connection given and DATABASE_URL is not set. ${HOW_TO_CONNECT}`);
    }
  }

  const { statementTimeout, ...poolConfig } = given;
  if (poolConfig.connectionString !== undefined) validateConnectionString(poolConfig.connectionString);
  if (statementTimeout !== undefined) {
    if (!Number.isInteger(statementTimeout) || statementTimeout < 0) {
      throw new SluiceError(
        'INVALID_OPTION',
        `Expected \`statementTimeout\` to be a whole number of milliseconds from 0 (no limit) and up, got ${String(statementTimeout)}`,
        { value: String(statementTimeout) },
      );
    }
    poolConfig.statement_timeout = statementTimeout;
  }
  if (poolConfig.connectionTimeoutMillis === undefined) poolConfig.connectionTimeoutMillis = DEFAULT_CONNECTION_TIMEOUT_MS;
  else if (!Number.isInteger(poolConfig.connectionTimeoutMillis) || poolConfig.connectionTimeoutMillis < 0) {
    throw new SluiceError(
      'INVALID_OPTION',
      `Expected \`connectionTimeoutMillis\` to be a whole number of milliseconds from 0 (wait forever) and up, got ${String(poolConfig.connectionTimeoutMillis)}`,
    );
  }
  // TCP keepalive: a connection whose peer vanished is noticed by the OS instead of hanging a read forever.
  if (poolConfig.keepAlive === undefined) poolConfig.keepAlive = true;
  if (poolConfig.application_name === undefined) poolConfig.application_name = DEFAULT_APPLICATION_NAME;

  return {
    config: poolConfig,
    secrets: connectionSecrets(poolConfig),
    description: describeConnection(poolConfig),
    key: stableKey(poolConfig),
  };
}

function validateConnectionString(connectionString: unknown): void {
  if (typeof connectionString !== 'string' || connectionString === '') {
    throw new SluiceError('INVALID_OPTION', `Expected the PostgreSQL connection string to be a non-empty string. ${HOW_TO_CONNECT}`);
  }
  if (connectionString.startsWith('/')) return; // a Unix socket directory, which pg accepts
  const scheme = /^([a-z][a-z0-9+.-]*:)\/\//i.exec(connectionString)?.[1]?.toLowerCase();
  if (scheme === undefined || !URL_SCHEMES.has(scheme)) {
    throw new SluiceError(
      'INVALID_OPTION',
      `Cannot use PostgreSQL connection string ${JSON.stringify(redactConnectionString(connectionString))}: ` +
        'expected a URL starting with postgres:// or postgresql://. Keyword/value strings (host=… dbname=…) ' +
        'are not supported by pg: pass a PoolConfig object ({ host, port, database, user, password }) instead',
      { value: redactConnectionString(connectionString) },
    );
  }
}

function describeConnection(config: pg.PoolConfig): string {
  if (typeof config.connectionString === 'string') return redactConnectionString(config.connectionString);
  const host = config.host ?? process.env['PGHOST'] ?? 'localhost';
  const port = config.port ?? process.env['PGPORT'] ?? 5432;
  const database = config.database ?? process.env['PGDATABASE'] ?? '(default database)';
  const user = config.user ?? process.env['PGUSER'];
  return `${user === undefined ? '' : `${user}@`}${host}:${port}/${database}`;
}

const identities = new WeakMap<object, number>();
let nextIdentity = 1;

/** A key equal for equal options: primitives by value, functions and objects (ssl, Client, types) by identity. */
function stableKey(config: pg.PoolConfig): string {
  const entries = Object.entries(config)
    .filter(([, value]) => value !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => {
      if (value !== null && (typeof value === 'object' || typeof value === 'function')) {
        let identity = identities.get(value);
        if (identity === undefined) identities.set(value, (identity = nextIdentity++));
        return [name, `#${identity}`];
      }
      return [name, value];
    });
  return JSON.stringify(entries);
}


/** Adds a source's or sink's own `statementTimeout` option to its connection options. */
export function withStatementTimeout(connection: PgConnectionOptions | undefined, statementTimeout: number | undefined): PgConnectionOptions | undefined {
  if (statementTimeout === undefined) return connection;
  if (connection === undefined) return { statementTimeout };
  if (typeof connection === 'string') return { connectionString: connection, statementTimeout };
  return { ...connection, statementTimeout };
}
