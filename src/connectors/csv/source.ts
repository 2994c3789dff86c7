import { stat } from 'node:fs/promises';
import type { z } from 'zod';
import type { Batch } from '../../batch/batch.ts';
import { codeGenerationEnabled } from '../../codegen/switch.ts';
import { SluiceError } from '../../core/errors.ts';
import { checkArgument } from '../../core/options.ts';
import type { Source, SourceSample } from '../../contracts/contracts.ts';
import { compileSchema } from '../../schema/compile.ts';
import { allNullWarnings, inferColumns, sampleRowsFor } from '../../schema/infer.ts';
import type { RunWarning } from '../../core/warnings.ts';
import type { ColumnPlan } from '../../schema/plan.ts';
import { type FileFormat, type FilePlan, type FileReadContext, fileSource } from '../files/file-source.ts';
import { SOURCE_PATH_EXPECTED, sourcePath } from '../files/source-options.ts';
import { fastEngineAvailable, type FastTally, findStructuralError, readFastBatches } from './fast-engine.ts';
import { type CsvOptions, resolveCsvOptions, type ResolvedCsvOptions } from './options.ts';
import { fieldCountError, namePositions, positionsOf } from './header.ts';
import { findCuts } from './boundaries.ts';

export type { CsvOptions } from './options.ts';

import type { RowOf } from '../../schema/row-type.ts';

export type { RowOf };

/**
 * Reads CSV files (a path, a glob, or a list; `.gz` files are gunzipped) in batches of typed columns.
 *
 * @example
 * csv('data/orders-*.csv.gz', { schema: Order, columns: ['id', 'status', 'total'] })
 */
export function csv<S extends z.ZodObject | undefined = undefined, const K extends string = string>(
  path: string | readonly string[],
  options: CsvOptions<S, K> = {},
): Source<RowOf<S, K>> {
  checkArgument('csv()', 'path', sourcePath, SOURCE_PATH_EXPECTED, path);
  return fileSource<RowOf<S, K>, CsvPlan>(path, new CsvFormat(options as CsvOptions<unknown, string>));
}

interface CsvPlan extends FilePlan {
  options: ResolvedCsvOptions;
  /** Records the fast engine read, across the run's files. */
  tally: FastTally;
}

/** CSV for the file-source skeleton (files/file-source.ts), which does files, state, progress and `--limit`. */
class CsvFormat implements FileFormat<CsvPlan> {
  readonly kind = 'csv';
  readonly incremental: boolean | undefined;
  private readonly settings: ResolvedCsvOptions;

  private readonly options: CsvOptions<unknown, string>;
  constructor(options: CsvOptions<unknown, string>) {
    this.options = options;
    this.settings = resolveCsvOptions(options, fastEngineAvailable);
    this.incremental = options.incremental;
  }

  /** The header (or the `header` option's names) and the first `rows` records, read with csv-parse. */
  async sample(file: string, rows: number, signal: AbortSignal): Promise<SourceSample> {
    const options = this.settings;
    let header: string[] | undefined = options.header === true ? undefined : [...options.header];
    const sample: string[][] = [];
    let wanted = header === undefined ? rows : sampleRowsFor(rows, header.length);
    try {
      for await (const records of (await parseEngine()).parseRecords(file, options, signal)) {
        for (const record of records) {
          if (header === undefined) {
            header = record.fields;
            wanted = sampleRowsFor(rows, header.length);
          } else if (sample.length < wanted) sample.push(record.fields);
        }
        if (header !== undefined && sample.length >= wanted) break;
      }
    } catch (error) {
      // Inference and `etl profile` meet a bad quote first: they report it as the run's reader does.
      throw await relocate(file, options, signal, error);
    }
    if (header === undefined) throw new SluiceError('CSV_PARSE', `${file} is empty: no header line.`, { file });
    return { names: header, rows: sample };
  }

  /** The options and a fresh column plan for one run (inferred from a sample when there is no schema). */
  async prepare(files: readonly string[], signal: AbortSignal): Promise<CsvPlan> {
    const options = this.settings;
    let plans: ColumnPlan[];
    let warnings: RunWarning[] = [];
    const wanted = this.options.columns;
    if (this.options.schema !== undefined && !this.options.infer) {
      plans = compileSchema(this.options.schema, this.options).columns;
      if (wanted !== undefined) {
        for (const name of wanted) {
          if (!plans.some((plan) => plan.name === name)) {
            throw new SluiceError('INVALID_OPTION', `\`columns\` names ${JSON.stringify(name)}, which the schema does not have.`);
          }
        }
        plans = plans.filter((plan) => wanted.includes(plan.name));
      }
    } else {
      ({ plans, warnings } = await this.infer(files[0], signal));
    }
    const tally: FastTally = { records: 0, fused: 0 };
    return {
      plans,
      engine: engineLabel(options),
      warnings,
      options,
      tally,
      engineDetail: () => (tally.records > 0 ? quickShare(tally) : undefined),
    };
  }

  read(file: string, plan: CsvPlan, context: FileReadContext): AsyncIterable<Batch> {
    return plan.options.engine === 'fast'
      ? readFastBatches(file, plan.plans, plan.options, context, plan.tally)
      : readParsedBatches(file, plan.plans, plan.options, context);
  }

