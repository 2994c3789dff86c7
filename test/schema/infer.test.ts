import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { inferColumns } from '../../src/schema/infer.ts';

function dtypeOf(values: unknown[], options = {}) {
  const { plans, stats } = inferColumns(['x'], values.map((v) => [v]), options);
  assert.equal(plans[0].origin, 'inferred');
  assert.equal(plans[0].nullable, true, 'inferred columns are always nullable');
  assert.equal(stats[0].dtype, plans[0].dtype);
  return plans[0].dtype;
}

describe('inferColumns', () => {
  test('integers get the smallest integer dtype that holds the sample', () => {
    assert.equal(dtypeOf(['0', '1', '255']), 'uint8');
    assert.equal(dtypeOf(['-1', '127']), 'int8');
    assert.equal(dtypeOf(['0', '65535']), 'uint16');
    assert.equal(dtypeOf(['-32768', '1']), 'int16');
    assert.equal(dtypeOf(['0', '4294967295']), 'uint32');
    assert.equal(dtypeOf(['-2147483648', '2147483647']), 'int32');
    assert.equal(dtypeOf(['0', '4294967296']), 'float64');
    assert.equal(dtypeOf([1, 2, 3]), 'uint8', 'JSON numbers too');
  });

  test('digit strings with a leading zero stay text, and say why', () => {
    const { plans, stats } = inferColumns(['zip'], [['00501'], ['02134'], ['10001']]);
    assert.equal(plans[0].dtype, 'string');
    assert.equal(stats[0].reason, '"00501" has a leading zero');
    assert.equal(plans[0].rule, 'kept as text: "00501" has a leading zero');
    assert.equal(dtypeOf(['08123']), 'string', "csv-spectrum's zip");
    assert.equal(dtypeOf(['-01']), 'string');
    assert.equal(dtypeOf(['007.5']), 'string');
    assert.equal(dtypeOf(['0', '5', '10']), 'uint8', '0 itself is a number');
    assert.equal(dtypeOf(['0.5', '0', '-0.25']), 'float64', 'decimals below one are numbers');
    assert.equal(dtypeOf(['0e5', '1']), 'float64', 'an exponent is not a leading zero');
  });

  test('integers beyond 2^53 stay text instead of being rounded', () => {
    const { plans, stats } = inferColumns(['id'], [['1'], ['9007199254740993']]);
    assert.equal(plans[0].dtype, 'string');
    assert.match(stats[0].reason ?? '', /9007199254740993.*2\^53/);
    assert.equal(dtypeOf(['9007199254740991', '-9007199254740991']), 'float64', '2^53 - 1 is still exact');
    assert.equal(dtypeOf(['1.5', '12345678901234567890']), 'string', 'also after a decimal');
  });

  test('decimals are float64, or float32 when asked', () => {
    assert.equal(dtypeOf(['1', '2.5', '-3e2']), 'float64');
    assert.equal(dtypeOf(['1.5'], { float32: true }), 'float32');
    assert.equal(dtypeOf([1, 2.5]), 'float64');
  });

  test('boolean words make a bool column; 0/1 stay integers', () => {
    assert.equal(dtypeOf(['true', 'false', 'TRUE', 'no', 'yes']), 'bool');
    assert.equal(dtypeOf([true, false]), 'bool');
    assert.equal(dtypeOf(['0', '1', '1']), 'uint8');
  });

  test('ISO dates are dates; ISO date-times are timestamps', () => {
    assert.equal(dtypeOf(['2024-01-01', '2024-12-31']), 'date');
    assert.equal(dtypeOf(['2024-01-01T00:00:00Z', '2024-01-01 10:30:00+02:00', '2024-01-01']), 'timestamp');
    assert.equal(dtypeOf(['2024-13-01']), 'string', 'month 13 is not a date');
  });

  test('repetitive strings are dictionary-encoded; distinct ones stay plain', () => {
    const repetitive = Array.from({ length: 100 }, (_, i) => ['red', 'green', 'blue'][i % 3]);
    const { plans, stats } = inferColumns(['colour'], repetitive.map((v) => [v]), { dictionaryCap: 10 });
    assert.equal(plans[0].dtype, 'dictionary');
    assert.equal(plans[0].dictionary!.cap, 10);
    assert.equal(stats[0].distinct, 3);
    assert.equal(dtypeOf(Array.from({ length: 100 }, (_, i) => `id-${i}`)), 'string');
  });

  test('empty and missing values count as nulls and do not decide the dtype', () => {
    const { plans, stats } = inferColumns(['a', 'b'], [
      ['1', ''],
      ['', undefined],
      ['3', null],
    ]);
    assert.equal(plans[0].dtype, 'uint8');
    assert.equal(stats[0].nulls, 1);
    assert.deepEqual([stats[0].min, stats[0].max], [1, 3]);
    assert.equal(plans[1].dtype, 'string', 'an all-null column is a string column');
    assert.equal(stats[1].nulls, 3);
  });

  test('mixed values fall back to string', () => {
    assert.equal(dtypeOf(['1', 'a']), 'string');
    assert.equal(dtypeOf([1, 'a']), 'string');
    assert.equal(dtypeOf([{ a: 1 }]), 'string');
  });
});
