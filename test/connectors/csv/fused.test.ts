/**
 * The fused record loop takes the records it can settle and stops at the first it cannot, leaving that
 * record whole (nothing written for it) and pointing at it, so the scanner and the column loops take it
 * from exactly there. The whole source is compared with the csv-parse engine in engines.test.ts; here,
 * each kind of record the loop must leave is checked on its own, and the summary's account of it. With
 * code generation off there is no loop: the same records then read the same through the scanner alone.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { csv, pipeline, run, runOrThrow } from '../../../src/index.ts';
import { formatSummary } from '../../../src/runtime/format-summary.ts';
import { ColumnBuilder } from '../../../src/batch/builder.ts';
import { compileSchema } from '../../../src/schema/compile.ts';
import type { ColumnPlan } from '../../../src/schema/plan.ts';
import { StringCache } from '../../../src/codec/byte-dictionary.ts';
import { byteDictionaryOf, FieldText } from '../../../src/connectors/csv/column-rules.ts';
import { FUSED_BLOCK_ROWS, FusedRecords, MAX_FUSED_FIELDS } from '../../../src/connectors/csv/fused.ts';
import { CODE_GENERATION_MODES, withCodeGeneration } from '../../support/codegen.ts';
import { collect, tempDir } from '../../support/fakes.ts';

const Order = z.object({
  id: z.int().min(0),
  price: z.number().min(0),
  at: z.iso.datetime(),
  status: z.enum(['paid', 'shipped']),
  gift: z.boolean(),
  note: z.string().nullable(),
});
const HEADER = ['id', 'price', 'at', 'status', 'gift', 'note'];

interface Taken {
  rows: number;
  /** Bytes of the input before the record the loop stopped at. */
  stoppedAt: number;
  line: number;
  builders: ColumnBuilder[];
  lines: Int32Array;
  plans: ColumnPlan[];
}

/** Runs the loop over `text` (header excluded) from line 2, with the dictionary knowing `paid` and `shipped`. */
function take(text: string, options: { maxRecordBytes?: number; fields?: readonly string[] } = {}): Taken {
  const plans = compileSchema(Order).columns;
  const header = options.fields ?? HEADER;
  const positions = plans.map((plan) => header.indexOf(plan.name));
  const status = plans.find((plan) => plan.name === 'status')!;
  const bytes = byteDictionaryOf(status.dictionary!);
  for (const value of ['paid', 'shipped']) {
    const key = Buffer.from(value);
    if (bytes.lookup(key, 0, key.length) < 0) bytes.add(key, 0, key.length, status.dictionary!.code(value));
  }
  const fused = new FusedRecords(
    plans,
    positions,
    header.length,
    { delimiter: 0x2c, quote: 0x22, maxRecordBytes: options.maxRecordBytes ?? 1 << 20 },
    new FieldText(false, 0x22),
    plans.map(() => new StringCache()),
  );
  const builders = plans.map((plan) => new ColumnBuilder(plan.dtype, 64, plan.dictionary));
  const lines = new Int32Array(64);
  assert.equal(fused.prepare(builders), true);
  const buf = new Uint8Array(Buffer.from(text));
  const limit = buf.lastIndexOf(0x0a) + 1;
  const rows = fused.run(buf, 0, limit, 2, builders, lines, 0, 64);
  return { rows, stoppedAt: fused.position, line: fused.line, builders, lines, plans };
}

const GOOD = '1,9.99,2025-01-01T10:00:00Z,paid,true,\n';
const GOOD_LINES = 1;

function value(taken: Taken, name: string, row: number): unknown {
  const c = taken.plans.findIndex((plan) => plan.name === name);
  const builder = taken.builders[c];
  if (builder.validity !== null && (builder.validity[row >>> 3] & (1 << (row & 7))) === 0) return null;
  if (builder.strings !== null) return builder.strings[row];
  return builder.values[row];
}

