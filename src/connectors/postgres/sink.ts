/**
 * PostgreSQL sink: batches written through `COPY … FROM STDIN` (pg-copy-streams) in ~1 MB chunks, in
 * the binary format where every column can be (copy-binary-in.ts) and as COPY text otherwise
 * (copy-text.ts), inside one transaction committed only when the input ends normally.
 *
 * - `append`: COPY into the table.
 * - `replace`: COPY into a temporary staging table (`LIKE` the target, with its defaults, constraints and
 *   indexes, so a bad row fails during the COPY with its line), then in the same transaction
 *   `DELETE` the target's rows and `INSERT … SELECT` the staged rows. Readers see the old rows until the
 *   commit, then the new ones, never a mix, at every isolation level: not TRUNCATE, which is not
 *   MVCC-safe (a REPEATABLE READ snapshot taken before the commit would see an empty table). The target
 *   table itself is kept, so its views, grants, indexes, triggers and comments stay; the cost is writing
 *   the rows twice, the old rows left for VACUUM, and an EXCLUSIVE lock during the swap (readers go on,
 *   other writers wait). An input of no rows fails (PG_EMPTY_REPLACE) unless `allowEmpty`.
 * - `upsert`: COPY into a temporary table, then `INSERT … ON CONFLICT (key) DO UPDATE`; when the input
 *   has a key twice, its last row wins.
 *
 * In a distributed run, `replace` goes through a staging table of the run: see staging.ts.
 */
import { once } from 'node:events';
import type pg from 'pg';
import type copyStreams from 'pg-copy-streams';
import { pgCopyStreams } from './driver.ts';
import type { AnyRow, Batch } from '../../batch/batch.ts';
import type { DType } from '../../batch/dtype.ts';
import { SluiceError, formatLocation, type ErrorLocation } from '../../core/errors.ts';
import type { DistributedRunSink, Sink, SinkContext, SinkResult } from '../../contracts/contracts.ts';
import { distributedReplace, emptyReplace, runStagingTable, stagingOf } from './staging.ts';
import { type PgConnectionOptions, type ResolvedConnection, resolveConnection, withStatementTimeout } from './connection.ts';
import { wrapPgError } from './errors.ts';
import { checkSinkOptions, type PostgresSinkOptions, type SinkSettings } from './options.ts';
import { createPoolRegistry } from './pools.ts';
import { BinaryValueError, binaryEncodable, encodeBinaryRows, writeBinaryHeader, writeBinaryTrailer } from './copy-binary-in.ts';
import { encodeTextRows } from './copy-text.ts';
import { checkDistinctOnServer, type QualifiedName, quoteIdent, quoteQualified } from './identifiers.ts';
import { sqlTypeForDType } from './types.ts';
import { ByteWriter } from '../../codec/byte-writer.ts';

export type { PostgresSinkOptions } from './options.ts';

/** Bytes of COPY text sent per write: large enough that the per-write cost vanishes. */
const CHUNK_BYTES = 1 << 20;
const ROLLBACK_TIMEOUT_MS = 2000;

/**
 * Writes batches into a PostgreSQL table through COPY, in one transaction.
 *
 * @example
 * toPostgres({ table: 'orders', mode: 'upsert', key: 'order_id', createTable: true })
 */
export function toPostgres<R = AnyRow>(options: PostgresSinkOptions): Sink<R> {
  return new PostgresSink(checkSinkOptions(options)) as unknown as Sink<R>;
}

/** Where the rows of the current transaction came from, by COPY line. */
interface Span {
  firstCopyLine: number;
  count: number;
  file?: string;
  /** First source line when the lines are consecutive; else `lines`. */
  firstLine?: number;
  lines?: Int32Array;
  query?: string;
  firstRow?: number;
}

class PostgresSink implements Sink<AnyRow> {
  readonly kind = 'postgres';
  private readonly table: QualifiedName;
  private readonly mode: 'append' | 'replace' | 'upsert';
  private readonly keys: readonly string[];
  private readonly connectionOptions: PgConnectionOptions | undefined;

  private readonly checked: SinkSettings;
  /** A partition of a distributed replace: the run's staging table, appended to instead of the target. */
  private readonly runStaging: QualifiedName | undefined;
  constructor(checked: SinkSettings, runStaging?: QualifiedName) {
    this.checked = checked;
    this.runStaging = runStaging;
    this.table = checked.table;
    this.mode = checked.mode;
    this.keys = checked.keys;
    this.connectionOptions = withStatementTimeout(checked.options.connection, checked.options.statementTimeout);
  }

