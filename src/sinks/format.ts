import type { Batch } from '../batch/batch.ts';
import { getBit } from '../batch/bitmap.ts';
import type { Column } from '../batch/column.ts';
import type { TypedArray } from '../batch/dtype.ts';
import { formatDate, formatTimestamp } from '../schema/text.ts';
import type { ByteWriter } from './byte-writer.ts';

/**
 * Formats the value at a row of a column as text, or returns null for a null. One formatter per column
 * per batch, chosen by dtype once, so the row loop does no type dispatch on values.
 */
export type ValueFormatter = (index: number) => string | null;

export function textFormatter(column: Column): ValueFormatter {
  const validity = column.validity;
  const data = column.data;
  let format: ValueFormatter;
  switch (column.dtype) {
    case 'bool':
      format = (i) => (getBit(data as Uint8Array, i) ? 'true' : 'false');
      break;
    case 'string':
      format = (i) => (data as string[])[i];
      break;
    case 'dictionary': {
      const values = column.dictionary!.values;
      format = (i) => values[(data as TypedArray)[i]];
      break;
    }
    case 'timestamp':
      format = (i) => formatTimestamp((data as Float64Array)[i]);
      break;
    case 'date':
      format = (i) => formatDate((data as Int32Array)[i]);
      break;
    default:
      format = (i) => String((data as TypedArray)[i]);
  }
  if (validity === null) return format;
  return (i) => (getBit(validity, i) ? format(i) : null);
}

export function isTextual(column: Column): boolean {
  return column.dtype === 'string' || column.dtype === 'dictionary' || column.dtype === 'timestamp' || column.dtype === 'date';
}

export function formattersOf(batch: Batch<unknown>): ValueFormatter[] {
  return batch.names.map((name) => textFormatter(batch.columns[name]));
}

/** Writes the value at a row of a column (nothing for a null) into a ByteWriter. */
export type ValueWriter = (index: number) => void;

const MS_PER_DAY = 86_400_000;

/** ISO 8601 `YYYY-MM-DDTHH:MM:SS.sssZ` without a Date or a string, for years 0000-9999 (others: toISOString). */
function writeTimestamp(writer: ByteWriter, ms: number): void {
  if (!(ms >= -62_167_219_200_000 && ms < 253_402_300_800_000) || !Number.isInteger(ms)) {
    writer.writeLatin1(formatTimestamp(ms));
    return;
  }
  const days = Math.floor(ms / MS_PER_DAY);
  let rest = ms - days * MS_PER_DAY;
  writeDate(writer, days);
  writer.writeByte(0x54);
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = Math.floor(rest / 1000);
  writer.writePadded(hours, 2);
  writer.writeByte(0x3a);
  writer.writePadded(minutes, 2);
  writer.writeByte(0x3a);
  writer.writePadded(seconds, 2);
  writer.writeByte(0x2e);
  writer.writePadded(rest - seconds * 1000, 3);
  writer.writeByte(0x5a);
}

/** `YYYY-MM-DD` of days since the epoch (Hinnant's civil_from_days), years 0000-9999. */
function writeDate(writer: ByteWriter, days: number): void {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const dayOfEra = z - era * 146097;
  const yearOfEra = Math.floor((dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36524) - Math.floor(dayOfEra / 146096)) / 365);
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const mp = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  if (year < 0 || year > 9999) {
    writer.writeLatin1(formatDate(days));
    return;
  }
  writer.writePadded(year, 4);
  writer.writeByte(0x2d);
  writer.writePadded(month, 2);
  writer.writeByte(0x2d);
  writer.writePadded(day, 2);
}

/**
 * A ValueWriter for CSV-like text output: numbers and ISO dates straight into bytes; strings through
 * `text` (the sink's quoting), dictionary values encoded once per distinct value and batch.
 */
export function columnWriter(column: Column, writer: ByteWriter, text: (value: string) => string): ValueWriter {
  const validity = column.validity;
  const data = column.data;
  let write: ValueWriter;
  switch (column.dtype) {
    case 'bool':
      write = (i) => writer.writeLatin1(getBit(data as Uint8Array, i) ? 'true' : 'false');
      break;
    case 'string':
      write = (i) => writer.writeUtf8(text((data as string[])[i]));
      break;
    case 'dictionary': {
      const values = column.dictionary!.values;
      const encoded: (Uint8Array | undefined)[] = [];
      const codes = data as TypedArray;
      write = (i) => {
        const code = codes[i];
        let bytes = encoded[code];
        if (bytes === undefined) {
          bytes = Buffer.from(text(values[code]), 'utf8');
          encoded[code] = bytes;
        }
        writer.writeBytes(bytes);
      };
      break;
    }
    case 'timestamp':
      write = (i) => writeTimestamp(writer, (data as Float64Array)[i]);
      break;
    case 'date':
      write = (i) => writeDate(writer, (data as Int32Array)[i]);
      break;
    default: {
      const numbers = data as TypedArray;
      // As String(value) writes them (-0 as 0), integers without making a string.
      write = (i) => {
        const value = numbers[i];
        if (Number.isSafeInteger(value)) writer.writeInteger(value);
        else writer.writeLatin1(String(value));
      };
    }
  }
  if (validity === null) return write;
  return (i) => {
    if (getBit(validity, i)) write(i);
  };
}
