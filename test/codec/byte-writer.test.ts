import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteWriter } from '../../src/codec/byte-writer.ts';
import { isSluiceError } from '../../src/core/errors.ts';

const decode = (bytes: Uint8Array): string => new TextDecoder('utf-8', { fatal: true }).decode(bytes);

test('UTF-8 output equals TextEncoder for ASCII, short and long, BMP, astral and lone surrogates', () => {
  const samples = ['', 'a', 'abc', 'é', 'aé', 'x'.repeat(16) + 'é', 'naïve café', '😀', 'a😀b', '日本語テキスト'.repeat(5), '\ud800', 'z\udc00', 'x'.repeat(1000)];
  const writer = new ByteWriter(1);
  const expected: number[] = [];
  for (const sample of samples) {
    writer.writeUtf8(sample);
    expected.push(...new TextEncoder().encode(sample));
  }
  assert.deepEqual([...writer.view()], expected);
});

test('the buffer grows as needed and keeps what was written', () => {
  const writer = new ByteWriter(256);
  const parts: string[] = [];
  for (let i = 0; i < 5000; i++) {
    const text = `row ${i} ✓;`;
    parts.push(text);
    writer.writeUtf8(text);
  }
  assert.ok(writer.capacity >= writer.length);
  assert.equal(decode(writer.view()), parts.join(''));
});

test('writeInteger writes the same digits as String() for every magnitude and sign', () => {
  const values = [0, -0, 1, -1, 9, 10, 11, 99, 100, 255, -128, 65535, -32768, 2147483647, -2147483648, 4294967295, 1e15, 2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 53, 1e21, 12.5];
  for (let power = 1; power < 1e16; power *= 10) values.push(power - 1, power, power + 1, -power);
  for (const value of values) {
    const writer = new ByteWriter();
    writer.writeInteger(value);
    assert.equal(decode(writer.view()), String(value), String(value));
  }
});

test('writeNumber keeps -0 and round-trips doubles through their text', () => {
  const values = [-0, 0.1 + 0.2, 5e-324, Number.MAX_VALUE, -1.5e-7, Math.PI, NaN, Infinity, -Infinity, 123];
  for (const value of values) {
    const writer = new ByteWriter();
    writer.writeNumber(value);
    const text = decode(writer.view());
    assert.ok(Object.is(Number(text), value), `${value} → ${text}`);
  }
});

test('writePadded zero-pads to the width', () => {
  const writer = new ByteWriter();
  writer.writePadded(7, 4);
  writer.writePadded(123, 3);
  writer.writePadded(0, 2);
  assert.equal(decode(writer.view()), '000712300');
});

test('flush hands over bytes that later writes never change', () => {
  const writer = new ByteWriter(256);
  writer.writeLatin1('a'.repeat(200)); // more than half the buffer: handed over
  const big = writer.flush();
  writer.writeLatin1('b'.repeat(200));
  writer.writeLatin1('c'); // less than half: copied out
  const small = writer.flush();
  writer.writeLatin1('d'.repeat(300));
  assert.equal(decode(big), 'a'.repeat(200));
  assert.equal(decode(small), 'b'.repeat(200) + 'c');
  assert.equal(writer.length, 300);
  assert.equal(writer.flush().length, 300);
  assert.equal(writer.flush().length, 0);
});

test('reset forgets the bytes and keeps the buffer', () => {
  const writer = new ByteWriter(1024);
  writer.writeLatin1('hello');
  writer.writeByte(0x21);
  writer.writeBytePair(0x0d, 0x0a);
  writer.writeBytes(new Uint8Array([0x41, 0x42]));
  assert.equal(decode(writer.view()), 'hello!\r\nAB');
  const capacity = writer.capacity;
  writer.reset();
  assert.equal(writer.length, 0);
  assert.equal(writer.capacity, capacity);
});

test('a bad initial capacity is an INVALID_OPTION', () => {
  assert.throws(() => new ByteWriter(0), (error) => isSluiceError(error, 'INVALID_OPTION'));
  assert.throws(() => new ByteWriter(1.5), (error) => isSluiceError(error, 'INVALID_OPTION'));
});

test('reserve and advance write a fixed-size field in place', () => {
  const writer = new ByteWriter(256);
  writer.writeLatin1('x'.repeat(255));
  const buffer = writer.reserve(3);
  buffer[writer.length] = 0x61;
  buffer[writer.length + 1] = 0x62;
  buffer[writer.length + 2] = 0x63;
  writer.advance(3);
  assert.equal(decode(writer.view()), 'x'.repeat(255) + 'abc');
});
