import { z } from 'zod';
import { INTEGER_RANGE, jsObjectOverhead, jsValueBytes } from '../batch/dtype.ts';
import { SluiceError } from '../core/errors.ts';
import { batchRowsFor } from '../runtime/batch-sizing.ts';
import { checkBudget } from '../runtime/budget.ts';
import { parseBytes } from '../core/bytes.ts';
import { compileSchema } from '../schema/compile.ts';
import { RowDecoder } from '../schema/decode.ts';
import { type ColumnStats, inferColumns } from '../schema/infer.ts';
import type { ColumnPlan } from '../schema/plan.ts';
import { csv, type CsvOptions } from '../connectors/csv/source.ts';
import { ndjson } from '../connectors/ndjson/source.ts';
import { expandInputs, totalSize } from '../connectors/files/inputs.ts';

export interface ProfileOptions {
  /** Budget to suggest a batch size for, e.g. '128MB'. @default '256MB' */
  memory?: string | number;
  /** Rows per batch to estimate a run at. @default the batch size a run picks for `memory` */
  batchRows?: number;
  /** Rows read from the first file. @default 10000 */
  sample?: number;
  /** The pipeline's schema, to profile the columns as the run will type them; inferred without it. */
  schema?: z.ZodObject;
  /** CSV dialect, as for `csv()` (a file that needs one to be read needs it to be profiled). @default ',', '"' and 'utf8' */
  delimiter?: string;
  quote?: string;
  encoding?: 'utf8' | 'latin1';
  relaxQuotes?: boolean;
  escape?: string;
  comment?: string;
  signal?: AbortSignal;
}

export interface ColumnProfile extends ColumnStats {
  /** Bytes per row as the naive reader holds it: a JS value (csv-parse's string, JSON.parse's value). */
  jsBytesPerRow: number;
  /** Bytes per row in its typed column (codes only for dictionary columns; the dictionary is counted once). */
  typedBytesPerRow: number;
  nullRatio: number;
  /** The dictionary's bytes for dictionary columns, at the sample's cardinality. */
  dictionaryBytes: number;
}

/**
 * What a run of this data will hold, modelled on src/runtime/run.ts: the source reserves each batch it makes
 * from the budget and the sink gives it back when it asks for the next one, so a straight pipeline
 * holds one reserved batch while the source builds the next and stages make copies (filter's `take`,
 * derived columns); dictionaries live for the whole run; the runtime costs a fixed amount on top.
 */
export interface MemoryEstimate {
  batchRows: number;
  bytesPerRow: number;
  bytesPerBatch: number;
  /** Peak bytes reserved from the budget: what `summary.memory.peakReserved` measures. */
  peakReserved: number;
  /** Batches alive beyond the reserved one: the one being built and one stage copy. */
  workingBytes: number;
  dictionaryBytes: number;
  /** I/O buffers (read chunk, parser, write buffer) and V8's young generation at full size. */
  runtimeBytes: number;
  /** Estimated peak RSS above the idle process: peakReserved + workingBytes + dictionaryBytes + runtimeBytes. */
  peakAboveBaseline: number;
}

export interface ProfileReport {
  files: string[];
  format: 'csv' | 'ndjson';
  totalBytes: number;
  sampleRows: number;
  columns: ColumnProfile[];
  /** Per-row cost of one JS object per row (header, property slots, its place in an array). */
  objectOverheadPerRow: number;
  /** Bytes per row as JS objects (all columns plus the object) and as typed columns. */
  jsBytesPerRow: number;
  typedBytesPerRow: number;
  /** A zod schema for the data, ready to paste into a pipeline. */
  zod: string;
  memory: number;
  estimate: MemoryEstimate;
  /** The batch size a run picks for `memory`, and the estimate at it. */
  suggestion: { memory: number; batchRows: number; estimate: MemoryEstimate };
  /** Rough figure for the whole input read naively (whole file as JS objects). */
  naiveBytesForInput?: number;
}

const ENUM_LIMIT = 32;
/** Buffers a CSV run keeps whatever the batch size: two 1 MB read buffers (read-ahead), and about as much in spare write chunks. */
const IO_BUFFER_BYTES = 3 * 1024 * 1024;
/**
 * V8's young generation at full size. Node 22 on 64-bit: semi-spaces of 16 MB, a from- and a to-space.
 * (A third for objects being promoted was counted once; since a run scavenges every few MB of batches
 * it gives back, little is promoted. Checked against `npm run bench -- memory --sizes 1GB,8GB`: 34.6
 * and 41.3 MB above idle, against this model's 39 MB.)
 */
const YOUNG_GENERATION_BYTES = 2 * 16 * 1024 * 1024;
/** Line numbers kept per row (Batch.lines, an Int32Array). */
const LINE_BYTES = 4;

