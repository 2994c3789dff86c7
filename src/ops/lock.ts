/**
 * One run of a pipeline at a time, on one machine or several.
 *
 * - PostgreSQL state store: a session advisory lock, `pg_try_advisory_lock(<sluice>, hashtext(<schema>.<name>))`,
 *   taken on a connection of its own and held for the run's duration. The server releases it when that
 *   session ends for any reason (release, process crash, SIGKILL, network loss), so a dead owner never
 *   blocks the next run. The session's `application_name` names the owner (host and pid) for messages;
 *   a session whose owner on this host is gone (killed, its backend not yet ended) is waited for, up to
 *   `DEAD_OWNER_LOCK_TIMEOUT_MS` (10 s), before the run is skipped.
 * - Local state folder: a lock file created with O_EXCL holding the owner's pid, host and start time. A
 *   lock file whose owner is on this host and no longer alive (a zombie, killed but not yet reaped, counts
 *   as gone) is taken over; an owner on another host
 *   cannot be checked and is never taken over (use the PostgreSQL store for several machines).
 */
import { readFileSync } from 'node:fs';
import { open, readFile, rename, rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import type pg from 'pg';
import { pgDriver } from '../connectors/postgres/driver.ts';
import { SluiceError } from '../core/errors.ts';
import { resolveConnection, type PgConnectionOptions } from '../connectors/postgres/connection.ts';
import { wrapPgError } from '../connectors/postgres/errors.ts';
import { sessionConfig, startSession } from '../connectors/postgres/session.ts';
import { stateWriteError } from './state-error.ts';

/** What a lock file records, and how an advisory lock's owner is described. */
export interface LockOwner {
  pid: number;
  hostname: string;
  startedAt: string;
  /** What holds it, e.g. `etl run pipelines/orders.ts`. */
  command?: string;
}

export interface HeldLock {
  readonly acquired: true;
  /** Aborted when the lock is lost while held (the advisory lock's connection died): stop the run. */
  readonly lost: AbortSignal;
  /** A dead owner's lock file was taken over: who it was. */
  readonly tookOverFrom?: LockOwner;
  release(): Promise<void>;
}

export interface BusyLock {
  readonly acquired: false;
  /** Who holds it, for the message, as far as it is known. */
  readonly holder: string;
}

export type LockAttempt = HeldLock | BusyLock;

export function currentOwner(command?: string): LockOwner {
  return { pid: process.pid, hostname: hostname(), startedAt: new Date().toISOString(), command };
}

/**
 * True when a process with this pid is running on this machine (signal 0 checks without sending). A
 * process killed (kill -9) but not yet reaped by its parent is a zombie: signal 0 still finds it, yet it
 * holds nothing and will never run again, so it counts as dead. A re-run started right after the kill,
 * before the parent (a shell, a supervisor) had waited for it, found the lock "held" and exited 3.
 */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}

/** Linux: the state letter after the command name in /proc/<pid>/stat is Z (zombie) or X (dead). Elsewhere: false. */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'Z' || state === 'X';
  } catch {
    return false;
  }
}

function describeOwner(owner: LockOwner | undefined): string {
  if (owner === undefined) return 'another process';
  return `pid ${owner.pid} on ${owner.hostname} since ${owner.startedAt}${owner.command ? ` (${owner.command})` : ''}`;
}

async function readOwner(path: string): Promise<LockOwner | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as LockOwner;
    return typeof parsed.pid === 'number' && typeof parsed.hostname === 'string' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

