import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  ByteDictionary,
  collapseQuotes,
  decodeLatin1,
  decodeUtf8,
  findInvalidUtf8,
  parseBoolean,
  parseDate,
  parseFloat64,
  parseInteger,
  parseTimestamp,
} from '../../src/codec/bytes.ts';
import { random } from '../support/random.ts';

/** Calls `parse` on `text` placed in the middle of a larger buffer, so start/end offsets are exercised. */
function onBytes<T>(parse: (buf: Uint8Array, start: number, end: number) => T, text: string): T {
  const bytes = Buffer.from(`##${text}##`, 'latin1');
  return parse(bytes, 2, bytes.length - 2);
}


describe('parseInteger', () => {
  it('reads optionally signed decimal integers', () => {
    for (const text of ['0', '7', '-7', '+42', '000123', '2147483647', '-2147483648', '999999999999999', '9007199254740993', '-12345678901234567890']) {
      assert.equal(onBytes(parseInteger, text), Number(text), text);
    }
  });

  it('returns NaN for anything else, including spaces and empty input', () => {
    for (const text of ['', '-', '+', ' 1', '1 ', '1.0', '1e3', '0x10', '1_000', '12a', 'abc', '12345678901234567x']) {
      assert.ok(Number.isNaN(onBytes(parseInteger, text)), JSON.stringify(text));
    }
  });
});

describe('parseFloat64', () => {
  it('gives exactly the double Number() gives on decimal literals', () => {
    for (const text of ['0', '-0', '1.5', '-2.25', '.5', '5.', '+.5', '1e3', '1E-3', '2.5e+10', '123.456', '0.1', '0.30000000000000004', '1e22', '1e23', '1.7976931348623157e308', '1e309', '5e-324', '1e-400', '00012.50', '9007199254740993', '0.000000000000000000000000001234']) {
      assert.ok(Object.is(onBytes(parseFloat64, text), Number(text)), text);
    }
  });

  it('agrees with Number() on 200 000 random decimals', () => {
    const next = random(7);
    const digits = (count: number) => Array.from({ length: count }, () => Math.floor(next() * 10)).join('');
    for (let n = 0; n < 200_000; n++) {
      let text = next() < 0.2 ? '-' : '';
      const integerDigits = Math.floor(next() * 12);
      const fractionDigits = Math.floor(next() * (next() < 0.1 ? 25 : 8));
      text += digits(integerDigits);
      if (fractionDigits > 0 || integerDigits === 0) text += `.${digits(Math.max(1, fractionDigits))}`;
      if (next() < 0.3) text += `e${next() < 0.5 ? '-' : ''}${Math.floor(next() * 40)}`;
      const expected = Number(text);
      const actual = onBytes(parseFloat64, text);
      if (!Object.is(actual, expected)) assert.fail(`${text}: got ${actual}, Number() gives ${expected}`);
    }
  });

  it('agrees with Number() on the shortest text of random doubles', () => {
    const next = random(11);
    const view = new DataView(new ArrayBuffer(8));
    for (let n = 0; n < 50_000; n++) {
      view.setUint32(0, Math.floor(next() * 2 ** 32));
      view.setUint32(4, Math.floor(next() * 2 ** 32));
      const value = n % 2 === 0 ? view.getFloat64(0) : next() * 10 ** Math.floor(next() * 10);
      if (!Number.isFinite(value)) continue;
      const text = String(value);
      assert.ok(Object.is(onBytes(parseFloat64, text), value), text);
    }
  });

  it('returns NaN for what is not a decimal literal', () => {
    for (const text of ['', '-', '.', '+.', 'e5', '1e', '1e+', '1.2.3', ' 1', '1 ', 'NaN', 'Infinity', '-Infinity', '0x1f', '1,5', '1_0']) {
      assert.ok(Number.isNaN(onBytes(parseFloat64, text)), JSON.stringify(text));
    }
  });
});

describe('parseBoolean', () => {
  it('reads true/false, t/f, yes/no, y/n and 1/0 in any case', () => {
    for (const text of ['true', 'TRUE', 'True', 't', 'T', 'yes', 'YES', 'y', 'Y', '1']) assert.equal(onBytes(parseBoolean, text), 1, text);
    for (const text of ['false', 'FALSE', 'False', 'f', 'F', 'no', 'NO', 'n', 'N', '0']) assert.equal(onBytes(parseBoolean, text), 0, text);
  });

  it('returns -1 for anything else', () => {
    for (const text of ['', 'tru', 'truee', 'on', 'off', '2', ' true', 'yess', 'nah', '\x14rue', 'TRUE!']) assert.equal(onBytes(parseBoolean, text), -1, JSON.stringify(text));
  });
});

