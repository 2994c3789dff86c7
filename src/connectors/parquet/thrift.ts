/**
 * Thrift's compact protocol, the writing half: Parquet's page headers and footer are Thrift structs.
 * Only what Parquet's structs use (i32, i64, bool, binary, lists, structs); reading is hyparquet's.
 * Integers are JS numbers: Parquet's i64 fields hold sizes, offsets and row counts, all below 2^53.
 */

const BOOL_TRUE = 1;
const BOOL_FALSE = 2;
const BYTE = 3;
const I32 = 5;
const I64 = 6;
const BINARY = 8;
const LIST = 9;
const STRUCT = 12;

export const ThriftType = { I32, I64, BINARY, STRUCT } as const;

export class ThriftWriter {
  private bytes = new Uint8Array(256);
  private at = 0;
  private lastField = 0;
  private readonly outer: number[] = [];
  private readonly utf8 = new TextEncoder();

  /** The struct written so far, with its closing stop byte. */
  finish(): Uint8Array {
    this.byte(0);
    return this.bytes.subarray(0, this.at);
  }

  i32(field: number, value: number): this {
    this.header(field, I32);
    this.varint(zigzag(value));
    return this;
  }

  i64(field: number, value: number): this {
    this.header(field, I64);
    this.varint(zigzag(value));
    return this;
  }

  i8(field: number, value: number): this {
    this.header(field, BYTE);
    this.byte(value & 0xff);
    return this;
  }

  bool(field: number, value: boolean): this {
    this.header(field, value ? BOOL_TRUE : BOOL_FALSE);
    return this;
  }

  binary(field: number, value: Uint8Array): this {
    this.header(field, BINARY);
    this.rawBinary(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.binary(field, this.utf8.encode(value));
  }

  /** Opens a struct field; `end()` closes it. */
  struct(field: number): this {
    this.header(field, STRUCT);
    this.outer.push(this.lastField);
    this.lastField = 0;
    return this;
  }

  end(): this {
    this.byte(0);
    this.lastField = this.outer.pop()!;
    return this;
  }

  /** A list header; the elements follow through `element*` calls (structs: `elementStruct()` … `end()`). */
  list(field: number, elementType: number, size: number): this {
    this.header(field, LIST);
    if (size < 15) this.byte((size << 4) | elementType);
    else {
      this.byte(0xf0 | elementType);
      this.varint(size);
    }
    return this;
  }

  elementI32(value: number): this {
    this.varint(zigzag(value));
    return this;
  }

  elementString(value: string): this {
    this.rawBinary(this.utf8.encode(value));
    return this;
  }

  elementStruct(): this {
    this.outer.push(this.lastField);
    this.lastField = 0;
    return this;
  }

  private header(field: number, type: number): void {
    const delta = field - this.lastField;
    if (delta > 0 && delta <= 15) this.byte((delta << 4) | type);
    else {
      this.byte(type);
      this.varint(zigzag(field));
    }
    this.lastField = field;
  }

  private rawBinary(value: Uint8Array): void {
    this.varint(value.length);
    this.room(value.length);
    this.bytes.set(value, this.at);
    this.at += value.length;
  }

  private varint(value: number): void {
    this.room(10);
    while (value >= 0x80) {
      this.bytes[this.at++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    this.bytes[this.at++] = value;
  }

  private byte(value: number): void {
    this.room(1);
    this.bytes[this.at++] = value;
  }

  private room(bytes: number): void {
    if (this.at + bytes <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.at + bytes));
    grown.set(this.bytes.subarray(0, this.at));
    this.bytes = grown;
  }
}

/** Zigzag without 32-bit operators, so that i64 values up to 2^52 stay exact. */
function zigzag(value: number): number {
  return value >= 0 ? value * 2 : -value * 2 - 1;
}
