import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { z } from 'zod';
import { CSV_OPTIONS, delimiterCharacter } from '../../../src/connectors/csv/options.ts';
import { CSV_SINK_OPTIONS } from '../../../src/connectors/csv/sink.ts';
import { csv, pipeline, runOrThrow, toCsv } from '../../../src/index.ts';
import { collect, tempDir } from '../../support/fakes.ts';
import { optionTable, refusal } from '../../support/options.ts';

const call = (options: Record<string, unknown>) => csv('in.csv', options);
const expected = (option: string, what: string, got: string) => `csv(): expected \`${option}\` to be ${what}; got ${got}.`;

optionTable(
  'csv()',
  Object.keys(CSV_OPTIONS.shape),
  call,
  [
    { option: 'schema', valid: z.object({ id: z.number() }), invalid: { id: 'number' }, message: expected('schema', 'a zod object such as z.object({ id: z.number() })', '{"id":"number"}') },
    { option: 'columns', valid: ['id'], invalid: 'id', message: expected('columns', "an array of column names such as ['id', 'total']", '"id"') },
    { option: 'incremental', valid: true, invalid: 'yes', message: expected('incremental', 'true or false', '"yes"') },
    { option: 'sampleRows', valid: 100, invalid: 0, message: expected('sampleRows', 'a whole number of rows from 1 and up', '0') },
    { option: 'maxRecordBytes', valid: 1024, invalid: 1.5, message: expected('maxRecordBytes', 'a whole number of bytes from 1 and up', '1.5') },
    { option: 'dictionaryCap', valid: 10, invalid: -1, message: expected('dictionaryCap', 'a whole number of distinct values from 1 and up', '-1') },
    { option: 'float32', valid: false, invalid: 1, message: expected('float32', 'true or false', '1') },
    { option: 'dictionaryStrings', valid: true, invalid: 1, message: expected('dictionaryStrings', "true, false or an array of column names such as ['status']", '1') },
    { option: 'infer', valid: true, invalid: null, message: expected('infer', 'true or false', 'null') },
    {
      option: 'header',
      valid: ['id', 'name'],
      invalid: false,
      message: expected('header', "true (the first line names the columns), or the names of a file without a header line: ['id', 'name', …]", 'false'),
    },
    { option: 'delimiter', valid: ';', invalid: ';;', message: expected('delimiter', "one character such as ',' or ';', or 'tab'", '";;"') },
    { option: 'quote', valid: "'", invalid: '', message: expected('quote', `one character such as '"'`, '""') },
    { option: 'encoding', valid: 'latin1', invalid: 'utf16', message: expected('encoding', "'utf8' or 'latin1'", '"utf16"') },
    { option: 'engine', valid: 'csv-parse', invalid: 'slow', message: expected('engine', "'auto', 'fast' or 'csv-parse'", '"slow"') },
    { option: 'comment', valid: '#', invalid: '//', message: expected('comment', "one character such as '#'", '"//"') },
    { option: 'relaxQuotes', valid: true, invalid: 'true', message: expected('relaxQuotes', 'true or false', '"true"') },
    { option: 'escape', valid: '\\', invalid: 5, message: expected('escape', "one character such as '\\'", '5') },
  ],
  [
    { options: { delimeter: ';' }, message: 'csv(): unknown option `delimeter`. Did you mean `delimiter`?', option: 'delimeter' },
    { options: { sampleRow: 10 }, message: 'csv(): unknown option `sampleRow`. Did you mean `sampleRows`?', option: 'sampleRow' },
    { options: { dictonaryCap: 10 }, message: 'csv(): unknown option `dictonaryCap`. Did you mean `dictionaryCap`?', option: 'dictonaryCap' },
    { options: { relaxQuote: true }, message: 'csv(): unknown option `relaxQuote`. Did you mean `relaxQuotes`?', option: 'relaxQuote' },
    { options: { columns: ['id'], shcema: {} }, message: 'csv(): unknown option `shcema`. Did you mean `schema`?', option: 'shcema' },
  ],
);