/**
 * Reads a sample of a CSV or NDJSON file (or the first file of a glob) and says what it costs in
 * memory: per column the inferred dtype, bytes per row as JS values and as typed columns, null ratio
 * and cardinality; a zod schema to paste; and an estimate of a run's peak memory.
 *
 * @example
 * const report = await profile('data/orders-*.csv.gz', { memory: '128MB' });
 * console.log(report.zod, report.suggestion.batchRows);
 */
export async function profile(path: string | readonly string[], options: ProfileOptions = {}): Promise<ProfileReport> {
  const memory = parseBytes(options.memory ?? '256MB', 'memory');
  checkBudget(memory);
  const sampleLimit = options.sample ?? 10_000;
  if (!Number.isInteger(sampleLimit) || sampleLimit < 1) {
    throw new SluiceError('INVALID_OPTION', `Expected \`sample\` to be a whole number from 1 and up; got ${options.sample}.`);
  }
  if (options.batchRows !== undefined && (!Number.isInteger(options.batchRows) || options.batchRows < 1)) {
    throw new SluiceError('INVALID_OPTION', `Expected \`batchRows\` to be a whole number from 1 and up; got ${options.batchRows}.`);
  }
  const signal = options.signal ?? new AbortController().signal;
  const files = await expandInputs(path);
  const format = formatOf(files[0]);
  // The sample the source itself infers from (its own reader and dialect), not a copy of its code.
  const source = format === 'csv' ? csv(files[0], csvDialect(options)) : ndjson(files[0]);
  const { names, rows } = await source.sample!(sampleLimit, { signal });
  if (rows.length === 0) throw new SluiceError('CSV_PARSE', `${files[0]} has no rows to profile.`, { file: files[0] });

  // Typed as the source's own inference types them: JSON values keep their JSON types, and "" is not a null there.
  const json = format === 'ndjson';
  const inferred = inferColumns(names, rows, { json });
  const stats = inferred.stats;
  let plans = inferred.plans;
  if (options.schema !== undefined) {
    const compiled = compileSchema(options.schema).columns;
    plans = plans.map((plan) => compiled.find((column) => column.name === plan.name) ?? plan);
  }
  const decoder = new RowDecoder(plans, rows.length, { emptyIsNull: !json });
  rows.forEach((row, r) => {
    decoder.append(row, r + 2);
  });
  const batch = decoder.flush({ file: files[0] });
  const columns: ColumnProfile[] = plans.map((plan, c) => {
    let jsBytes = 0;
    for (const row of rows) jsBytes += jsValueBytes(row[c] === '' ? null : row[c]);
    const column = batch.columns[plan.name];
    const dictionaryBytes = plan.dtype === 'dictionary' && plan.dictionary !== undefined ? plan.dictionary.bytes : 0;
    return {
      ...stats[c],
      dtype: plan.dtype,
      jsBytesPerRow: jsBytes / rows.length,
      typedBytesPerRow: column.byteSize / rows.length,
      nullRatio: stats[c].nulls / rows.length,
      dictionaryBytes,
    };
  });
  const objectOverheadPerRow = jsObjectOverhead(names.length) + 8;
  const jsBytesPerRow = objectOverheadPerRow + columns.reduce((sum, column) => sum + column.jsBytesPerRow, 0);
  const typedBytesPerRow = LINE_BYTES + columns.reduce((sum, column) => sum + column.typedBytesPerRow, 0);
  const dictionaryBytes = columns.reduce((sum, column) => sum + column.dictionaryBytes, 0);
  const totalBytes = await totalSize(files);

  // The batch size a run settles on for this budget once it has measured bytes per row.
  const suggestedRows = batchRowsFor(memory, typedBytesPerRow);
  const suggestion = { memory, batchRows: suggestedRows, estimate: estimateAt(suggestedRows, typedBytesPerRow, dictionaryBytes) };
  const estimate = options.batchRows === undefined ? suggestion.estimate : estimateAt(options.batchRows, typedBytesPerRow, dictionaryBytes);
  // Bytes of input per sampled row, to scale the naive figure to the whole input.
  const sampleInputBytes = format === 'csv' ? rows.reduce((sum, row) => sum + row.reduce<number>((s, v) => s + String(v ?? '').length + 1, 0), 0) / rows.length : undefined;
  return {
    files,
    format,
    totalBytes,
    sampleRows: rows.length,
    columns,
    objectOverheadPerRow,
    jsBytesPerRow,
    typedBytesPerRow,
    zod: zodCode(plans, columns, rows),
    memory,
    estimate,
    suggestion,
    naiveBytesForInput: sampleInputBytes === undefined ? undefined : Math.round((totalBytes / sampleInputBytes) * jsBytesPerRow),
  };
}

