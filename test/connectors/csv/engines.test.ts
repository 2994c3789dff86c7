/**
 * The whole CSV source, fast engine against csv-parse engine, on seeded random files: the same rows
 * (values, dtypes, source lines), the same rejects and warnings, or the same error (code, file, line,
 * and column where the csv-parse engine knows one). The fast engine runs twice, with code generation
 * (its fused loop) and without (SLUICE_JITLESS: the scanner alone), and both must give the same
 * outcome, rejects byte for byte. Then bad input at speed: where each error is reported, in both
 * modes, and that a runaway record fails without memory growing past the limit.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { z } from 'zod';
import type { Batch } from '../../../src/batch/batch.ts';
import { csv, type CsvOptions, pipeline, run, type RunSummary } from '../../../src/index.ts';
import { CODE_GENERATION_MODES, withCodeGeneration } from '../../support/codegen.ts';
import { collect, tempDir } from '../../support/fakes.ts';
import { random } from '../../support/random.ts';

const dir = await tempDir('sluice-engines-');
let files = 0;
async function file(content: string | Buffer): Promise<string> {
  const path = join(dir, `input-${++files}.csv`);
  await writeFile(path, content);
  return path;
}


interface Outcome {
  summary: RunSummary;
  rows: unknown[];
  lines: number[];
  dtypes: string[];
  rejects: string;
}

async function readWith(engine: 'fast' | 'csv-parse', path: string, options: CsvOptions<z.ZodObject | undefined, string>, batchRows?: number): Promise<Outcome> {
  const sink = collect();
  const rejectsPath = join(dir, `rejects-${++files}.ndjson`);
  const summary = await run(pipeline({ rejects: { path: rejectsPath, max: 100_000 }, batchRows }).from(csv(path, { ...options, engine })).to(sink));
  const lines: number[] = [];
  for (const batch of sink.batches as Batch[]) for (let i = 0; i < batch.length; i++) lines.push(batch.lineOf(i)!);
  const dtypes = (sink.batches as Batch[]).map((batch) => batch.names.map((name) => batch.columns[name].dtype).join(','));
  let rejects = '';
  try {
    rejects = await readFile(rejectsPath, 'utf8');
  } catch {}
  return { summary, rows: sink.rows, lines, dtypes, rejects };
}

function errorFacts(summary: RunSummary) {
  const error = summary.error;
  if (error === undefined) return undefined;
  return { code: error.code, file: error.file, line: error.line };
}

/** What a read gave, all of it but timings: the jitless read must give exactly this. */
function outcomeFacts(outcome: Outcome) {
  const { error, rows, warnings } = outcome.summary;
  return { error, counts: rows, warnings, rows: outcome.rows, lines: outcome.lines, dtypes: outcome.dtypes, rejects: outcome.rejects };
}

async function assertSameOutcome(path: string, options: CsvOptions<z.ZodObject | undefined, string>, label: string, batchRows?: number) {
  const fast = await readWith('fast', path, options, batchRows);
  const jitless = await withCodeGeneration(false, () => readWith('fast', path, options, batchRows));
  const parsed = await readWith('csv-parse', path, options, batchRows);
  assert.equal(fast.summary.source.engine, 'fast', `${label}: ${JSON.stringify(fast.summary.error)}`);
  if (jitless.summary.source.engineDetail !== undefined) assert.equal(jitless.summary.source.engineDetail, 'no quick path: code generation is off', label);
  assert.deepEqual(outcomeFacts(jitless), outcomeFacts(fast), `${label}: the fast engine without code generation differs`);
  assert.deepEqual(errorFacts(fast.summary), errorFacts(parsed.summary), `${label}: errors differ`);
  if (parsed.summary.error?.column !== undefined) assert.equal(fast.summary.error?.column, parsed.summary.error.column, `${label}: error columns differ`);
  if (parsed.summary.error !== undefined) return parsed.summary.error.code;
  assert.deepEqual(fast.rows, parsed.rows, `${label}: rows differ`);
  assert.deepEqual(fast.lines, parsed.lines, `${label}: lines differ`);
  assert.deepEqual(fast.dtypes, parsed.dtypes, `${label}: dtypes differ`);
  assert.equal(fast.rejects, parsed.rejects, `${label}: rejects differ`);
  assert.deepEqual(fast.summary.warnings, parsed.summary.warnings, `${label}: warnings differ`);
  assert.deepEqual(fast.summary.rows, parsed.summary.rows, `${label}: counts differ`);
  return 'ok';
}

