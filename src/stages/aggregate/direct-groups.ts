import { getBit } from '../../batch/bitmap.ts';
import type { Values } from './values.ts';

/** The most key combinations a direct map covers: 256 KB of Int32, beside a table of at most that many groups. */
const MOST_COMBINATIONS = 65536;

/**
 * Groups by small-domain keys without hashing: when every key is a dictionary column (or a bool), a
 * row's key is a number below the product of the dictionaries' sizes (plus one for null each), and a
 * map of that many entries gives the row's group directly. DuckDB calls it perfect hash aggregation; on
 * (country, status) it replaces a hash, a probe and a key compare per row with two loads.
 *
 * The map is a cache in front of the group table: a miss (a combination not seen since the table was
 * made) goes through the table as any row does and is remembered here. It is laid out on the
 * dictionaries' sizes, so a dictionary that grew (or a different dictionary) starts it over, cheap while
 * dictionaries are small, which is the only time it is used.
 */
export class DirectGroups {
  /** Group + 1 per combination; 0: not seen. */
  private map = new Int32Array(0);
  /** The dictionaries (or 'bool') and the domain sizes the map is laid out on. */
  private readonly layout: (readonly string[] | 'bool' | undefined)[] = [];
  private readonly domains: number[] = [];

  /** Bytes the map holds. */
  get bytes(): number {
    return this.map.byteLength;
  }

  /** Forgets every group (the table they index was replaced). */
  clear(): void {
    this.map.fill(0);
  }

  /**
   * Whether rows of `keys` can be mapped directly now (a dictionary may have grown since the last
   * chunk: the map then starts over on the new sizes).
   */
  prepare(keys: readonly Values[]): boolean {
    if (keys.length === 0) return false;
    let combinations = 1;
    let same = this.layout.length === keys.length;
    for (let k = 0; k < keys.length; k++) {
      const values = keys[k];
      const kind = values.codes !== undefined ? values.dictionary! : values.dtype === 'bool' ? 'bool' : undefined;
      if (kind === undefined) return false;
      const domain = (kind === 'bool' ? 2 : kind.length) + 1;
      combinations *= domain;
      if (combinations > MOST_COMBINATIONS) return false;
      if (this.layout[k] !== kind || this.domains[k] !== domain) same = false;
    }
    if (same) return true;
    this.layout.length = 0;
    this.domains.length = 0;
    for (const values of keys) {
      const kind = values.codes !== undefined ? values.dictionary! : 'bool';
      this.layout.push(kind);
      this.domains.push((kind === 'bool' ? 2 : kind.length) + 1);
    }
    this.map = new Int32Array(combinations);
    return true;
  }

  /** Each row's combination of rows [from, to) into `out[0..to-from)` (after `prepare` said yes). */
  combine(keys: readonly Values[], from: number, to: number, out: Int32Array): void {
    const count = to - from;
    for (let k = 0; k < keys.length; k++) {
      const values = keys[k];
      const domain = this.domains[k];
      const validity = values.validity;
      const nullCode = domain - 1;
      const scale = k === 0 ? 0 : domain;
      if (values.codes !== undefined) {
        const codes = values.codes;
        if (validity === null) for (let i = 0; i < count; i++) out[i] = out[i] * scale + codes[from + i];
        else for (let i = 0; i < count; i++) out[i] = out[i] * scale + (getBit(validity, from + i) ? codes[from + i] : nullCode);
      } else {
        for (let i = 0; i < count; i++) {
          const row = from + i;
          out[i] = out[i] * scale + (validity !== null && !getBit(validity, row) ? nullCode : values.number(row));
        }
      }
    }
  }

  /**
   * Fills `groups[i - from]` for rows from `start` on while their combination is known; returns the
   * first row whose combination is not (or `to`).
   */
  fill(combinations: Int32Array, from: number, start: number, to: number, groups: Int32Array): number {
    const map = this.map;
    for (let i = start - from; i < to - from; i++) {
      const group = map[combinations[i]] - 1;
      if (group < 0) return from + i;
      groups[i] = group;
    }
    return to;
  }

  /** Remembers that `combination` is group `group`. */
  set(combination: number, group: number): void {
    this.map[combination] = group + 1;
  }
}
