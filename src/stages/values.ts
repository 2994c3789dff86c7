import { bitmapBytes, setBit } from '../batch/bitmap.ts';
import { Column } from '../batch/column.ts';
import { type DType, NUMERIC_ARRAY, type TypedArray } from '../batch/dtype.ts';
import { SluiceError } from '../core/errors.ts';

/** The dtype a computed JS value is stored as when the user did not name one. */
export function dtypeOfValue(value: unknown): DType | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'number') return 'float64';
  if (typeof value === 'boolean') return 'bool';
  if (value instanceof Date) return 'timestamp';
  return 'string';
}

/**
 * Collects computed values of one column (from `derive` or `map`) straight into typed storage.
 * The dtype is the user's, or picked from the first non-null value and then kept for the whole run so
 * every batch of a column has the same type.
 */
export class ComputedColumn {
  dtype: DType | undefined;
  private values: TypedArray | string[] = [];
  private validity: Uint8Array | null = null;
  private length = 0;

  readonly name: string;
  readonly stage: string;
  constructor(
    name: string,
    stage: string,
    dtype?: DType,
  ) {
    this.name = name;
    this.stage = stage;
    this.dtype = dtype;
  }

  begin(length: number): void {
    this.length = length;
    this.validity = null;
    if (this.dtype !== undefined) this.values = allocate(this.dtype, length);
  }

  set(index: number, value: unknown): void {
    if (value === null || value === undefined) {
      if (this.validity === null) this.validity = new Uint8Array(bitmapBytes(this.length)).fill(0xff);
      this.validity[index >>> 3] &= ~(1 << (index & 7));
      return;
    }
    if (this.dtype === undefined) {
      this.dtype = dtypeOfValue(value)!;
      this.values = allocate(this.dtype, this.length);
    }
    switch (this.dtype) {
      case 'string':
        (this.values as string[])[index] = typeof value === 'string' ? value : String(value);
        return;
      case 'bool':
        (this.values as Uint8Array)[index] = value ? 1 : 0;
        return;
      case 'timestamp':
        (this.values as Float64Array)[index] = value instanceof Date ? value.getTime() : this.number(value);
        return;
      case 'date':
        // A Date is its UTC day (as date columns read back: UTC midnight); a number is a day count.
        (this.values as Int32Array)[index] = value instanceof Date ? Math.floor(value.getTime() / 86_400_000) : this.number(value);
        return;
      default:
        (this.values as TypedArray)[index] = this.number(value);
    }
  }

  private number(value: unknown): number {
    if (typeof value === 'number') return value;
    throw new SluiceError(
      'STAGE_FAILED',
      `stage ${this.stage}: column ${JSON.stringify(this.name)} is ${this.dtype} but a row computed ${JSON.stringify(value)}`,
      { stage: this.stage, column: this.name, value: String(value) },
    );
  }

  finish(): Column {
    const length = this.length;
    if (this.dtype === undefined) {
      // Every value was null: a string column of nulls.
      return new Column('string', length, new Array<string>(length), this.validity ?? new Uint8Array(bitmapBytes(length)));
    }
    if (this.dtype === 'bool') {
      const bytes = this.values as Uint8Array;
      const bits = new Uint8Array(bitmapBytes(length));
      for (let i = 0; i < length; i++) if (bytes[i] !== 0) setBit(bits, i);
      return new Column('bool', length, bits, this.validity);
    }
    return new Column(this.dtype, length, this.values, this.validity);
  }
}

function allocate(dtype: DType, length: number): TypedArray | string[] {
  if (dtype === 'string') return new Array<string>(length);
  if (dtype === 'bool') return new Uint8Array(length);
  if (dtype === 'dictionary') {
    throw new SluiceError('INVALID_OPTION', 'Computed columns cannot be dictionary-encoded; use dtype "string".');
  }
  return new NUMERIC_ARRAY[dtype](length);
}
