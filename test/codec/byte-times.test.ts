import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDate, parseTimestamp } from '../../src/codec/byte-times.ts';
import { random } from '../support/random.ts';
import { onBytes } from '../support/on-bytes.ts';

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
