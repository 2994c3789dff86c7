import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findInvalidUtf8 } from '../../src/codec/utf8.ts';
import { random } from '../support/random.ts';

/** The UTF-8 validator the CSV readers use (Utf8Validator), on every kind of invalid sequence and on random bytes. */
describe('findInvalidUtf8', () => {
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
});