describe('parseTimestamp and parseDate', () => {
  it('equals Date.parse on zoned ISO 8601 timestamps', () => {
    for (const text of [
      '2024-01-02T03:04Z',
      '2024-01-02T03:04:05Z',
      '2024-01-02 03:04:05Z',
      '2024-01-02T03:04:05.1Z',
      '2024-01-02T03:04:05.12Z',
      '2024-01-02T03:04:05.123Z',
      '2024-01-02T03:04:05.123456789Z',
      '2024-01-02T03:04:05+05:30',
      '2024-01-02T03:04:05-0800',
      '2024-01-02T03:04:05.5+23:59',
      '1969-12-31T23:59:59.999Z',
      '2000-02-29T12:00:00Z',
      '1900-03-01T00:00Z',
      '0001-01-01T00:00:00Z',
      '9999-12-31T23:59:59.999Z',
      '2024-01-02t03:04z',
    ]) {
      assert.equal(onBytes(parseTimestamp, text), Date.parse(text), text);
    }
  });

  it('equals Date.parse on random valid timestamps', () => {
    const next = random(3);
    const pad = (value: number, width = 2) => String(value).padStart(width, '0');
    for (let n = 0; n < 20_000; n++) {
      const date = new Date(Math.floor((next() - 0.3) * 2 ** 43));
      let text = date.toISOString().slice(0, 19);
      if (next() < 0.5) text += `.${pad(Math.floor(next() * 1000), 3)}`;
      const zone = next();
      if (zone < 0.3) text += 'Z';
      else if (zone < 0.6) text += `${next() < 0.5 ? '+' : '-'}${pad(Math.floor(next() * 24))}:${pad(Math.floor(next() * 60))}`;
      else text += `${next() < 0.5 ? '+' : '-'}${pad(Math.floor(next() * 24))}${pad(Math.floor(next() * 60))}`;
      assert.equal(onBytes(parseTimestamp, text), Date.parse(text), text);
    }
  });

  it('reads a timestamp without a zone, and a bare date, as UTC', () => {
    assert.equal(onBytes(parseTimestamp, '2024-01-02T03:04:05'), Date.parse('2024-01-02T03:04:05Z'));
    assert.equal(onBytes(parseTimestamp, '2024-01-02 03:04'), Date.parse('2024-01-02T03:04Z'));
    assert.equal(onBytes(parseTimestamp, '2024-01-02'), Date.parse('2024-01-02'));
  });

  it('rejects out-of-range fields that Date.parse would roll over or accept', () => {
    for (const text of [
      '2024-02-30',
      '2023-02-29',
      '1900-02-29',
      '2024-13-01',
      '2024-00-10',
      '2024-04-31',
      '2024-01-01T24:00:00Z',
      '2024-01-01T10:60Z',
      '2024-01-01T10:00:60Z',
      '2024-01-01T10:00+24:00',
      '2024-01-01T10:00+05:60',
    ]) {
      assert.ok(Number.isNaN(onBytes(parseTimestamp, text)), text);
    }
  });

  it('rejects malformed text', () => {
    for (const text of ['', '2024', '2024-1-02', '2024/01/02', '2024-01-02T', '2024-01-02T10', '2024-01-02T10:00:', '2024-01-02T10:00:00.', '2024-01-02T10:00:00,5Z', '2024-01-02T10:00ZZ', '2024-01-02T10:00+5', '2024-01-02T10:00+05:3', ' 2024-01-02', '2024-01-02x']) {
      assert.ok(Number.isNaN(onBytes(parseTimestamp, text)), JSON.stringify(text));
    }
  });

  it('parseDate gives days since the epoch and validates the calendar', () => {
    assert.equal(onBytes(parseDate, '1970-01-01'), 0);
    assert.equal(onBytes(parseDate, '1969-12-31'), -1);
    assert.equal(onBytes(parseDate, '2000-03-01'), Date.parse('2000-03-01') / 86_400_000);
    assert.equal(onBytes(parseDate, '2024-02-29'), Date.parse('2024-02-29') / 86_400_000);
    for (const text of ['2023-02-29', '2024-02-30', '2024-01-02T00:00Z', '24-01-02', '']) assert.ok(Number.isNaN(onBytes(parseDate, text)), text);
  });
});

