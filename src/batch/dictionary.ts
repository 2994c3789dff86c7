/**
 * A dictionary shared by every batch of one column in a run, so that codes mean the same value in
 * every batch and each distinct string is stored once. Past `cap` distinct values the column stops
 * dictionary-encoding (high-cardinality strings gain nothing from it) and falls back to plain strings.
 */
export class Dictionary {
  readonly values: string[] = [];
  private readonly index = new Map<string, number>();
  /** Bytes of the distinct strings, an estimate (see estimateStringBytes). */
  bytes = 0;

  readonly cap: number;
  constructor(
    cap: number = 65536,
    initial: readonly string[] = [],
  ) {
    this.cap = cap;
    for (const value of initial) this.add(value);
  }

  get size(): number {
    return this.values.length;
  }

  /** The code of `value`, adding it when new; -1 once the dictionary is full. */
  code(value: string): number {
    const known = this.index.get(value);
    if (known !== undefined) return known;
    if (this.values.length >= this.cap) return -1;
    return this.add(value);
  }

  lookup(value: string): number {
    return this.index.get(value) ?? -1;
  }

  private add(value: string): number {
    const code = this.values.length;
    this.values.push(value);
    this.index.set(value, code);
    this.bytes += 24 + value.length + 32;
    return code;
  }
}
