/**
 * Errors are data: a stable `code`, a location (file:line:column, or query and row, and the stage),
 * and the `cause`. Messages are for people; code and location are for programs and tests.
 */
export type ErrorCode =
  // input
  | 'CSV_QUOTE_NOT_CLOSED'
  | 'CSV_INVALID_QUOTE'
  | 'CSV_FIELD_COUNT'
  | 'CSV_INVALID_UTF8'
  | 'CSV_BOM'
  | 'CSV_RECORD_TOO_LARGE'
  | 'CSV_DUPLICATE_HEADER'
  | 'CSV_PARSE'
  | 'NDJSON_PARSE'
  | 'NDJSON_INVALID_UTF8'
  | 'NDJSON_BOM'
  | 'NDJSON_RECORD_TOO_LARGE'
  | 'INPUT_NOT_FOUND'
  | 'INPUT_READ'
  | 'INPUT_CHANGED'
  // schema
  | 'SCHEMA_VIOLATION'
  | 'SCHEMA_UNSUPPORTED'
  | 'SCHEMA_MISSING_COLUMN'
  | 'REJECT_LIMIT'
  // pipeline definition and options
  | 'PIPELINE_LOAD'
  | 'PIPELINE_SHAPE'
  | 'INVALID_OPTION'
  // memory
  | 'MEMORY_BUDGET_TOO_SMALL'
  | 'RECORD_EXCEEDS_BUDGET'
  | 'NO_PROGRESS'
  // stages and sinks
  | 'STAGE_FAILED'
  | 'WORKER_FAILED'
  | 'OUTPUT_WRITE'
  | 'OUTPUT_DISK_FULL'
  | 'ABORTED'
  // PostgreSQL
  | 'PG_CONNECT'
  | 'PG_QUERY'
  | 'PG_COPY'
  | 'PG_CONNECTION_LOST'
  | 'PG_EMPTY_REPLACE'
  // scheduling
  | 'SCHEDULE_INVALID'
  | 'LOCKED'
  | 'STATE_WRITE'
  | 'PIPELINE_NAME'
  | 'RUN_TIMEOUT'
  | 'RUN_PROCESS'
  // distributed runs
  | 'DISTRIBUTED_UNSUPPORTED'
  | 'DISTRIBUTED_PARTITION'
  | 'DISTRIBUTED_FENCED'
  | 'DISTRIBUTED_ALREADY_COMMITTED'
  | 'DISTRIBUTED_RUN_ENDED'
  | 'DISTRIBUTED_QUEUE'
  | 'DISTRIBUTED_RUN_FAILED';

export interface ErrorLocation {
  /** Input file, as the user named it. */
  file?: string;
  /** 1-based physical line where the record starts. */
  line?: number;
  /** 1-based column (character position in the line) or a column name for schema errors. */
  column?: number | string;
  /** Byte offset in the (decompressed) input. */
  byteOffset?: number;
  /** 0-based row group of a Parquet file. */
  rowGroup?: number;
  /** 0-based record batch of an Arrow IPC file or stream. */
  recordBatch?: number;
  /** SQL text (never with credentials). */
  query?: string;
  /** 1-based row number within a query result or a COPY. */
  row?: number;
  /** Stage name. */
  stage?: string;
  /** Pipeline name. */
  pipeline?: string;
}

export interface SluiceErrorDetails extends ErrorLocation {
  /** The offending value, as text. */
  value?: string;
  /** The rule that was broken, e.g. `int <= 200` or `one of a|b|c`. */
  rule?: string;
  /** What was expected, for people. */
  expected?: string;
  /** The option that was wrong, as a dotted path (`rejects.max`), for INVALID_OPTION. */
  option?: string;
  /**
   * Set by the connector that made the error when the same work may succeed if tried again (a lost
   * connection, a serialization failure, a deadlock); tracked runs retry these and nothing else.
   */
  transient?: boolean;
  cause?: unknown;
}

export class SluiceError extends Error {
  override readonly name = 'SluiceError';
  readonly code: ErrorCode;
  readonly details: SluiceErrorDetails;

  constructor(code: ErrorCode, message: string, details: SluiceErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.details = details;
  }

  /** `file:line:column`, `query row N`, and the stage, as far as they are known. */
  get where(): string {
    return formatLocation(this.details);
  }

  /** A plain object for reports and reject files. */
  toJSON(): Record<string, unknown> {
    const { cause, ...rest } = this.details;
    return { code: this.code, message: this.message, ...rest };
  }
}

export function formatLocation(location: ErrorLocation): string {
  const parts: string[] = [];
  if (location.file !== undefined) {
    let place = location.file;
    if (location.line !== undefined) place += `:${location.line}`;
    if (typeof location.column === 'number') place += `:${location.column}`;
    parts.push(place);
  } else if (location.line !== undefined) {
    parts.push(`line ${location.line}`);
  }
  if (location.byteOffset !== undefined && location.line === undefined) parts.push(`byte ${location.byteOffset}`);
  if (location.rowGroup !== undefined) parts.push(`row group ${location.rowGroup}`);
  if (location.recordBatch !== undefined) parts.push(`record batch ${location.recordBatch}`);
  if (location.query !== undefined) parts.push(`query ${JSON.stringify(truncate(location.query, 120))}`);
  if (location.row !== undefined) parts.push(`row ${location.row}`);
  if (typeof location.column === 'string') parts.push(`column ${JSON.stringify(location.column)}`);
  if (location.stage !== undefined) parts.push(`stage ${location.stage}`);
  return parts.join(', ');
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

export function isSluiceError(error: unknown, code?: ErrorCode): error is SluiceError {
  return error instanceof SluiceError && (code === undefined || error.code === code);
}
