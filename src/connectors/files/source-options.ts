/**
 * The options every file source takes (csv(), ndjson()): declared once, so the two check them alike and
 * a new file source gets the same checks by spreading these fields into its own options object.
 */
import { z } from 'zod';
import { filePath, integerFrom, option, zodObjectValue } from '../../core/options.ts';

export const FILE_SOURCE_OPTIONS = {
  schema: option(zodObjectValue, 'a zod object such as z.object({ id: z.number() })'),
  columns: option(z.array(z.string()), "an array of column names such as ['id', 'total']"),
  incremental: option(z.boolean(), 'true or false'),
  sampleRows: option(integerFrom(1), 'a whole number of rows from 1 and up'),
  maxRecordBytes: option(integerFrom(1), 'a whole number of bytes from 1 and up'),
  dictionaryCap: option(integerFrom(1), 'a whole number of distinct values from 1 and up'),
  float32: option(z.boolean(), 'true or false'),
  dictionaryStrings: option(z.union([z.boolean(), z.array(z.string())]), "true, false or an array of column names such as ['status']"),
};

/** The path argument of a file source: a path, a glob, or a list of them. */
export const sourcePath = z.union([filePath, z.array(filePath).min(1)]);
export const SOURCE_PATH_EXPECTED = "a file path or glob such as 'data/*.csv', or a list of them";