const Row = z.object({
  id: z.int().min(0).max(100_000),
  price: z.number().min(0),
  ok: z.boolean(),
  at: z.iso.datetime({ offset: true }),
  status: z.enum(['paid', 'shipped', 'cancelled']),
  name: z.string().max(12),
  note: z.string().nullable(),
  qty: z.int().nullable(),
});

const NAMES = ['a', 'b', 'héllo', '日本', '😀', 'with,comma', 'with "quote"', 'line\nbreak', 'crlf\r\nbreak', 'x'.repeat(13), ' spaced '];
const STATUSES = ['paid', 'shipped', 'cancelled', 'refunded', 'PAID'];

function cell(next: () => number, column: string, bad: boolean, plain = false): string {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)];
  const r = next();
  switch (column) {
    case 'id':
      return bad && r < 0.3 ? pick(['-1', '100001', '1.5', 'x', '']) : String(Math.floor(next() * 100_000));
    case 'price':
      if (bad && r < 0.3) return pick(['-0.5', 'abc', '']);
      // Plain files keep to the forms most files have (and the fused loop takes); the rest go to the scanner.
      if (plain && r < 0.98) return pick(['0', '1.5', '12.25', (next() * 1000).toFixed(2)]);
      return pick(['0', '1.5', '12.25', '1e3', '.5', '7.', String(next() * 1000)]);
    case 'ok':
      return bad && r < 0.3 ? pick(['maybe', '']) : pick(['true', 'false', 'T', 'f', '1', '0', 'yes', 'NO', 'Y']);
    case 'at':
      if (plain && !bad && r < 0.98) return pick(['2024-01-01T10:00:00Z', '2024-06-30T23:59:59.123Z', '2024-02-29T00:00:00+01:00']);
      return bad && r < 0.3
        ? pick(['2024-02-30T00:00:00Z', 'yesterday', '2024-01-01T25:00:00Z', '0099-01-01T00:00:00Z', '2024-01-01T10:00:00+05'])
        : pick(['2024-01-01T10:00:00Z', '2024-06-30T23:59:59.123Z', '2024-03-01 08:00:00+02:00', '2024-12-31T00:00Z', '2023-05-05T05:05:05.5-0130']);
    case 'status':
      return bad ? pick(STATUSES) : pick(STATUSES.slice(0, 3));
    case 'name':
      return bad ? pick(NAMES) : pick(NAMES.slice(0, 9));
    case 'note':
      return pick(['', '', 'gift', 'fragile, handle', 'say "hi"', 'multi\nline', 'ünïcödé', '']);
    default:
      return r < 0.3 ? '' : String(Math.floor(next() * 50));
  }
}

