import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { SluiceError } from '../../src/core/errors.ts';
import { compileSchema } from '../../src/schema/compile.ts';
import type { ColumnPlan } from '../../src/schema/plan.ts';

function planOf(field: z.ZodType, options = {}): ColumnPlan {
  const plans = compileSchema(z.object({ x: field }), options).columns;
  assert.equal(plans.length, 1);
  assert.equal(plans[0].name, 'x');
  assert.equal(plans[0].origin, 'schema');
  return plans[0];
}

describe('compileSchema', () => {
  test('z.number().int().min(0).max(200) is uint8 with its bounds as the rule', () => {
    const plan = planOf(z.number().int().min(0).max(200));
    assert.equal(plan.dtype, 'uint8');
    assert.deepEqual(plan.bounds, { integer: true, min: 0, minInclusive: true, max: 200, maxInclusive: true });
    assert.equal(plan.rule, 'integer >= 0 <= 200');
    assert.equal(plan.zod, undefined, 'compiled: no zod per value');
  });

  test('z.int().min(-5).max(5) is int8', () => {
    assert.equal(planOf(z.int().min(-5).max(5)).dtype, 'int8');
  });

  test('integer bounds pick the smallest integer dtype that holds them', () => {
    assert.equal(planOf(z.int().min(0).max(255)).dtype, 'uint8');
    assert.equal(planOf(z.int().min(0).max(256)).dtype, 'uint16');
    assert.equal(planOf(z.int().min(-129).max(0)).dtype, 'int16');
    assert.equal(planOf(z.int().gt(-1).lt(256)).dtype, 'uint8', 'exclusive bounds are tightened');
    assert.equal(planOf(z.int().min(0)).dtype, 'float64', 'unbounded above: a float64 holds every safe integer');
    assert.equal(planOf(z.number().min(0).max(10)).dtype, 'float64', 'non-integers stay float64');
  });

  test('z.int32() and z.uint32() are int32 and uint32', () => {
    assert.equal(planOf(z.int32()).dtype, 'int32');
    assert.equal(planOf(z.uint32()).dtype, 'uint32');
    assert.equal(planOf(z.uint32().max(1000)).dtype, 'uint16');
  });

  test('z.number() is float64, or float32 with the float32 option or z.float32()', () => {
    assert.equal(planOf(z.number()).dtype, 'float64');
    assert.equal(planOf(z.number(), { float32: true }).dtype, 'float32');
    assert.equal(planOf(z.float32()).dtype, 'float32');
    assert.equal(planOf(z.int().min(0).max(9), { float32: true }).dtype, 'uint8', 'float32 is for unbounded numbers only');
  });

  test('z.enum is a dictionary holding the enum values, in order', () => {
    const plan = planOf(z.enum(['new', 'paid', 'shipped']));
    assert.equal(plan.dtype, 'dictionary');
    assert.deepEqual(plan.enumValues, ['new', 'paid', 'shipped']);
    assert.deepEqual(plan.dictionary!.values, ['new', 'paid', 'shipped']);
    assert.equal(plan.rule, 'one of new|paid|shipped');
  });

  test('z.coerce.date(), z.date() and z.iso.datetime() are timestamps; z.iso.date() is a date', () => {
    assert.equal(planOf(z.coerce.date()).dtype, 'timestamp');
    assert.equal(planOf(z.date()).dtype, 'timestamp');
    assert.equal(planOf(z.iso.datetime()).dtype, 'timestamp');
    assert.equal(planOf(z.iso.date()).dtype, 'date');
  });

  test('z.boolean() is bool; z.string() is a plain string unless dictionary-encoding is asked for', () => {
    assert.equal(planOf(z.boolean()).dtype, 'bool');
    assert.equal(planOf(z.string()).dtype, 'string');
    assert.equal(planOf(z.string(), { dictionaryStrings: true }).dtype, 'dictionary');
    assert.equal(planOf(z.string(), { dictionaryStrings: ['x'] }).dtype, 'dictionary');
    assert.equal(planOf(z.string(), { dictionaryStrings: ['y'] }).dtype, 'string');
  });

  test('.nullable() and .optional() make a nullable column of the inner dtype', () => {
    for (const field of [z.int().min(0).max(9).nullable(), z.int().min(0).max(9).optional(), z.int().min(0).max(9).nullish()]) {
      const plan = planOf(field);
      assert.equal(plan.nullable, true);
      assert.equal(plan.dtype, 'uint8');
    }
    assert.equal(planOf(z.string()).nullable, false);
  });

  test('.default() keeps the inner dtype and records the default value', () => {
    const plan = planOf(z.int().min(0).max(9).default(3));
    assert.equal(plan.dtype, 'uint8');
    assert.equal(plan.defaultValue, 3);
    assert.equal(plan.nullable, false);
  });

  test('string length checks are compiled; refine goes through zod per value', () => {
    const lengths = planOf(z.string().min(2).max(3));
    assert.equal(lengths.minLength, 2);
    assert.equal(lengths.maxLength, 3);
    assert.equal(lengths.zod, undefined);
    const refined = planOf(z.string().refine((s) => s.startsWith('A')));
    assert.equal(refined.dtype, 'string');
    assert.ok(refined.zod !== undefined, 'slow path');
    assert.equal(refined.storesZodOutput, false);
  });

  test('a transform stores zod output', () => {
    const plan = planOf(z.string().transform((s) => s.length));
    assert.ok(plan.zod !== undefined);
    assert.equal(plan.storesZodOutput, true);
  });

  test('a schema that is not a zod object fails with SCHEMA_UNSUPPORTED', () => {
    assert.throws(
      () => compileSchema(z.string()),
      (error: unknown) => error instanceof SluiceError && error.code === 'SCHEMA_UNSUPPORTED' && /zod object/.test(error.message),
    );
  });
});
