/**
 * Where a pipeline's lock, run history and incremental state live: a PostgreSQL schema (`sluice` by
 * default: tables `sluice_runs` and `sluice_state`, created when missing; an advisory lock) or a local
 * folder (`.sluice/` next to the pipeline file by default: `runs.ndjson` and, once rotated, `runs.1.ndjson`;
 * `state/<pipeline>.json` written to a temporary file and renamed into place; `locks/<pipeline>.lock`).
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type pg from 'pg';
import { SluiceError } from '../core/errors.ts';
import type { SinkTransaction } from '../contracts/contracts.ts';
import type { StateOptions } from '../runtime/pipeline.ts';
import { resolveConnection, type PgConnectionOptions } from '../connectors/postgres/connection.ts';
import { wrapPgError } from '../connectors/postgres/errors.ts';
import { createPoolRegistry } from '../connectors/postgres/pools.ts';
import { quoteIdent } from '../connectors/postgres/identifiers.ts';
import { appendRecord, findTickRun, HISTORY_KEEP_RUNS, historyTableSql, HISTORY_ROTATE_BYTES, insertRecord, readRecords, selectRecords, type HistoryQuery, type RunRecord } from './history.ts';
import { stateWriteError } from './state-error.ts';
import { acquireAdvisoryLock, acquireFileLock, type LockAttempt } from './lock.ts';

export type PipelineState = Record<string, unknown>;

export interface StateStore {
  readonly kind: 'postgres' | 'folder';
  /** Where, for messages (no credentials). */
  readonly description: string;
  lock(pipeline: string, command?: string): Promise<LockAttempt>;
  record(record: RunRecord): Promise<void>;
  history(query?: HistoryQuery): Promise<RunRecord[]>;
  /** True when a run for this tick is recorded (succeeded or failed; skipped ones do not count). */
  ranTick(pipeline: string, tick: string): Promise<boolean>;
  /** The incremental state the last committed run left (watermarks, finished files), or `{}`. */
  readState(pipeline: string): Promise<PipelineState>;
  writeState(pipeline: string, state: PipelineState): Promise<void>;
  /**
   * Writes the state with a sink's open transaction, so that it commits with the data or not at all.
   * Only when the transaction is on the store's own database (checked on the server); else returns false
   * and the caller writes it with {@link writeState} once the sink has committed.
   */
  writeStateIn(transaction: SinkTransaction, pipeline: string, state: PipelineState): Promise<boolean>;
  close(): Promise<void>;
}

/** The default local state folder, next to the pipeline file (or in the current folder without one). */
export const DEFAULT_STATE_FOLDER = '.sluice';

/** Opens the store a pipeline's `state` option names; `pipelineFile` anchors a relative folder. */
export function openStateStore(options: StateOptions | undefined, pipelineFile?: string): StateStore {
  const base = pipelineFile === undefined ? process.cwd() : dirname(resolve(pipelineFile));
  if (options !== undefined && 'connection' in options) {
    return new PostgresStateStore(options.connection, options.schema ?? 'sluice', options.keepRuns ?? HISTORY_KEEP_RUNS);
  }
  const folder = options?.folder ?? DEFAULT_STATE_FOLDER;
  return new FolderStateStore(isAbsolute(folder) ? folder : join(base, folder));
}

/** A file name for a pipeline name (names may hold `/` or other characters files cannot). */
function fileName(pipeline: string): string {
  return encodeURIComponent(pipeline).replaceAll('*', '%2A');
}

/**
 * Longest pipeline name, as its file name (`%2F` for a `/`, three bytes per byte of UTF-8 outside ASCII):
 * file systems allow 255 bytes in a name, and the lock and state files add suffixes to it
 * (`.lock.takeover`, `.json.<pid>.<time>.tmp`: up to 40 bytes).
 */
export const MAX_PIPELINE_FILE_NAME = 200;

