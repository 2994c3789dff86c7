import { SluiceError } from '../../core/errors.ts';

export interface CsvOptions<S = unknown, K extends string = string> {
  /** A zod object: the columns to read and their types. Without it, types are inferred from a sample. */
  schema?: S;
  /**
   * Read only files not finished by an earlier committed run (same path, size and modification time),
   * for a glob that new files keep arriving in. Needs a state store (`etl run` / `etl schedule`).
   * @default false
   */
  incremental?: boolean;
  /** Infer types from a sample even when a schema is given for some columns only. @default !schema */
  infer?: boolean;
  /** Only these columns are decoded and kept (pandas' `usecols`); the others are skipped unparsed. */
  columns?: readonly K[];
  /** `true`: the first line names the columns. An array: the file has no header line; these are the names. @default true */
  header?: boolean | readonly string[];
  /** @default ',' */
  delimiter?: string;
  /** @default '"' */
  quote?: string;
  /** @default 'utf8' */
  encoding?: 'utf8' | 'latin1';
  /** `'auto'` picks the fast reader unless an option needs csv-parse. @default 'auto' */
  engine?: 'auto' | 'fast' | 'csv-parse';
  /** A record longer than this fails the run (protects memory from an unclosed quote). @default 64MB */
  maxRecordBytes?: number;
  /** Lines starting with this character are comments (csv-parse engine). */
  comment?: string;
  /** Accept quotes inside unquoted fields (csv-parse engine). @default false */
  relaxQuotes?: boolean;
  /** Escape character inside quoted fields when not the quote itself (csv-parse engine). */
  escape?: string;
  /** Rows sampled to infer types. @default 10000 */
  sampleRows?: number;
  /** Distinct values a dictionary column may hold before falling back to plain strings. @default 65536 */
  dictionaryCap?: number;
  /** Store decimals as float32 instead of float64. @default false */
  float32?: boolean;
}

export interface ResolvedCsvOptions {
  delimiter: string;
  quote: string;
  encoding: 'utf8' | 'latin1';
  header: true | readonly string[];
  engine: 'fast' | 'csv-parse';
  /** Why csv-parse runs, when it was not asked for by name. */
  engineReason?: string;
  maxRecordBytes: number;
  comment?: string;
  relaxQuotes: boolean;
  escape?: string;
  sampleRows: number;
}

export function resolveCsvOptions(options: CsvOptions<unknown, string>, fastAvailable: boolean): ResolvedCsvOptions {
  const single = (name: string, value: string | undefined, fallback: string) => {
    const chosen = value ?? fallback;
    if (typeof chosen !== 'string' || chosen.length !== 1) {
      throw new SluiceError('INVALID_OPTION', `Expected \`${name}\` to be a single character such as ','; got ${JSON.stringify(value)}.`);
    }
    return chosen;
  };
  const delimiter = single('delimiter', options.delimiter, ',');
  const quote = single('quote', options.quote, '"');
  const encoding = options.encoding ?? 'utf8';
  if (encoding !== 'utf8' && encoding !== 'latin1') {
    throw new SluiceError('INVALID_OPTION', `Expected \`encoding\` to be 'utf8' or 'latin1'; got ${JSON.stringify(encoding)}.`);
  }
  if (options.header === false) {
    throw new SluiceError('INVALID_OPTION', 'A CSV without a header line needs its column names: pass `header: ["id", "name", …]`.');
  }
  const header = options.header === undefined || options.header === true ? true : options.header;
  const needsParse: string[] = [];
  if (options.comment !== undefined) needsParse.push('comment');
  if (options.relaxQuotes) needsParse.push('relaxQuotes');
  if (options.escape !== undefined && options.escape !== quote) needsParse.push('escape');
  if (options.delimiter !== undefined && options.delimiter.charCodeAt(0) > 127) needsParse.push('a non-ASCII delimiter');
  let engine: 'fast' | 'csv-parse';
  let engineReason: string | undefined;
  if (options.engine === 'csv-parse') engine = 'csv-parse';
  else if (options.engine === 'fast') {
    if (needsParse.length > 0) {
      throw new SluiceError('INVALID_OPTION', `The fast reader does not support ${needsParse.join(', ')}; use engine: 'csv-parse' or 'auto'.`);
    }
    engine = 'fast';
  } else if (options.engine === undefined || options.engine === 'auto') {
    engine = needsParse.length === 0 && fastAvailable ? 'fast' : 'csv-parse';
    if (engine === 'csv-parse') engineReason = needsParse.length > 0 ? `needed for ${needsParse.join(', ')}` : 'fast reader unavailable';
  } else {
    throw new SluiceError('INVALID_OPTION', `Expected \`engine\` to be 'auto', 'fast' or 'csv-parse'; got ${JSON.stringify(options.engine)}.`);
  }
  const maxRecordBytes = options.maxRecordBytes ?? 64 * 1024 * 1024;
  if (!Number.isInteger(maxRecordBytes) || maxRecordBytes < 1) {
    throw new SluiceError('INVALID_OPTION', `Expected \`maxRecordBytes\` to be a whole number from 1 and up; got ${maxRecordBytes}.`);
  }
  const sampleRows = options.sampleRows ?? 10_000;
  return {
    delimiter,
    quote,
    encoding,
    header,
    engine,
    engineReason,
    maxRecordBytes,
    comment: options.comment,
    relaxQuotes: options.relaxQuotes ?? false,
    escape: options.escape,
    sampleRows,
  };
}
