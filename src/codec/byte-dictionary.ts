/**
 * Byte sequences as keys: ByteDictionary gives a dictionary-encoded column's codes, StringCache a
 * string column's recent strings. Both copy their keys, so neither keeps an input buffer alive.
 */

/**
 * Byte sequences → small integer codes, with no string made for a value already seen: backs
 * dictionary-encoded columns (the column maps code → string once per distinct value).
 *
 * Open addressing with linear probing over an Int32Array of entry numbers; keys are copied into one
 * growing byte arena, so the dictionary holds no reference to the input buffers.
 */
const RECENT_MASK = 255;

export class ByteDictionary {
  private slots: Int32Array; // entry + 1, 0 = empty
  private mask: number;
  private hashes: Int32Array;
  private keyStarts: Int32Array;
  private keyEnds: Int32Array;
  private codes: Int32Array;
  private arena: Uint8Array;
  private arenaLength = 0;
  private count = 0;
  /** Entry + 1 last found per front-cache slot, 0 = none (see lookup). */
  private readonly recent = new Int32Array(RECENT_MASK + 1);

  constructor(expectedEntries = 64) {
    let capacity = 16;
    while (capacity < expectedEntries * 2) capacity *= 2;
    this.slots = new Int32Array(capacity);
    this.mask = capacity - 1;
    this.hashes = new Int32Array(capacity >> 1);
    this.keyStarts = new Int32Array(capacity >> 1);
    this.keyEnds = new Int32Array(capacity >> 1);
    this.codes = new Int32Array(capacity >> 1);
    this.arena = new Uint8Array(Math.max(256, expectedEntries * 16));
  }

  /** Number of keys. */
  get size(): number {
    return this.count;
  }

  /** Bytes held, for memory accounting. */
  get byteSize(): number {
    return this.slots.byteLength + this.recent.byteLength + this.hashes.byteLength * 4 + this.arena.byteLength;
  }

  /** The code of `buf[start, end)`, or -1. */
  lookup(buf: Uint8Array, start: number, end: number): number {
    // Front cache: a slot picked by length, first and last byte remembers the entry last found there.
    // Dictionary columns hold few, short values, so this usually settles a value with one compare and
    // no hashing; a miss (or a collision) costs one compare more than the hashed lookup.
    const length = end - start;
    if (length > 0) {
      const recent = (length * 31 + buf[start] * 7 + buf[end - 1]) & RECENT_MASK;
      const entry = this.recent[recent] - 1;
      if (entry >= 0) {
        const keyStart = this.keyStarts[entry];
        if (this.keyEnds[entry] - keyStart === length && bytesEqual(this.arena, keyStart, buf, start, length)) return this.codes[entry];
      }
      const found = this.find(buf, start, end);
      if (found >= 0) this.recent[recent] = found + 1;
      return found < 0 ? -1 : this.codes[found];
    }
    const found = this.find(buf, start, end);
    return found < 0 ? -1 : this.codes[found];
  }

