/**
 * pg's errors as SluiceErrors that say what happened, where in the query and how to fix it, without
 * ever carrying the password, and whether the failure is worth a retry (`details.transient`): the
 * SQLSTATE and socket code are classified here, once, and the retry logic only reads the flag.
 */
import { SluiceError, type ErrorCode } from '../../core/errors.ts';
import { type PgConnectionOptions, type PgPoolOptions, type ResolvedConnection, resolveConnection } from './connection.ts';
import { connectionSecrets, redactSecrets } from './redact.ts';

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

/**
 * Worth a retry: the same work may succeed a moment later. A lost session (PG_CONNECTION_LOST, or a
 * session lost while connecting), a serialization failure or deadlock (class 40's retryable members), the server starting
 * up or shutting down, class 08 (connection exception) except a protocol violation (a bug on one side)
 * and a server refusing this client, and a refused, reset or timed-out socket. Bad SQL, bad data,
 * authentication (class 28), a missing database or role stay failures.
 */
const TRANSIENT_SQLSTATES = new Set(['40001', '40P01', '57P01', '57P02', '57P03']);
const PERMANENT_CONNECTION_SQLSTATES = new Set(['08P01', '08004']);
const TRANSIENT_SYSTEM_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT']);

function isTransient(lostSession: boolean, sqlState: string | undefined, systemCode: string | undefined): boolean {
  if (lostSession) return true;
  if (sqlState !== undefined) return TRANSIENT_SQLSTATES.has(sqlState) || (sqlState.startsWith('08') && !PERMANENT_CONNECTION_SQLSTATES.has(sqlState));
  return systemCode !== undefined && TRANSIENT_SYSTEM_CODES.has(systemCode);
}

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
 * `details.transient` is set on the errors worth a retry (see {@link TRANSIENT_SQLSTATES}).
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
  let lostSession = false;

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
    lostSession = true;
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
    ...(isTransient(lostSession, sqlState, systemCode) ? { transient: true } : {}),
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