function quoteCell(next: () => number, value: string, rate: number): string {
  const needs = /[",\r\n]/.test(value);
  if (needs || next() < rate) return `"${value.replaceAll('"', '""')}"`;
  return value;
}

function generate(seed: number, options: { rows: number; badRate: number; raggedRate: number; quoteError?: boolean; plain?: boolean; quoteRate?: number }): string {
  const next = random(seed);
  const columns = ['id', 'price', 'ok', 'at', 'status', 'name', 'note', 'qty', 'extra'];
  const lineBreak = next() < 0.5 ? '\n' : '\r\n';
  let text = next() < 0.2 ? '\uFEFF' : '';
  text += columns.join(',') + lineBreak;
  // An unclosed quote on the last row runs to the end of the file; earlier, a later quote may close it (CSV_INVALID_QUOTE).
  const badRow = next() < 0.5 ? options.rows - 1 : Math.floor(next() * options.rows);
  for (let r = 0; r < options.rows; r++) {
    const bad = next() < options.badRate;
    let fields = columns.map((column) => quoteCell(next, cell(next, column === 'extra' ? 'qty' : column, bad, options.plain), options.quoteRate ?? (options.plain ? 0.01 : 0.15)));
    if (next() < options.raggedRate) fields = next() < 0.5 ? fields.slice(0, 1 + Math.floor(next() * 7)) : [...fields, 'surplus'];
    if (options.quoteError && r === badRow) fields[6] = `"unclosed ${fields[6]}`;
    text += fields.join(',') + (next() < 0.05 ? '\n' : lineBreak);
    if (next() < 0.02) text += lineBreak; // an empty line
  }
  return text;
}

describe('csv engines agree (whole source, generated files)', () => {
  test('clean and schema-violating files give the same rows, lines, rejects and warnings', async () => {
    const outcomes: Record<string, number> = {};
    for (let seed = 1; seed <= 40; seed++) {
      const text = generate(seed, { rows: 50 + (seed % 7) * 40, badRate: seed % 3 === 0 ? 0 : 0.1, raggedRate: 0 });
      const path = await file(text);
      const result = await assertSameOutcome(path, { schema: Row }, `seed ${seed} (schema)`, seed % 2 === 0 ? 100 : undefined);
      outcomes[result] = (outcomes[result] ?? 0) + 1;
    }
    assert.ok((outcomes.ok ?? 0) >= 30, JSON.stringify(outcomes));
  });

  test('inferred columns widen the same way in both engines', async () => {
    for (let seed = 100; seed <= 120; seed++) {
      const text = generate(seed, { rows: 300, badRate: seed % 2 === 0 ? 0.05 : 0, raggedRate: 0 });
      const path = await file(text);
      await assertSameOutcome(path, { sampleRows: 20 }, `seed ${seed} (inferred)`);
    }
  });

  test('projection: only the named columns, same values', async () => {
    for (let seed = 200; seed <= 210; seed++) {
      const path = await file(generate(seed, { rows: 200, badRate: 0.05, raggedRate: 0 }));
      await assertSameOutcome(path, { schema: Row, columns: ['status', 'id', 'note'] }, `seed ${seed} (projection)`);
    }
  });

  test('files of several read chunks (records across chunk ends, the fast engine\'s fused loop and scanner taking turns) agree', async () => {
    for (const seed of [400, 401, 402]) {
      const text = generate(seed, { rows: 40_000, badRate: seed === 400 ? 0 : 0.003, raggedRate: 0, plain: true });
      assert.ok(Buffer.byteLength(text) > 2.5 * 1024 * 1024, 'more than two 1 MiB reads');
      const path = await file(text);
      assert.equal(await assertSameOutcome(path, { schema: Row }, `seed ${seed} (chunks)`, 1000), 'ok');
    }
    const quotedAll = await file(generate(404, { rows: 40_000, badRate: 0.003, raggedRate: 0, plain: true, quoteRate: 1 }));
    assert.equal(await assertSameOutcome(quotedAll, { schema: Row }, 'seed 404 (every field quoted, chunks)', 1000), 'ok');
    const ragged = await file(generate(403, { rows: 40_000, badRate: 0, raggedRate: 0.0001, plain: true }));
    assert.equal(await assertSameOutcome(ragged, { schema: Row }, 'seed 403 (ragged, chunks)'), 'CSV_FIELD_COUNT');
  });

  test('wide records (read by the fused loop in segments) agree: 45 and 70 fields, quoting, line breaks, bad values', async () => {
    for (const [seed, copies] of [
      [500, 5],
      [501, 8],
    ] as const) {
      const next = random(seed);
      const columns = Array.from({ length: copies }, (_, k) => ['id', 'price', 'ok', 'at', 'status', 'name', 'note', 'qty', 'extra'].map((name) => `${name}_${k}`)).flat();
      const shape: Record<string, z.ZodType> = {};
      for (let k = 0; k < copies; k++) Object.assign(shape, Object.fromEntries(Object.entries(Row.shape).map(([name, type]) => [`${name}_${k}`, type])));
      const Wide = z.object(shape);
      let text = `${columns.join(',')}\n`;
      for (let r = 0; r < 8000; r++) {
        const bad = next() < 0.01;
        text += `${columns.map((column) => quoteCell(next, cell(next, column.startsWith('extra') ? 'qty' : column.replace(/_\d+$/, ''), bad, true), 0.02)).join(',')}\n`;
      }
      const path = await file(text);
      assert.equal(await assertSameOutcome(path, { schema: Wide }, `seed ${seed} (${columns.length} fields)`, 1000), 'ok');
    }
  });

  test('records longer than a read (long quoted fields), plain and gzipped, read the same in both engines', async () => {
    const next = random(77);
    const lines = ['id,note,qty'];
    for (let i = 0; i < 4000; i++) {
      const long = i % 500 === 7;
      const note = long ? `"${'long "" text,\n'.repeat(20_000 + Math.floor(next() * 20_000))}"` : next() < 0.5 ? 'short' : '"a, b"';
      lines.push(`${i},${note},${Math.floor(next() * 100)}`);
    }
    const text = `${lines.join('\r\n')}\r\n`;
    assert.ok(Buffer.byteLength(text) > 3 * 1024 * 1024, 'several reads, records of 300 KB and more');
    const path = await file(text);
    const gzipped = join(dir, `input-${++files}.csv.gz`);
    await writeFile(gzipped, gzipSync(text));
    const Notes = z.object({ id: z.int(), note: z.string(), qty: z.int().nullable() });
    assert.equal(await assertSameOutcome(path, { schema: Notes }, 'long records', 1000), 'ok');
    assert.equal(await assertSameOutcome(gzipped, { schema: Notes }, 'long records, gzipped', 1000), 'ok');
    const plain = await readWith('fast', path, { schema: Notes });
    const unzipped = await readWith('fast', gzipped, { schema: Notes });
    assert.deepEqual(unzipped.rows, plain.rows);
    assert.equal(plain.rows.length, 4000);
  });

  test('a dictionary column that overflows its cap mid-file becomes strings the same way in both engines', async () => {
    const lines = ['id,tag,amount'];
    for (let i = 0; i < 60_000; i++) lines.push(`${i},${i < 30_000 ? ['red', 'green', 'blue'][i % 3] : `tag-${i}`},${(i % 1000) / 4}`);
    const path = await file(`${lines.join('\n')}\n`);
    const outcome = await assertSameOutcome(path, { sampleRows: 1000, dictionaryCap: 100 }, 'dictionary overflow', 5000);
    assert.equal(outcome, 'ok');
    const fast = await readWith('fast', path, { sampleRows: 1000, dictionaryCap: 100 }, 5000);
    assert.deepEqual(new Set(fast.dtypes.map((dtypes) => dtypes.split(',')[1])), new Set(['dictionary', 'string']), 'the file has batches of both kinds');
  });

  test('ragged rows and unclosed quotes give the same error in both engines', async () => {
    const codes = new Set<string>();
    for (let seed = 300; seed <= 340; seed++) {
      const quoteError = seed % 2 === 0;
      const path = await file(generate(seed, { rows: 100, badRate: 0, raggedRate: quoteError ? 0 : 0.02, quoteError }));
      codes.add(await assertSameOutcome(path, { schema: Row }, `seed ${seed} (errors)`));
    }
    assert.ok(codes.has('CSV_FIELD_COUNT') && codes.has('CSV_QUOTE_NOT_CLOSED') && codes.has('CSV_INVALID_QUOTE'), [...codes].join(' '));
  });

  test('timestamps zod options refuse (precision, no offset, local) are rejected by both engines', async () => {
    const values = ['2024-01-01T10:00:00Z', '2024-01-01T10:00:00.123Z', '2024-01-01T10:00:00+02:00', '2024-01-01T10:00:00', '2024-01-01T10:00Z'];
    const text = `id,at\n${Array.from({ length: 200 }, (_, i) => `${i},${values[i % values.length]}`).join('\n')}\n`;
    const path = await file(text);
    const schemas = {
      precision3: z.iso.datetime({ precision: 3 }),
      default: z.iso.datetime(),
      offset: z.iso.datetime({ offset: true }),
      local: z.iso.datetime({ local: true }),
    };
    const accepted: Record<string, number> = {};
    for (const [label, at] of Object.entries(schemas)) {
      assert.equal(await assertSameOutcome(path, { schema: z.object({ id: z.int(), at }) }, label), 'ok');
      accepted[label] = (await readWith('fast', path, { schema: z.object({ id: z.int(), at }) })).rows.length;
    }
    // Each value is accepted exactly where zod's own check accepts it: 40 rows per value.
    const expected = Object.fromEntries(
      Object.entries(schemas).map(([label, at]) => [label, 40 * values.filter((value) => at.safeParse(value).success).length]),
    );
    assert.deepEqual(accepted, expected);
    assert.equal(expected.precision3, 40);
  });

  test('latin1 input and a custom delimiter and quote', async () => {
    const text = "id;name\n1;'caf\xe9'\n2;'a;b'\n3;'it''s'\n";
    const path = await file(Buffer.from(text, 'latin1'));
    const options = { encoding: 'latin1', delimiter: ';', quote: "'" } as const;
    await assertSameOutcome(path, options, 'latin1');
    const fast = await readWith('fast', path, options);
    assert.deepEqual(fast.rows, [
      { id: 1, name: 'café' },
      { id: 2, name: 'a;b' },
      { id: 3, name: "it's" },
    ]);
  });
});

/** The fast engine's error on `content`, the same with code generation and without. */
async function fastFailure(content: string | Buffer, options: CsvOptions<z.ZodObject | undefined, string> = {}) {
  const path = await file(content);
  const errors = [];
  for (const mode of CODE_GENERATION_MODES) {
    const summary = await withCodeGeneration(mode.enabled, () => run(pipeline().from(csv(path, { engine: 'fast', ...options })).to(collect())));
    assert.equal(summary.status, 'failed', mode.label);
    errors.push(summary.error!);
  }
  assert.deepEqual(errors[1], errors[0], 'the same error without code generation');
  return { path, error: errors[0] };
}

describe('fast engine: bad input', () => {
  const body = (rows: number) => Array.from({ length: rows }, (_, i) => `${i},n${i},${i}`).join('\n');

  test('an unclosed quote at line N is reported at line N, not at the end of the file', async () => {
    const { path, error } = await fastFailure(`id,name,score\n${body(50_000)}\n1,"oops,2\n${body(50_000)}\n`);
    assert.equal(error.code, 'CSV_QUOTE_NOT_CLOSED');
    assert.equal(error.file, path);
    assert.equal(error.line, 50_002);
    assert.equal(error.column, 3);
  });

  test('too many and too few fields are reported with their line and column', async () => {
    let { error } = await fastFailure(`id,name,score\n${body(30_000)}\n2,b,2,extra\n`);
    assert.deepEqual([error.code, error.line, error.column, error.value], ['CSV_FIELD_COUNT', 30_002, 7, '4']);
    ({ error } = await fastFailure(`id,name,score\n${body(30_000)}\n2,b\n`));
    assert.deepEqual([error.code, error.line, error.column, error.value], ['CSV_FIELD_COUNT', 30_002, 5, '2']);
  });

  test('invalid UTF-8 is reported with its byte offset', async () => {
    const head = `id,name,score\n${body(40_000)}\n1,ab`;
    const { error } = await fastFailure(Buffer.concat([Buffer.from(head), Buffer.from([0xc3, 0x28]), Buffer.from(',1\n')]));
    assert.equal(error.code, 'CSV_INVALID_UTF8');
    assert.equal(error.byteOffset, Buffer.byteLength(head));
  });

  test('a record longer than maxRecordBytes fails without holding more than the limit', async () => {
    // An unclosed quote that runs through 8 MB of input, with a 64 KB limit.
    const { error } = await fastFailure(`id,name,score\n1,"${'x'.repeat(8 << 20)}\n`, { maxRecordBytes: 65_536 });
    assert.equal(error.code, 'CSV_RECORD_TOO_LARGE');
    assert.equal(error.line, 2);
  });

  test('rows before an error in the same chunk are delivered and rejected in order', async () => {
    const Small = z.object({ id: z.int().max(5), name: z.string(), score: z.int() });
    const path = await file('id,name,score\n1,a,1\n9,b,2\n3,c\n');
    const rejects = join(dir, 'rejects-order.ndjson');
    const sink = collect();
    const summary = await run(pipeline({ rejects: { path: rejects } }).from(csv(path, { engine: 'fast', schema: Small })).to(sink));
    assert.equal(summary.error?.code, 'CSV_FIELD_COUNT');
    assert.equal(summary.rows.rejected, 1);
  });
});

describe('fast engine: batches', () => {
  test('batch size follows batchRows and lines follow the source', async () => {
    const path = await file(`id,name\n${Array.from({ length: 2500 }, (_, i) => `${i},"n\n${i}"`).join('\n')}\n`);
    const sink = collect();
    const summary = await run(pipeline({ batchRows: 1000 }).from(csv(path, { engine: 'fast' })).to(sink));
    assert.equal(summary.status, 'succeeded', JSON.stringify(summary.error));
    assert.equal(sink.rows.length, 2500);
    const first = sink.batches[0] as Batch;
    assert.equal(first.lineOf(0), 2);
    assert.equal(first.lineOf(1), 4);
  });

  test('a limit stops early', async () => {
    const path = await file(`id,name\n${Array.from({ length: 100_000 }, (_, i) => `${i},n${i}`).join('\n')}\n`);
    const sink = collect();
    const summary = await run(pipeline().from(csv(path, { engine: 'fast' })).to(sink), { limit: 7 });
    assert.deepEqual(sink.rows.map((row) => row.id), [0, 1, 2, 3, 4, 5, 6]);
    assert.equal(summary.rows.read, 7);
  });
});