optionTable(
  'toCsv()',
  Object.keys(CSV_SINK_OPTIONS.shape),
  (options) => toCsv('out.csv', options),
  [
    { option: 'delimiter', valid: 'semicolon', invalid: '"', message: 'toCsv(): expected `delimiter` to be one character other than a quote or line break, such as \';\', or \'tab\'; got "\\"".' },
    { option: 'header', valid: false, invalid: 'no', message: 'toCsv(): expected `header` to be true or false; got "no".' },
    { option: 'escapeFormulas', valid: true, invalid: 1, message: 'toCsv(): expected `escapeFormulas` to be true or false; got 1.' },
  ],
  [{ options: { headers: false }, message: 'toCsv(): unknown option `headers`. Did you mean `header`?', option: 'headers' }],
);

test('toCsv(): a delimiter that cannot be written unambiguously is refused in every spelling', () => {
  for (const delimiter of ['"', '\n', '\r', ';;', '', 'tabs']) assert.equal(refusal(() => toCsv('out.csv', { delimiter })).option, 'delimiter', JSON.stringify(delimiter));
  assert.equal(refusal(() => toCsv('' as string)).message, 'toCsv(): expected `path` to be a file path (a non-empty string); got "".');
});

test('csv(): the path must be a path, a glob or a list of them', () => {
  assert.deepEqual(refusal(() => csv(5 as unknown as string)), {
    code: 'INVALID_OPTION',
    message: "csv(): expected `path` to be a file path or glob such as 'data/*.csv', or a list of them; got 5.",
    option: 'path',
  });
  assert.equal(refusal(() => csv([])).option, 'path');
});

test("csv(): engine 'fast' with an option only csv-parse has is refused, naming the option", () => {
  assert.deepEqual(refusal(() => csv('in.csv', { engine: 'fast', comment: '#' })), {
    code: 'INVALID_OPTION',
    message: "csv(): the fast reader does not support comment; use engine: 'csv-parse' or 'auto'.",
    option: 'engine',
  });
});

test('a delimiter is spelled the same everywhere: one character, tab (or the two characters \\t), or a name', () => {
  const spellings: [string, string][] = [
    [';', ';'],
    ['\t', '\t'],
    ['tab', '\t'],
    ['TAB', '\t'],
    ['\\t', '\t'],
    ['comma', ','],
    ['semicolon', ';'],
    ['pipe', '|'],
    ['space', ' '],
  ];
  for (const [spelling, character] of spellings) assert.equal(delimiterCharacter(spelling), character, spelling);
  for (const spelling of ['', ';;', 'tabs', 'constructor', '\\n']) assert.equal(delimiterCharacter(spelling), undefined, spelling);
});

test("csv(…, { delimiter: 'tab' }) and toCsv(…, { delimiter: 'tab' }) read and write tabs, with either engine", async () => {
  const dir = await tempDir('sluice-csv-options-');
  const input = join(dir, 'scores.tsv');
  await writeFile(input, 'id\tname\n1\ta,b\n2\tc;d\n');
  for (const engine of ['fast', 'csv-parse'] as const) {
    for (const delimiter of ['tab', '\\t', '\t']) {
      const sink = collect();
      await runOrThrow(pipeline().from(csv(input, { delimiter, engine })).to(sink));
      assert.deepEqual(sink.rows, [{ id: 1, name: 'a,b' }, { id: 2, name: 'c;d' }], `${engine} ${JSON.stringify(delimiter)}`);
    }
  }
  const output = join(dir, 'out.tsv');
  await runOrThrow(pipeline().from(csv(input, { delimiter: 'tab' })).to(toCsv(output, { delimiter: 'tab' })));
  assert.equal(await readFile(output, 'utf8'), 'id\tname\n1\ta,b\n2\tc;d\n');
});
