/**
 * The CSV and NDJSON writers against the plainest reference there is: each row as JS values (Batch#get)
 * turned into text by String, toISOString, JSON.stringify and the CSV quoting rule, on seeded random
 * batches of every dtype with nulls, in chunks of every size; and chunks handed back for reuse. Every
 * case runs on both writers, the generated one and the interpreted one (code generation off), which
 * must write the same bytes.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Batch, columnFromValues, Dictionary, pipeline, runOrThrow, toCsv, toNdjson } from '../../../src/index.ts';
import type { DType } from '../../../src/batch/dtype.ts';
import { RowTextEncoder } from '../../../src/connectors/files/format.ts';
import { CODE_GENERATION_MODES, withCodeGeneration } from '../../support/codegen.ts';
import { fromBatches, tempDir } from '../../support/fakes.ts';
import { random } from '../../support/random.ts';

const dir = await tempDir('sluice-row-writer-');
let files = 0;

const STRINGS = ['', 'plain', 'a,b', 'say "hi"', 'two\nlines', 'cr\rhere', ' lead', 'trail ', 'ünïcödé', '日本', '😀', 'back\\slash', 'tab\there', '\u0001ctl'];

function randomValue(next: () => number, dtype: DType): unknown {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)];
  switch (dtype) {
    case 'int8':
      return Math.floor(next() * 256) - 128;
    case 'uint8':
      return Math.floor(next() * 256);
    case 'int16':
      return Math.floor(next() * 65536) - 32768;
    case 'int32':
      return pick([0, -1, 2147483647, -2147483648, Math.floor(next() * 2e9) - 1e9]);
    case 'uint32':
      return pick([0, 4294967295, 2147483648, Math.floor(next() * 4e9)]);
    case 'float32':
      return pick([0.5, -1.25, 3, 1e20, Math.fround(next() * 100)]);
    case 'float64':
      return pick([0, -0, 1.5, -2.25, 12.34, 0.1 + 0.2, 1e21, 1e-7, 123456789.0123, Number.MAX_SAFE_INTEGER, 2 ** 60, -next() * 1e6, Number.NaN, Infinity, (next() * 500).toFixed(2)].map(Number));
    case 'bool':
      return next() < 0.5;
    case 'timestamp':
      return new Date(pick([0, 1_700_000_000_123, -1, -62_167_219_200_000, 253_402_300_799_999, 8.64e15, -8.64e15, Math.floor(next() * 2e12)]));
    case 'date':
      return new Date(pick([0, 19_000, -719_528, 2_932_896, 100_000_000, -100_000_000, Math.floor(next() * 30_000)]) * 86_400_000);
    default:
      return pick(STRINGS);
  }
}

const DTYPES: DType[] = ['int8', 'uint8', 'int16', 'int32', 'uint32', 'float32', 'float64', 'bool', 'timestamp', 'date', 'string', 'dictionary'];

/** Every dtype `copies` times over (wide rows are written by several generated functions). */
function randomBatch(seed: number, rows: number, copies = 1): Batch {
  const next = random(seed);
  const dictionary = new Dictionary();
  const columns: Record<string, ReturnType<typeof columnFromValues>> = {};
  for (let copy = 0; copy < copies; copy++) {
    for (const dtype of DTYPES) {
      const values = Array.from({ length: rows }, () => (next() < 0.15 ? null : randomValue(next, dtype === 'dictionary' ? 'string' : dtype)));
      columns[`c_${dtype}_${copy}`] = columnFromValues(dtype, values, dtype === 'dictionary' ? dictionary : undefined);
    }
  }
  return new Batch(columns, rows);
}

function csvQuote(text: string): string {
  return text === '' ? '""' : /[,"\r\n]|^\s|\s$/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function csvCell(value: unknown): string {
  if (value === null) return '';
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'string') return csvQuote(value);
  return String(value);
}

/** Reference rows: a date column's cells are days, written YYYY-MM-DD. */
function referenceCsv(batch: Batch): string {
  const lines = [batch.names.join(',')];
  for (let i = 0; i < batch.length; i++) {
    lines.push(
      batch.names
        .map((name) => {
          const value = batch.columns[name].get(i);
          if (batch.columns[name].dtype === 'date' && value instanceof Date) return value.toISOString().slice(0, value.toISOString().indexOf('T'));
          return csvCell(value);
        })
        .join(','),
    );
  }
  return `${lines.join('\n')}\n`;
}

