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
