/**
 * `parquet(pathOrGlob, options)`: Parquet files read one row group at a time, only the projected
 * columns, into typed batches. hyparquet (pure JS, well kept, reads what DuckDB, pyarrow and Spark
 * write: every codec but LZ4/Brotli, dictionary, delta and byte-stream-split encodings, nested types)
 * decodes each column chunk; the values become typed columns here. The file is read by ranges (the
 * footer, then each column chunk), never whole.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { parquetMetadataAsync, parquetScan, type FileMetaData } from 'hyparquet';
import { z } from 'zod';
import type { AnyRow, Batch } from '../../batch/batch.ts';
import { columnRecord, Batch as BatchClass } from '../../batch/batch.ts';
import type { Column } from '../../batch/column.ts';
import type { DType } from '../../batch/dtype.ts';
import { SluiceError } from '../../core/errors.ts';
import { checkOptions } from '../../core/options.ts';
import type { DescribeContext, RunContext, Source, SourceContext, SourceDescription } from '../../contracts/contracts.ts';
import { clonePlans, columnWidened, emptyBatch } from '../../schema/decode.ts';
import type { ColumnPlan } from '../../schema/plan.ts';
import type { RowOf } from '../../schema/row-type.ts';
import { unfinishedFiles } from '../files/finished-files.ts';
import { expandInputs, totalSize } from '../files/inputs.ts';
import { projectPlans } from '../files/file-source.ts';
import { decompressors } from './compress.ts';
import { fastPathFits, readFastChunk, Unsupported } from './fast-chunk.ts';
import { checkedBatches, COLUMNAR_OPTIONS, type ColumnarOptions, planFor, RunDictionaries, schemaPlansOf, sliceBatch, sliceColumn, wantedColumns } from '../files/columnar.ts';
import { dtypeFor, isNested, type ParquetField, PARSERS, toColumn } from './read-types.ts';
import { DTYPES_KEY } from './sink.ts';

export type ParquetOptions<S = unknown, K extends string = string> = ColumnarOptions<S, K>;

/** Reads Parquet files (a path, glob or list), one row group at a time. */
export function parquet<S extends z.ZodObject | undefined = undefined, const K extends string = string>(
  path: string | readonly string[],
  options: ParquetOptions<S, K> = {},
): Source<RowOf<S, K>> {
  const checked = checkOptions('parquet()', COLUMNAR_OPTIONS, options);
  return new ParquetSource(path, checked as ParquetOptions<unknown, string>) as unknown as Source<RowOf<S, K>>;
}

interface OpenedFile {
  file: string;
  handle: FileHandle;
  metadata: FileMetaData;
  buffer: { byteLength: number; slice(start: number, end?: number): Promise<ArrayBuffer> };
}

const ENGINE = 'parquet pages (hyparquet past the fast path)';

class ParquetSource implements Source<AnyRow> {
  readonly kind = 'parquet';
  readonly location: string;
  private readonly dictionaries: RunDictionaries;

  constructor(
    private readonly path: string | readonly string[],
    private readonly options: ParquetOptions<unknown, string>,
  ) {
    this.location = typeof path === 'string' ? path : path.join(', ');
    this.dictionaries = new RunDictionaries(options.dictionaryCap);
  }

  async describe(context: DescribeContext): Promise<SourceDescription> {
    const files = await expandInputs(this.path);
    const opened = await openParquet(files[0]);
    try {
      const all = this.options.schema !== undefined ? schemaPlansOf(this.options) : this.filePlans(opened).map(({ name, dtype }) => planFor(name, dtype));
      const plans = projectPlans(all, context.columns);
      const rowGroups = opened.metadata.row_groups.length;
      return {
        kind: 'parquet',
        location: files.join(', '),
        engine: ENGINE,
        columns: plans,
        ...(all.length > plans.length ? { columnsOf: all.length } : {}),
        totalBytes: await totalSize(files),
        notes: [`${files[0]}: ${rowGroups} row group${rowGroups === 1 ? '' : 's'}, ${opened.metadata.num_rows} rows`],
      };
    } finally {
      await opened.handle.close();
    }
  }

