/**
 * Connections to PostgreSQL: option resolution, one pool per database per run, and the translation of
 * pg's errors into SluiceErrors that say what happened, where in the query, and how to fix it, without
 * ever carrying the password.
 *
 * Every pool made here handles 'error' on the pool and on each of its clients: a connection that dies
 * while idle (server restart, pg_terminate_backend, network) is dropped and replaced on next use instead
 * of crashing the process with an unhandled 'error' event. A query running on a connection that dies
 * rejects with PG_CONNECTION_LOST.
 */
import type pg from 'pg';
import { pgDriver } from './driver.ts';
import { SluiceError, type ErrorCode } from '../../core/errors.ts';
import { connectionSecrets, redactConnectionString, redactSecrets } from './redact.ts';

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
  /** The configuration to give `new pg.Pool()`. Contains the password: never print it. */
  readonly config: pg.PoolConfig;
  /** The passwords in every spelling: pass to {@link redactSecrets} and {@link wrapPgError}. */
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

/** Why a registry reports an error on an idle connection. */
export interface IdleConnectionError {
  error: SluiceError;
  connection: string;
}

export interface PoolRegistryOptions {
  /** Environment to read DATABASE_URL from. @default process.env */
  environment?: NodeJS.ProcessEnv;
  /**
   * Called when an idle connection dies (the pool drops it and reconnects on next use), so the run can
   * report it. The error is already wrapped and redacted.
   * @default ignore
   */
  onIdleError?: (event: IdleConnectionError) => void;
  /**
   * How long `closeAll` waits for checked-out connections to be released before ending them itself.
   * @default 5000
   */
  closeTimeoutMillis?: number;
}

export interface PoolRegistry {
  /** The pool for these options, created on first use: one pool per distinct connection per run. */
  pool(options?: PgConnectionOptions | null): pg.Pool;
  /** The resolved connection of a pool made by this registry (for {@link wrapPgError}'s `connection`). */
  connectionOf(pool: pg.Pool): ResolvedConnection | undefined;
  /** Number of open pools. */
  readonly size: number;
  /**
   * Ends every pool. Connections still checked out after `closeTimeoutMillis` are ended forcibly, so a
   * leaked client cannot keep the process alive. The registry can be used again afterwards.
   */
  closeAll(): Promise<void>;
}

/**
 * A registry of pools owned by one run, closed in its `finally`:
 * @example
 * const pools = createPoolRegistry();
 * try {
 *   const pool = pools.pool(options.connection);
 *   await pool.query('select 1');
 * } finally {
 *   await pools.closeAll();
 * }
 */
export function createPoolRegistry(registryOptions: PoolRegistryOptions = {}): PoolRegistry {
  const environment = registryOptions.environment ?? process.env;
  const closeTimeoutMillis = registryOptions.closeTimeoutMillis ?? 5000;
  const pools = new Map<string, { pool: pg.Pool; connection: ResolvedConnection; clients: Set<pg.Client> }>();
  const connections = new WeakMap<pg.Pool, ResolvedConnection>();

  function reportIdleError(error: unknown, connection: ResolvedConnection): void {
    const wrapped = wrapPgError(error, { operation: 'idle', connection });
    registryOptions.onIdleError?.({ error: wrapped, connection: connection.description });
  }

  return {
    pool(options) {
      const connection = resolveConnection(options, environment);
      const existing = pools.get(connection.key);
      if (existing !== undefined) return existing.pool;
      const pool = new (pgDriver().Pool)(connection.config);
      const clients = new Set<pg.Client>();
      // An idle client that errors is removed by the pool, which then emits 'error' here.
      pool.on('error', (error) => reportIdleError(error, connection));
      pool.on('connect', (client) => {
        clients.add(client);
        // A checked-out client has no pool listener: without this, its connection dying between two
        // queries would be an unhandled 'error' event. The query in flight, if any, rejects by itself;
        // the client is then not queryable and the pool discards it on release.
        client.on('error', () => {});
      });
      pool.on('remove', (client) => clients.delete(client));
      pools.set(connection.key, { pool, connection, clients });
      connections.set(pool, connection);
      return pool;
    },
    connectionOf(pool) {
      return connections.get(pool);
    },
    get size() {
      return pools.size;
    },
    async closeAll() {
      const entries = [...pools.values()];
      pools.clear();
      await Promise.all(
        entries.map(async ({ pool, clients }) => {
          const ended = pool.end().catch(() => {});
          let timer: NodeJS.Timeout | undefined;
          const timedOut = new Promise<'timeout'>((resolve) => {
            timer = setTimeout(() => resolve('timeout'), closeTimeoutMillis);
            timer.unref();
          });
          const outcome = await Promise.race([ended.then(() => 'ended' as const), timedOut]);
          clearTimeout(timer);
          if (outcome === 'timeout') {
            // Someone did not release a client. Close the sockets so the process can exit; the pool
            // object stays unfinished, which is harmless once nothing refers to it.
            await Promise.allSettled([...clients].map((client) => client.end()));
          }
        }),
      );
    },
  };
}