/** Refuses, at load, a pipeline name its lock and state files could not be named after. */
export function checkPipelineName(pipeline: string, file?: string): void {
  const length = fileName(pipeline).length;
  if (length <= MAX_PIPELINE_FILE_NAME) return;
  const shown = pipeline.length > 40 ? `${pipeline.slice(0, 40)}…` : pipeline;
  throw new SluiceError(
    'PIPELINE_NAME',
    `${file === undefined ? '' : `${file}: `}the pipeline name ${JSON.stringify(shown)} (${pipeline.length} characters) is too long: its lock and state files are named after it, ` +
      `and as a file name it takes ${length} bytes, over the ${MAX_PIPELINE_FILE_NAME} allowed (file systems allow 255 in a name). Give the pipeline a shorter \`name\`.`,
    { file, pipeline },
  );
}

export class FolderStateStore implements StateStore {
  readonly kind = 'folder';
  readonly description: string;

  readonly folder: string;
  private readonly historyRotateBytes: number;
  constructor(
    folder: string,
    /** Size past which `runs.ndjson` is rotated to `runs.1.ndjson` (tests make it small). */
    historyRotateBytes = HISTORY_ROTATE_BYTES,
  ) {
    this.folder = folder;
    this.historyRotateBytes = historyRotateBytes;
    this.description = `state folder ${folder}`;
  }

  private get runsFile(): string {
    return join(this.folder, 'runs.ndjson');
  }

  lock(pipeline: string, command?: string): Promise<LockAttempt> {
    return acquireFileLock(join(this.folder, 'locks', `${fileName(pipeline)}.lock`), command);
  }

  record(record: RunRecord): Promise<void> {
    return appendRecord(this.runsFile, { host: hostname(), ...record }, this.historyRotateBytes);
  }

  history(query?: HistoryQuery): Promise<RunRecord[]> {
    return readRecords(this.runsFile, query);
  }

  async ranTick(pipeline: string, tick: string): Promise<boolean> {
    return (await findTickRun(this.runsFile, pipeline, tick)).found;
  }

  async readState(pipeline: string): Promise<PipelineState> {
    try {
      return JSON.parse(await readFile(join(this.folder, 'state', `${fileName(pipeline)}.json`), 'utf8')) as PipelineState;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw new SluiceError('INPUT_READ', `Cannot read the state of ${pipeline} in ${this.folder}: ${(error as Error).message}`, { pipeline, cause: error });
    }
  }

  async writeState(pipeline: string, state: PipelineState): Promise<void> {
    const path = join(this.folder, 'state', `${fileName(pipeline)}.json`);
    const temporary = `${path}.${process.pid}.${Date.now().toString(36)}.tmp`;
    try {
      await mkdir(dirname(path), { recursive: true });
      // Written in full under a temporary name, then renamed over the old file: a crash leaves the old
      // state or the new one, never half of either.
      await writeFile(temporary, `${JSON.stringify(state, null, 2)}\n`, { flush: true });
      await rename(temporary, path);
    } catch (error) {
      await rm(temporary, { force: true });
      throw stateWriteError(path, `write the state of ${pipeline} to`, error, pipeline);
    }
  }

  async writeStateIn(): Promise<boolean> {
    return false;
  }

  async close(): Promise<void> {}
}

export class PostgresStateStore implements StateStore {
  readonly kind = 'postgres';
  readonly description: string;
  private readonly pools = createPoolRegistry();
  private readonly runs: string;
  private readonly states: string;
  private ready: Promise<void> | undefined;
  private identity: Promise<string> | undefined;

  private readonly connection: PgConnectionOptions;
  readonly schema: string;
  private readonly keepRuns: number;
  constructor(
    connection: PgConnectionOptions,
    schema: string,
    keepRuns = HISTORY_KEEP_RUNS,
  ) {
    this.connection = connection;
    this.schema = schema;
    this.keepRuns = keepRuns;
    if (!Number.isInteger(keepRuns) || keepRuns < 1) {
      throw new SluiceError('INVALID_OPTION', `Expected \`state.keepRuns\` to be a whole number from 1 and up; got ${String(keepRuns)}.`);
    }
    const resolved = resolveConnection(connection);
    this.description = `PostgreSQL ${resolved.description}, schema ${schema}`;
    this.runs = `${quoteIdent(schema)}.${quoteIdent('sluice_runs')}`;
    this.states = `${quoteIdent(schema)}.${quoteIdent('sluice_state')}`;
  }

  private get pool(): pg.Pool {
    return this.pools.pool(this.connection);
  }