  async *read(context: SourceContext): AsyncGenerator<Batch> {
    const files = await expandInputs(this.path);
    const totalBytes = await totalSize(files);
    context.engine(ENGINE);
    this.fastChunks = 0;
    this.generalChunks = 0;
    const progress = await unfinishedFiles(files, context, this.options.incremental);
    const schemaPlans = this.options.schema === undefined ? null : clonePlans(projectPlans(schemaPlansOf(this.options), context.columns));
    let reported = false;
    let rowsLeft = context.limit ?? Infinity;
    let doneBytes = 0;
    let yielded = false;
    let lastPlans: ColumnPlan[] = schemaPlans ?? [];
    for (const file of progress.files) {
      if (rowsLeft <= 0) break;
      const opened = await openParquet(file);
      let whole = true;
      try {
        const all = this.filePlans(opened);
        // Only the columns the pipeline uses: the others are never read from disk.
        const columns = projectPlans(all, context.columns);
        if (!reported) context.columnsRead(columns.map((column) => column.name), all.map((column) => column.name));
        reported = true;
        if (schemaPlans === null) lastPlans = columns.map(({ name, dtype }) => planFor(name, dtype, this.dictionaries.peek(name)));
        const names = columns.map((column) => column.name);
        const scan = await parquetScan({ file: opened.buffer, metadata: opened.metadata, columns: names, compressors: decompressors, parsers: PARSERS, utf8: true });
        let rowStart = 0;
        for (let group = 0; group < opened.metadata.row_groups.length; group++) {
          if (rowsLeft <= 0) {
            whole = false;
            break;
          }
          context.signal.throwIfAborted();
          const rowGroup = opened.metadata.row_groups[group];
          const rows = Number(rowGroup.num_rows);
          const rowEnd = rowStart + Math.min(rows, rowsLeft);
          const read = columnRecord();
          for (const column of columns) read[column.name] = await this.readColumn(scan, opened, group, column, rowStart, rowEnd, context);
          const batch = new BatchClass(read, rowEnd - rowStart, { file, rowGroup: group });
          rowStart += rows;
          const pieces = schemaPlans === null ? sliceBatch(batch, context.batchRows()) : await checkedBatches(batch, schemaPlans, context, (row) => ({ file, rowGroup: group, row }));
          for (const piece of pieces) {
            yielded = true;
            yield piece;
          }
          rowsLeft -= batch.length;
          doneBytes += Number(rowGroup.total_compressed_size ?? rowGroup.total_byte_size);
          context.progress(Math.min(doneBytes, totalBytes), totalBytes);
          if (rowsLeft <= 0 && group < opened.metadata.row_groups.length - 1) whole = false;
        }
      } finally {
        await opened.handle.close();
      }
      if (whole) await progress.finished(file);
    }
    if (!yielded) yield emptyBatch(lastPlans);
    const chunks = this.fastChunks + this.generalChunks;
    if (chunks > 0) context.engine(ENGINE, `${Math.round((100 * this.fastChunks) / chunks)}% of ${chunks} column chunks on the fast path`);
  }

  /** One column of one row group: the fast path when it fits, hyparquet for the rest. */
  private async readColumn(
    scan: Awaited<ReturnType<typeof parquetScan>>,
    opened: OpenedFile,
    rowGroup: number,
    column: { name: string; dtype: DType; field: ParquetField },
    rowStart: number,
    rowEnd: number,
    context: SourceContext,
  ): Promise<Column> {
    const file = opened.file;
    const dictionary = column.dtype === 'dictionary' ? this.dictionaries.of(column.name) : undefined;
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
      this.dictionaries.overflow(column.name);
    }
    return result.column;
  }

  private fastChunks = 0;
  private generalChunks = 0;

  /** The columns to read from this file and the dtype each reads as. */
  private filePlans(opened: OpenedFile): { name: string; dtype: DType; field: ParquetField }[] {
    const fields = topLevelFields(opened.metadata);
    const wanted = wantedColumns(this.options, fields.map((field) => field.name));
    const stored = storedDTypes(opened.metadata);
    return wanted.map((name) => {
      const field = fields.find((candidate) => candidate.name === name);
      if (field === undefined) {
        throw new SluiceError('SCHEMA_MISSING_COLUMN', `${opened.file}: no column ${JSON.stringify(name)} (the file has ${fields.map((f) => f.name).join(', ')}).`, { file: opened.file, column: name });
      }
      const dtype = dtypeFor(opened.file, field, stored[name], dictionaryEncoded(opened.metadata, name));
      return { name, dtype: this.dictionaries.dtypeOf(name, dtype), field };
    });
  }
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
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    throw new SluiceError('INPUT_READ', `Cannot read ${file}: ${(error as Error).message}`, { file, cause: error });
  }
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