/** The loop stopped at the second record, and left nothing of it in the builders. */
function assertStoppedAfterFirst(taken: Taken, label: string): void {
  assert.equal(taken.rows, 1, `${label}: rows taken`);
  assert.equal(taken.stoppedAt, Buffer.byteLength(GOOD), `${label}: stops at the record's first byte`);
  assert.equal(taken.line, 2 + GOOD_LINES, `${label}: and at its line`);
  for (const builder of taken.builders) {
    if (builder.validity !== null) assert.equal(builder.validity[0] & 0b10, 0b10, `${label}: no null left for the record`);
    if (builder.strings !== null) assert.equal(builder.strings[1], undefined, `${label}: no string left for the record`);
    else assert.equal(builder.values[1], 0, `${label}: no value left for the record`);
  }
}

/** Records the loop must leave to the scanner, each between two it takes. */
const leaves: [string, string][] = [
  ['an empty line', '\n'],
  ['a lone CR ending the record', '2,1,2025-01-01T10:00:00Z,paid,true,x\r3,1,2025-01-01T10:00:00Z,paid,true,x\n'],
  ['too few fields', '2,1,2025-01-01T10:00:00Z,paid,true\n'],
  ['too many fields', '2,1,2025-01-01T10:00:00Z,paid,true,x,y\n'],
  ['a quote inside an unquoted field', '2,1,2025-01-01T10:00:00Z,paid,true,a"b\n'],
  ['text after a closing quote', '2,1,2025-01-01T10:00:00Z,paid,true,"a"b\n'],
  ['a quoted number with a doubled quote', '"2""",1,2025-01-01T10:00:00Z,paid,true,x\n'],
  ['a quoted empty value in a column that is not nullable', '2,"",2025-01-01T10:00:00Z,paid,true,x\n'],
  ['a quoted value its column refuses', '2,1,"2025-01-01 10:00:00",paid,true,x\n'],
  ['an unknown dictionary value', '2,1,2025-01-01T10:00:00Z,refunded,true,x\n'],
  ['a value below the minimum', '-2,1,2025-01-01T10:00:00Z,paid,true,x\n'],
  ['a plus sign', '+2,1,2025-01-01T10:00:00Z,paid,true,x\n'],
  ['an integer of 16 digits', '1234567890123456,1,2025-01-01T10:00:00Z,paid,true,x\n'],
  ['a decimal with an exponent', '2,1e3,2025-01-01T10:00:00Z,paid,true,x\n'],
  ['a decimal of 16 digits', '2,1234567890.123456,2025-01-01T10:00:00Z,paid,true,x\n'],
  ['a decimal without fraction digits', '2,7.,2025-01-01T10:00:00Z,paid,true,x\n'],
  ['a point with no digits', '2,.,2025-01-01T10:00:00Z,paid,true,x\n'],
  ['a minus and a point with no digits', '2,-.,2025-01-01T10:00:00Z,paid,true,x\n'],
  ['a null in a column that is not nullable', '2,,2025-01-01T10:00:00Z,paid,true,x\n'],
  ['a timestamp the pattern refuses', '2,1,2025-01-01 10:00:00,paid,true,x\n'],
  ['a day past the end of the month', '2,1,2025-02-30T10:00:00Z,paid,true,x\n'],
  ['a year before 100', '2,1,0099-01-01T10:00:00Z,paid,true,x\n'],
  ['a boolean it does not know', '2,1,2025-01-01T10:00:00Z,paid,maybe,x\n'],
  ['a quoted field not closed before the last line feed', '2,1,2025-01-01T10:00:00Z,paid,true,"open\n'],
];

