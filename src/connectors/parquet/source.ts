/**
 * `parquet(pathOrGlob, options)`: Parquet files read one row group at a time, only the projected
 * columns, into typed batches. hyparquet (pure JS, well kept, reads what DuckDB, pyarrow and Spark
 * write: every codec but LZ4/Brotli, dictionary, delta and byte-stream-split encodings, nested types)
 * decodes each column chunk; the values become typed columns here. The file is read by ranges (the
 * footer, then each column chunk), never whole.
 */
import type { FileHandle } from 'node:fs/promises';
import { parquetMetadataAsync, parquetScan, type FileMetaData } from 'hyparquet';
import { columnRecord, Batch as BatchClass } from '../../batch/batch.ts';
import type { Column } from '../../batch/column.ts';
import type { DType } from '../../batch/dtype.ts';
import { SluiceError } from '../../core/errors.ts';
import type { RunContext } from '../../contracts/contracts.ts';
import { columnWidened } from '../../schema/decode.ts';
import { decompressors } from './compress.ts';
import { fastPathFits, readFastChunk, Unsupported } from './fast-chunk.ts';
import { type RunDictionaries, sliceColumn } from '../files/columnar.ts';
import { openForReading } from '../files/inputs.ts';
import type { ColumnarFile, ColumnarFormat } from '../files/columnar-source.ts';
import { PARQUET_ENGINE as ENGINE } from './format.ts';
import { dtypeFor, isNested, type ParquetField, PARSERS, toColumn } from './read-types.ts';
import { DTYPES_KEY } from './sink.ts';

interface OpenedFile {
  file: string;
  handle: FileHandle;
  metadata: FileMetaData;
  buffer: { byteLength: number; slice(start: number, end?: number): Promise<ArrayBuffer> };
}

interface FileColumn {
  name: string;
  dtype: DType;
  field: ParquetField;
}


/** One read's Parquet reader: it counts the column chunks that took the fast path. */
export class ParquetFormat implements ColumnarFormat {
  readonly kind = 'parquet';
  readonly engine = ENGINE;
  private fastChunks = 0;
  private generalChunks = 0;

  async open(file: string, wanted: (all: readonly string[]) => readonly string[], dictionaries: RunDictionaries, context: Pick<RunContext, 'warn'>): Promise<ColumnarFile> {
    const opened = await openParquet(file);
    try {
      const columns = fileColumns(opened, wanted, dictionaries);
      const scan = await parquetScan({ file: opened.buffer, metadata: opened.metadata, columns: columns.map((column) => column.name), compressors: decompressors, parsers: PARSERS, utf8: true });
      const groups = opened.metadata.row_groups;
      let bytesRead = 0;
      const reader = this;
      return {
        columns,
        async *units(rowsWanted: () => number) {
          let rowStart = 0;
          for (let group = 0; group < groups.length && rowsWanted() > 0; group++) {
            const rows = Number(groups[group].num_rows);
            const rowEnd = rowStart + Math.min(rows, rowsWanted());
            const read = columnRecord();
            for (const column of columns) read[column.name] = await reader.readColumn(scan, opened, group, column, rowStart, rowEnd, dictionaries, context);
            const length = rowEnd - rowStart;
            rowStart += rows;
            bytesRead += Number(groups[group].total_compressed_size ?? groups[group].total_byte_size);
            yield new BatchClass(read, length, { file, rowGroup: group });
          }
        },
        bytesRead: () => bytesRead,
        notes: () => [`${file}: ${groups.length} row group${groups.length === 1 ? '' : 's'}, ${opened.metadata.num_rows} rows`],
        close: () => opened.handle.close(),
      };
    } catch (error) {
      await opened.handle.close();
      throw error;
    }
  }

  engineDetail(): string | undefined {
    const chunks = this.fastChunks + this.generalChunks;
    return chunks === 0 ? undefined : `${Math.round((100 * this.fastChunks) / chunks)}% of ${chunks} column chunks on the fast path`;
  }

  /** One column of one row group: the fast path when it fits, hyparquet for the rest. */
  async readColumn(
    scan: Awaited<ReturnType<typeof parquetScan>>,
    opened: OpenedFile,
    rowGroup: number,
    column: FileColumn,
    rowStart: number,
    rowEnd: number,
    dictionaries: RunDictionaries,
    context: Pick<RunContext, 'warn'>,
  ): Promise<Column> {
    const file = opened.file;
    const dictionary = column.dtype === 'dictionary' ? dictionaries.of(column.name) : undefined;
    const where = { file, rowGroup, column: column.name };
    let result: { column: Column; overflowed: boolean } | undefined;
    try {
      const group = opened.metadata.row_groups[rowGroup];
      const chunk = group.columns.find((candidate) => candidate.meta_data?.path_in_schema.length === 1 && candidate.meta_data.path_in_schema[0] === column.name);
      if (chunk !== undefined && fastPathFits(column.field, column.dtype)) {
        try {
          result = await readFastChunk(opened.buffer.slice, chunk, column.field, column.dtype, Number(group.num_rows), dictionary, where);
          if (rowEnd - rowStart < Number(group.num_rows)) result.column = sliceColumn(result.column, 0, rowEnd - rowStart);
          this.fastChunks++;
        } catch (error) {
          if (!(error instanceof Unsupported)) throw error;
        }
      }
      if (result === undefined) {
        const values = (await scan.readColumn({ column: column.name, rowStart, rowEnd })) as ArrayLike<unknown>;
        result = toColumn(values, column.dtype, dictionary, where);
        this.generalChunks++;
      }
    } catch (error) {
      throw readFailure(file, rowGroup, column.name, error);
    }
    if (result.overflowed) {
      context.warn(columnWidened(column.name, 'dictionary', 'string', `${dictionary!.cap}+ distinct values`, { file, rowGroup }));
      // Plain strings from here on, in this file's later row groups too: one run, one dictionary per column.
      column.dtype = 'string';
      dictionaries.overflow(column.name);
    }
    return result.column;
  }
}

