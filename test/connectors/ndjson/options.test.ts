import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { NDJSON_OPTIONS } from '../../../src/connectors/ndjson/source.ts';
import { ndjson, toNdjson } from '../../../src/index.ts';
import { optionTable, refusal } from '../../support/options.ts';

const expected = (option: string, what: string, got: string) => `ndjson(): expected \`${option}\` to be ${what}; got ${got}.`;

optionTable(
  'ndjson()',
  Object.keys(NDJSON_OPTIONS.shape),
  (options) => ndjson('in.ndjson', options),
  [
    { option: 'schema', valid: z.object({ id: z.number() }), invalid: 'z.object()', message: expected('schema', 'a zod object such as z.object({ id: z.number() })', '"z.object()"') },
    { option: 'columns[0]', valid: ['id'], invalid: [1], message: expected('columns[0]', 'a string', '1') },
    { option: 'incremental', valid: false, invalid: 0, message: expected('incremental', 'true or false', '0') },
    { option: 'sampleRows', valid: 5, invalid: 2.5, message: expected('sampleRows', 'a whole number of rows from 1 and up', '2.5') },
    { option: 'maxRecordBytes', valid: 1 << 20, invalid: '1MB', message: expected('maxRecordBytes', 'a whole number of bytes from 1 and up', '"1MB"') },
    { option: 'dictionaryCap', valid: 1000, invalid: 0, message: expected('dictionaryCap', 'a whole number of distinct values from 1 and up', '0') },
    { option: 'float32', valid: true, invalid: 'yes', message: expected('float32', 'true or false', '"yes"') },
    { option: 'dictionaryStrings', valid: ['status'], invalid: 'status', message: expected('dictionaryStrings', "true, false or an array of column names such as ['status']", '"status"') },
  ],
  [
    { options: { sampleRow: 10 }, message: 'ndjson(): unknown option `sampleRow`. Did you mean `sampleRows`?', option: 'sampleRow' },
    // A CSV option given to ndjson(): nothing near it, so the known ones are listed.
    { options: { delimiter: ';' }, message: 'ndjson(): unknown option `delimiter`. Known options: `schema`, `columns`, `incremental`, `sampleRows`, `maxRecordBytes`, `dictionaryCap`, `float32`, `dictionaryStrings`.', option: 'delimiter' },
  ],
);

test('toNdjson() takes no options, and says so to a pipeline file that passes some', () => {
  assert.deepEqual(refusal(() => toNdjson('out.ndjson', { delimiter: ';' } as never)), {
    code: 'INVALID_OPTION',
    message: 'toNdjson(): unknown option `delimiter`. It takes no options.',
    option: 'delimiter',
  });
  assert.equal(refusal(() => toNdjson(undefined as unknown as string)).option, 'path');
  toNdjson('out.ndjson');
});
