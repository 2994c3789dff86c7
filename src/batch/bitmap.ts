/** Validity and boolean bitmaps: one bit per row, least significant bit first (Arrow's layout). */

export function bitmapBytes(length: number): number {
  return (length + 7) >>> 3;
}

export function getBit(bits: Uint8Array, index: number): boolean {
  return (bits[index >>> 3] & (1 << (index & 7))) !== 0;
}

export function setBit(bits: Uint8Array, index: number): void {
  bits[index >>> 3] |= 1 << (index & 7);
}

export function clearBit(bits: Uint8Array, index: number): void {
  bits[index >>> 3] &= ~(1 << (index & 7));
}

/** A bitmap of `length` bits, all set (every row valid). */
export function allSet(length: number): Uint8Array {
  const bits = new Uint8Array(bitmapBytes(length));
  bits.fill(0xff);
  return bits;
}
