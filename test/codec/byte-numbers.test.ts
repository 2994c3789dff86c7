import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseBoolean, parseFloat64, parseInteger } from '../../src/codec/byte-numbers.ts';
import { random } from '../support/random.ts';
import { onBytes } from '../support/on-bytes.ts';

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