  /** Creates the schema and tables once; serialized by a transaction lock so concurrent first runs do not collide. */
  private ensure(): Promise<void> {
    this.ready ??= (async () => {
      const client = await this.pool.connect().catch((error) => {
        throw wrapPgError(error, { operation: 'connect', connection: this.connection });
      });
      try {
        await client.query('begin');
        await client.query('select pg_advisory_xact_lock(hashtext($1))', ['sluice state tables']);
        await client.query(`create schema if not exists ${quoteIdent(this.schema)}`);
        await client.query(historyTableSql(this.runs));
        // Tables made by an earlier version lack the newer columns.
        await client.query(`alter table ${this.runs} add column if not exists retries jsonb`);
        await client.query(`create index if not exists sluice_runs_pipeline_started on ${this.runs} (pipeline, started_at desc)`);
        await client.query(`create index if not exists sluice_runs_pipeline_tick on ${this.runs} (pipeline, tick) where tick is not null`);
        await client.query(`create table if not exists ${this.states} (pipeline text primary key, state jsonb not null, updated_at timestamptz not null default now())`);
        await client.query('commit');
        client.release();
      } catch (error) {
        await client.query('rollback').catch(() => {});
        client.release(true);
        this.ready = undefined;
        throw wrapPgError(error, { operation: 'query', connection: this.connection });
      }
    })();
    return this.ready;
  }

  private async query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    await this.ensure();
    try {
      return await this.pool.query<R>(text, values);
    } catch (error) {
      throw wrapPgError(error, { operation: 'query', query: text, connection: this.connection });
    }
  }

  lock(pipeline: string, command?: string): Promise<LockAttempt> {
    return acquireAdvisoryLock(this.connection, this.schema, pipeline, command);
  }

  async record(record: RunRecord): Promise<void> {
    await this.ensure();
    try {
      await insertRecord(this.pool, this.runs, { host: hostname(), ...record });
      // Keep the newest runs of this pipeline: one walk of the (pipeline, started_at desc) index.
      await this.pool.query(
        `delete from ${this.runs} where pipeline = $1 and started_at <
           (select started_at from ${this.runs} where pipeline = $1 order by started_at desc offset $2 limit 1)`,
        [record.pipeline, this.keepRuns - 1],
      );
    } catch (error) {
      throw wrapPgError(error, { operation: 'query', connection: this.connection });
    }
  }

  async history(query?: HistoryQuery): Promise<RunRecord[]> {
    await this.ensure();
    return selectRecords(this.pool, this.runs, query);
  }

  async ranTick(pipeline: string, tick: string): Promise<boolean> {
    const result = await this.query(`select 1 from ${this.runs} where pipeline = $1 and tick = $2 and status <> 'skipped' limit 1`, [pipeline, tick]);
    return result.rowCount !== null && result.rowCount > 0;
  }

  async readState(pipeline: string): Promise<PipelineState> {
    const result = await this.query<{ state: PipelineState }>(`select state from ${this.states} where pipeline = $1`, [pipeline]);
    return result.rows[0]?.state ?? {};
  }

  private upsertSql(): string {
    return `insert into ${this.states} (pipeline, state, updated_at) values ($1, $2, now())
            on conflict (pipeline) do update set state = excluded.state, updated_at = now()`;
  }

  async writeState(pipeline: string, state: PipelineState): Promise<void> {
    await this.query(this.upsertSql(), [pipeline, JSON.stringify(state)]);
  }

  async writeStateIn(transaction: SinkTransaction, pipeline: string, state: PipelineState): Promise<boolean> {
    const identitySql = "select current_database() || '@' || coalesce(inet_server_addr()::text, 'local') || ':' || coalesce(inet_server_port(), 0)::text as id";
    this.identity ??= this.query<{ id: string }>(identitySql).then((result) => result.rows[0].id);
    const [ours, theirs] = await Promise.all([this.identity, transaction.query(identitySql).then((result) => String(result.rows[0]?.id))]);
    if (ours !== theirs) return false;
    await this.ensure();
    await transaction.query(this.upsertSql(), [pipeline, JSON.stringify(state)]);
    return true;
  }

  async close(): Promise<void> {
    await this.pools.closeAll();
  }
}