  private get where(): string {
    let connection: string;
    try {
      connection = resolveConnection(this.connectionOptions).description;
    } catch {
      connection = '(no connection: set DATABASE_URL)';
    }
    return `${connection} table ${quoteQualified(this.table)}`;
  }

  describe(): { kind: string; location: string; notes?: string[] } {
    const notes = [`mode ${this.mode}${this.keys.length > 0 ? ` on ${this.keys.join(', ')}` : ''}`];
    if (this.checked.createTable) notes.push('creates the table if missing');
    return { kind: 'postgres', location: this.where, notes };
  }

  distributedWrites(): string | undefined {
    return undefined;
  }

  forDistributedRun(runId: string): DistributedRunSink | undefined {
    if (this.mode !== 'replace') return undefined;
    const staging = runStagingTable(this.table, runId);
    return distributedReplace(this.table, staging, this.checked.allowEmpty, new PostgresSink({ ...this.checked, mode: 'append', keys: [] }, staging) as Sink<AnyRow>);
  }

  async write(input: AsyncIterable<Batch>, context: SinkContext): Promise<SinkResult> {
    if (context.dryRun) {
      let rowsWritten = 0;
      for await (const batch of input) {
        if (rowsWritten === 0 && batch.length > 0) checkDistinctOnServer(batch.names, `The columns written to ${quoteQualified(this.table)}`);
        rowsWritten += batch.length;
      }
      return { rowsWritten, location: `${this.where} (dry run: nothing written)` };
    }
    const connection = resolveConnection(this.connectionOptions);
    const pools = createPoolRegistry();
    try {
      let client: pg.PoolClient;
      try {
        client = await pools.pool(this.connectionOptions).connect();
      } catch (error) {
        throw wrapPgError(error, { operation: 'connect', connection });
      }
      // A table the writes of a distributed run share is created on a connection of its own, committed at
      // once: created inside one partition's transaction, it would hold every other partition until that commit.
      const createShared = async (sql: string) => {
        try {
          await pools.pool(this.connectionOptions).query(sql);
        } catch (error) {
          // Two partitions creating it at once: the one that lost finds it made (duplicate table or type).
          const code = (error as { code?: string }).code;
          if (code !== '42P07' && code !== '23505') throw wrapPgError(error, { operation: 'query', query: sql, connection });
        }
      };
      const load = new Load(client, connection, this, context, context.sharedOutput === true ? createShared : undefined);
      try {
        const rowsWritten = await load.run(input);
        client.release();
        return { rowsWritten, location: this.where, bytesWritten: load.bytesWritten, ...(load.format === undefined ? {} : { engine: `${load.format} COPY` }) };
      } catch (error) {
        await load.rollback();
        client.release(true);
        throw error;
      }
    } finally {
      await pools.closeAll();
    }
  }

  /** For Load. */
  get settings() {
    return { table: this.table, mode: this.mode, keys: this.keys, createTable: this.checked.createTable, allowEmpty: this.checked.allowEmpty, copyFormat: this.checked.copyFormat, runStaging: this.runStaging };
  }
}

/** One transaction of the sink: setup on the first batch, COPY of every batch, the mode's finish, commit. */
class Load {
  bytesWritten = 0;
  private rows = 0;
  private spans: Span[] = [];
  private copy: ReturnType<typeof copyStreams.from> | undefined;
  private copyError: unknown;
  private copySql = '';
  private columns: string[] = [];
  /** The table's column types when the load is binary COPY, else undefined (COPY text). */
  private binaryTypes: number[] | undefined;

  /** The COPY format the load used, once it started. */
  get format(): 'binary' | 'text' | undefined {
    return this.copy === undefined ? undefined : this.binaryTypes === undefined ? 'text' : 'binary';
  }
  /** The staging table's name (unquoted), when the rows go to one first; `into` is where the COPY goes. */
  private staging: string | undefined;
  private into = '';
  private inTransaction = false;
  private readonly writer = new ByteWriter(CHUNK_BYTES + (CHUNK_BYTES >> 2));
  private readonly target: string;
  private readonly settings: PostgresSink['settings'];

  private readonly client: pg.PoolClient;
  private readonly connection: ResolvedConnection;
  private readonly context: SinkContext;
  private readonly createShared?: (sql: string) => Promise<void>;
  constructor(
    client: pg.PoolClient,
    connection: ResolvedConnection,
    sink: PostgresSink,
    context: SinkContext,
    createShared?: (sql: string) => Promise<void>,
  ) {
    this.client = client;
    this.connection = connection;
    this.context = context;
    this.createShared = createShared;
    this.settings = sink.settings;
    this.target = quoteQualified(this.settings.table);
  }