export function estimateAt(batchRows: number, bytesPerRow: number, dictionaryBytes: number): MemoryEstimate {
  const bytesPerBatch = Math.round(batchRows * bytesPerRow);
  const peakReserved = bytesPerBatch;
  const workingBytes = 2 * bytesPerBatch;
  const runtimeBytes = IO_BUFFER_BYTES + YOUNG_GENERATION_BYTES;
  return {
    batchRows,
    bytesPerRow,
    bytesPerBatch,
    peakReserved,
    workingBytes,
    dictionaryBytes,
    runtimeBytes,
    peakAboveBaseline: peakReserved + workingBytes + dictionaryBytes + runtimeBytes,
  };
}

function formatOf(file: string): 'csv' | 'ndjson' {
  const name = file.toLowerCase().replace(/\.gz$/, '');
  if (name.endsWith('.ndjson') || name.endsWith('.jsonl') || name.endsWith('.json')) return 'ndjson';
  return 'csv';
}

/** The dialect options given, and only those: csv() checks every key it is handed. */
function csvDialect(options: ProfileOptions): CsvOptions<undefined> {
  const dialect: CsvOptions<undefined> = {};
  if (options.delimiter !== undefined) dialect.delimiter = options.delimiter;
  if (options.quote !== undefined) dialect.quote = options.quote;
  if (options.encoding !== undefined) dialect.encoding = options.encoding;
  if (options.relaxQuotes !== undefined) dialect.relaxQuotes = options.relaxQuotes;
  if (options.escape !== undefined) dialect.escape = options.escape;
  if (options.comment !== undefined) dialect.comment = options.comment;
  return dialect;
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** The inferred plan as zod code that compiles back to the same dtypes. */
function zodCode(plans: readonly ColumnPlan[], columns: readonly ColumnProfile[], rows: readonly (readonly unknown[])[]): string {
  const lines = plans.map((plan, c) => {
    const column = columns[c];
    let expression: string;
    let note = '';
    switch (plan.dtype) {
      case 'uint8':
      case 'int8':
      case 'uint16':
      case 'int16':
      case 'uint32':
      case 'int32': {
        const [lo, hi] = INTEGER_RANGE[plan.dtype];
        expression = `z.number().int().min(${lo}).max(${hi})`;
        note = `${plan.dtype}; sample ${column.min}…${column.max}`;
        break;
      }
      case 'float32':
        expression = 'z.float32()';
        break;
      case 'float64':
        expression = 'z.number()';
        note = distinctValues(rows, c).every((value) => /^[+-]?\d+$/.test(value)) ? 'integers beyond int32' : 'float64';
        break;
      case 'bool':
        expression = 'z.boolean()';
        break;
      case 'timestamp':
        expression = timestampSchema(distinctValues(rows, c));
        note = 'timestamp';
        break;
      case 'date':
        expression = 'z.iso.date()';
        note = 'date';
        break;
      case 'dictionary': {
        const values = column.distinct <= ENUM_LIMIT ? distinctValues(rows, c) : undefined;
        if (values !== undefined) {
          expression = `z.enum([${values.map((value) => JSON.stringify(value)).join(', ')}])`;
          note = `dictionary of the ${values.length} values in the sample: another value is a schema violation (z.string() and dictionaryStrings: [${JSON.stringify(plan.name)}] take any)`;
        } else {
          expression = 'z.string()';
          note = `repeats (${column.distinct} distinct in the sample): add it to the source's \`dictionaryStrings\``;
        }
        break;
      }
      default:
        expression = 'z.string()';
        if (column.reason !== undefined) note = `text: ${column.reason}`;
    }
    if (column.nulls > 0) expression += '.nullable()';
    const key = IDENTIFIER.test(plan.name) ? plan.name : JSON.stringify(plan.name);
    return `  ${key}: ${expression},${note ? ` // ${note}` : ''}`;
  });
  return `const Row = z.object({\n${lines.join('\n')}\n});`;
}

/**
 * The strictest zod timestamp that accepts every sampled value: `z.iso.datetime()` takes only a `Z`
 * zone, so a sample with offsets, no zone or a space between date and time needs a wider form, or the
 * code would reject the very file it was made from.
 */
function timestampSchema(values: readonly string[]): string {
  const candidates: [string, z.ZodType][] = [
    ['z.iso.datetime()', z.iso.datetime()],
    ['z.iso.datetime({ offset: true })', z.iso.datetime({ offset: true })],
    ['z.iso.datetime({ local: true })', z.iso.datetime({ local: true })],
    ['z.iso.datetime({ offset: true, local: true })', z.iso.datetime({ offset: true, local: true })],
  ];
  for (const [code, schema] of candidates) if (values.every((value) => schema.safeParse(value).success)) return code;
  return 'z.coerce.date()';
}

function distinctValues(rows: readonly (readonly unknown[])[], c: number): string[] {
  const seen = new Set<string>();
  for (const row of rows) {
    const value = row[c];
    if (value !== null && value !== undefined && value !== '') seen.add(String(value));
  }
  return [...seen].sort();
}
