/**
 * A byte buffer that grows by doubling and is reused from page to page, so that encoding a page
 * allocates nothing once the buffer has reached its working size. Its memory is an ArrayBuffer of its
 * own (not Buffer's shared pool), so typed views over it at multiples of their element size are
 * aligned: a page's numeric values are written through an Int32Array or Float64Array view directly.
 */
export class GrowableBytes {
  /** Small to start: a file of ten thousand columns has three of these per column. */
  private buffer = new ArrayBuffer(64);
  /** A Buffer over the same memory: UTF-8 is written with `Buffer.write`, which needs no encoder object. */
  bytes: Buffer = Buffer.from(this.buffer);
  length = 0;

  /** Room for `more` bytes past `length`; bytes past `length` are not kept zeroed. */
  reserve(more: number): void {
    const needed = this.length + more;
    if (needed <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < needed) size *= 2;
    const grown = new ArrayBuffer(size);
    new Uint8Array(grown).set(this.bytes.subarray(0, this.length));
    this.buffer = grown;
    this.bytes = Buffer.from(grown);
  }

  /** `count` values of 4 bytes at the end, as a view; `length` must be a multiple of 4. */
  int32(count: number): Int32Array {
    this.reserve(count * 4);
    const view = new Int32Array(this.buffer, this.length, count);
    this.length += count * 4;
    return view;
  }

  float32(count: number): Float32Array {
    this.reserve(count * 4);
    const view = new Float32Array(this.buffer, this.length, count);
    this.length += count * 4;
    return view;
  }

  /** `length` must be a multiple of 8. */
  float64(count: number): Float64Array {
    this.reserve(count * 8);
    const view = new Float64Array(this.buffer, this.length, count);
    this.length += count * 8;
    return view;
  }

  /** Every 4-byte value written so far, as a view (valid until the next growth). */
  int32View(): Int32Array {
    return new Int32Array(this.buffer, 0, this.length >>> 2);
  }

  append(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.bytes.set(bytes, this.length);
    this.length += bytes.length;
  }

  byte(value: number): void {
    this.reserve(1);
    this.bytes[this.length++] = value;
  }

  uint32(value: number): void {
    this.reserve(4);
    this.bytes.writeUInt32LE(value, this.length);
    this.length += 4;
  }

  varint(value: number): void {
    this.reserve(10);
    while (value >= 0x80) {
      this.bytes[this.length++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    this.bytes[this.length++] = value;
  }

  /** Zeroes `count` bytes from `length` on (without moving `length`), for bits to be ORed into. */
  zeroAhead(count: number): void {
    this.reserve(count);
    this.bytes.fill(0, this.length, this.length + count);
  }

  /** The bytes written, as a view that the next write may change. */
  view(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }

  clear(): void {
    this.length = 0;
  }
}
