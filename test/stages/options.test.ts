import assert from 'node:assert/strict';
import { test } from 'node:test';
import { derive, filter, map, mapBatches, rename, select, take, tap } from '../../src/index.ts';
import { refusal } from '../support/options.ts';

// Each stage checks its arguments when called, in the pipeline file, not at the first batch.
const cases: { call: () => unknown; message: string; option: string }[] = [
  { call: () => take(-1), message: 'take(): expected `count` to be a whole number of rows from 0 and up; got -1.', option: 'count' },
  { call: () => take(1.5), message: 'take(): expected `count` to be a whole number of rows from 0 and up; got 1.5.', option: 'count' },
  { call: () => filter('x > 1' as never), message: 'filter(): expected `predicate` to be a function (row) => boolean; got "x > 1".', option: 'predicate' },
  { call: () => map(undefined as never), message: 'map(): expected `mapper` to be a function (row) => object; got nothing.', option: 'mapper' },
  { call: () => tap({} as never), message: 'tap(): expected `observe` to be a function (batch) => void; got {}.', option: 'observe' },
  { call: () => (select as (...names: unknown[]) => unknown)('id', 5), message: 'select(): expected `names[1]` to be a string; got 5.', option: 'names[1]' },
  { call: () => rename({ a: 1 } as never), message: 'rename(): expected `mapping.a` to be a string; got 1.', option: 'mapping.a' },
  {
    call: () => derive({ total: 5 } as never),
    message: 'derive(): expected `derivations.total` to be a function (row) => value, or { dtype, value }; got 5.',
    option: 'derivations.total',
  },
  {
    call: () => derive({ total: { dtype: 'dictionary', value: () => 'a' } } as never),
    message:
      "derive(): expected `derivations.total.dtype` to be one of 'bool', 'int8', 'int16', 'int32', 'uint8', 'uint16', 'uint32', 'float32', 'float64', 'timestamp', 'date', 'string'; got \"dictionary\".",
    option: 'derivations.total.dtype',
  },
  { call: () => derive({ total: { dtype: 'int32', valu: () => 1 } } as never), message: 'derive(): unknown option `derivations.total.valu`. Did you mean `derivations.total.value`?', option: 'derivations.total.valu' },
  { call: () => filter(() => true, { reads: 'status' } as never), message: "filter(): expected `reads` to be a list of the column names the function reads, such as ['status', 'quantity']; got \"status\".", option: 'reads' },
  { call: () => derive({ t: () => 1 }, { read: ['a'] } as never), message: 'derive(): unknown option `read`. Did you mean `reads`?', option: 'read' },
  { call: () => tap(() => {}, { reads: [''] } as never), message: 'tap(): expected `reads[0]` to be a column name; got "".', option: 'reads[0]' },
  { call: () => mapBatches('fetch' as never), message: 'mapBatches(): expected `fn` to be a function (batch, context) => batch; got "fetch".', option: 'fn' },
  { call: () => mapBatches((batch) => batch, { concurrency: 0 }), message: 'mapBatches(): expected `concurrency` to be a whole number from 1 and up; got 0.', option: 'concurrency' },
  { call: () => mapBatches((batch) => batch, { concurency: 4 } as never), message: 'mapBatches(): unknown option `concurency`. Did you mean `concurrency`?', option: 'concurency' },
];

for (const { call, message, option } of cases) {
  test(`stage arguments are checked when called: ${message}`, () => {
    assert.deepEqual(refusal(call), { code: 'INVALID_OPTION', message, option });
  });
}

test('stages with valid arguments are built', () => {
  for (const stage of [take(0), filter(() => true), map((row) => row as object), tap(() => {}), select<{ id: number }, 'id'>('id'), rename({ a: 'b' }), derive({ t: () => 1, u: { dtype: 'int32', value: () => 2 } }), mapBatches((batch) => batch, { concurrency: 2 })]) {
    assert.equal(typeof stage, 'function');
  }
});
