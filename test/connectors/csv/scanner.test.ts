import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CsvScanner, type CsvScannerOptions, type FieldSink } from '../../../src/connectors/csv/scanner.ts';
import { collapseQuotes, decodeUtf8 } from '../../../src/codec/byte-text.ts';
import { SluiceError } from '../../../src/core/errors.ts';

/** A field as text; null for an empty unquoted field. */
type Field = string | null;
interface ScannedRecord {
  fields: Field[];
  line: number;
  byteOffset: number;
}

/** A sink that decodes every field, so records can be compared as plain data. */
class CollectingSink implements FieldSink {
  readonly records: ScannedRecord[] = [];
  private fields: Field[] = [];
  private scratch = new Uint8Array(64);
  limit = Infinity;

  field(index: number, buf: Uint8Array, start: number, end: number, quoted: boolean, escapedQuotes: boolean): void {
    assert.equal(index, this.fields.length, 'fields are reported in order');
    if (!quoted && start === end) {
      this.fields.push(null);
      return;
    }
    if (escapedQuotes) {
      if (this.scratch.length < end - start) this.scratch = new Uint8Array(end - start);
      this.fields.push(decodeUtf8(this.scratch, 0, collapseQuotes(buf, start, end, this.scratch)));
      return;
    }
    this.fields.push(decodeUtf8(buf, start, end));
  }

  endRecord(fieldCount: number, line: number, byteOffset: number): boolean {
    assert.equal(fieldCount, this.fields.length);
    this.records.push({ fields: this.fields, line, byteOffset });
    this.fields = [];
    return this.records.length < this.limit;
  }
}

function scan(input: string | Uint8Array, options: CsvScannerOptions = {}, chunkSize = Infinity): ScannedRecord[] {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  const sink = new CollectingSink();
  const scanner = new CsvScanner(sink, options);
  for (let i = 0; i < bytes.length; i += chunkSize) scanner.push(bytes.subarray(i, Math.min(bytes.length, i + chunkSize)));
  scanner.end();
  return sink.records;
}

function fieldsOf(input: string, options: CsvScannerOptions = {}): Field[][] {
  return scan(input, options).map((record) => record.fields);
}

/** Runs `input` split at every pair of byte positions' worth of chunkings: 1..n-byte chunks and every 2-way split. */
function* chunkings(bytes: Uint8Array): Generator<Uint8Array[]> {
  for (let cut = 0; cut <= bytes.length; cut++) yield [bytes.subarray(0, cut), bytes.subarray(cut)];
  for (let size = 1; size <= Math.min(bytes.length, 8); size++) {
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
    yield chunks;
  }
}

function scanChunks(chunks: Uint8Array[], options: CsvScannerOptions = {}): ScannedRecord[] | SluiceError {
  const sink = new CollectingSink();
  const scanner = new CsvScanner(sink, options);
  try {
    for (const chunk of chunks) scanner.push(chunk);
    scanner.end();
  } catch (error) {
    if (error instanceof SluiceError) return error;
    throw error;
  }
  return sink.records;
}

function scanError(input: string, options: CsvScannerOptions = {}): SluiceError {
  const result = scanChunks([Buffer.from(input, 'utf8')], options);
  assert.ok(result instanceof SluiceError, `expected an error for ${JSON.stringify(input)}`);
  return result;
}