  /** Byte ranges for a threaded read: the fast engine reads them; csv-parse and .gz files are read whole. */
  async ranges(file: string, plan: CsvPlan, bytes: number, signal: AbortSignal): Promise<{ offsets: number[]; header?: readonly string[] } | undefined> {
    const options = plan.options;
    if (options.engine !== 'fast' || file.endsWith('.gz')) return undefined;
    const header = options.header === true ? (await this.sample(file, 0, signal)).names : options.header;
    const size = (await stat(file)).size;
    const dialect = { delimiter: options.delimiter.charCodeAt(0), quote: options.quote.charCodeAt(0), fields: header.length };
    return { offsets: await findCuts(file, size, bytes, dialect), header };
  }

  private async infer(file: string, signal: AbortSignal): Promise<{ plans: ColumnPlan[]; warnings: RunWarning[] }> {
    const { names: header, rows: sample } = await this.sample(file, this.settings.sampleRows, signal);
    const names = this.options.columns ?? header;
    const positions = namePositions(file, header, names);
    const projected = sample.map((fields) => positions.map((p) => fields[p]));
    const { plans, stats } = inferColumns(names, projected, this.options);
    if (this.options.schema !== undefined) {
      // A schema with `infer: true`: its columns as compiled, the others inferred.
      const compiled = compileSchema(this.options.schema, this.options).columns;
      const inferred = stats.filter((column) => !compiled.some((c) => c.name === column.name));
      return { plans: plans.map((plan) => compiled.find((c) => c.name === plan.name) ?? plan), warnings: allNullWarnings(inferred, file) };
    }
    return { plans, warnings: allNullWarnings(stats, file) };
  }
}

/** How much of the input the fast engine read on its quick path (the fused loop): for the summary. */
function quickShare(tally: FastTally): string {
  // The quick path is generated code: without it the scanner reads everything, and the summary says why.
  if (tally.fused === 0 && !codeGenerationEnabled()) return 'no quick path: code generation is off';
  if (tally.fused === tally.records) return 'all records on the quick path';
  // Rounded down: "100%" only when it is.
  return `${Math.floor((tally.fused / tally.records) * 1000) / 10}% of records on the quick path`;
}

function engineLabel(options: ResolvedCsvOptions): string {
  return options.engine === 'fast' ? 'fast' : `csv-parse${options.engineReason ? ` (${options.engineReason})` : ''}`;
}

export { fieldCountError, missingColumn, positionsOf } from './header.ts';

async function* readParsedBatches(file: string, plans: ColumnPlan[], options: ResolvedCsvOptions, context: FileReadContext): AsyncGenerator<Batch> {
  let header: readonly string[] | undefined = options.header === true ? undefined : options.header;
  let positions = header === undefined ? [] : positionsOf(file, plans, header);
  let decoder = context.decoder();
  const values: unknown[] = new Array(plans.length);
  try {
    for await (const records of (await parseEngine()).parseRecords(file, options, context.signal, context.progress)) {
      for (const record of records) {
        const fields = record.fields;
        if (header === undefined) {
          header = fields;
          positions = positionsOf(file, plans, header);
          continue;
        }
        if (fields.length !== header.length) {
          let column = 1;
          for (let f = 0; f < Math.min(fields.length, header.length); f++) column += fields[f].length + 1;
          throw fieldCountError(file, record.line, header.length, fields.length, column);
        }
        for (let c = 0; c < positions.length; c++) values[c] = fields[positions[c]];
        const violation = decoder.append(values, record.line);
        if (violation !== null) await context.reject(violation, { file, line: record.line, column: violation.column });
        if (decoder.full) {
          yield decoder.flush({ file });
          decoder = context.decoder();
        }
      }
    }
  } catch (error) {
    throw await relocate(file, options, context.signal, error);
  }
  if (decoder.length > 0) yield decoder.flush({ file });
}

const STRUCTURAL = new Set(['CSV_QUOTE_NOT_CLOSED', 'CSV_INVALID_QUOTE', 'CSV_RECORD_TOO_LARGE', 'CSV_FIELD_COUNT', 'CSV_PARSE']);

/**
 * csv-parse knows where a record ends, not where inside it the trouble is (and names the end of the
 * file for an unclosed quote). When the dialect is one the fast scanner reads, a second pass with it
 * (error path only) gives the fast engine's error itself: one message, line and column for a file
 * whichever engine, inference or `etl profile` met it.
 */
async function relocate(file: string, options: ResolvedCsvOptions, signal: AbortSignal, error: unknown): Promise<unknown> {
  if (!(error instanceof SluiceError) || !STRUCTURAL.has(error.code) || signal.aborted) return error;
  const compatible =
    options.comment === undefined && !options.relaxQuotes && (options.escape === undefined || options.escape === options.quote) && options.delimiter.charCodeAt(0) < 128;
  if (!compatible) return error;
  return (await findStructuralError(file, options, signal)) ?? error;
}

/** The csv-parse engine (parse-engine.ts), loaded when a file needs it: most take the byte scanner. */
function parseEngine(): Promise<typeof import('./parse-engine.ts')> {
  return import('./parse-engine.ts');
}