/** The columns to read from this file and the dtype each reads as. */
function fileColumns(opened: OpenedFile, wanted: (all: readonly string[]) => readonly string[], dictionaries: RunDictionaries): FileColumn[] {
  const fields = topLevelFields(opened.metadata);
  const stored = storedDTypes(opened.metadata);
  return wanted(fields.map((field) => field.name)).map((name) => {
    const field = fields.find((candidate) => candidate.name === name);
    if (field === undefined) {
      throw new SluiceError('SCHEMA_MISSING_COLUMN', `${opened.file}: no column ${JSON.stringify(name)} (the file has ${fields.map((f) => f.name).join(', ')}).`, { file: opened.file, column: name });
    }
    const dtype = dtypeFor(opened.file, field, stored[name], dictionaryEncoded(opened.metadata, name));
    return { name, dtype: dictionaries.dtypeOf(name, dtype), field };
  });
}

function topLevelFields(metadata: FileMetaData): ParquetField[] {
  const fields: ParquetField[] = [];
  const schema = metadata.schema;
  // Children of the root in order; a nested field's own children follow it and are skipped.
  let index = 1;
  const skip = (at: number): number => {
    let next = at + 1;
    for (let child = 0; child < (schema[at].num_children ?? 0); child++) next = skip(next);
    return next;
  };
  while (index < schema.length) {
    fields.push(schema[index] as unknown as ParquetField);
    index = skip(index);
  }
  return fields;
}

/** Whether the column's first chunk has dictionary pages: such a string column reads as a dictionary column. */
function dictionaryEncoded(metadata: FileMetaData, name: string): boolean {
  const chunk = metadata.row_groups[0]?.columns.find((candidate) => candidate.meta_data?.path_in_schema[0] === name);
  return chunk?.meta_data?.encodings.some((encoding) => encoding.endsWith('_DICTIONARY')) ?? false;
}

function storedDTypes(metadata: FileMetaData): Record<string, string> {
  const entry = metadata.key_value_metadata?.find((pair) => pair.key === DTYPES_KEY);
  if (entry?.value === undefined) return {};
  try {
    return JSON.parse(entry.value) as Record<string, string>;
  } catch {
    return {};
  }
}

export interface ParquetFooter {
  metadata: FileMetaData;
  /** Top-level columns and the dtype each reads as (or why it cannot be read). */
  fields: (ParquetField & { dtype: string })[];
}

/** The footer of one file and how `parquet()` would read each column, for `etl profile`. */
export async function describeParquetFooter(file: string): Promise<ParquetFooter> {
  const opened = await openParquet(file);
  try {
    const stored = storedDTypes(opened.metadata);
    const fields = topLevelFields(opened.metadata).map((field) => {
      let dtype: string;
      try {
        dtype = dtypeFor(file, field, stored[field.name], dictionaryEncoded(opened.metadata, field.name)) + (isNested(field) ? ' (JSON text)' : '');
      } catch (error) {
        dtype = `refused: ${(error as Error).message.replace(/^.*? is /, '').replace(/, which.*$/, '')}`;
      }
      return { ...field, dtype };
    });
    return { metadata: opened.metadata, fields };
  } finally {
    await opened.handle.close();
  }
}

async function openParquet(file: string): Promise<OpenedFile> {
  const handle = await openForReading(file);
  try {
    const size = (await handle.stat()).size;
    const buffer = {
      byteLength: size,
      async slice(start: number, end = size): Promise<ArrayBuffer> {
        const bytes = new Uint8Array(Math.max(0, end - start));
        const { bytesRead } = await handle.read(bytes, 0, bytes.length, start);
        if (bytesRead < bytes.length) throw new Error(`the file ends at byte ${start + bytesRead}, before byte ${end} that its footer points to (truncated?)`);
        return bytes.buffer;
      },
    };
    let metadata: FileMetaData;
    try {
      metadata = await parquetMetadataAsync(buffer, { parsers: PARSERS });
    } catch (error) {
      throw new SluiceError('INPUT_READ', `${file} is not a readable Parquet file: ${(error as Error).message} (a Parquet file ends with a footer and "PAR1"; truncated, or another format?).`, { file, cause: error });
    }
    return { file, handle, metadata, buffer };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

function readFailure(file: string, rowGroup: number, column: string, error: unknown): SluiceError {
  if (error instanceof SluiceError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  const codec = /compression|codec/i.test(reason) ? ' (a compression codec Sluice cannot read? zstd, snappy, gzip and none are read)' : '';
  return new SluiceError('INPUT_READ', `${file}: row group ${rowGroup}, column ${JSON.stringify(column)}: cannot decode: ${reason}${codec}.`, { file, rowGroup, column, cause: error });
}
