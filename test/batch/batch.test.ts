import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Batch } from '../../src/batch/batch.ts';
import { columnFromValues } from '../../src/batch/column.ts';
import { Dictionary } from '../../src/batch/dictionary.ts';
import { RowDecoder } from '../../src/schema/decode.ts';
import type { ColumnPlan } from '../../src/schema/plan.ts';

function sample(): Batch<{ id: number; name: string | null; ok: boolean }> {
  return new Batch(
    {
      id: columnFromValues('uint16', [10, 20, 30, 40]),
      name: columnFromValues('string', ['a', null, 'c', 'd']),
      ok: columnFromValues('bool', [true, false, null, true]),
    },
    4,
    { file: 'in.csv' },
    Int32Array.from([2, 3, 5, 6]),
  );
}

function dictionaryPlan(cap: number): ColumnPlan {
  return {
    name: 'city',
    dtype: 'dictionary',
    nullable: true,
    coerce: false,
    storesZodOutput: false,
    rule: 'text',
    origin: 'schema',
    dictionary: new Dictionary(cap),
  };
}

describe('Batch', () => {
  test('the row view is one object for the whole batch: at() moves it and returns it', () => {
    const batch = sample();
    const view = batch.view();
    const seen = new Set<object>();
    const ids: number[] = [];
    for (let i = 0; i < batch.length; i++) {
      const row = view.at(i);
      seen.add(row);
      ids.push(row.id);
      assert.equal(row.$index, i);
    }
    assert.equal(seen.size, 1);
    assert.ok(seen.has(view));
    assert.deepEqual(ids, [10, 20, 30, 40]);
    assert.equal(view.at(1).name, null);
    assert.equal(view.at(2).ok, null);
    assert.equal(view.at(3).$line, 6);
    assert.deepEqual(Object.keys(view), ['id', 'name', 'ok'], 'only the columns are enumerable');
    assert.deepEqual({ ...view.at(0) }, { id: 10, name: 'a', ok: true }, 'spreading a row copies its values');
    assert.equal(JSON.stringify(view.at(1)), '{"id":20,"name":null,"ok":false}');
  });

  test('views of two batches with the same columns share a prototype, and each reads its own batch', () => {
    const a = sample();
    const b = a.head(2);
    const va = a.view();
    const vb = b.view();
    assert.equal(Object.getPrototypeOf(va), Object.getPrototypeOf(vb));
    assert.equal(va.at(3).id, 40);
    assert.equal(vb.at(1).id, 20);
  });

  test('take keeps the rows, their source lines and the origin', () => {
    const batch = sample();
    const taken = batch.take(Uint32Array.from([3, 1]), 2);
    assert.equal(taken.length, 2);
    assert.deepEqual(taken.toObjects(), [
      { id: 40, name: 'd', ok: true },
      { id: 20, name: null, ok: false },
    ]);
    assert.deepEqual([...taken.lines!], [6, 3]);
    assert.equal(taken.origin, batch.origin);
    assert.equal(batch.length, 4, 'the source batch is unchanged');
  });

  test('head returns the first rows, and the batch itself when it is short enough', () => {
    const batch = sample();
    assert.equal(batch.head(4), batch);
    assert.equal(batch.head(10), batch);
    const first = batch.head(1);
    assert.deepEqual(first.toObjects(), [{ id: 10, name: 'a', ok: true }]);
    assert.equal(first.lineOf(0), 2);
    assert.equal(batch.head(0).length, 0);
  });

  test('byteSize is the sum of the columns plus the line numbers', () => {
    const batch = sample();
    const columns = batch.names.reduce((sum, name) => sum + batch.column(name).byteSize, 0);
    assert.equal(batch.byteSize, columns + 4 * 4);
    assert.equal(batch.column('id').byteSize, 8);
  });

  test('column() names the columns the batch has when asked for a missing one', () => {
    assert.throws(() => sample().column('nope'), /no column "nope" in batch \(columns: id, name, ok\)/);
  });

  test('objectBytes estimates a row-object layout larger than the typed columns', () => {
    const batch = new Batch({ n: columnFromValues('uint8', Array.from({ length: 1000 }, (_, i) => i % 200)) }, 1000);
    assert.ok(batch.objectBytes() > batch.byteSize * 10);
  });
});

describe('Dictionary', () => {
  test('one dictionary serves every batch of a run: codes mean the same value in each', () => {
    const plan = dictionaryPlan(100);
    const first = new RowDecoder([plan], 3);
    for (const city of ['Oslo', 'Rome', 'Oslo']) assert.equal(first.append([city], 1), null);
    const a = first.flush({});
    const second = new RowDecoder([plan], 3);
    for (const city of ['Rome', 'Lima', 'Oslo']) assert.equal(second.append([city], 1), null);
    const b = second.flush({});
    const ca = a.column('city');
    const cb = b.column('city');
    assert.equal(ca.dtype, 'dictionary');
    assert.equal(ca.dictionary, cb.dictionary, 'the same Dictionary object');
    assert.equal(ca.dictionary, plan.dictionary);
    assert.deepEqual(plan.dictionary!.values, ['Oslo', 'Rome', 'Lima'], 'each distinct value stored once');
    assert.deepEqual([...(ca.data as Uint8Array)], [0, 1, 0]);
    assert.deepEqual([...(cb.data as Uint8Array)], [1, 2, 0]);
    assert.deepEqual(b.toObjects().map((r) => r.city), ['Rome', 'Lima', 'Oslo']);
  });

  test('past its cap a dictionary column falls back to plain strings, keeps every value, and reports it', () => {
    const plan = dictionaryPlan(2);
    const widened: string[] = [];
    const decoder = new RowDecoder([plan], 5, { warn: (warning) => widened.push(`${warning.column}:${warning.from}->${warning.to}`) });
    for (const city of ['a', 'b', 'a', null, 'c']) assert.equal(decoder.append([city], 1), null);
    const batch = decoder.flush({});
    const column = batch.column('city');
    assert.equal(column.dtype, 'string');
    assert.deepEqual(batch.toObjects().map((r) => r.city), ['a', 'b', 'a', null, 'c']);
    assert.deepEqual(widened, ['city:dictionary->string']);
    assert.equal(plan.dtype, 'string', 'later batches of the run start as plain strings');
    const next = new RowDecoder([plan], 2);
    next.append(['z'], 1);
    next.append(['a'], 2);
    const later = next.flush({});
    assert.equal(later.column('city').dtype, 'string');
    assert.deepEqual(later.toObjects().map((r) => r.city), ['z', 'a']);
  });

  test('code() returns -1 once the cap is reached, and known values keep their codes', () => {
    const dictionary = new Dictionary(2, ['x']);
    assert.equal(dictionary.code('y'), 1);
    assert.equal(dictionary.code('z'), -1);
    assert.equal(dictionary.code('x'), 0);
    assert.equal(dictionary.size, 2);
  });
});
