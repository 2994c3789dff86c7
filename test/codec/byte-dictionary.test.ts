import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ByteDictionary } from '../../src/codec/byte-dictionary.ts';
import { random } from '../support/random.ts';

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
