import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { z } from 'zod';
import type { DType } from '../../src/batch/dtype.ts';
import { compileSchema } from '../../src/schema/compile.ts';
import { clonePlans, RowDecoder, type Violation } from '../../src/schema/decode.ts';
import { inferColumns } from '../../src/schema/infer.ts';

function decoderFor(schema: z.ZodObject, capacity = 16): RowDecoder {
  return new RowDecoder(clonePlans(compileSchema(schema).columns), capacity);
}

function assertEqualLengths(decoder: RowDecoder, expected: number): void {
  assert.equal(decoder.length, expected);
  const batch = decoder.flush({});
  assert.equal(batch.length, expected);
  for (const name of batch.names) assert.equal(batch.column(name).length, expected, `column ${name}`);
  assert.equal(batch.lines!.length, expected);
}

describe('RowDecoder with a compiled schema', () => {
  const Order = z.object({
    qty: z.number().int().min(0).max(200),
    status: z.enum(['new', 'paid']),
    note: z.string().max(5).nullable(),
  });

  test('a value out of bounds is a violation naming the column, the value and the rule', () => {
    const decoder = decoderFor(Order);
    const violation = decoder.append(['201', 'new', null], 7);
    assert.deepEqual(violation, {
      column: 'qty',
      position: 0,
      value: '201',
      rule: 'integer >= 0 <= 200',
      message: 'column "qty": "201" is not valid (expected integer >= 0 <= 200)',
    } satisfies Violation);
    assert.equal(decoder.append(['-1', 'new', null], 8)?.rule, 'integer >= 0 <= 200');
    assert.equal(decoder.append(['1.5', 'new', null], 9)?.rule, 'integer >= 0 <= 200');
    assert.equal(decoder.append([201, 'new', null], 10)?.value, '201', 'JSON numbers are checked too');
    assert.equal(decoder.append(['7', 'lost', null], 11)?.rule, 'one of new|paid');
    assert.equal(decoder.append(['7', 'new', 'toolong'], 12)?.rule, 'text, length <= 5');
    assert.equal(decoder.append(['abc', 'new', null], 13)?.value, 'abc');
    assertEqualLengths(decoder, 0);
  });

  test('a rejected row appends nothing: every column keeps the same length', () => {
    const decoder = decoderFor(Order);
    assert.equal(decoder.append(['1', 'new', 'a'], 2), null);
    // The first two values are valid and parsed before the third fails.
    assert.notEqual(decoder.append(['2', 'paid', 'too long'], 3), null);
    assert.equal(decoder.append(['3', 'paid', null], 4), null);
    assert.equal(decoder.length, 2);
    const batch = decoder.flush({ file: 'x.csv' });
    assert.deepEqual(batch.toObjects(), [
      { qty: 1, status: 'new', note: 'a' },
      { qty: 3, status: 'paid', note: null },
    ]);
    assert.deepEqual([...batch.lines!], [2, 4]);
    for (const name of batch.names) assert.equal(batch.column(name).length, 2);
    assert.equal(batch.column('qty').dtype, 'uint8');
    assert.equal(batch.column('status').dtype, 'dictionary');
  });

  test('empty and missing values: null when nullable, the default when there is one, else a violation', () => {
    const decoder = decoderFor(z.object({ a: z.number().nullable(), b: z.number().default(5), c: z.number() }));
    assert.equal(decoder.append(['', '', '1'], 1), null);
    assert.equal(decoder.append([undefined, undefined, '2'], 2), null);
    assert.deepEqual(decoder.append(['1', '2', ''], 3), {
      column: 'c',
      position: 2,
      value: '',
      rule: 'a value (the column is not nullable)',
      message: 'column "c": "" is not valid (expected a value (the column is not nullable))',
    });
    assert.equal(decoder.append(['1', '2', undefined], 4)?.value, '');
    assert.deepEqual(decoder.flush({}).toObjects(), [
      { a: null, b: 5, c: 1 },
      { a: null, b: 5, c: 2 },
    ]);
  });

  test('timestamps, dates and booleans are parsed from text and JSON', () => {
    const decoder = decoderFor(z.object({ at: z.iso.datetime(), on: z.iso.date(), ok: z.boolean(), when: z.coerce.date() }));
    assert.equal(decoder.append(['2024-01-02T03:04:05.678Z', '2024-02-29', 'yes', '2024-01-02'], 1), null);
    assert.equal(decoder.append(['2024-01-02T03:04:05Z', '1970-01-01', false, '2024-01-02T00:00:00+01:00'], 2), null);
    assert.equal(decoder.append(['nope', '2024-01-01', true, '2024-01-02'], 3)?.column, 'at');
    assert.equal(decoder.append(['2024-01-02T03:04:05Z', '2023-02-29', true, '2024-01-02'], 4)?.column, 'on', 'no Feb 29 in 2023');
    assert.equal(decoder.append(['2024-01-02T03:04:05Z', '2024-01-01', 'maybe', '2024-01-02'], 5)?.column, 'ok');
    assert.deepEqual(decoder.flush({}).toObjects(), [
      { at: new Date('2024-01-02T03:04:05.678Z'), on: new Date('2024-02-29T00:00:00Z'), ok: true, when: new Date('2024-01-02T00:00:00Z') },
      { at: new Date('2024-01-02T03:04:05Z'), on: new Date(0), ok: false, when: new Date('2024-01-01T23:00:00Z') },
    ]);
  });

  test('refine runs through zod per value and still rejects, with zod\'s message as the rule', () => {
    const decoder = decoderFor(z.object({ code: z.string().refine((s) => s.startsWith('A'), 'must start with A') }));
    assert.equal(decoder.append(['A1'], 1), null);
    assert.deepEqual(decoder.append(['B2'], 2), {
      column: 'code',
      position: 0,
      value: 'B2',
      rule: 'must start with A',
      message: 'column "code": "B2" is not valid (expected must start with A)',
    });
    assert.deepEqual(decoder.flush({}).toObjects(), [{ code: 'A1' }]);
  });

  test('a refined number is parsed, then checked by zod', () => {
    const decoder = decoderFor(z.object({ n: z.number().int().min(0).max(100).refine((n) => n % 2 === 0, 'even') }));
    assert.equal(decoder.append(['4'], 1), null);
    assert.equal(decoder.append(['5'], 2)?.rule, 'even');
    assert.equal(decoder.append(['101'], 3)?.rule, 'integer >= 0 <= 100', 'compiled bounds first');
    const batch = decoder.flush({});
    assert.deepEqual(batch.toObjects(), [{ n: 4 }]);
    assert.equal(batch.column('n').dtype, 'uint8');
  });

  test('a transform stores zod\'s output, typed by its first value', () => {
    const decoder = decoderFor(z.object({ len: z.string().transform((s) => s.length), up: z.string().transform((s) => s.toUpperCase()) }));
    assert.equal(decoder.append(['abc', 'x'], 1), null);
    assert.equal(decoder.append(['hello', 'yz'], 2), null);
    const batch = decoder.flush({});
    assert.equal(batch.column('len').dtype, 'float64');
    assert.deepEqual(batch.toObjects(), [
      { len: 3, up: 'X' },
      { len: 5, up: 'YZ' },
    ]);
  });
});

