/**
 * The scanner against csv-parse (the fallback engine) on seeded random CSV, and both against the
 * records the generator meant to write. csv-parse gets {@link CSV_PARSE_OPTIONS}, the options that
 * match the scanner's decisions (mixed line breaks, skipped empty lines, BOM).
 *
 * Where they cannot agree: csv-parse gives '' for both an empty unquoted field and "", the scanner
 * gives null for the first; and csv-parse reports an unclosed quote at the end of the input, the
 * scanner where the quote opened (checked against the generator instead); and csv-parse counts a CRLF
 * inside a quoted field as two lines.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'csv-parse/sync';
import { CSV_PARSE_OPTIONS, CsvScanner, type FieldSink } from '../../../src/connectors/csv/scanner.ts';
import { collapseQuotes, decodeUtf8 } from '../../../src/codec/byte-text.ts';
import { SluiceError } from '../../../src/core/errors.ts';
import { random } from '../../support/random.ts';

type Field = string | null;


type Malformation = 'none' | 'unclosed-quote' | 'quote-in-unquoted' | 'data-after-closing-quote';

interface Generated {
  text: string;
  records: Field[][];
  /** Character offset of the byte the scanner must report, for malformed inputs. */
  errorAt: number;
  /** CRLFs inside quoted fields before the error: csv-parse counts each as two lines. */
  crlfInQuotesBeforeError: number;
  malformation: Malformation;
}

const PLAIN = ['a', 'b', 'xyz', '42', '-3.5', 'héllo', '日本', '😀', ' spaced ', 'NULL', 'tab\there'];
const SPECIAL = [',', '"', '\n', '\r\n', '\r', ' ', 'é', 'x'];
const LINE_BREAKS = ['\n', '\r\n', '\r'];

function generate(next: () => number, malformation: Malformation): Generated {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)];
  const recordCount = 1 + Math.floor(next() * 12);
  const width = 1 + Math.floor(next() * 5);
  const badRecord = Math.floor(next() * recordCount);
  let text = next() < 0.2 ? '\uFEFF' : '';
  let errorAt = -1;
  let crlfInQuotesBeforeError = 0;
  const records: Field[][] = [];
  for (let r = 0; r < recordCount; r++) {
    const fieldCount = next() < 0.2 ? 1 + Math.floor(next() * 6) : width; // ragged rows
    const record: Field[] = [];
    // After an unclosed quote, nothing may close it: the rest is quote-free.
    const quoteFree = malformation === 'unclosed-quote' && r >= badRecord;
    for (let f = 0; f < fieldCount; f++) {
      if (f > 0) text += ',';
      const bad = r === badRecord && f === fieldCount - 1 && errorAt < 0;
      const kind = next();
      if (bad && malformation === 'unclosed-quote') {
        errorAt = text.length;
        text += `"${pick(PLAIN)}`;
        record.push(null);
      } else if (bad && malformation === 'quote-in-unquoted') {
        text += 'ab';
        errorAt = text.length;
        text += '"c';
        record.push(null);
      } else if (bad && malformation === 'data-after-closing-quote') {
        text += `"${pick(PLAIN)}\n"`;
        errorAt = text.length;
        text += 'z';
        record.push(null);
      } else if (kind < 0.15) {
        record.push(null); // empty unquoted
      } else if (kind < 0.6 || quoteFree) {
        const value = pick(PLAIN);
        text += value;
        record.push(value);
      } else {
        let value = '';
        const length = Math.floor(next() * 6);
        for (let k = 0; k < length; k++) value += next() < 0.5 ? pick(SPECIAL) : pick(PLAIN);
        text += `"${value.replaceAll('"', '""')}"`;
        if (errorAt < 0) crlfInQuotesBeforeError += value.split('\r\n').length - 1;
        record.push(value);
      }
    }
    // A record of one empty unquoted field is an empty line: skipped.
    if (!(record.length === 1 && record[0] === null && malformation === 'none')) records.push(record);
    if (r < recordCount - 1 || next() < 0.7) text += pick(LINE_BREAKS);
  }
  return { text, records, errorAt, crlfInQuotesBeforeError, malformation };
}