function referenceNdjson(batch: Batch): string {
  let text = '';
  for (let i = 0; i < batch.length; i++) {
    const row: Record<string, unknown> = {};
    for (const name of batch.names) {
      const value = batch.columns[name].get(i);
      if (value instanceof Date) {
        const iso = value.toISOString();
        row[name] = batch.columns[name].dtype === 'date' ? iso.slice(0, iso.indexOf('T')) : iso;
      } else row[name] = value;
    }
    text += `${JSON.stringify(row)}\n`;
  }
  return text;
}

describe('CSV and NDJSON writers', () => {
  test('random batches of every dtype, with nulls, read as String, toISOString and JSON.stringify write them; the same bytes with code generation off', async () => {
    for (let seed = 1; seed <= 12; seed++) {
      // Seeds 11 and 12: 120 and 360 columns.
      const batch = randomBatch(seed, 50 + seed * 37, seed === 11 ? 10 : seed === 12 ? 30 : 1);
      const written: Buffer[][] = [];
      for (const mode of CODE_GENERATION_MODES) {
        const csvPath = join(dir, `out-${++files}.csv`);
        const ndjsonPath = join(dir, `out-${++files}.ndjson`);
        await withCodeGeneration(mode.enabled, async () => {
          await runOrThrow(pipeline().from(fromBatches([batch])).to(toCsv(csvPath)));
          await runOrThrow(pipeline().from(fromBatches([batch])).to(toNdjson(ndjsonPath)));
        });
        assert.equal(await readFile(csvPath, 'utf8'), referenceCsv(batch), `seed ${seed} csv, ${mode.label}`);
        assert.equal(await readFile(ndjsonPath, 'utf8'), referenceNdjson(batch), `seed ${seed} ndjson, ${mode.label}`);
        written.push([await readFile(csvPath), await readFile(ndjsonPath)]);
      }
      assert.ok(written[0][0].equals(written[1][0]) && written[0][1].equals(written[1][1]), `seed ${seed}: generated and jitless bytes`);
    }
  });

  test('SLUICE_JITLESS=1 gives the sinks the interpreted writer', async () => {
    const style = { json: false, delimiter: 0x2c, quote: csvQuote };
    assert.equal(await withCodeGeneration(true, () => new RowTextEncoder(style).generated), true);
    assert.equal(await withCodeGeneration(false, () => new RowTextEncoder(style).generated), false);
  });

  for (const mode of CODE_GENERATION_MODES) {
    const encoder = () => new RowTextEncoder({ json: false, delimiter: 0x2c, quote: csvQuote }, mode.enabled);

    test(`${mode.label}: a batch larger than a chunk comes out in several chunks of whole rows, in order`, () => {
      for (const copies of [1, 5]) {
        // 5 copies: 60 columns, the generated writer's segmented form.
        const batch = randomBatch(99, 12_000 / copies, copies);
        const names = batch.names;
        const chunks = encoder().encode(batch, names.map((_, c) => (c === 0 ? new Uint8Array(0) : Uint8Array.of(0x2c))), Uint8Array.of(0x0a));
        assert.ok(chunks.length >= 2, `${chunks.length} chunks`);
        for (const chunk of chunks) assert.equal(chunk[chunk.length - 1], 0x0a, 'every chunk ends a row');
        const text = Buffer.concat(chunks).toString('utf8');
        assert.equal(`${names.join(',')}\n${text}`, referenceCsv(batch));
      }
    });

    test(`${mode.label}: a row larger than a chunk gets a chunk of its own size`, () => {
      const long = 'x'.repeat(3 << 20);
      const batch = new Batch({ text: columnFromValues('string', ['a', long, 'b']) }, 3);
      const chunks = encoder().encode(batch, [new Uint8Array(0)], Uint8Array.of(0x0a));
      assert.equal(Buffer.concat(chunks).toString('utf8'), `a\n${long}\nb\n`);
    });

    test(`${mode.label}: a released chunk is handed out again, never one still lent`, () => {
      const writer = encoder();
      const one = (values: string[]) => new Batch({ text: columnFromValues('string', values) }, values.length);
      const [first] = writer.encode(one(['a', 'b', 'c']), [new Uint8Array(0)], Uint8Array.of(0x0a));
      const [second] = writer.encode(one(['d']), [new Uint8Array(0)], Uint8Array.of(0x0a));
      assert.notEqual(second.buffer, first.buffer, 'a chunk still lent is not handed out again');
      writer.release(first);
      const [third] = writer.encode(one(['e', 'f']), [new Uint8Array(0)], Uint8Array.of(0x0a));
      assert.equal(third.buffer, first.buffer, 'a released chunk is reused');
      assert.equal(Buffer.from(third).toString(), 'e\nf\n');
      assert.equal(Buffer.from(second).toString(), 'd\n');
    });
  }
});
