import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { isSluiceError } from '../../src/core/errors.ts';
import { byteSize, checkArgument, checkOptions, closestName, functionValue, integerFrom, option, optionsObject, requiredOption } from '../../src/core/options.ts';
import { refusal as refused } from '../support/options.ts';

const Options = optionsObject({
  delimiter: option(z.string().length(1), 'one character'),
  batchRows: option(integerFrom(1), 'an integer from 1 and up'),
  engine: option(z.enum(['auto', 'fast']), "'auto' or 'fast'"),
  onRow: option(functionValue, 'a function'),
  rejects: option(optionsObject({ path: z.string(), max: option(integerFrom(0), 'an integer from 0 and up') }), 'an object { path, max? }'),
});

function refusal(value: unknown) {
  try {
    checkOptions('csv()', Options, value);
  } catch (error) {
    assert.ok(isSluiceError(error, 'INVALID_OPTION'));
    return { message: error.message, option: error.details.option, expected: error.details.expected, value: error.details.value };
  }
  assert.fail(`${JSON.stringify(value)} was accepted`);
}

const cases: { value: unknown; message: string; option: string }[] = [
  { value: { delimeter: ';' }, message: 'csv(): unknown option `delimeter`. Did you mean `delimiter`?', option: 'delimeter' },
  { value: { batchrows: 5 }, message: 'csv(): unknown option `batchrows`. Did you mean `batchRows`?', option: 'batchrows' },
  { value: { egnine: 'fast' }, message: 'csv(): unknown option `egnine`. Did you mean `engine`?', option: 'egnine' },
  { value: { zzz: 1 }, message: 'csv(): unknown option `zzz`. Known options: `delimiter`, `batchRows`, `engine`, `onRow`, `rejects`.', option: 'zzz' },
  { value: { batchRows: 0 }, message: 'csv(): expected `batchRows` to be an integer from 1 and up; got 0.', option: 'batchRows' },
  { value: { batchRows: 1.5 }, message: 'csv(): expected `batchRows` to be an integer from 1 and up; got 1.5.', option: 'batchRows' },
  { value: { delimiter: ';;' }, message: 'csv(): expected `delimiter` to be one character; got ";;".', option: 'delimiter' },
  { value: { engine: 'slow' }, message: "csv(): expected `engine` to be 'auto' or 'fast'; got \"slow\".", option: 'engine' },
  { value: { onRow: 3 }, message: 'csv(): expected `onRow` to be a function; got 3.', option: 'onRow' },
  { value: { rejects: { path: 'r.ndjson', mx: 1 } }, message: 'csv(): unknown option `rejects.mx`. Did you mean `rejects.max`?', option: 'rejects.mx' },
  { value: { rejects: { path: 'r.ndjson', max: -1 } }, message: 'csv(): expected `rejects.max` to be an integer from 0 and up; got -1.', option: 'rejects.max' },
  { value: 5, message: 'csv(): expected options to be an object; got 5.', option: '' },
];

for (const { value, message, option: name } of cases) {
  test(`options ${JSON.stringify(value)} are refused with the option's name and what it must be`, () => {
    const error = refusal(value);
    assert.equal(error.message, message);
    assert.equal(error.option, name);
  });
}

test('valid options pass through unchanged, and no options at all are valid', () => {
  const onRow = () => {};
  assert.deepEqual(checkOptions('csv()', Options, { delimiter: ';', batchRows: 10, onRow }), { delimiter: ';', batchRows: 10, onRow });
  assert.deepEqual(checkOptions('csv()', Options, undefined), {});
});

test('the nearest name is suggested only when it is near', () => {
  assert.equal(closestName('delimeter', ['delimiter', 'quote']), 'delimiter');
  assert.equal(closestName('qoute', ['delimiter', 'quote']), 'quote');
  assert.equal(closestName('schedule', ['delimiter', 'quote']), undefined);
});

test('a positional argument is checked like an option, named in the error', () => {
  assert.equal(checkArgument('take()', 'count', integerFrom(0), 'a whole number from 0 and up', 3), 3);
  assert.throws(() => checkArgument('take()', 'count', integerFrom(0), 'a whole number from 0 and up', -1), {
    code: 'INVALID_OPTION',
    message: 'take(): expected `count` to be a whole number from 0 and up; got -1.',
    details: { option: 'count', value: '-1', expected: 'a whole number from 0 and up' },
  });
});

test('a call that takes no options says so for any key', () => {
  assert.throws(() => checkOptions('toNdjson()', optionsObject({}), { delimiter: ';' }), {
    message: 'toNdjson(): unknown option `delimiter`. It takes no options.',
    details: { option: 'delimiter', value: 'delimiter', expected: 'no options' },
  });
});

const Derivations = z.record(
  z.string(),
  z.union([functionValue, optionsObject({ dtype: requiredOption(z.enum(['int32', 'string']), "'int32' or 'string'"), value: requiredOption(functionValue, 'a function') })]).meta({ expected: 'a function or { dtype, value }' }),
);

test('an object where a union allows one object form gets that object\'s own error, a misspelled key first', () => {
  const wrong = (value: unknown) => shown(() => checkArgument('derive()', 'derivations', Derivations, 'derivations', value));
  assert.deepEqual(wrong({ a: { dtype: 'int64', value: () => 1 } }), ["derive(): expected `derivations.a.dtype` to be 'int32' or 'string'; got \"int64\".", 'derivations.a.dtype']);
  assert.deepEqual(wrong({ a: { dtype: 'int32', valeu: () => 1 } }), ['derive(): unknown option `derivations.a.valeu`. Did you mean `derivations.a.value`?', 'derivations.a.valeu']);
  assert.deepEqual(wrong({ a: 'x' }), ['derive(): expected `derivations.a` to be a function or { dtype, value }; got "x".', 'derivations.a']);
});

test('a function nested in an object is named as one, and NaN and Infinity are shown as such', () => {
  const Store = optionsObject({ store: option(z.object({ save: functionValue }), 'a store'), ms: option(z.number().min(0), 'a number from 0 and up') });
  assert.deepEqual(shown(() => checkOptions('run()', Store, { store: {} })), ['run(): expected `store.save` to be a function; got nothing.', 'store.save']);
  assert.deepEqual(shown(() => checkOptions('run()', Store, { ms: Number.NaN })), ['run(): expected `ms` to be a number from 0 and up; got NaN.', 'ms']);
});

test('a byte size is what parseBytes reads', () => {
  for (const size of ['256MB', '1.5 GiB', 4096]) assert.equal(byteSize.safeParse(size).success, true, String(size));
  for (const size of ['lots', '', 0, -1, '12 parsecs']) assert.equal(byteSize.safeParse(size).success, false, String(size));
});

function shown(call: () => unknown): [string, unknown] {
  const { message, option: name } = refused(call);
  return [message, name];
}
