/**
 * One session setup for every connection Sluice makes to PostgreSQL: the source's, the sink's and the
 * state store's (its pools run it on each new connection, its advisory lock on its own). The same
 * settings everywhere, so a value reads and writes the same way whichever part of Sluice touches it.
 */
import type pg from 'pg';
import type { ResolvedConnection } from './connection.ts';

/**
 * - `DateStyle = ISO`: dates and timestamps arrive as `YYYY-MM-DD` and ISO text (the only forms
 *   text-values.ts parses), whatever the server's or the role's DateStyle.
 * - `extra_float_digits = 3`: the shortest text that reads back to the same float4/float8 on servers
 *   before 12 (the default from 12 on).
 * - `statement_timeout`, when the `statementTimeout` option is given: set here rather than in the
 *   startup packet, where pg leaves out 0 (so "no limit" could not override a role's default) and
 *   poolers such as PgBouncer refuse unknown startup parameters.
 */
export function sessionSql(statementTimeout: number | undefined): string {
  const settings = ["SET DateStyle = 'ISO'", 'SET extra_float_digits = 3'];
  if (statementTimeout !== undefined) settings.push(`SET statement_timeout = ${Math.floor(statementTimeout)}`);
  return settings.join('; ');
}

/** Applies {@link sessionSql} to a connection just made, before anything else runs on it. */
export async function startSession(client: pg.ClientBase, connection: ResolvedConnection): Promise<void> {
  const timeout = connection.config.statement_timeout;
  await client.query(sessionSql(typeof timeout === 'number' ? timeout : undefined));
}

/** The configuration to open a connection with: the resolved one, its statement_timeout left to {@link startSession}. */
export function sessionConfig(connection: ResolvedConnection): pg.PoolConfig {
  const { statement_timeout: _setBySession, ...config } = connection.config;
  return config;
}