class CollectingSink implements FieldSink {
  readonly records: Field[][] = [];
  private fields: Field[] = [];
  private scratch = new Uint8Array(256);
  field(_index: number, buf: Uint8Array, start: number, end: number, quoted: boolean, escapedQuotes: boolean): void {
    if (!quoted && start === end) this.fields.push(null);
    else if (escapedQuotes) {
      if (this.scratch.length < end - start) this.scratch = new Uint8Array(end - start);
      this.fields.push(decodeUtf8(this.scratch, 0, collapseQuotes(buf, start, end, this.scratch)));
    } else this.fields.push(decodeUtf8(buf, start, end));
  }
  endRecord(): void {
    this.records.push(this.fields);
    this.fields = [];
  }
}

function runScanner(bytes: Uint8Array, next: () => number): Field[][] | SluiceError {
  const sink = new CollectingSink();
  const scanner = new CsvScanner(sink);
  try {
    for (let i = 0; i < bytes.length; ) {
      const size = 1 + Math.floor(next() * 24);
      scanner.push(bytes.subarray(i, i + size));
      i += size;
    }
    scanner.end();
  } catch (error) {
    if (error instanceof SluiceError) return error;
    throw error;
  }
  return sink.records;
}

function runCsvParse(text: string): string[][] | { code: string; lines: number } {
  try {
    return parse(text, { ...CSV_PARSE_OPTIONS, record_delimiter: [...CSV_PARSE_OPTIONS.record_delimiter] }) as string[][];
  } catch (error) {
    const { code, lines } = error as { code: string; lines: number };
    return { code, lines };
  }
}

/** Where the scanner must put an error at character offset `at`: physical line, code-point column, byte offset. */
function positionOf(text: string, at: number): { line: number; column: number; byteOffset: number } {
  let line = 1;
  let lineStart = text.startsWith('\uFEFF') ? 1 : 0;
  for (let i = lineStart; i < at; i++) {
    const c = text[i];
    if (c === '\n' || (c === '\r' && text[i + 1] !== '\n')) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: [...text.slice(lineStart, at)].length + 1, byteOffset: Buffer.byteLength(text.slice(0, at)) };
}

const CSV_PARSE_CODE: Record<string, string> = {
  CSV_QUOTE_NOT_CLOSED: 'CSV_QUOTE_NOT_CLOSED',
  INVALID_OPENING_QUOTE: 'CSV_INVALID_QUOTE',
  CSV_INVALID_CLOSING_QUOTE: 'CSV_INVALID_QUOTE',
};

describe('CsvScanner against csv-parse on random CSV', () => {
  it('reads the same records as csv-parse and as generated, on 600 valid inputs', () => {
    const next = random(20240601);
    for (let n = 0; n < 600; n++) {
      const { text, records } = generate(next, 'none');
      const context = `case ${n}: ${JSON.stringify(text)}`;
      const scanned = runScanner(Buffer.from(text, 'utf8'), next);
      if (scanned instanceof SluiceError) assert.fail(`${context}: ${scanned.message}`);
      assert.deepEqual(scanned, records, context);
      const reference = runCsvParse(text);
      assert.ok(Array.isArray(reference), `${context}: csv-parse failed`);
      assert.deepEqual(scanned.map((record) => record.map((field) => field ?? '')), reference, context);
    }
  });

  for (const malformation of ['unclosed-quote', 'quote-in-unquoted', 'data-after-closing-quote'] as const) {
    it(`fails like csv-parse on 150 inputs with ${malformation}, at the exact place`, () => {
      const next = random(malformation.length * 7919);
      for (let n = 0; n < 150; n++) {
        const generated = generate(next, malformation);
        const { text } = generated;
        const context = `case ${n}: ${JSON.stringify(text)}`;
        const scanned = runScanner(Buffer.from(text, 'utf8'), next);
        assert.ok(scanned instanceof SluiceError, `${context}: scanner did not fail`);
        const reference = runCsvParse(text);
        assert.ok(!Array.isArray(reference), `${context}: csv-parse did not fail`);
        assert.equal(scanned.code, CSV_PARSE_CODE[reference.code], context);
        const { line, column, byteOffset } = positionOf(text, generated.errorAt);
        assert.deepEqual([scanned.details.line, scanned.details.column, scanned.details.byteOffset], [line, column, byteOffset], context);
        // csv-parse names the line of a bad quote (counting a CRLF inside quotes as two lines); for an
        // unclosed quote it names the end of the input instead.
        if (scanned.code === 'CSV_INVALID_QUOTE') assert.equal(reference.lines, line + generated.crlfInQuotesBeforeError, context);
      }
    });
  }
});