/**
 * Runs `work` with a client from the pool and releases it afterwards. On error the client is destroyed
 * rather than returned to the pool: after a failed COPY or cursor its session state is unknown.
 */
export async function withClient<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    const result = await work(client);
    client.release();
    return result;
  } catch (error) {
    client.release(error instanceof Error ? error : true);
    throw error;
  }
}

/** What was being done when pg failed; chooses the error code for server errors. */
export type PgOperation = 'connect' | 'query' | 'copy' | 'cursor' | 'idle';

export interface PgErrorContext {
  operation: PgOperation;
  /** The SQL text; redacted and truncated before it goes into the error. */
  query?: string | undefined;
  /** 1-based row of the result or the COPY being processed. */
  row?: number | undefined;
  /** The connection, to redact its password and name it in connection errors. */
  connection?: ResolvedConnection | PgConnectionOptions | undefined;
  /** More secrets to redact. */
  secrets?: readonly string[] | undefined;
}

/** Queries longer than this are cut in errors (the position is computed on the full text first). */
export const MAX_QUERY_IN_ERROR = 2000;

const CONNECT_SYSTEM_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);
const LOST_SYSTEM_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);
/** SQLSTATEs meaning the session is gone: admin_shutdown, crash_shutdown, connection_failure, connection_does_not_exist, idle_session_timeout, idle_in_transaction_session_timeout. */
const LOST_SQLSTATES = new Set(['57P01', '57P02', '08006', '08003', '57P05', '25P03']);
/** SQLSTATEs refusing a new session: cannot_connect_now, too_many_connections, invalid_catalog_name, client unable to connect. */
const CONNECT_SQLSTATES = new Set(['57P03', '53300', '3D000', '08001', '08004']);

interface PgErrorLike extends Error {
  code?: string;
  errno?: number;
  syscall?: string;
  hostname?: string;
  address?: string;
  port?: number;
  severity?: string;
  detail?: string;
  hint?: string;
  position?: string;
  internalPosition?: string;
  internalQuery?: string;
  where?: string;
  schema?: string;
  table?: string;
  column?: string;
  dataType?: string;
  constraint?: string;
  errors?: unknown[];
}

/**
 * Turns an error from pg (a server DatabaseError, a socket error, a pg client error) into a SluiceError:
 * - PG_CONNECT: the connection could not be made (refused, unknown host, timeout, authentication,
 *   unknown role or database, server not accepting connections);
 * - PG_CONNECTION_LOST: an established connection died (pg_terminate_backend 57P01, server shutdown,
 *   network reset, "Connection terminated unexpectedly");
 * - PG_COPY for server errors during COPY, PG_QUERY for the others.
 *
 * The message says what happened and how to fix it; a server error position becomes line:column of the
 * query (also in `details.line` / `details.column`); the query is redacted and truncated; no password
 * reaches the message, the details or the `cause` (whose message is redacted in place).
 * A SluiceError is returned unchanged.
 */