  private async query(sql: string, params?: unknown[]): Promise<pg.QueryResult> {
    try {
      return await this.client.query(sql, params);
    } catch (error) {
      throw wrapPgError(error, { operation: 'query', query: sql, connection: this.connection });
    }
  }

  async run(input: AsyncIterable<Batch>): Promise<number> {
    const onAbort = () => this.copy?.destroy(new Error('the run was stopped'));
    this.context.signal.addEventListener('abort', onAbort, { once: true });
    try {
      await this.query('BEGIN');
      this.inTransaction = true;
      for await (const batch of input) {
        if (batch.length === 0) continue;
        if (this.copy === undefined) await this.start(batch);
        this.checkColumns(batch);
        this.record(batch);
        this.encode(batch);
        if (this.writer.length >= CHUNK_BYTES) await this.send(this.writer.flush());
      }
      this.context.signal.throwIfAborted();
      if (this.copy !== undefined) {
        if (this.binaryTypes !== undefined) writeBinaryTrailer(this.writer);
        if (this.writer.length > 0) await this.send(this.writer.flush());
        await this.endCopy();
        await this.finish();
      } else if (this.settings.mode === 'replace' && (await this.targetExists())) {
        if (!this.settings.allowEmpty) throw emptyReplace(this.target);
        await this.query(`DELETE FROM ${this.target}`);
      }
      // The run's incremental state (watermark, finished files) commits with the data or not at all.
      if (this.context.beforeCommit !== undefined) await this.context.beforeCommit({ query: (sql, params) => this.query(sql, params) });
      await this.query('COMMIT');
      this.inTransaction = false;
      return this.rows;
    } finally {
      this.context.signal.removeEventListener('abort', onAbort);
    }
  }

  /** After a failure: end an unfinished COPY and roll back, if the connection still answers (it is closed after anyway). */
  async rollback(): Promise<void> {
    if (!this.inTransaction) return;
    const copy = this.copy;
    if (copy !== undefined && !copy.writableFinished && !copy.destroyed) copy.destroy(new Error('the load failed'));
    if (copy !== undefined && this.copyError === undefined && !copy.writableFinished) {
      await Promise.race([once(copy, 'close').catch(() => {}), delay(ROLLBACK_TIMEOUT_MS)]);
    }
    await Promise.race([this.client.query('ROLLBACK').catch(() => {}), delay(ROLLBACK_TIMEOUT_MS)]);
  }

  private async targetExists(): Promise<boolean> {
    const result = await this.query('SELECT to_regclass($1) IS NOT NULL AS present', [this.target]);
    return result.rows[0].present === true;
  }

  private async start(batch: Batch): Promise<void> {
    const { mode, keys, createTable } = this.settings;
    this.columns = [...batch.names];
    checkDistinctOnServer(this.columns, `The columns written to ${this.target}`);
    for (const key of keys) {
      if (!this.columns.includes(key)) {
        throw new SluiceError('INVALID_OPTION', `The upsert key ${JSON.stringify(key)} is not a column of the rows (they have ${this.columns.join(', ')}).`, { column: key });
      }
    }
    if (!(await this.targetExists())) {
      if (!createTable) {
        throw new SluiceError(
          'PG_QUERY',
          `Table ${this.target} does not exist at ${this.connection.description.replace(/\?.*$/, '')}: create it, check its schema (search_path), or pass createTable: true.`,
          { query: this.target },
        );
      }
      const definitions = this.columns.map((name) => `${quoteIdent(name)} ${sqlTypeForDType(batch.columns[name].dtype as DType)}`);
      if (mode === 'upsert') definitions.push(`PRIMARY KEY (${keys.map(quoteIdent).join(', ')})`);
      const create = `CREATE TABLE IF NOT EXISTS ${this.target} (${definitions.join(', ')})`;
      if (this.createShared !== undefined) await this.createShared(create);
      else await this.query(create);
    }
    const staging = stagingOf(mode, this.settings.runStaging, this.target);
    this.staging = staging?.name;
    this.into = staging?.into ?? this.target;
    // The run's staging table is made by the first partition to need it, outside its transaction (see createShared).
    if (staging?.shared && this.createShared !== undefined) await this.createShared(staging.create);
    else if (staging !== undefined) await this.query(staging.create);
    this.binaryTypes = await this.binaryFormat(this.into, batch);
    this.copySql = `COPY ${this.into} (${this.columns.map(quoteIdent).join(', ')}) FROM STDIN${this.binaryTypes === undefined ? '' : ' (FORMAT binary)'}`;
    if (this.binaryTypes !== undefined) writeBinaryHeader(this.writer);
    const copy = this.client.query(pgCopyStreams().from(this.copySql));
    copy.on('error', (error) => {
      this.copyError ??= error;
    });
    this.copy = copy;
  }

