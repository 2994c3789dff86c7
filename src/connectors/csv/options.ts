import { z } from 'zod';
import { SluiceError } from '../../core/errors.ts';
import { checkOptions, integerFrom, option, optionsObject } from '../../core/options.ts';
import { FILE_SOURCE_OPTIONS } from '../files/source-options.ts';

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
  header?: true | readonly string[];
  /** One character, or a name: `'tab'` (or `'\\t'`), `'comma'`, `'semicolon'`, `'pipe'`, `'space'`. @default ',' */
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
  /**
   * With a schema: store its unconstrained `z.string()` columns (`true`), or the named ones,
   * dictionary-encoded (each distinct value once, a code per row), for strings that repeat; `etl profile`
   * says which. @default false
   */
  dictionaryStrings?: boolean | readonly string[];
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

/**
 * The names a delimiter may be spelled with, in `csv()`, `toCsv()` and `etl profile --delimiter`: a shell
 * cannot pass a tab character easily, so `tab` (and the two characters `\t`) mean one.
 */
const DELIMITER_NAMES: Readonly<Record<string, string>> = { tab: '\t', '\\t': '\t', comma: ',', semicolon: ';', pipe: '|', space: ' ' };

export const DELIMITER_EXPECTED = "one character such as ',' or ';', or 'tab'";

/** The delimiter character a spelling means (one character is itself; names are case-insensitive), or undefined. */
export function delimiterCharacter(spelling: string): string | undefined {
  if (spelling.length === 1) return spelling;
  return Object.hasOwn(DELIMITER_NAMES, spelling.toLowerCase()) ? DELIMITER_NAMES[spelling.toLowerCase()] : undefined;
}

/** A delimiter option: any spelling {@link delimiterCharacter} knows, given back as its character. */
export const delimiterSpelling = z.string().transform((spelling, context) => {
  const character = delimiterCharacter(spelling);
  if (character === undefined) {
    context.issues.push({ code: 'custom', message: DELIMITER_EXPECTED, input: spelling });
    return z.NEVER;
  }
  return character;
});

const oneCharacter = z.string().length(1);

export const CSV_OPTIONS = optionsObject({
  ...FILE_SOURCE_OPTIONS,
  infer: option(z.boolean(), 'true or false'),
  header: option(z.union([z.literal(true), z.array(z.string()).min(1)]), "true (the first line names the columns), or the names of a file without a header line: ['id', 'name', …]"),
  delimiter: option(delimiterSpelling, DELIMITER_EXPECTED),
  quote: option(oneCharacter, `one character such as '"'`),
  encoding: option(z.enum(['utf8', 'latin1']), "'utf8' or 'latin1'"),
  engine: option(z.enum(['auto', 'fast', 'csv-parse']), "'auto', 'fast' or 'csv-parse'"),
  comment: option(oneCharacter, "one character such as '#'"),
  relaxQuotes: option(z.boolean(), 'true or false'),
  escape: option(oneCharacter, "one character such as '\\'"),
});

/**
 * Checks the options of `csv()` (unknown keys refused with the nearest name) and resolves the dialect
 * and the engine.
 *
 * @throws SluiceError INVALID_OPTION with `details.option`.
 */
export function resolveCsvOptions(raw: CsvOptions<unknown, string>, fastAvailable: boolean): ResolvedCsvOptions {
  const options = checkOptions('csv()', CSV_OPTIONS, raw);
  const delimiter = options.delimiter ?? ',';
  const quote = options.quote ?? '"';
  const encoding = options.encoding ?? 'utf8';
  const header = options.header ?? true;
  const needsParse: string[] = [];
  if (options.comment !== undefined) needsParse.push('comment');
  if (options.relaxQuotes) needsParse.push('relaxQuotes');
  if (options.escape !== undefined && options.escape !== quote) needsParse.push('escape');
  if (delimiter.charCodeAt(0) > 127) needsParse.push('a non-ASCII delimiter');
  let engine: 'fast' | 'csv-parse';
  let engineReason: string | undefined;
  if (options.engine === 'csv-parse') engine = 'csv-parse';
  else if (options.engine === 'fast') {
    if (needsParse.length > 0) {
      throw new SluiceError('INVALID_OPTION', `csv(): the fast reader does not support ${needsParse.join(', ')}; use engine: 'csv-parse' or 'auto'.`, {
        option: 'engine',
        value: '"fast"',
        expected: "'csv-parse' or 'auto'",
      });
    }
    engine = 'fast';
  } else {
    engine = needsParse.length === 0 && fastAvailable ? 'fast' : 'csv-parse';
    if (engine === 'csv-parse') engineReason = needsParse.length > 0 ? `needed for ${needsParse.join(', ')}` : 'fast reader unavailable';
  }
  return {
    delimiter,
    quote,
    encoding,
    header,
    engine,
    engineReason,
    maxRecordBytes: options.maxRecordBytes ?? 64 * 1024 * 1024,
    comment: options.comment,
    relaxQuotes: options.relaxQuotes ?? false,
    escape: options.escape,
    sampleRows: options.sampleRows ?? 10_000,
  };
}