describe('fused record loop', () => {
  test('takes plain and quoted records, values and lines as the column loops give them', () => {
    const text =
      '1,9.99,2025-01-01T10:00:00Z,paid,true,\n' +
      '2,0.5,2025-01-02T00:00:00Z,shipped,false,"say ""hi"""\r\n' +
      '3,12,2025-01-03T00:00:00Z,paid,0,"two\nlines"\n' +
      '4,100.25,2025-01-04T00:00:00Z,paid,yes,plain\n';
    const taken = take(text);
    assert.equal(taken.rows, 4);
    assert.equal(taken.stoppedAt, Buffer.byteLength(text));
    assert.equal(taken.line, 7, 'the line break inside quotes counts');
    assert.deepEqual([...taken.lines.subarray(0, 4)], [2, 3, 4, 6]);
    assert.deepEqual([0, 1, 2, 3].map((row) => value(taken, 'id', row)), [1, 2, 3, 4]);
    assert.deepEqual([0, 1, 2, 3].map((row) => value(taken, 'price', row)), [9.99, 0.5, 12, 100.25]);
    assert.deepEqual([0, 1, 2, 3].map((row) => value(taken, 'at', row)), [0, 1, 2, 3].map((day) => Date.UTC(2025, 0, 1 + day, day === 0 ? 10 : 0)));
    assert.deepEqual([0, 1, 2, 3].map((row) => value(taken, 'gift', row)), [1, 0, 0, 1]);
    assert.deepEqual([0, 1, 2, 3].map((row) => value(taken, 'note', row)), [null, 'say "hi"', 'two\nlines', 'plain']);
  });

  test('passes over quoted fields of columns it does not read (projection): doubled quotes and line breaks inside, the lines still counted', () => {
    const fields = ['skipped', ...HEADER];
    const text =
      '"say ""hi"", twice",1,9.99,2025-01-01T10:00:00Z,paid,true,a\n' +
      '"two\nlines, and\r\nthree",2,0.5,2025-01-02T00:00:00Z,shipped,false,b\n' +
      '"",3,12,2025-01-03T00:00:00Z,paid,0,c\n' +
      '"a"b,4,1,2025-01-04T00:00:00Z,paid,0,d\n';
    const taken = take(text, { fields });
    assert.equal(taken.rows, 3, 'text after the closing quote of a skipped field is left to the scanner');
    assert.equal(taken.stoppedAt, text.indexOf('"a"b'));
    assert.deepEqual([...taken.lines.subarray(0, 3)], [2, 3, 6]);
    assert.equal(taken.line, 7);
    assert.deepEqual([0, 1, 2].map((row) => value(taken, 'id', row)), [1, 2, 3]);
    assert.deepEqual([0, 1, 2].map((row) => value(taken, 'note', row)), ['a', 'b', 'c']);
  });

  test('takes files that quote every field, with the values of the unquoted form', () => {
    const quoted = '"7","12.5","2025-01-02T03:04:05Z","shipped","false","n"\n"8","0.25","2025-01-02T03:04:05.250Z","paid","1",""\n';
    const taken = take(quoted);
    assert.equal(taken.rows, 2);
    assert.deepEqual([value(taken, 'id', 0), value(taken, 'id', 1)], [7, 8]);
    assert.deepEqual([value(taken, 'price', 0), value(taken, 'price', 1)], [12.5, 0.25]);
    assert.deepEqual([value(taken, 'at', 0), value(taken, 'at', 1)], [Date.UTC(2025, 0, 2, 3, 4, 5), Date.UTC(2025, 0, 2, 3, 4, 5, 250)]);
    assert.deepEqual([value(taken, 'status', 0), value(taken, 'status', 1)], [1, 0], 'dictionary codes of shipped, paid');
    assert.deepEqual([value(taken, 'gift', 0), value(taken, 'gift', 1)], [0, 1]);
    assert.deepEqual([value(taken, 'note', 0), value(taken, 'note', 1)], ['n', null]);
  });

  test('decimals are the doubles Number() gives', () => {
    // `.097` and `-.5` too: decimals with no whole digits left the quick path for the whole file.
    const prices = ['0.1', '0.3', '123456.789', '99999999999.9999', '0.00000000000001', '7', '-0.0', '.097', '-.5', '.000000000000001'];
    const plans = compileSchema(z.object({ price: z.number() })).columns;
    const fused = new FusedRecords(plans, [0], 1, { delimiter: 0x2c, quote: 0x22, maxRecordBytes: 1 << 20 }, new FieldText(false, 0x22), [new StringCache()]);
    const builders = [new ColumnBuilder(plans[0].dtype, 16)];
    assert.equal(fused.prepare(builders), true);
    const buf = new Uint8Array(Buffer.from(prices.join('\n') + '\n'));
    assert.equal(fused.run(buf, 0, buf.length, 1, builders, new Int32Array(16), 0, 16), prices.length);
    assert.deepEqual([...builders[0].values.subarray(0, prices.length)], prices.map(Number));
  });

  for (const [label, record] of leaves) {
    test(`leaves ${label} whole to the scanner`, () => {
      assertStoppedAfterFirst(take(GOOD + record + GOOD), label);
    });
  }

  test('leaves a record longer than maxRecordBytes to the scanner', () => {
    const long = `2,1,2025-01-01T10:00:00Z,paid,true,${'x'.repeat(100)}\n`;
    const taken = take(GOOD + long, { maxRecordBytes: Buffer.byteLength(GOOD) });
    assertStoppedAfterFirst(taken, 'long record');
  });

  test('skips the fields no column reads, quoted or not', () => {
    const fields = ['id', 'extra', 'price', 'at', 'status', 'gift', 'note', 'more'];
    const text = '1,"x,""y""\nz",2.5,2025-01-01T10:00:00Z,paid,true,n,tail\n2,,3,2025-01-01T10:00:00Z,paid,true,n,\n';
    const taken = take(text, { fields });
    assert.equal(taken.rows, 2);
    assert.deepEqual([...taken.lines.subarray(0, 2)], [2, 4]);
    assert.deepEqual([value(taken, 'price', 0), value(taken, 'price', 1)], [2.5, 3]);
  });

  test('takes at most the rows asked for', () => {
    const taken = (() => {
      const plans = compileSchema(z.object({ id: z.int() })).columns;
      const fused = new FusedRecords(plans, [0], 1, { delimiter: 0x2c, quote: 0x22, maxRecordBytes: 1 << 20 }, new FieldText(false, 0x22), [new StringCache()]);
      const builders = [new ColumnBuilder(plans[0].dtype, FUSED_BLOCK_ROWS)];
      fused.prepare(builders);
      const buf = new Uint8Array(Buffer.from('1\n2\n3\n4\n'));
      return { rows: fused.run(buf, 0, buf.length, 1, builders, new Int32Array(FUSED_BLOCK_ROWS), 0, 3), position: fused.position, line: fused.line };
    })();
    assert.deepEqual(taken, { rows: 3, position: 6, line: 4 });
  });

  test('leaves an empty line to the scanner, even where one empty field would make a record', () => {
    const plans = compileSchema(z.object({ note: z.string().nullable() })).columns;
    const fused = new FusedRecords(plans, [0], 1, { delimiter: 0x2c, quote: 0x22, maxRecordBytes: 1 << 20 }, new FieldText(false, 0x22), [new StringCache()]);
    const builders = [new ColumnBuilder(plans[0].dtype, 8)];
    fused.prepare(builders);
    const buf = new Uint8Array(Buffer.from('a\n\nb\n'));
    assert.deepEqual({ rows: fused.run(buf, 0, buf.length, 1, builders, new Int32Array(8), 0, 8), position: fused.position, line: fused.line }, { rows: 1, position: 2, line: 2 });
  });

  test('a lone CR inside quotes counts as a line break, a CRLF as one', () => {
    const taken = take('1,1,2025-01-01T10:00:00Z,paid,true,"a\rb\r\nc"\n2,1,2025-01-01T10:00:00Z,paid,true,x\n');
    assert.equal(taken.rows, 2);
    assert.deepEqual([...taken.lines.subarray(0, 2)], [2, 5]);
    assert.equal(taken.line, 6);
    assert.equal(value(taken, 'note', 0), 'a\rb\r\nc');
  });

  test('bounds are kept as the schema gives them: inclusive, exclusive, negative, open', () => {
    const Bounded = z.object({ small: z.int().min(-5).max(5), open: z.number().gt(0).lt(10), big: z.number().max(1e21), any: z.number().nullable() });
    const plans = compileSchema(Bounded).columns;
    const takes = (record: string): number => {
      const fused = new FusedRecords(plans, [0, 1, 2, 3], 4, { delimiter: 0x2c, quote: 0x22, maxRecordBytes: 1 << 20 }, new FieldText(false, 0x22), plans.map(() => new StringCache()));
      const builders = plans.map((plan) => new ColumnBuilder(plan.dtype, 4));
      assert.equal(fused.prepare(builders), true);
      const buf = new Uint8Array(Buffer.from(record));
      return fused.run(buf, 0, buf.length, 1, builders, new Int32Array(4), 0, 4);
    };
    for (const record of ['-5,0.5,1,\n', '5,9.99,-123456789012345,7\n', '0,5,999999999999999,-0.5\n']) assert.equal(takes(record), 1, record);
    for (const record of ['-6,1,1,1\n', '6,1,1,1\n', '0,0,1,1\n', '0,10,1,1\n', '0,-1,1,1\n']) assert.equal(takes(record), 0, record);
  });

  test('runs again after a batch it could not take (a widened builder), with the layout it had before', () => {
    const plans = compileSchema(z.object({ id: z.int32() })).columns;
    const fused = new FusedRecords(plans, [0], 1, { delimiter: 0x2c, quote: 0x22, maxRecordBytes: 1 << 20 }, new FieldText(false, 0x22), [new StringCache()]);
    const buf = new Uint8Array(Buffer.from('1\n2\n'));
    const takes = (builders: ColumnBuilder[]) => fused.run(buf, 0, buf.length, 1, builders, new Int32Array(4), 0, 4);
    assert.equal(fused.prepare([new ColumnBuilder('int32', 4)]), true);
    assert.equal(takes([new ColumnBuilder('int32', 4)]), 2);
    assert.equal(fused.prepare([new ColumnBuilder('float64', 4)]), false, 'a builder that moved away from the plan');
    const builders = [new ColumnBuilder('int32', 4)];
    assert.equal(fused.prepare(builders), true);
    assert.equal(takes(builders), 2);
    assert.deepEqual([...builders[0].values.subarray(0, 2)], [1, 2]);
  });

  test('does not run for a column zod decides', () => {
    const plans = compileSchema(z.object({ id: z.int().refine((n) => n % 2 === 0) })).columns;
    const fused = new FusedRecords(plans, [0], 1, { delimiter: 0x2c, quote: 0x22, maxRecordBytes: 1 << 20 }, new FieldText(false, 0x22), [new StringCache()]);
    assert.equal(fused.prepare([new ColumnBuilder(plans[0].dtype, 4)]), false);
  });
});

