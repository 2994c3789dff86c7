import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { type Batch, columnFromValues, pipeline, run, runOrThrow, type Stage, SluiceError } from '../../src/index.ts';
import type { RunSummary } from '../../src/index.ts';
import { collect, counting, fromRows } from '../support/fakes.ts';

const Item = z.object({ id: z.int().min(0).max(1000), price: z.number(), name: z.string().nullable() });
const items = Array.from({ length: 10 }, (_, i) => ({ id: i, price: i * 1.5, name: i % 3 === 0 ? null : `item ${i}` }));

function assertAccounted(summary: RunSummary): void {
  const { read, written, dropped, rejected } = summary.rows;
  assert.equal(read, written + dropped + rejected, `read ${read} = written ${written} + dropped ${dropped} + rejected ${rejected}`);
}

describe('stages', () => {
  test('filter keeps the rows its predicate accepts and counts the others as dropped', async () => {
    const sink = collect();
    const summary = await runOrThrow(
      pipeline()
        .from(fromRows(items, Item, { batchRows: 4 }))
        .filter((row) => row.id % 2 === 0)
        .to(sink),
    );
    assert.deepEqual(sink.rows.map((r) => r.id), [0, 2, 4, 6, 8]);
    assert.deepEqual(summary.rows, { read: 10, written: 5, dropped: 5, rejected: 0 });
    assert.deepEqual(summary.stages.map((s) => [s.name, s.rowsIn, s.rowsOut]), [['filter', 10, 5]]);
    assertAccounted(summary);
  });

  test('filter passes a batch through untouched when every row is kept, and yields nothing for an all-dropped batch', async () => {
    const source = fromRows(items, Item, { batchRows: 5 });
    const sink = collect();
    await runOrThrow(pipeline().from(source).filter((row) => row.id >= 5).to(sink));
    assert.equal(sink.batches.length, 1);
    assert.deepEqual(sink.rows.map((r) => r.id), [5, 6, 7, 8, 9]);
  });

  test('map replaces each row by the object it returns; spreading the row copies its columns', async () => {
    const sink = collect();
    const summary = await runOrThrow(
      pipeline()
        .from(fromRows(items.slice(0, 3), Item))
        .map((row) => ({ ...row, label: `${row.id}:${row.name ?? '-'}` }))
        .to(sink),
    );
    assert.deepEqual(sink.rows, [
      { id: 0, price: 0, name: null, label: '0:-' },
      { id: 1, price: 1.5, name: 'item 1', label: '1:item 1' },
      { id: 2, price: 3, name: 'item 2', label: '2:item 2' },
    ]);
    assertAccounted(summary);
  });

  test('derive adds float64 columns by default, the given dtype when asked, and nulls', async () => {
    const sink = collect();
    await runOrThrow(
      pipeline()
        .from(fromRows(items.slice(0, 4), Item))
        .derive({
          double: (row) => row.price * 2,
          small: { dtype: 'uint8', value: (row) => row.id + 1 },
          upper: (row) => (row.name === null ? null : row.name.toUpperCase()),
          cheap: (row) => row.price < 3,
          at: (row) => new Date(Date.UTC(2024, 0, row.id + 1)),
        })
        .to(sink),
    );
    const batch = sink.batches[0];
    assert.equal(batch.column('double').dtype, 'float64');
    assert.equal(batch.column('small').dtype, 'uint8');
    assert.equal(batch.column('upper').dtype, 'string');
    assert.equal(batch.column('cheap').dtype, 'bool');
    assert.equal(batch.column('at').dtype, 'timestamp');
    assert.equal(batch.column('upper').nullCount, 2);
    assert.equal(batch.column('id'), batch.column('id'), 'input columns are kept as they are');
    assert.deepEqual(
      sink.rows.map((r) => [r.double, r.small, r.upper, r.cheap, r.at]),
      [
        [0, 1, null, true, new Date('2024-01-01T00:00:00Z')],
        [3, 2, 'ITEM 1', true, new Date('2024-01-02T00:00:00Z')],
        [6, 3, 'ITEM 2', false, new Date('2024-01-03T00:00:00Z')],
        [9, 4, null, false, new Date('2024-01-04T00:00:00Z')],
      ],
    );
  });

  test('derive fails the run, naming the stage and column, when a number column computes a non-number', async () => {
    const summary = await run(
      pipeline()
        .from(fromRows(items, Item))
        .derive({ bad: (row) => (row.id < 2 ? row.id : ('x' as unknown as number)) })
        .to(collect()),
    );
    assert.equal(summary.status, 'failed');
    assert.equal(summary.error?.code, 'STAGE_FAILED');
    assert.equal(summary.error?.stage, 'derive');
    assert.equal(summary.error?.column, 'bad');
    assert.equal(summary.error?.value, 'x');
  });

  test('select keeps only the named columns, in that order', async () => {
    const sink = collect();
    await runOrThrow(pipeline().from(fromRows(items.slice(0, 2), Item)).select('name', 'id').to(sink));
    assert.deepEqual(sink.batches[0].names, ['name', 'id']);
    assert.deepEqual(sink.rows, [
      { name: null, id: 0 },
      { name: 'item 1', id: 1 },
    ]);
  });

  test('select of an unknown column fails the run with STAGE_FAILED naming the stage and the column', async () => {
    const summary = await run(
      pipeline()
        .from(fromRows(items, Item))
        // @ts-expect-error -- not a column of Item
        .select('id', 'nope')
        .to(collect()),
    );
    assert.equal(summary.status, 'failed');
    assert.deepEqual(summary.error, {
      code: 'STAGE_FAILED',
      message: 'select: no column "nope"; the batch has id, price, name',
      stage: 'select',
      column: 'nope',
    });
  });

  test('rename gives columns new names and keeps their storage', async () => {
    const sink = collect();
    await runOrThrow(pipeline().from(fromRows(items.slice(0, 2), Item)).rename({ id: 'key', name: 'title' }).to(sink));
    assert.deepEqual(sink.batches[0].names, ['key', 'price', 'title']);
    assert.equal(sink.batches[0].column('key').dtype, 'uint16');
    assert.deepEqual(sink.rows[1], { key: 1, price: 1.5, title: 'item 1' });
  });

  test('take stops the source early: its finally runs and it reads no batch past the one that fills the count', async () => {
    const source = counting(100, 10);
    const sink = collect();
    const summary = await runOrThrow(pipeline().from(source).take(25).to(sink));
    assert.equal(source.probe.closed, true);
    assert.equal(source.probe.batchesYielded, 3, 'batches of 10: the third holds row 25');
    assert.deepEqual(sink.rows.map((r) => r.n), Array.from({ length: 25 }, (_, i) => i));
    assert.deepEqual(summary.rows, { read: 30, written: 25, dropped: 5, rejected: 0 });
    assertAccounted(summary);
  });

  test('take(0) never starts the source and writes nothing', async () => {
    const source = counting(100, 10);
    const sink = collect();
    const summary = await runOrThrow(pipeline().from(source).take(0).to(sink));
    assert.equal(sink.rows.length, 0);
    assert.equal(source.probe.batchesYielded, 0);
    assert.equal(source.probe.closed, false, 'the source generator never ran, so it opened nothing to close');
    assertAccounted(summary);
  });

  test('take rejects a count that is not a whole number', () => {
    assert.throws(() => pipeline().from(counting(1, 1)).take(-1), (e: unknown) => e instanceof SluiceError && e.code === 'INVALID_OPTION');
    assert.throws(() => pipeline().from(counting(1, 1)).take(1.5), (e: unknown) => e instanceof SluiceError && e.code === 'INVALID_OPTION');
  });

  test('tap sees every batch, in order, and passes it on unchanged', async () => {
    const seen: Batch[] = [];
    const sink = collect();
    await runOrThrow(
      pipeline()
        .from(counting(3, 4))
        .tap((batch) => {
          seen.push(batch as Batch);
        })
        .to(sink),
    );
    assert.equal(seen.length, 3);
    assert.deepEqual(sink.batches, seen);
  });

  test('a user-written async generator works as a stage through pipe()', async () => {
    const everyOther: Stage<{ n: number }, { n: number; half: number }> = async function* everyOther(input) {
      for await (const batch of input) {
        const indices = new Uint32Array(batch.length);
        let kept = 0;
        const view = batch.view();
        for (let i = 0; i < batch.length; i++) if (view.at(i).n % 2 === 0) indices[kept++] = i;
        const taken = batch.take(indices, kept);
        const halves = taken.toObjects().map((r) => r.n / 2);
        yield taken.withColumns({ ...taken.columns, half: columnFromValues('float64', halves) });
      }
    };
    const sink = collect();
    const summary = await runOrThrow(pipeline().from(counting(2, 4)).pipe(everyOther).to(sink));
    assert.deepEqual(sink.rows, [
      { n: 0, half: 0 },
      { n: 2, half: 1 },
      { n: 4, half: 2 },
      { n: 6, half: 3 },
    ]);
    assert.deepEqual(summary.stages.map((s) => [s.name, s.rowsIn, s.rowsOut]), [['everyOther', 8, 4]]);
    assertAccounted(summary);
  });

  test('a stage that throws fails the run with STAGE_FAILED naming the stage, and the source is closed', async () => {
    const source = counting(100, 10);
    const summary = await run(
      pipeline()
        .from(source)
        .filter((row) => {
          if (row.n === 15) throw new Error('boom');
          return true;
        })
        .to(collect()),
    );
    assert.equal(summary.status, 'failed');
    assert.equal(summary.error?.code, 'STAGE_FAILED');
    assert.equal(summary.error?.stage, 'filter');
    assert.match(summary.error!.message, /stage filter failed: boom/);
    assert.equal(source.probe.closed, true);
    assert.equal(source.probe.batchesYielded, 2);
  });

  test('two stages of the same kind get distinct names in the summary', async () => {
    const summary = await runOrThrow(
      pipeline()
        .from(counting(1, 10))
        .filter((r) => r.n > 2)
        .filter((r) => r.n > 5)
        .to(collect()),
    );
    assert.deepEqual(summary.stages.map((s) => [s.name, s.rowsIn, s.rowsOut]), [
      ['filter', 10, 7],
      ['filter#2', 7, 4],
    ]);
    assert.equal(summary.rows.dropped, 6);
    assertAccounted(summary);
  });
});

test('a column named "at" does not break filter, derive or map', async () => {
  const sink = collect();
  await runOrThrow(
    pipeline()
      .from(fromRows([{ at: 1 }, { at: 2 }, { at: 3 }], z.object({ at: z.number() })))
      .filter((row) => row.at > 1)
      .derive({ twice: (row) => row.at * 2 })
      .map((row) => ({ at: row.at, twice: row.twice }))
      .to(sink),
  );
  assert.deepEqual(sink.rows, [{ at: 2, twice: 4 }, { at: 3, twice: 6 }]);
});
