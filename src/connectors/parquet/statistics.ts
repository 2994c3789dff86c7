/**
 * Column chunk statistics (min, max, null count) as Parquet writes them: min and max PLAIN-encoded in
 * the column's physical type, strings compared by their UTF-8 bytes (which is code point order, not
 * JS's UTF-16 order), NaN left out of float ranges, and a zero range that says -0 and +0 both.
 */
import type { Dictionary } from '../../batch/dictionary.ts';
import type { TypedArray } from '../../batch/dtype.ts';
import { Physical } from './format.ts';

/** Strings longer than this get no min/max: a reader would carry them in every footer for little gain. */
const MAX_STRING_STATISTIC = 256;

export class ChunkStatistics {
  nulls = 0;
  private min = Infinity;
  private max = -Infinity;
  /** Kept public so that a page of ASCII strings folds its range in with JS's own comparison. */
  minString: string | undefined;
  maxString: string | undefined;
  private usedCodes = new Uint8Array(0);

  /** NaN never lands in the range: `<` and `>` are false for it. */
  numbers(values: TypedArray): void {
    let min = this.min;
    let max = this.max;
    for (let i = 0; i < values.length; i++) {
      const value = values[i];
      if (value < min) min = value;
      if (value > max) max = value;
    }
    this.min = min;
    this.max = max;
  }

  range(min: number, max: number): void {
    if (min < this.min) this.min = min;
    if (max > this.max) this.max = max;
  }

  string(value: string): void {
    if (this.minString === undefined || compareCodePoints(value, this.minString) < 0) this.minString = value;
    if (this.maxString === undefined || compareCodePoints(value, this.maxString) > 0) this.maxString = value;
  }

  /** A flag per code of a dictionary of `size` values, set by the caller for each code it writes. */
  usedCodesFor(size: number): Uint8Array {
    if (size > this.usedCodes.length) {
      const grown = new Uint8Array(Math.max(size, this.usedCodes.length * 2, 64));
      grown.set(this.usedCodes);
      this.usedCodes = grown;
    }
    return this.usedCodes;
  }

  /** Folds the codes seen into string min/max, once per chunk rather than once per row. */
  resolveCodes(dictionary: Dictionary): void {
    for (let code = 0; code < this.usedCodes.length; code++) if (this.usedCodes[code] === 1) this.string(dictionary.values[code]);
    this.usedCodes = new Uint8Array(0);
  }

  /** min and max PLAIN-encoded for `physical`, absent when no value was seen (or strings too long). */
  encoded(physical: number): { min?: Uint8Array; max?: Uint8Array } {
    if (physical === Physical.BYTE_ARRAY) {
      if (this.minString === undefined || this.maxString === undefined) return {};
      const min = Buffer.from(this.minString, 'utf8');
      const max = Buffer.from(this.maxString, 'utf8');
      if (min.length > MAX_STRING_STATISTIC || max.length > MAX_STRING_STATISTIC) return {};
      return { min, max };
    }
    if (this.min > this.max) return {};
    const min = this.min === 0 ? -0 : this.min;
    const max = this.max === 0 ? 0 : this.max;
    return { min: plainNumber(physical, min), max: plainNumber(physical, max) };
  }
}

function plainNumber(physical: number, value: number): Uint8Array {
  const out = new Uint8Array(physical === Physical.BOOLEAN ? 1 : physical === Physical.INT32 || physical === Physical.FLOAT ? 4 : 8);
  const view = new DataView(out.buffer);
  switch (physical) {
    case Physical.BOOLEAN:
      out[0] = value;
      break;
    case Physical.INT32:
      view.setInt32(0, value, true);
      break;
    case Physical.INT64: {
      const high = Math.floor(value / 4294967296);
      view.setUint32(0, value - high * 4294967296, true);
      view.setInt32(4, high, true);
      break;
    }
    case Physical.FLOAT:
      view.setFloat32(0, value, true);
      break;
    default:
      view.setFloat64(0, value, true);
  }
  return out;
}

/**
 * Code point order (= UTF-8 byte order). JS's `<` compares UTF-16 units, which puts astral characters
 * (surrogates, 0xD800–0xDFFF) before U+E000–U+FFFF; the first differing unit is remapped to fix that.
 */
export function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800) x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
    if (y >= 0xd800) y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    return x - y;
  }
  return a.length - b.length;
}