describe('the run summary says how much of a CSV the fast engine read on its quick path', () => {
  const Numbers = z.object({ id: z.int(), price: z.number() });
  async function summaryOf(text: string) {
    const path = join(await tempDir('sluice-fused-'), 'input.csv');
    await writeFile(path, text);
    const summary = await runOrThrow(pipeline().from(csv(path, { schema: Numbers })).to(collect()));
    assert.equal(summary.source.engine, 'fast');
    return summary;
  }
  const rows = (price: (i: number) => string) => `id,price\n${Array.from({ length: 200 }, (_, i) => `${i},${price(i)}`).join('\n')}\n`;

  test('all of a plain file', async () => {
    const summary = await summaryOf(rows((i) => `${i}.5`));
    assert.equal(summary.source.engineDetail, 'all records on the quick path');
    assert.match(formatSummary(summary), /source {5}csv .*input\.csv \[fast: all records on the quick path\]/);
  });

  test('none with code generation off, and why', async () => {
    const summary = await withCodeGeneration(false, () => summaryOf(rows((i) => `${i}.5`)));
    assert.match(formatSummary(summary), /source {5}csv .*input\.csv \[fast: no quick path: code generation is off\]/);
  });

  test('part of a file with some exponents, none of one with only exponents', async () => {
    const some = (await summaryOf(rows((i) => (i % 50 === 0 ? `${i}e2` : `${i}.5`)))).source.engineDetail!;
    const share = Number(/^([\d.]+)% of records on the quick path$/.exec(some)?.[1]);
    assert.ok(share > 0 && share < 100, some);
    assert.equal((await summaryOf(rows((i) => `${i}e2`))).source.engineDetail, '0% of records on the quick path');
  });

  test(`records of more than ${MAX_FUSED_FIELDS} fields go to the scanner, where the generated loop would be slower`, async () => {
    const wide = async (fields: number) => {
      const path = join(await tempDir('sluice-fused-'), 'wide.csv');
      const header = Array.from({ length: fields }, (_, f) => `c${f}`).join(',');
      await writeFile(path, `${header}\n${Array.from({ length: 50 }, (_, r) => Array.from({ length: fields }, (_, f) => r * f).join(',')).join('\n')}\n`);
      const sink = collect();
      const summary = await runOrThrow(pipeline().from(csv(path)).to(sink));
      assert.equal((sink.rows[49] as Record<string, number>)[`c${fields - 1}`], 49 * (fields - 1));
      return summary.source.engineDetail;
    };
    assert.equal(await wide(MAX_FUSED_FIELDS), 'all records on the quick path');
    assert.equal(await wide(MAX_FUSED_FIELDS + 1), '0% of records on the quick path');
  });

  test('one hard record in ten leaves the rest on the quick path; alternating ones go to the scanner instead of switching each record', async () => {
    const shareOf = async (hard: (i: number) => boolean) => {
      const text = `id,price\n${Array.from({ length: 5000 }, (_, i) => `${i},${hard(i) ? `${i}e2` : `${i}.5`}`).join('\n')}\n`;
      const detail = (await summaryOf(text)).source.engineDetail!;
      return Number(/^([\d.]+)%/.exec(detail)?.[1]);
    };
    assert.ok((await shareOf((i) => i % 10 === 9)) >= 85, 'one in ten');
    assert.ok((await shareOf((i) => i % 2 === 1)) <= 5, 'every other record');
  });
});