describe('RowDecoder with inferred columns', () => {
  function inferred(values: string[]) {
    const { plans } = inferColumns(['n'], values.map((v) => [v]));
    const widenings: [string, DType, DType, string][] = [];
    const decoder = new RowDecoder(plans, 16, {
      warn: (warning) => widenings.push([warning.column!, warning.from as DType, warning.to as DType, warning.value!]),
    });
    for (const [i, value] of values.entries()) assert.equal(decoder.append([value], i + 1), null);
    return { plans, decoder, widenings };
  }

  test('uint8 widens to uint16 on 300, keeping the earlier values, and reports it', () => {
    const { plans, decoder, widenings } = inferred(['1', '2', '255']);
    assert.equal(plans[0].dtype, 'uint8');
    assert.equal(decoder.append(['300'], 4), null);
    assert.deepEqual(widenings, [['n', 'uint8', 'uint16', '300']]);
    assert.equal(plans[0].dtype, 'uint16', 'later batches start wide');
    const batch = decoder.flush({});
    assert.equal(batch.column('n').dtype, 'uint16');
    assert.deepEqual(batch.toObjects().map((r) => r.n), [1, 2, 255, 300]);
  });

  test('a negative value widens an unsigned column to a signed one', () => {
    const { decoder, widenings } = inferred(['1', '200']);
    assert.equal(decoder.append(['-1'], 3), null);
    assert.deepEqual(widenings, [['n', 'uint8', 'int16', '-1']]);
    assert.deepEqual(decoder.flush({}).toObjects().map((r) => r.n), [1, 200, -1]);
  });

  test('an integer column widens to float64 on 1.5', () => {
    const { decoder, widenings } = inferred(['1', '2']);
    assert.equal(decoder.append(['1.5'], 3), null);
    assert.deepEqual(widenings, [['n', 'uint8', 'float64', '1.5']]);
    const batch = decoder.flush({});
    assert.equal(batch.column('n').dtype, 'float64');
    assert.deepEqual(batch.toObjects().map((r) => r.n), [1, 2, 1.5]);
  });

  test('a number column widens to string on "abc", keeping the earlier values as text', () => {
    const { decoder, widenings } = inferred(['1', '2.5']);
    assert.equal(decoder.append(['abc'], 3), null);
    assert.deepEqual(widenings, [['n', 'float64', 'string', 'abc']]);
    const batch = decoder.flush({});
    assert.equal(batch.column('n').dtype, 'string');
    assert.deepEqual(batch.toObjects().map((r) => r.n), ['1', '2.5', 'abc']);
  });

  test('a date column widens to string keeping its dates as YYYY-MM-DD', () => {
    const { decoder, widenings } = inferred(['2024-01-01', '2024-01-02']);
    assert.equal(decoder.append(['soon'], 3), null);
    assert.deepEqual(widenings, [['n', 'date', 'string', 'soon']]);
    assert.deepEqual(decoder.flush({}).toObjects().map((r) => r.n), ['2024-01-01', '2024-01-02', 'soon']);
  });
});

test('a z.iso.datetime() column accepts exactly what zod accepts, and says the expected form', () => {
  const plans = compileSchema(z.object({ at: z.iso.datetime(), local: z.iso.datetime({ local: true }) })).columns;
  const decoder = new RowDecoder(plans, 8);
  assert.equal(decoder.append(['2024-01-02T03:04:05Z', '2024-01-02T03:04:05'], 2), null);
  for (const text of ['2024-01-02', '2024-01-02 03:04:05Z', '2024-01-02T03:04:05+02:00', '2024-02-30T00:00:00Z']) {
    const violation = decoder.append([text, '2024-01-02T03:04:05'], 3);
    assert.ok(violation !== null, text);
    assert.equal(violation.column, 'at');
    assert.match(violation.rule, /like 2024-01-02T03:04:05Z/);
    assert.equal(z.iso.datetime().safeParse(text).success, false, 'zod rejects it too');
  }
  assert.equal(decoder.length, 1);
});