  /**
   * The table's column types, when every column of the first batch can be written to its type in
   * binary (copy-binary-in.ts) and `copyFormat` allows it; else undefined, and the load is COPY text.
   */
  private async binaryFormat(into: string, batch: Batch): Promise<number[] | undefined> {
    const format = this.settings.copyFormat;
    if (format === 'text') return undefined;
    const result = await this.query('SELECT attname, atttypid::int AS oid FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped', [into]);
    const types = new Map<string, number>(result.rows.map((row: { attname: string; oid: number }) => [row.attname, row.oid]));
    const oids: number[] = [];
    for (const name of this.columns) {
      const oid = types.get(name);
      const dtype = batch.columns[name].dtype as DType;
      if (oid !== undefined && binaryEncodable(dtype, oid)) {
        oids.push(oid);
        continue;
      }
      if (format === 'auto') return undefined;
      throw new SluiceError(
        'INVALID_OPTION',
        oid === undefined
          ? `toPostgres(): copyFormat: 'binary': ${this.target} has no column ${JSON.stringify(name)}.`
          : `toPostgres(): copyFormat: 'binary' cannot write column ${JSON.stringify(name)} (${dtype}) to its table column of type oid ${oid}: binary COPY writes numbers to smallint, integer, bigint, real and double precision, bool to boolean, date to date, timestamp to timestamp(tz) and strings to text, varchar and char. Use copyFormat: 'auto' (text where binary cannot go).`,
        { option: 'copyFormat', column: name, query: this.target },
      );
    }
    return oids;
  }

  private checkColumns(batch: Batch): void {
    const names = batch.names;
    if (names.length === this.columns.length && names.every((name, i) => name === this.columns[i])) return;
    throw new SluiceError(
      'PIPELINE_SHAPE',
      `Every batch written to ${this.target} must have the same columns; the first had ${this.columns.join(', ')}, this one has ${names.join(', ')}.`,
    );
  }

  /** Remembers which source rows the next COPY lines are, to name them if PostgreSQL rejects one. */
  private record(batch: Batch): void {
    const span: Span = { firstCopyLine: this.rows + 1, count: batch.length, file: batch.origin.file, query: batch.origin.query, firstRow: batch.origin.row };
    const lines = batch.lines;
    if (lines !== undefined && lines.length >= batch.length) {
      let consecutive = true;
      const first = lines[0];
      for (let i = 1; i < batch.length; i++) {
        if (lines[i] !== first + i) {
          consecutive = false;
          break;
        }
      }
      if (consecutive) span.firstLine = first;
      else span.lines = lines.slice(0, batch.length);
    }
    this.spans.push(span);
    this.rows += batch.length;
  }

  private encode(batch: Batch): void {
    if (this.binaryTypes === undefined) {
      encodeTextRows(batch, this.columns, this.writer);
      return;
    }
    for (const name of this.columns) {
      const dtype = batch.columns[name].dtype as DType;
      const oid = this.binaryTypes[this.columns.indexOf(name)];
      if (!binaryEncodable(dtype, oid)) {
        throw new SluiceError(
          'PG_COPY',
          `Column ${JSON.stringify(name)} came as ${dtype} in a later batch (widened mid-run), which binary COPY cannot write to its table column (type oid ${oid}); nothing was committed. Give the source a schema, or pass copyFormat: 'text' to toPostgres() to let the server convert the text.`,
          { column: name, query: this.copySql },
        );
      }
    }
    try {
      encodeBinaryRows(batch, this.columns, this.binaryTypes, this.writer);
    } catch (error) {
      if (!(error instanceof BinaryValueError)) throw error;
      const copyLine = this.rows - batch.length + error.row + 1;
      const source = this.sourceOf(copyLine);
      const place = formatLocation({ ...source, column: error.column });
      throw new SluiceError('PG_COPY', `Row ${copyLine} written to ${this.target}${place ? ` (${place})` : ''} cannot be stored: column ${JSON.stringify(error.column)}: ${error.message}.`, {
        query: this.copySql,
        ...source,
        row: source.row ?? copyLine,
        column: error.column,
      });
    }
  }

  private async send(bytes: Uint8Array): Promise<void> {
    const copy = this.copy!;
    if (this.copyError !== undefined) throw this.copyFailure(this.copyError);
    this.bytesWritten += bytes.length;
    if (!copy.write(bytes)) {
      try {
        await once(copy, 'drain', { signal: this.context.signal });
      } catch (error) {
        if (this.context.signal.aborted) throw error;
        throw this.copyFailure(this.copyError ?? error);
      }
    }
  }