describe('with code generation off, the records the loop takes or leaves read the same through the scanner alone', () => {
  test('there is no loop to prepare', async () => {
    const plans = compileSchema(z.object({ id: z.int() })).columns;
    const fused = await withCodeGeneration(false, () => new FusedRecords(plans, [0], 1, { delimiter: 0x2c, quote: 0x22, maxRecordBytes: 1 << 20 }, new FieldText(false, 0x22), [new StringCache()]));
    assert.equal(fused.prepare([new ColumnBuilder(plans[0].dtype, 4)]), false);
  });

  /** The whole source on the file at `path`: rows, their lines, rejects and the error, in one mode. */
  async function readAll(path: string, enabled: boolean) {
    const rejects = join(await tempDir('sluice-fused-modes-'), 'rejects.ndjson');
    const sink = collect();
    const summary = await withCodeGeneration(enabled, () => run(pipeline({ rejects: { path: rejects, max: 100 } }).from(csv(path, { schema: Order, engine: 'fast' })).to(sink)));
    const lines = sink.batches.flatMap((batch) => Array.from({ length: batch.length }, (_, i) => batch.lineOf(i)));
    let rejected = '';
    try {
      rejected = await readFile(rejects, 'utf8');
    } catch {}
    return { rows: sink.rows, lines, rejected, error: summary.error, detail: summary.source.engineDetail };
  }

  const cases: [string, string][] = [
    ['records the loop takes, plain and quoted', '1,9.99,2025-01-01T10:00:00Z,paid,true,\n2,0.5,2025-01-02T00:00:00Z,shipped,false,"say ""hi"""\r\n3,12,2025-01-03T00:00:00Z,paid,0,"two\nlines"\n'],
    ['every field quoted', '"7","12.5","2025-01-02T03:04:05Z","shipped","false","n"\n"8","0.25","2025-01-02T03:04:05.250Z","paid","1",""\n'],
    ...leaves.map(([label, record]): [string, string] => [label, GOOD + record + GOOD]),
  ];
  for (const [label, records] of cases) {
    test(label, async () => {
      const path = join(await tempDir('sluice-fused-modes-'), 'input.csv');
      await writeFile(path, `${HEADER.join(',')}\n${records}`);
      const generated = await readAll(path, true);
      const jitless = await readAll(path, false);
      // A failed read says nothing of its engine.
      if (generated.error === undefined) {
        assert.notEqual(generated.detail, 'no quick path: code generation is off');
        assert.equal(jitless.detail, 'no quick path: code generation is off');
      }
      assert.deepEqual({ ...jitless, detail: undefined }, { ...generated, detail: undefined });
    });
  }
});
