import { stat } from 'node:fs/promises';
import type { z } from 'zod';
import type { Batch } from '../../batch/batch.ts';
import { SluiceError } from '../../core/errors.ts';
import { checkArgument, checkOptions, optionsObject } from '../../core/options.ts';
import type { Source, SourceSample } from '../../contracts/contracts.ts';
import { compileSchema } from '../../schema/compile.ts';
import { allNullWarnings, inferColumns, SAMPLE_CELLS } from '../../schema/infer.ts';
import type { RunWarning } from '../../core/warnings.ts';
import type { ColumnPlan } from '../../schema/plan.ts';
import type { RowOf } from '../../schema/row-type.ts';
import { type FileFormat, type FilePlan, type FileRange, type FileReadContext, fileSource } from '../files/file-source.ts';
import { lineStarts } from '../files/line-count.ts';
import { readError } from '../files/inputs.ts';
import { ndjsonLines } from './lines.ts';
import { FILE_SOURCE_OPTIONS, SOURCE_PATH_EXPECTED, sourcePath } from '../files/source-options.ts';

export interface NdjsonOptions<S = unknown, K extends string = string> {
  /** A zod object: the fields to read and their types. Without it, types are inferred from a sample. */
  schema?: S;
  /** Only these fields are kept. */
  columns?: readonly K[];
  /**
   * Read only files not finished by an earlier committed run (same path, size and modification time),
   * for a glob that new files keep arriving in. Needs a state store (`etl run` / `etl schedule`).
   * @default false
   */
  incremental?: boolean;
  /** Lines sampled to infer types. @default 10000 */
  sampleRows?: number;
  /** A line longer than this (in bytes) fails the run with NDJSON_RECORD_TOO_LARGE, as soon as it is read past it. @default 64MB */
  maxRecordBytes?: number;
  /** Distinct values a dictionary column may hold before falling back to plain strings. @default 65536 */
  dictionaryCap?: number;
  /** Store decimals as float32 instead of float64. @default false */
  float32?: boolean;
  /**
   * With a schema: store its unconstrained `z.string()` columns (`true`), or the named ones,
   * dictionary-encoded (each distinct value once, a code per row), for strings that repeat; `etl profile`
   * says which. @default false
   */
  dictionaryStrings?: boolean | readonly string[];
}

export const NDJSON_OPTIONS = optionsObject(FILE_SOURCE_OPTIONS);

/** Reads newline-delimited JSON files (a path, glob or list; `.gz` gunzipped), one object per line. */
export function ndjson<S extends z.ZodObject | undefined = undefined, const K extends string = string>(
  path: string | readonly string[],
  options: NdjsonOptions<S, K> = {},
): Source<RowOf<S, K>> {
  checkArgument('ndjson()', 'path', sourcePath, SOURCE_PATH_EXPECTED, path);
  checkOptions('ndjson()', NDJSON_OPTIONS, options);
  return fileSource<RowOf<S, K>>(path, new NdjsonFormat(options as NdjsonOptions<unknown, string>));
}

const ENGINE = 'JSON.parse per line';

/** NDJSON for the file-source skeleton (files/file-source.ts), which does files, state, progress and `--limit`. */
class NdjsonFormat implements FileFormat {
  readonly kind = 'ndjson';
  readonly incremental: boolean | undefined;
  // JSON states its nulls: only `null` or a missing key is one, and "" is an empty string.
  readonly emptyIsNull = false;
  readonly crBreaks = false;

  private readonly options: NdjsonOptions<unknown, string>;
  constructor(options: NdjsonOptions<unknown, string>) {
    this.options = options;
    this.incremental = options.incremental;
  }

  async sample(file: string, rows: number, signal: AbortSignal): Promise<SourceSample> {
    const sample: Record<string, unknown>[] = [];
    if (rows > 0) {
      // Wide objects make a sample of fewer lines, as in CSV (see SAMPLE_CELLS).
      let cells = 0;
      for await (const { object } of objects(file, this.options.maxRecordBytes, signal)) {
        sample.push(object);
        cells += Object.keys(object).length;
        if (sample.length >= rows || cells >= SAMPLE_CELLS) break;
      }
    }
    const names = [...new Set(sample.flatMap((object) => Object.keys(object)))];
    return { names, rows: sample.map((object) => names.map((name) => object[name])) };
  }