async function createExclusive(path: string, owner: LockOwner): Promise<boolean> {
  let handle;
  try {
    handle = await open(path, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw stateWriteError(path, 'create the lock file', error);
  }
  let written = false;
  try {
    await handle.writeFile(`${JSON.stringify(owner)}\n`);
    await handle.sync();
    written = true;
  } catch (error) {
    throw stateWriteError(path, 'write the lock file', error);
  } finally {
    await handle.close().catch(() => {});
    // An empty lock file would block the next runs for the grace period, and look held to a person.
    if (!written) await rm(path, { force: true }).catch(() => {});
  }
  return true;
}

/** An owner that can be proven dead: same host, pid gone. */
function ownerIsDead(owner: LockOwner | undefined): boolean {
  return owner !== undefined && owner.hostname === hostname() && !processAlive(owner.pid);
}

/** A lock file (or a file that is not yet readable) older than this, with no readable owner, is debris. */
const UNREADABLE_LOCK_GRACE_MS = 10_000;

/**
 * Takes the lock file at `path`, or reports who holds it. Taking over a dead owner's lock goes through
 * a second O_EXCL file (`<path>.takeover`) so that two processes finding the same dead owner cannot both
 * win: only the one holding `.takeover` re-checks the owner, removes the old file and creates its own.
 */
export async function acquireFileLock(path: string, command?: string): Promise<LockAttempt> {
  await mkdir(dirname(path), { recursive: true }).catch((error: unknown) => {
    throw stateWriteError(dirname(path), 'create the lock folder', error);
  });
  const owner = currentOwner(command);
  const held = (tookOverFrom?: LockOwner): HeldLock => ({
    acquired: true,
    lost: new AbortController().signal,
    tookOverFrom,
    async release() {
      const current = await readOwner(path);
      if (current !== undefined && current.pid === owner.pid && current.hostname === owner.hostname && current.startedAt === owner.startedAt) {
        await rm(path, { force: true });
      }
    },
  });
  for (let attempt = 0; attempt < 3; attempt++) {
    if (await createExclusive(path, owner)) return held();
    const existing = await readOwner(path);
    if (existing === undefined) {
      // Being written this very moment, or debris from a crash during the write.
      const age = await stat(path).then((info) => Date.now() - info.mtimeMs, () => 0);
      if (age < UNREADABLE_LOCK_GRACE_MS) return { acquired: false, holder: `another process (lock file ${path} is being written)` };
    } else if (!ownerIsDead(existing)) {
      return { acquired: false, holder: describeOwner(existing) };
    }
    const takeover = `${path}.takeover`;
    if (!(await createExclusive(takeover, owner))) {
      const other = await readOwner(takeover);
      if (other !== undefined && !ownerIsDead(other)) return { acquired: false, holder: `${describeOwner(other)} (taking over a dead owner's lock)` };
      await rm(takeover, { force: true });
      continue;
    }
    try {
      const again = await readOwner(path);
      const same = again === undefined ? existing === undefined : existing !== undefined && again.pid === existing.pid && again.startedAt === existing.startedAt;
      if (!same) continue;
      // Move the dead owner's file aside rather than delete it, so a person can see what happened.
      await rename(path, join(dirname(path), `.dead-${Date.now()}-${existing?.pid ?? 'unknown'}.lock`)).catch(() => rm(path, { force: true }));
      if (await createExclusive(path, owner)) return held(existing);
    } finally {
      await rm(takeover, { force: true });
    }
  }
  const last = await readOwner(path);
  return { acquired: false, holder: describeOwner(last) };
}

/**
 * How long a run waits for the advisory lock of an owner proven dead (its session names this host and a
 * pid that is gone) before it gives up and is skipped as "already running": its server backend ends the
 * session, and frees the lock, once it notices the client is gone, which is usually within milliseconds
 * of a kill -9 but can take longer on a busy server.
 */
export const DEAD_OWNER_LOCK_TIMEOUT_MS = 10_000;
const DEAD_OWNER_POLL_MS = 50;

/** True for the `application_name` of a Sluice lock session whose owner was on this host and is not alive. */
function deadSluiceSession(applicationName: string): boolean {
  const match = /^sluice (\S+) pid (\d+) /.exec(applicationName);
  return match !== null && match[1] === hostname() && !processAlive(Number(match[2]));
}

/** `pg_try_advisory_lock(int, int)` keys: this class id ("sluc") and a hash of `<schema>.<pipeline>`. */
export const ADVISORY_LOCK_CLASS = 0x736c7563;

/**
 * Takes the session advisory lock of `<schema>.<pipeline>` on a connection of its own, or reports who
 * holds it (pid, host and start of the holding session, from pg_locks and pg_stat_activity).
 */
export async function acquireAdvisoryLock(
  connection: PgConnectionOptions,
  schema: string,
  pipeline: string,
  command?: string,
  lockTimeoutMs = DEAD_OWNER_LOCK_TIMEOUT_MS,
): Promise<LockAttempt> {
  const resolved = resolveConnection(connection);
  const owner = currentOwner(command);
  // application_name is cut at 63 bytes by the server; host and pid come first.
  const applicationName = `sluice ${owner.hostname} pid ${owner.pid} ${pipeline}`.slice(0, 63);
  const client = new (pgDriver().Client)({ ...sessionConfig(resolved), application_name: applicationName });
  const lost = new AbortController();
  let released = false;
  client.on('error', (error) => {
    if (!released) lost.abort(new SluiceError('PG_CONNECTION_LOST', `Lost the lock of ${pipeline}: its connection died (${error.message}).`, { pipeline, transient: true }));
  });
  client.on('end', () => {
    if (!released) lost.abort(new SluiceError('PG_CONNECTION_LOST', `Lost the lock of ${pipeline}: its connection ended.`, { pipeline, transient: true }));
  });
  try {
    await client.connect();
    await startSession(client, resolved);
  } catch (error) {
    released = true;
    await client.end().catch(() => {});
    throw wrapPgError(error, { operation: 'connect', connection: resolved });
  }
  const key = `${schema}.${pipeline}`;
  const tryLock = async () => (await client.query<{ locked: boolean }>('select pg_try_advisory_lock($1::int, hashtext($2)) as locked', [ADVISORY_LOCK_CLASS, key])).rows[0].locked;
  const holderOf = () =>
    client
      .query<{ application_name: string; pid: number; backend_start: Date; client_addr: string | null }>(
        `select a.application_name, a.pid, a.backend_start, a.client_addr::text
           from pg_locks l join pg_stat_activity a on a.pid = l.pid
          where l.locktype = 'advisory' and l.classid = ($1::int)::oid and l.objid = (hashtext($2))::oid and l.objsubid = 2 and l.granted`,
        [ADVISORY_LOCK_CLASS, key],
      )
      .then((r) => r.rows[0], () => undefined);
  try {
    let locked = await tryLock();
    let holder = locked ? undefined : await holderOf();
    // The owner's session outlives a killed owner until its server backend has noticed and ended: wait
    // for that, a bounded time, rather than skip the run. Only for an owner proven dead (this host, pid gone).
    const deadline = Date.now() + lockTimeoutMs;
    while (!locked && holder !== undefined && deadSluiceSession(holder.application_name) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, DEAD_OWNER_POLL_MS));
      locked = await tryLock();
      if (!locked) holder = await holderOf();
    }
    if (!locked) {
      released = true;
      await client.end().catch(() => {});
      return {
        acquired: false,
        holder: holder === undefined ? 'another session' : `${holder.application_name || 'a session'} (server pid ${holder.pid}${holder.client_addr ? ` from ${holder.client_addr}` : ''}, connected ${holder.backend_start.toISOString()})`,
      };
    }
  } catch (error) {
    released = true;
    await client.end().catch(() => {});
    throw wrapPgError(error, { operation: 'query', connection: resolved });
  }
  return {
    acquired: true,
    lost: lost.signal,
    async release() {
      if (released) return;
      released = true;
      // Ending the session releases the lock too; unlock first so it is free even if end() is slow.
      await client.query('select pg_advisory_unlock($1::int, hashtext($2))', [ADVISORY_LOCK_CLASS, key]).catch(() => {});
      await client.end().catch(() => {});
    },
  };
}