describe('CsvScanner: RFC 4180 records', () => {
  it('splits fields on the delimiter and records on LF', () => {
    assert.deepEqual(fieldsOf('a,b,c\n1,2,3\n'), [['a', 'b', 'c'], ['1', '2', '3']]);
  });

  it('accepts CRLF, LF and a lone CR as line breaks, mixed in one input', () => {
    assert.deepEqual(fieldsOf('a,b\r\nc,d\ne,f\rg,h\r\n'), [['a', 'b'], ['c', 'd'], ['e', 'f'], ['g', 'h']]);
  });

  it('reports the final record without a trailing line break', () => {
    assert.deepEqual(fieldsOf('a,b\nc,d'), [['a', 'b'], ['c', 'd']]);
    assert.deepEqual(fieldsOf('a,b\r\nc,'), [['a', 'b'], ['c', null]]);
  });

  it('reports nothing for empty input', () => {
    assert.deepEqual(fieldsOf(''), []);
  });

  it('keeps delimiters, CR, LF and CRLF inside quotes as data', () => {
    assert.deepEqual(fieldsOf('"a,b","c\nd","e\r\nf","g\rh"\n'), [['a,b', 'c\nd', 'e\r\nf', 'g\rh']]);
  });

  it('collapses doubled quotes only when asked, and flags them', () => {
    const flags: boolean[] = [];
    const scanner = new CsvScanner({ field: (_i, _b, _s, _e, _q, escaped) => void flags.push(escaped), endRecord: () => {} });
    scanner.push(Buffer.from('"say ""hi""","plain",x\n'));
    scanner.end();
    assert.deepEqual(flags, [true, false, false]);
    assert.deepEqual(fieldsOf('"say ""hi""",""""\n'), [['say "hi"', '"']]);
  });

  it('tells a quoted empty string from an empty unquoted field (null)', () => {
    assert.deepEqual(fieldsOf('"",,x,""\n'), [['', null, 'x', '']]);
  });

  it('excludes the quotes from a quoted field and reports `quoted`', () => {
    const seen: [string, boolean][] = [];
    const scanner = new CsvScanner({ field: (_i, buf, start, end, quoted) => void seen.push([decodeUtf8(buf, start, end), quoted]), endRecord: () => {} });
    scanner.push(Buffer.from('"ab",cd'));
    scanner.end();
    assert.deepEqual(seen, [['ab', true], ['cd', false]]);
  });

  it('skips empty lines by default (LF, CRLF, CR), but not lines of spaces', () => {
    assert.deepEqual(fieldsOf('\na\n\n\r\n\rb\n \n\n'), [['a'], ['b'], [' ']]);
  });

  it('reports an empty line as one null field with skipEmptyLines: false', () => {
    assert.deepEqual(fieldsOf('a\n\r\nb\n', { skipEmptyLines: false }), [['a'], [null], ['b']]);
  });

  it('skips a UTF-8 BOM at the very start, and only there', () => {
    assert.deepEqual(fieldsOf('\uFEFFa,b\n\uFEFFc\n'), [['a', 'b'], ['\uFEFFc']]);
    const records = scan('\uFEFFa\nb\n');
    assert.deepEqual(records.map((record) => record.byteOffset), [3, 5]);
  });

  it('handles an input that is only a BOM or a BOM prefix', () => {
    assert.deepEqual(fieldsOf('\uFEFF'), []);
    assert.deepEqual(scan(new Uint8Array([0xef, 0xbb])).map((record) => record.fields), [['\uFFFD']]);
  });

  it('uses the dialect delimiter and quote', () => {
    assert.deepEqual(fieldsOf("'a;b';c\n", { dialect: { delimiter: 0x3b, quote: 0x27 } }), [['a;b', 'c']]);
    assert.deepEqual(fieldsOf('a\tb\n', { dialect: { delimiter: 0x09 } }), [['a', 'b']]);
  });

  it('rejects a bad dialect with a hint', () => {
    assert.throws(() => new CsvScanner(new CollectingSink(), { dialect: { delimiter: 0x0a } }), { code: 'INVALID_OPTION' });
    assert.throws(() => new CsvScanner(new CollectingSink(), { dialect: { delimiter: 0x22 } }), { code: 'INVALID_OPTION' });
    assert.throws(() => new CsvScanner(new CollectingSink(), { maxRecordBytes: 0 }), { code: 'INVALID_OPTION' });
  });
});

describe('CsvScanner: positions', () => {
  it('gives each record its 1-based starting physical line and byte offset', () => {
    const records = scan('a\n"b\nc"\r\n\nd\re');
    assert.deepEqual(
      records.map(({ line, byteOffset }) => [line, byteOffset]),
      [[1, 0], [2, 2], [5, 10], [6, 12]],
    );
  });

  it('counts lines and bytes consumed, for progress', () => {
    const scanner = new CsvScanner(new CollectingSink());
    scanner.push(Buffer.from('a,b\nc,d\ne,'));
    assert.equal(scanner.line, 3);
    assert.equal(scanner.bytesConsumed, 8);
    assert.equal(scanner.bufferedBytes, 2);
    scanner.push(Buffer.from('f\n'));
    assert.equal(scanner.line, 4);
    assert.equal(scanner.bytesConsumed, 12);
    assert.equal(scanner.bufferedBytes, 0);
  });

  it('locates a field by line and character column for a field-count error', () => {
    const located: unknown[] = [];
    const scanner = new CsvScanner(
      {
        field: () => {},
        endRecord(fieldCount) {
          if (fieldCount > 2) located.push(scanner.locateField(2));
        },
      },
      { file: 'orders.csv' },
    );
    scanner.push(Buffer.from('a,b\n"x\né",ü,"z"\n'));
    scanner.end();
    // The third field opens on line 3, after `é",ü,` (5 characters, 7 bytes).
    assert.deepEqual(located, [{ file: 'orders.csv', line: 3, column: 6, byteOffset: 14 }]);
  });

  it('stops when endRecord returns false and ignores later input', () => {
    const sink = new CollectingSink();
    sink.limit = 2;
    const scanner = new CsvScanner(sink);
    scanner.push(Buffer.from('1\n2\n3\n'));
    scanner.push(Buffer.from('4\n'));
    scanner.end();
    assert.deepEqual(sink.records.map((record) => record.fields), [['1'], ['2']]);
    assert.equal(scanner.stopped, true);
    assert.equal(scanner.bytesConsumed, 4);
  });
});