export function wrapPgError(error: unknown, context: PgErrorContext): SluiceError {
  if (error instanceof SluiceError) return error;
  const connection = context.connection === undefined ? undefined : asResolved(context.connection);
  const secrets = [...(connection?.secrets ?? []), ...(context.secrets ?? [])];
  const redact = (text: string): string => redactSecrets(text, secrets);

  const pgError = primaryError(error);
  const rawMessage = pgError.message || String(pgError.code ?? 'unknown error');
  const serverMessage = redact(rawMessage);
  const sqlState = typeof pgError.severity === 'string' ? pgError.code : undefined;
  const systemCode = sqlState === undefined ? pgError.code : undefined;
  const target = connection === undefined ? 'PostgreSQL' : `PostgreSQL at ${connection.description}`;

  const fullQuery = context.query === undefined ? undefined : redact(context.query);
  const query = fullQuery === undefined ? undefined : truncate(fullQuery, MAX_QUERY_IN_ERROR);
  const position = fullQuery === undefined ? undefined : positionInQuery(fullQuery, pgError.position);

  let code: ErrorCode;
  let message: string;

  if (sqlState !== undefined && (sqlState.startsWith('28') || CONNECT_SQLSTATES.has(sqlState))) {
    code = 'PG_CONNECT';
    message = `Could not connect to ${target}: ${serverMessage} (SQLSTATE ${sqlState}). ${connectAdvice(sqlState)}`;
  } else if ((systemCode !== undefined && CONNECT_SYSTEM_CODES.has(systemCode)) || isConnectTimeout(rawMessage)) {
    code = 'PG_CONNECT';
    message = `Could not connect to ${target}: ${systemAdvice(systemCode, pgError, rawMessage, connection)}`;
  } else if (
    (sqlState !== undefined && LOST_SQLSTATES.has(sqlState)) ||
    (systemCode !== undefined && LOST_SYSTEM_CODES.has(systemCode)) ||
    /Connection terminated|not queryable|Client was closed/i.test(rawMessage)
  ) {
    code = context.operation === 'connect' ? 'PG_CONNECT' : 'PG_CONNECTION_LOST';
    message =
      `The connection to ${target} was lost during ${describeOperation(context.operation)}: ${serverMessage}` +
      `${sqlState === undefined ? '' : ` (SQLSTATE ${sqlState})`}. ` +
      (sqlState === '57P01'
        ? 'An administrator ended this session (pg_terminate_backend) or the server is shutting down. '
        : 'The server went away or the network dropped the connection. ') +
      'Uncommitted work of this session was rolled back by the server; check the server and run again.';
  } else {
    code = context.operation === 'copy' ? 'PG_COPY' : 'PG_QUERY';
    const parts = [`${capitalize(describeOperation(context.operation))} failed: ${serverMessage}`];
    if (sqlState !== undefined) parts[0] += ` (SQLSTATE ${sqlState})`;
    if (position !== undefined) parts[0] += ` at line ${position.line}, column ${position.column} of the query`;
    if (context.row !== undefined) parts[0] += `, row ${context.row}`;
    if (pgError.detail) parts.push(`Detail: ${redact(pgError.detail)}`);
    if (pgError.where) parts.push(`Context: ${redact(pgError.where)}`);
    const advice = pgError.hint ? redact(pgError.hint) : queryAdvice(sqlState, pgError);
    if (advice) parts.push(advice);
    message = parts.map((part) => (/[.!?]$/.test(part) ? part : `${part}.`)).join(' ');
  }

  if (error instanceof Error) redactInPlace(error, redact);
  if (pgError !== error) redactInPlace(pgError, redact);
  return new SluiceError(code, message, {
    query,
    row: context.row,
    line: position?.line,
    column: position?.column ?? pgError.column,
    rule: pgError.constraint,
    cause: error,
  });
}

function asResolved(connection: ResolvedConnection | PgConnectionOptions): ResolvedConnection {
  if (typeof connection === 'object' && connection !== null && 'key' in connection && 'secrets' in connection && 'config' in connection) {
    return connection as ResolvedConnection;
  }
  try {
    return resolveConnection(connection as PgConnectionOptions);
  } catch {
    // Options too broken to resolve: still redact what can be found.
    return { config: {}, secrets: connectionSecrets(connection as PgPoolOptions), description: 'PostgreSQL', key: '' };
  }
}

/** Node reports a failed connect to a name with several addresses as an AggregateError with an empty message. */
function primaryError(error: unknown): PgErrorLike {
  if (!(error instanceof Error)) return new Error(String(error)) as PgErrorLike;
  const candidate = error as PgErrorLike;
  if (candidate.message === '' && Array.isArray(candidate.errors) && candidate.errors[0] instanceof Error) {
    const first = candidate.errors[0] as PgErrorLike;
    if (first.code === undefined && candidate.code !== undefined) first.code = candidate.code;
    return first;
  }
  return candidate;
}