  async prepare(files: readonly string[], signal: AbortSignal): Promise<FilePlan> {
    let plans: ColumnPlan[];
    let warnings: RunWarning[] = [];
    if (this.options.schema !== undefined) {
      plans = compileSchema(this.options.schema, this.options).columns;
      if (this.options.columns !== undefined) plans = plans.filter((plan) => this.options.columns!.includes(plan.name));
    } else {
      const sample = await this.sample(files[0], this.options.sampleRows ?? 10_000, signal);
      const names = this.options.columns ?? sample.names;
      const positions = names.map((name) => sample.names.indexOf(name));
      const inferred = inferColumns(names, sample.rows.map((row) => positions.map((p) => (p < 0 ? undefined : row[p]))), { ...this.options, json: true });
      plans = inferred.plans;
      warnings = allNullWarnings(inferred.stats, files[0]);
    }
    return { plans, engine: ENGINE, warnings };
  }

  /** Line ranges for a threaded read: a line feed always ends a line (JSON strings hold none), so every cut is a boundary. */
  async ranges(file: string, _plan: FilePlan, bytes: number): Promise<{ offsets: number[] } | undefined> {
    if (file.endsWith('.gz')) return undefined;
    return { offsets: await lineStarts(file, (await stat(file)).size, bytes) };
  }

  async *read(file: string, { plans }: FilePlan, context: FileReadContext): AsyncGenerator<Batch> {
    const names = plans.map((plan) => plan.name);
    const values: unknown[] = new Array(plans.length);
    let decoder = context.decoder();
    for await (const { object, line } of objects(file, this.options.maxRecordBytes, context.signal, context.progress, context.range)) {
      for (let c = 0; c < names.length; c++) values[c] = object[names[c]];
      const violation = decoder.append(values, line);
      if (violation !== null) await context.reject(violation, { file, line, column: violation.column });
      if (decoder.full) {
        yield decoder.flush({ file });
        decoder = context.decoder();
      }
    }
    if (decoder.length > 0) yield decoder.flush({ file });
  }
}

async function* objects(
  file: string,
  maxRecordBytes = 64 * 1024 * 1024,
  signal: AbortSignal,
  progress?: (bytes: number) => void,
  range?: FileRange,
): AsyncGenerator<{ object: Record<string, unknown>; line: number }> {
  // The hints for a JSON array or a pretty-printed document are for the file's first value only.
  let objectsRead = 0;
  try {
    for await (const { texts, firstLine } of ndjsonLines(file, maxRecordBytes, signal, progress, range)) {
      for (let k = 0; k < texts.length; k++) {
        const text = texts[k];
        const line = firstLine + k;
        if (text.trim() === '') continue;
        const object = parseLine(text, file, line, objectsRead === 0);
        objectsRead++;
        yield { object, line };
      }
    }
  } catch (error) {
    throw readError(file, error);
  }
}

function parseLine(text: string, file: string, line: number, firstValue: boolean): Record<string, unknown> {
  let object: unknown;
  try {
    object = JSON.parse(text);
  } catch (error) {
    const position = /position (\d+)/.exec((error as Error).message);
    const column = position ? Number(position[1]) + 1 : undefined;
    const hint = firstValue ? multiLineHint(text, file) : '';
    throw new SluiceError('NDJSON_PARSE', `${file}:${line}${column ? `:${column}` : ''}: not valid JSON (${(error as Error).message})${hint}`, {
      file,
      line,
      column,
      expected: 'one JSON object per line',
    });
  }
  if (typeof object !== 'object' || object === null || Array.isArray(object)) {
    // A whole file as one array on one line; an array further on is a line gone wrong.
    const hint = Array.isArray(object) && firstValue ? `: this line is a JSON array, and ndjson() reads one object per line; ${TO_NDJSON(file)}` : '';
    throw new SluiceError('NDJSON_PARSE', `${file}:${line}: expected a JSON object, found ${Array.isArray(object) ? 'an array' : typeof object}${hint}`, {
      file,
      line,
      expected: 'one JSON object per line',
    });
  }
  return object as Record<string, unknown>;
}

const TO_NDJSON = (file: string) => `convert it to one object per line first, e.g. jq -c '.[]' ${file} > ${file.replace(/\.json$/, '')}.ndjson`;

/**
 * A JSON array or an indented document breaks on its first value (`[` alone is "Unexpected end of JSON
 * input"), which says nothing of the cause: a line that opens a value without closing it is named.
 */
function multiLineHint(text: string, file: string): string {
  const start = text.trimStart();
  if (start.startsWith('[')) return `: this looks like a JSON array spread over several lines (a .json file), not NDJSON; ${TO_NDJSON(file)}`;
  if (start.startsWith('{') && !start.trimEnd().endsWith('}')) {
    return `: this looks like a JSON object spread over several lines (pretty-printed), not NDJSON, which has one whole object per line; convert it first, e.g. jq -c . ${file}`;
  }
  return '';
}
