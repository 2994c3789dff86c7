import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { collapseQuotes, decodeLatin1, decodeUtf8 } from '../../src/codec/byte-text.ts';

describe('text of byte ranges', () => {
  it('decodes UTF-8 and latin-1 ranges of a buffer', () => {
    const bytes = Buffer.from('xxhé€😀yy', 'utf8');
    assert.equal(decodeUtf8(bytes, 2, bytes.length - 2), 'hé€😀');
    assert.equal(decodeLatin1(new Uint8Array([0x41, 0xe9, 0xff]), 0, 3), 'Aéÿ');
    assert.equal(decodeUtf8(new Uint8Array(0), 0, 0), '');
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