function isConnectTimeout(message: string): boolean {
  return /timeout expired|connection timeout/i.test(message);
}

function connectAdvice(sqlState: string): string {
  switch (sqlState) {
    case '28P01':
      return 'Check the user and password in the connection string or DATABASE_URL (percent-encode special characters of a password in a URL, e.g. @ as %40).';
    case '28000':
      return 'Check the user name in the connection string or DATABASE_URL; the role must exist and pg_hba.conf must allow it from this host.';
    case '3D000':
      return 'Check the database name at the end of the connection string, or create the database (createdb NAME).';
    case '53300':
      return 'The server has no free connection slots: lower the concurrency of the run or raise max_connections.';
    case '57P03':
      return 'The server is starting up, shutting down or in recovery; wait and run again.';
    default:
      return 'Check the connection string or DATABASE_URL and the server\'s pg_hba.conf.';
  }
}

function systemAdvice(code: string | undefined, error: PgErrorLike, rawMessage: string, connection: ResolvedConnection | undefined): string {
  const timeout = connection?.config.connectionTimeoutMillis;
  switch (code) {
    case 'ECONNREFUSED':
      return `connection refused (${error.address ?? 'host'}${error.port === undefined ? '' : `:${error.port}`}). Is the server running and listening on that host and port? Start it (for example \`docker compose up -d\`) or fix the host and port in the connection string or DATABASE_URL.`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `host ${JSON.stringify(error.hostname ?? '')} was not found (DNS ${code}). Check the host name in the connection string or DATABASE_URL.`;
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
      return `the host cannot be reached (${code}). Check the host, the port and any firewall between here and the server.`;
    default:
      if (isConnectTimeout(rawMessage)) {
        return `no connection within ${timeout ?? 'the'} ms (connectionTimeoutMillis). Check the host, the port and any firewall; raise connectionTimeoutMillis if the server is slow to accept connections.`;
      }
      return `${rawMessage}.`;
  }
}

function queryAdvice(sqlState: string | undefined, error: PgErrorLike): string | undefined {
  switch (sqlState) {
    case '42P01':
      return 'Check the table name and its schema (or the search_path); Sluice quotes names, so they are case-sensitive.';
    case '42703':
      return 'Check the column name; Sluice quotes names, so they are case-sensitive.';
    case '42601':
      return 'Fix the SQL syntax near that position.';
    case '57014':
      return /statement timeout/i.test(error.message)
        ? 'The statement ran longer than statementTimeout (statement_timeout) and was cancelled: raise statementTimeout or make the statement faster.'
        : 'The statement was cancelled.';
    case '23505':
      return `A row violates unique constraint ${JSON.stringify(error.constraint ?? '')}: deduplicate the input or write with an upsert.`;
    case '23502':
      return `Column ${JSON.stringify(error.column ?? '')} does not accept nulls: fill it in or filter those rows.`;
    default:
      return undefined;
  }
}

function describeOperation(operation: PgOperation): string {
  switch (operation) {
    case 'connect':
      return 'connecting';
    case 'query':
      return 'the query';
    case 'copy':
      return 'COPY';
    case 'cursor':
      return 'reading the query result';
    case 'idle':
      return 'an idle connection';
  }
}

/**
 * Converts PostgreSQL's error position (1-based, counted in characters, i.e. code points) into a
 * 1-based line and column of the query.
 */
export function positionInQuery(query: string, position: string | number | undefined): { line: number; column: number } | undefined {
  const target = typeof position === 'string' ? Number.parseInt(position, 10) : position;
  if (target === undefined || !Number.isInteger(target) || target < 1) return undefined;
  let line = 1;
  let column = 1;
  let characters = 1;
  for (const character of query) {
    if (characters === target) break;
    characters++;
    if (character === '\n') {
      line++;
      column = 1;
    } else {
      column++;
    }
  }
  return { line, column };
}

function redactInPlace(error: PgErrorLike, redact: (text: string) => string): void {
  for (const field of ['message', 'stack', 'detail', 'hint', 'where', 'internalQuery'] as const) {
    const value = error[field];
    if (typeof value !== 'string') continue;
    const redacted = redact(value);
    if (redacted !== value) {
      try {
        error[field] = redacted;
      } catch {
        // read-only property: nothing more we can do
      }
    }
  }
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
