/**
 * One pool per database per run. Every pool made here starts each new connection with the one session
 * setup (session.ts) and handles 'error' on the pool and on each of its clients: a connection that dies
 * while idle (server restart, pg_terminate_backend, network) is dropped and replaced on next use instead
 * of crashing the process with an unhandled 'error' event. A query running on a connection that dies
 * rejects with PG_CONNECTION_LOST.
 */
import type pg from 'pg';
import type { SluiceError } from '../../core/errors.ts';
import { type PgConnectionOptions, type ResolvedConnection, resolveConnection } from './connection.ts';
import { pgDriver } from './driver.ts';
import { wrapPgError } from './errors.ts';
import { sessionConfig, startSession } from './session.ts';

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
      const pool = new (pgDriver().Pool)({ ...sessionConfig(connection), onConnect: (client) => startSession(client, connection) });
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