  private async endCopy(): Promise<void> {
    const copy = this.copy!;
    if (this.copyError !== undefined) throw this.copyFailure(this.copyError);
    copy.end();
    try {
      if (!copy.writableFinished) await once(copy, 'finish', { signal: this.context.signal });
    } catch (error) {
      if (this.context.signal.aborted) throw error;
      throw this.copyFailure(this.copyError ?? error);
    }
  }

  private async finish(): Promise<void> {
    const { mode, keys } = this.settings;
    const list = this.columns.map(quoteIdent).join(', ');
    if (mode === 'replace') {
      await this.query(`LOCK TABLE ${this.target} IN EXCLUSIVE MODE`);
      await this.query(`DELETE FROM ${this.target}`);
      await this.query(`INSERT INTO ${this.target} (${list}) SELECT ${list} FROM ${this.into}`);
    } else if (mode === 'upsert') {
      const keyList = keys.map(quoteIdent).join(', ');
      const updates = this.columns.filter((name) => !keys.includes(name)).map((name) => `${quoteIdent(name)} = EXCLUDED.${quoteIdent(name)}`);
      const action = updates.length === 0 ? 'DO NOTHING' : `DO UPDATE SET ${updates.join(', ')}`;
      // DISTINCT ON keeps one row per key, the last one COPYed (highest ctid in a table only appended to).
      await this.upsertQuery(
        `INSERT INTO ${this.target} (${list}) SELECT DISTINCT ON (${keyList}) ${list} FROM ${this.into} ORDER BY ${keyList}, ctid DESC ON CONFLICT (${keyList}) ${action}`,
      );
    }
  }

  private async upsertQuery(sql: string): Promise<void> {
    try {
      await this.client.query(sql);
    } catch (error) {
      const wrapped = wrapPgError(error, { operation: 'query', query: sql, connection: this.connection });
      if ((error as { code?: string }).code !== '42P10') throw wrapped;
      throw new SluiceError(
        'PG_QUERY',
        `Cannot upsert into ${this.target} on (${this.settings.keys.join(', ')}): the table has no primary key or unique index on exactly these columns. Add one (ALTER TABLE … ADD PRIMARY KEY (…)) or change \`key\`.`,
        { ...wrapped.details, cause: error },
      );
    }
  }

  /** A COPY error, with the rejected row named by its COPY line and, where known, its source line. */
  private copyFailure(error: unknown): SluiceError {
    const where = (error as { where?: string }).where;
    const match = where === undefined ? null : /COPY [^,]+, line (\d+)(?:, column ([^:]+))?/.exec(where);
    const copyLine = match === null ? undefined : Number(match[1]);
    const wrapped = wrapPgError(error, { operation: 'copy', query: this.copySql, row: copyLine, connection: this.connection });
    if (copyLine === undefined || wrapped.code !== 'PG_COPY') return wrapped;
    const detailKey = /^Key \(([^)]+)\)=/.exec((error as { detail?: string }).detail ?? '')?.[1];
    const column = match![2] ?? (error as { column?: string }).column ?? detailKey;
    const source = this.sourceOf(copyLine);
    const place = formatLocation({ ...source, column });
    // In replace mode the rows go to a staging copy first: name the user's table, not the copy.
    const staging = this.staging;
    const targetName = this.target.split('.').pop()!.replace(/^"|"$/g, '').replaceAll('""', '"');
    const server = staging === undefined ? wrapped.message : wrapped.message.replaceAll(staging, targetName);
    const message = `PostgreSQL rejected row ${copyLine} written to ${this.target}${place ? ` (${place})` : ''}: ${server}`;
    return new SluiceError('PG_COPY', message, {
      ...wrapped.details,
      ...source,
      row: source.row ?? copyLine,
      column: column ?? wrapped.details.column,
      cause: error,
    });
  }

  private sourceOf(copyLine: number): ErrorLocation {
    const spans = this.spans;
    let low = 0;
    let high = spans.length - 1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      const span = spans[middle];
      if (copyLine < span.firstCopyLine) high = middle - 1;
      else if (copyLine >= span.firstCopyLine + span.count) low = middle + 1;
      else {
        const index = copyLine - span.firstCopyLine;
        const line = span.firstLine !== undefined ? span.firstLine + index : span.lines?.[index];
        if (span.file !== undefined || line !== undefined) return { file: span.file, line };
        if (span.query !== undefined && span.firstRow !== undefined) return { query: span.query, row: span.firstRow + index };
        return {};
      }
    }
    return {};
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