describe('decoding and UTF-8 validation', () => {
  it('decodes UTF-8 and latin-1 ranges of a buffer', () => {
    const bytes = Buffer.from('xxhé€😀yy', 'utf8');
    assert.equal(decodeUtf8(bytes, 2, bytes.length - 2), 'hé€😀');
    assert.equal(decodeLatin1(new Uint8Array([0x41, 0xe9, 0xff]), 0, 3), 'Aéÿ');
    assert.equal(decodeUtf8(new Uint8Array(0), 0, 0), '');
  });

  it('finds the first invalid UTF-8 byte, or -1', () => {
    const cases: [number[], number][] = [
      [[...Buffer.from('plain ascii')], -1],
      [[...Buffer.from('héllo €😀')], -1],
      [[0x61, 0x80, 0x61], 1], // stray continuation
      [[0x61, 0xc0, 0xaf], 1], // overlong '/'
      [[0xe0, 0x80, 0xaf], 0], // overlong
      [[0x61, 0x62, 0xed, 0xa0, 0x80], 2], // surrogate
      [[0xf4, 0x90, 0x80, 0x80], 0], // above U+10FFFF
      [[0xf5, 0x80, 0x80, 0x80], 0],
      [[0x61, 0xe2, 0x82], 1], // cut at the end
      [[0xc3, 0x28], 0], // bad continuation
      [[0xff], 0],
    ];
    for (const [bytes, expected] of cases) assert.equal(findInvalidUtf8(new Uint8Array(bytes), 0, bytes.length), expected, bytes.join(' '));
  });

  it('agrees with TextDecoder fatal mode on random bytes', () => {
    const next = random(5);
    const decoder = new TextDecoder('utf-8', { fatal: true });
    for (let n = 0; n < 20_000; n++) {
      const bytes = Uint8Array.from({ length: 1 + Math.floor(next() * 8) }, () => (next() < 0.5 ? 0x80 + Math.floor(next() * 0x80) : Math.floor(next() * 0x100)));
      let valid = true;
      try {
        decoder.decode(bytes);
      } catch {
        valid = false;
      }
      assert.equal(findInvalidUtf8(bytes, 0, bytes.length) === -1, valid, Buffer.from(bytes).toString('hex'));
    }
  });

  it('collapses doubled quotes into a separate buffer', () => {
    const bytes = Buffer.from('say ""hi"" """"', 'latin1');
    const out = new Uint8Array(bytes.length);
    const length = collapseQuotes(bytes, 0, bytes.length, out);
    assert.equal(decodeLatin1(out, 0, length), 'say "hi" ""');
    assert.equal(decodeLatin1(bytes, 0, bytes.length), 'say ""hi"" """"', 'input untouched');
    const single = Buffer.from("it''s", 'latin1');
    assert.equal(decodeLatin1(out, 0, collapseQuotes(single, 0, single.length, out, 0x27)), "it's");
  });
});

describe('ByteDictionary', () => {
  it('maps byte sequences to codes and answers -1 for unknown ones', () => {
    const dictionary = new ByteDictionary();
    const bytes = Buffer.from('US,DE,FR,,US', 'latin1');
    dictionary.add(bytes, 0, 2, 0);
    dictionary.add(bytes, 3, 5, 1);
    dictionary.add(bytes, 9, 9, 2); // the empty string is a key too
    assert.equal(dictionary.lookup(bytes, 10, 12), 0);
    assert.equal(dictionary.lookup(bytes, 3, 5), 1);
    assert.equal(dictionary.lookup(bytes, 6, 8), -1);
    assert.equal(dictionary.lookup(bytes, 9, 9), 2);
    assert.equal(dictionary.size, 3);
  });

  it('keeps its own copy of the keys', () => {
    const dictionary = new ByteDictionary();
    const bytes = Buffer.from('paid', 'latin1');
    dictionary.add(bytes, 0, 4, 7);
    bytes.fill(0);
    assert.equal(dictionary.lookup(Buffer.from('paid'), 0, 4), 7);
  });

  it('replaces the code of a key added twice', () => {
    const dictionary = new ByteDictionary();
    const bytes = Buffer.from('a');
    dictionary.add(bytes, 0, 1, 1);
    dictionary.add(bytes, 0, 1, 2);
    assert.equal(dictionary.lookup(bytes, 0, 1), 2);
    assert.equal(dictionary.size, 1);
  });

  it('agrees with a Map over 50 000 keys while growing', () => {
    const dictionary = new ByteDictionary(4);
    const reference = new Map<string, number>();
    const next = random(9);
    for (let n = 0; n < 100_000; n++) {
      const key = Math.floor(next() * 50_000).toString(36) + (next() < 0.1 ? 'é' : '');
      const bytes = Buffer.from(`,${key},`);
      const code = dictionary.lookup(bytes, 1, bytes.length - 1);
      assert.equal(code, reference.get(key) ?? -1, key);
      if (code < 0) {
        reference.set(key, reference.size);
        dictionary.add(bytes, 1, bytes.length - 1, reference.size - 1);
      }
    }
    assert.equal(dictionary.size, reference.size);
    dictionary.clear();
    assert.equal(dictionary.size, 0);
    assert.equal(dictionary.lookup(Buffer.from('0'), 0, 1), -1);
  });
});