describe('CsvScanner: chunk boundaries', () => {
  const inputs = [
    'a,b\r\nc,"d\r\ne"\n"x""y",\n',
    '\uFEFFid,"na,me"\r\n1,"é ""q"""\r2,\n\n3,""',
    '"",""\r\n\r\n,\r"a\rb"\r',
    'é,ü\n"€\n",z',
    '\uFEFF',
    'a\r',
  ];
  for (const input of inputs) {
    it(`gives identical records for every split of ${JSON.stringify(input)}`, () => {
      const bytes = Buffer.from(input, 'utf8');
      const expected = scan(bytes);
      for (const chunks of chunkings(bytes)) assert.deepEqual(scanChunks(chunks), expected, `chunks ${chunks.map((c) => c.length).join('+')}`);
    });
  }

  const badInputs = ['a,b\n"c,d\ne,f\n', 'x\n"a\nb"c,d\n', 'ok\nab"c\n', 'x,"y"\r\n"é"z'];
  for (const input of badInputs) {
    it(`gives the same error for every split of ${JSON.stringify(input)}`, () => {
      const bytes = Buffer.from(input, 'utf8');
      const expected = scanChunks([bytes]);
      assert.ok(expected instanceof SluiceError);
      for (const chunks of chunkings(bytes)) {
        const result = scanChunks(chunks);
        assert.ok(result instanceof SluiceError);
        assert.equal(result.code, expected.code);
        assert.deepEqual(result.details, expected.details);
      }
    });
  }
});

describe('CsvScanner: errors', () => {
  it('reports an unclosed quote where it opened, not at the end of the input', () => {
    const error = scanError('a,b\nc,"d\ne,f\ng,h\n', { file: 'in.csv' });
    assert.equal(error.code, 'CSV_QUOTE_NOT_CLOSED');
    assert.deepEqual({ file: error.details.file, line: error.details.line, column: error.details.column, byteOffset: error.details.byteOffset }, { file: 'in.csv', line: 2, column: 3, byteOffset: 6 });
    assert.match(error.message, /line 2, column 3/);
  });

  it('reports a closing quote followed by data at both the opening line and the bad byte', () => {
    const error = scanError('id,note\n1,"one\ntwo"x,3\n');
    assert.equal(error.code, 'CSV_INVALID_QUOTE');
    assert.equal(error.details.line, 3);
    assert.equal(error.details.column, 5);
    assert.equal(error.details.byteOffset, 19);
    assert.match(error.message, /opened at line 2, column 3/);
    assert.match(error.message, /"x" at line 3, column 5/);
  });

  it('rejects a quote inside an unquoted field', () => {
    const error = scanError('a,b\ncd,ab"c\n');
    assert.equal(error.code, 'CSV_INVALID_QUOTE');
    assert.deepEqual([error.details.line, error.details.column, error.details.byteOffset], [2, 6, 9]);
    assert.equal(error.details.value, 'ab"');
  });

  it('counts columns in characters, not bytes', () => {
    const error = scanError('ééé,x"\n');
    assert.deepEqual([error.details.line, error.details.column, error.details.byteOffset], [1, 6, 8]);
  });

  it('reports no record of a failing chunk before the error', () => {
    const sink = new CollectingSink();
    const scanner = new CsvScanner(sink);
    assert.throws(() => scanner.push(Buffer.from('a,b\nc,d"\n')), { code: 'CSV_INVALID_QUOTE' });
    assert.deepEqual(sink.records.map((record) => record.fields), [['a', 'b']]);
  });

  it('rejects a record longer than maxRecordBytes, within one chunk or across chunks', () => {
    for (const chunkSize of [Infinity, 7, 1]) {
      const sink = new CollectingSink();
      const scanner = new CsvScanner(sink, { maxRecordBytes: 10 });
      const input = Buffer.from('0123456789\n01234,67890\nx\n');
      assert.throws(
        () => {
          for (let i = 0; i < input.length; i += chunkSize) scanner.push(input.subarray(i, i + chunkSize));
          scanner.end();
        },
        (error: unknown) => error instanceof SluiceError && error.code === 'CSV_RECORD_TOO_LARGE' && error.details.line === 2 && error.details.byteOffset === 11,
      );
      assert.deepEqual(sink.records.map((record) => record.fields), [['0123456789']], `chunk size ${chunkSize}`);
    }
  });

  it('stops an unclosed quote in a 200 MB input after maxRecordBytes, with bounded memory', () => {
    const maxRecordBytes = 4 * 1024 * 1024;
    const scanner = new CsvScanner(new CollectingSink(), { maxRecordBytes });
    const chunk = new Uint8Array(1024 * 1024).fill(0x61);
    for (let i = 0; i < chunk.length; i += 80) chunk[i] = 0x0a;
    let fed = 0;
    let peak = 0;
    const error = (() => {
      try {
        scanner.push(Buffer.from('id,note\n1,"unclosed\n'));
        while (fed < 200 * 1024 * 1024) {
          scanner.push(chunk);
          fed += chunk.length;
          peak = Math.max(peak, scanner.bufferCapacity, scanner.bufferedBytes);
        }
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    peak = Math.max(peak, scanner.bufferCapacity);
    assert.ok(error instanceof SluiceError && error.code === 'CSV_RECORD_TOO_LARGE', String(error));
    assert.equal(error.details.line, 2);
    assert.match(error.message, /quoted field opened at line 2, column 3 is still open/);
    assert.ok(fed <= maxRecordBytes + chunk.length, `stopped after ${fed} bytes`);
    assert.ok(peak <= 2 * maxRecordBytes, `buffer peaked at ${peak} bytes`);
  });
});
