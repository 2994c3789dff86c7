import { createInterface } from 'node:readline';
import type { z } from 'zod';
import type { AnyRow, Batch } from '../../batch/batch.ts';
import { SluiceError } from '../../core/errors.ts';
import type { RunContext, Source, SourceContext, SourceDescription } from '../../contracts/contracts.ts';
import { compileSchema } from '../../schema/compile.ts';
import { clonePlans, emptyBatch, RowDecoder } from '../../schema/decode.ts';
import { inferColumns } from '../../schema/infer.ts';
import type { ColumnPlan } from '../../schema/plan.ts';
import type { RowOf } from '../../schema/row-type.ts';
import { expandInputs, openInput, readError, totalSize } from '../files/inputs.ts';
import { unfinishedFiles } from '../files/finished-files.ts';

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
  /** Lines longer than this fail the run. @default 64MB */
  maxRecordBytes?: number;
  dictionaryCap?: number;
  float32?: boolean;
}

/** Reads newline-delimited JSON files (a path, glob or list; `.gz` gunzipped), one object per line. */
export function ndjson<S extends z.ZodObject | undefined = undefined, const K extends string = string>(
  path: string | readonly string[],
  options: NdjsonOptions<S, K> = {},
): Source<RowOf<S, K>> {
  return new NdjsonSource(path, options as NdjsonOptions<unknown, string>) as unknown as Source<RowOf<S, K>>;
}

class NdjsonSource implements Source<AnyRow> {
  readonly kind = 'ndjson';

  readonly location: string;

  constructor(
    private readonly path: string | readonly string[],
    private readonly options: NdjsonOptions<unknown, string>,
  ) {
    this.location = typeof path === 'string' ? path : path.join(', ');
  }

  async describe(context: RunContext): Promise<SourceDescription> {
    const { files, plans, totalBytes } = await this.prepare(context.signal);
    return { kind: 'ndjson', location: files.join(', '), engine: 'JSON.parse per line', columns: plans, totalBytes };
  }

  async *read(context: SourceContext): AsyncGenerator<Batch> {
    const { files, plans, totalBytes } = await this.prepare(context.signal);
    context.engine('JSON.parse per line');
    let rowsLeft = context.limit ?? Infinity;
    let doneBytes = 0;
    const names = plans.map((plan) => plan.name);
    const values: unknown[] = new Array(plans.length);
    const progress = await unfinishedFiles(files, context, this.options.incremental);
    // An input with no rows still passes on its columns (as the CSV source does), so a CSV sink writes its header.
    let yielded = false;
    for (const file of progress.files) {
      if (rowsLeft <= 0) break;
      // Cut short by the limit, a file is not finished: marking it would skip its rest next time.
      let whole = true;
      const widen = (column: string, from: string, to: string, value: string, line?: number) =>
        context.warn(`column ${JSON.stringify(column)} widened from ${from} to ${to} at value ${JSON.stringify(value)} (${file}${line ? `:${line}` : ''})`);
      let decoder = new RowDecoder(plans, context.batchRows(), widen, false);
      for await (const { object, line } of objects(file, this.options.maxRecordBytes, context.signal, (bytes) =>
        context.progress(doneBytes + bytes, totalBytes),
      )) {
        for (let c = 0; c < names.length; c++) values[c] = object[names[c]];
        const violation = decoder.append(values, line);
        if (violation !== null) {
          await context.reject(violation, { file, line, column: violation.column });
          if (--rowsLeft <= 0) {
            whole = false;
            break;
          }
          continue;
        }
        if (decoder.full) {
          yielded = true;
          yield decoder.flush({ file });
          decoder = new RowDecoder(plans, context.batchRows(), widen, false);
        }
        if (--rowsLeft <= 0) {
          whole = false;
          break;
        }
      }
      if (decoder.length > 0) {
        yielded = true;
        yield decoder.flush({ file });
      }
      if (whole) await progress.finished(file);
      doneBytes += await totalSize([file]);
    }
    if (!yielded) yield emptyBatch(plans);
  }

  private async prepare(signal: AbortSignal): Promise<{ files: string[]; plans: ColumnPlan[]; totalBytes: number }> {
    const files = await expandInputs(this.path);
    const totalBytes = await totalSize(files);
    let plans: ColumnPlan[];
    if (this.options.schema !== undefined) {
      plans = compileSchema(this.options.schema, this.options).columns;
      if (this.options.columns !== undefined) plans = plans.filter((plan) => this.options.columns!.includes(plan.name));
    } else {
      const sample: Record<string, unknown>[] = [];
      const limit = this.options.sampleRows ?? 10_000;
      for await (const { object } of objects(files[0], this.options.maxRecordBytes, signal)) {
        sample.push(object);
        if (sample.length >= limit) break;
      }
      const names = this.options.columns ?? [...new Set(sample.flatMap((object) => Object.keys(object)))];
      plans = inferColumns(names, sample.map((object) => names.map((name) => object[name])), { ...this.options, json: true }).plans;
    }
    return { files, plans: clonePlans(plans), totalBytes };
  }
}

async function* objects(
  file: string,
  maxRecordBytes = 64 * 1024 * 1024,
  signal: AbortSignal,
  progress?: (bytes: number) => void,
): AsyncGenerator<{ object: Record<string, unknown>; line: number }> {
  const input = openInput(file);
  input.stream.setEncoding('utf8');
  const lines = createInterface({ input: input.stream, crlfDelay: Infinity });
  let line = 0;
  try {
    for await (const text of lines) {
      line++;
      if (line % 4096 === 0) {
        signal.throwIfAborted();
        progress?.(input.diskBytes());
      }
      if (text.length > maxRecordBytes) {
        throw new SluiceError('CSV_RECORD_TOO_LARGE', `${file}:${line}: a line longer than maxRecordBytes (${maxRecordBytes})`, { file, line });
      }
      if (text.trim() === '') continue;
      let object: unknown;
      try {
        object = JSON.parse(text);
      } catch (error) {
        const position = /position (\d+)/.exec((error as Error).message);
        const column = position ? Number(position[1]) + 1 : undefined;
        throw new SluiceError('NDJSON_PARSE', `${file}:${line}${column ? `:${column}` : ''}: not valid JSON (${(error as Error).message})`, {
          file,
          line,
          column,
          expected: 'one JSON object per line',
        });
      }
      if (typeof object !== 'object' || object === null || Array.isArray(object)) {
        throw new SluiceError('NDJSON_PARSE', `${file}:${line}: expected a JSON object, found ${Array.isArray(object) ? 'an array' : typeof object}`, {
          file,
          line,
          expected: 'one JSON object per line',
        });
      }
      yield { object: object as Record<string, unknown>, line };
    }
    progress?.(input.diskBytes());
  } catch (error) {
    throw readError(file, error);
  } finally {
    lines.close();
    input.close();
  }
}
