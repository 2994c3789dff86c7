import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatNumber } from '../../src/core/format-number.ts';

const intl = new Intl.NumberFormat('en-US');

test('formatNumber writes what Intl.NumberFormat(en-US) writes, for edge values and 200,000 random ones', () => {
  const edges = [0, -0, 1, -1, 999, 1000, 999_999.9995, 1234.5678, -1234.5678, 0.0004, 0.0005, -0.0001, 0.0015, 1.0005, 2.5, 0.1 + 0.2];
  const large = [1e15, 2 ** 53, 2 ** 53 + 2, 1e21, 1.5e22, Number.MAX_VALUE, Number.MIN_VALUE, NaN, Infinity, -Infinity];
  for (const value of [...edges, ...large]) assert.equal(formatNumber(value), intl.format(value), String(value));
  let seed = 42;
  const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
  for (let k = 0; k < 200_000; k++) {
    const scaled = (random() - 0.5) * 10 ** Math.floor(random() * 16);
    const value = k % 3 === 0 ? Math.round(scaled) : scaled;
    assert.equal(formatNumber(value), intl.format(value), String(value));
  }
});
