import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatDate, formatTimestamp } from '../../src/codec/text.ts';

describe('dates and timestamps as text', () => {
  test('dates are YYYY-MM-DD, and years outside 0000-9999 keep every digit of the year', () => {
    assert.equal(formatDate(0), '1970-01-01');
    assert.equal(formatDate(19_782), '2024-02-29');
    assert.equal(formatDate(100_000_000), '+275760-09-13');
    assert.equal(formatDate(-100_000_000), '-271821-04-20');
    assert.equal(formatDate(-719_529), '-000001-12-31');
  });

  test('timestamps are toISOString', () => {
    for (const ms of [0, -1, 1_700_000_000_123, 8.64e15, -8.64e15]) assert.equal(formatTimestamp(ms), new Date(ms).toISOString());
  });
});