  /** The entry of `buf[start, end)`, or -1. */
  private find(buf: Uint8Array, start: number, end: number): number {
    const hash = hashBytes(buf, start, end);
    const slots = this.slots;
    const mask = this.mask;
    const length = end - start;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const entry = slots[slot] - 1;
      if (entry < 0) return -1;
      if (this.hashes[entry] === hash) {
        const keyStart = this.keyStarts[entry];
        if (this.keyEnds[entry] - keyStart === length && bytesEqual(this.arena, keyStart, buf, start, length)) return entry;
      }
    }
  }

  /** Maps `buf[start, end)` to `code` (copying the bytes); replaces the code of a key already present. */
  add(buf: Uint8Array, start: number, end: number, code: number): void {
    const hash = hashBytes(buf, start, end);
    const length = end - start;
    for (let slot = hash & this.mask; ; slot = (slot + 1) & this.mask) {
      const entry = this.slots[slot] - 1;
      if (entry < 0) {
        const created = this.count++;
        this.slots[slot] = created + 1;
        if (this.arenaLength + length > this.arena.length) this.growArena(this.arenaLength + length);
        this.arena.set(buf.subarray(start, end), this.arenaLength);
        this.hashes[created] = hash;
        this.keyStarts[created] = this.arenaLength;
        this.keyEnds[created] = this.arenaLength + length;
        this.codes[created] = code;
        this.arenaLength += length;
        if (this.count * 2 > this.mask) this.growTable();
        return;
      }
      const keyStart = this.keyStarts[entry];
      if (this.hashes[entry] === hash && this.keyEnds[entry] - keyStart === length && bytesEqual(this.arena, keyStart, buf, start, length)) {
        this.codes[entry] = code;
        return;
      }
    }
  }

  /** Forget every key, keeping the allocated memory. */
  clear(): void {
    this.slots.fill(0);
    this.recent.fill(0);
    this.count = 0;
    this.arenaLength = 0;
  }

  private growArena(needed: number): void {
    const next = new Uint8Array(Math.max(needed, this.arena.length * 2));
    next.set(this.arena.subarray(0, this.arenaLength));
    this.arena = next;
  }

  private growTable(): void {
    const capacity = this.slots.length * 2;
    const slots = new Int32Array(capacity);
    const mask = capacity - 1;
    for (let entry = 0; entry < this.count; entry++) {
      let slot = this.hashes[entry] & mask;
      while (slots[slot] !== 0) slot = (slot + 1) & mask;
      slots[slot] = entry + 1;
    }
    this.slots = slots;
    this.mask = mask;
    const entries = capacity >> 1;
    this.hashes = grownInt32(this.hashes, entries);
    this.keyStarts = grownInt32(this.keyStarts, entries);
    this.keyEnds = grownInt32(this.keyEnds, entries);
    this.codes = grownInt32(this.codes, entries);
  }
}

function grownInt32(array: Int32Array, length: number): Int32Array {
  const next = new Int32Array(length);
  next.set(array);
  return next;
}

/** FNV-1a, finished with a multiply-xorshift so the low bits (the slot) depend on every byte. */
function hashBytes(buf: Uint8Array, start: number, end: number): number {
  let hash = 0x811c9dc5 | 0;
  for (let i = start; i < end; i++) hash = Math.imul(hash ^ buf[i], 0x01000193);
  hash ^= hash >>> 15;
  hash = Math.imul(hash, 0x2c1b3c6d);
  return hash ^ (hash >>> 12);
}

function bytesEqual(a: Uint8Array, aStart: number, b: Uint8Array, bStart: number, length: number): boolean {
  for (let k = 0; k < length; k++) if (a[aStart + k] !== b[bStart + k]) return false;
  return true;
}

/** Longest value {@link StringCache} keeps: longer ones are rarely repeated and cost more to compare. */
const CACHED_STRING_BYTES = 48;
const STRING_SLOTS = 256;

/**
 * The strings last decoded from short byte sequences, so a repeated value of a string column (a
 * status, a category, a note from a fixed list) is neither decoded nor allocated again: the column
 * holds the same string. Direct-mapped by length, first and last byte; a miss costs one compare.
 * Keys are copied, so the cache never points into an input buffer.
 */
export class StringCache {
  private readonly keys = new Uint8Array(STRING_SLOTS * CACHED_STRING_BYTES);
  private readonly lengths = new Int32Array(STRING_SLOTS).fill(-1);
  private readonly values: string[] = new Array<string>(STRING_SLOTS).fill('');

  /** The string stored for `buf[start, end)`, or undefined. */
  get(buf: Uint8Array, start: number, end: number): string | undefined {
    const length = end - start;
    if (length > CACHED_STRING_BYTES || length === 0) return undefined;
    const slot = (length * 31 + buf[start] * 7 + buf[end - 1]) & (STRING_SLOTS - 1);
    if (this.lengths[slot] !== length || !bytesEqual(this.keys, slot * CACHED_STRING_BYTES, buf, start, length)) return undefined;
    return this.values[slot];
  }

  /** Remembers `value` as the string of `buf[start, end)` (replacing what its slot held). */
  set(buf: Uint8Array, start: number, end: number, value: string): void {
    const length = end - start;
    if (length > CACHED_STRING_BYTES || length === 0) return;
    const slot = (length * 31 + buf[start] * 7 + buf[end - 1]) & (STRING_SLOTS - 1);
    this.keys.set(buf.subarray(start, end), slot * CACHED_STRING_BYTES);
    this.lengths[slot] = length;
    this.values[slot] = value;
  }
}
