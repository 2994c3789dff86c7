/**
 * What `etl profile` shows of an Arrow IPC file or stream: its schema (each column's Arrow type and the
 * dtype `arrow()` reads it as, or why it cannot), its record batches, and per column the bytes of its
 * buffers and its null count. The record batches are read one at a time (a stream has no footer to
 * say where they are, and a batch's buffer sizes are in its own message), so memory stays at one batch.
 */
import type { Data } from 'apache-arrow';
import { SluiceError } from '../../core/errors.ts';
import { expandInputs } from '../files/inputs.ts';
import { dtypeOfField } from './from-arrow-data.ts';
import { openArrow, readBatches } from './read-file.ts';

export interface ArrowColumnProfile {
  name: string;
  /** Arrow's name of the type, e.g. `Int8`, `Timestamp<MILLISECOND, UTC>`, `Dictionary<Int32, Utf8>`. */
  arrowType: string;
  /** What `arrow()` reads it as, or why it cannot. */
  dtype: string;
  /** Bytes of the column's buffers over every record batch (validity, offsets, values; a dictionary column's indices). */
  bytes: number;
  nullCount: number;
  /** A dictionary column: the values in its last dictionary, and their bytes. */
  dictionary?: { values: number; bytes: number };
}

export interface ArrowProfile {
  file: string;
  format: 'arrow';
  /** The IPC file format (a footer, seekable) or the stream format. */
  ipc: 'file' | 'stream';
  rows: number;
  recordBatches: { rows: number; bytes: number }[];
  columns: ArrowColumnProfile[];
}

export async function profileArrow(path: string): Promise<ArrowProfile> {
  const [file] = await expandInputs(path);
  const { handle, reader } = await openArrow(file);
  try {
    const fields = reader.schema.fields;
    if (fields.length === 0) throw new SluiceError('INPUT_READ', `${file} has no columns.`, { file });
    const columns: ArrowColumnProfile[] = fields.map((field) => {
      let dtype: string;
      try {
        dtype = dtypeOfField(file, field);
      } catch (error) {
        dtype = `refused: Arrow ${String(field.type)} is not read`;
        if (!(error instanceof SluiceError)) throw error;
      }
      return { name: field.name, arrowType: String(field.type), dtype, bytes: 0, nullCount: 0 };
    });
    const recordBatches: ArrowProfile['recordBatches'] = [];
    let rows = 0;
    for await (const batch of readBatches(reader, file)) {
      let bytes = 0;
      batch.data.children.forEach((data, c) => {
        const size = bufferBytes(data);
        columns[c].bytes += size;
        columns[c].nullCount += data.nullCount;
        bytes += size;
        const values = data.dictionary;
        if (values !== undefined) columns[c].dictionary = { values: values.length, bytes: values.data.reduce((total, chunk) => total + bufferBytes(chunk), 0) };
      });
      recordBatches.push({ rows: batch.numRows, bytes });
      rows += batch.numRows;
    }
    return { file, format: 'arrow', ipc: reader.isFile() ? 'file' : 'stream', rows, recordBatches, columns };
  } finally {
    await handle.close();
  }
}

/** The bytes of a column's own buffers and its children's (not a dictionary's values, counted apart). */
function bufferBytes(data: Data): number {
  let bytes = (data.nullBitmap?.byteLength ?? 0) + (data.valueOffsets?.byteLength ?? 0) + (data.values?.byteLength ?? 0) + (data.typeIds?.byteLength ?? 0);
  for (const child of data.children) bytes += bufferBytes(child);
  return bytes;
}
