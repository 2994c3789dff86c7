/**
 * `toParquet(path, options)`: batches gathered into row groups, each column's values encoded into its
 * page as the batch arrives and the page compressed once it fills (about 1 MB), so what the sink holds
 * is the row group's compressed pages and one page being built per column, never the batches; a row group is written out once it reaches `rowGroupRows` or `rowGroupBytes`, and the
 * footer at the end. The file is written under a temporary name and renamed into place on success.
 *
 * Memory: the sink has no way to reserve bytes from the run's budget (sinks have no memory API yet),
 * so it keeps the row group small instead: `rowGroupBytes` (default 8 MB of encoded pages) bounds what
 * it holds beyond the batch in hand.
 */
import { z } from 'zod';
import type { AnyRow, Batch } from '../../batch/batch.ts';
import type { DType } from '../../batch/dtype.ts';
import { parseBytes } from '../../core/bytes.ts';
import { SluiceError } from '../../core/errors.ts';
import { byteSize, checkOptions, integerFrom, option, optionsObject } from '../../core/options.ts';
import type { Sink, SinkContext, SinkResult } from '../../contracts/contracts.ts';
import { AtomicFile } from '../files/atomic-file.ts';
import { type ChunkMetadata, ColumnChunk, writeColumnChunk } from './column-chunk.ts';
import { type Compression, columnType, MAGIC, OPTIONAL_REPETITION, sameStorage, widerInteger } from './format.ts';
import { GrowableBytes } from './growable-bytes.ts';
import { ThriftType, ThriftWriter } from './thrift.ts';

export interface ParquetSinkOptions {
  /** Page compression. @default 'zstd' */
  compression?: Compression;
  /** Rows per row group at most. @default 1048576 */
  rowGroupRows?: number;
  /** Encoded bytes per row group at most (a number or '8MB'): what the sink holds. @default '8MB' */
  rowGroupBytes?: number | string;
}

const OPTIONS = optionsObject({
  compression: option(z.enum(['zstd', 'snappy', 'gzip', 'none']), "one of 'zstd', 'snappy', 'gzip', 'none'"),
  rowGroupRows: option(integerFrom(1), 'a whole number of rows from 1 up'),
  rowGroupBytes: option(byteSize, "a byte size such as 8388608 or '8MB'"),
});

/** Where a Sluice file keeps each column's dtype, so that reading it back gives the same batches. */
export const DTYPES_KEY = 'sluice.dtypes';

/**
 * Writes a Parquet file readable by DuckDB, pandas/pyarrow and Spark: one OPTIONAL column per batch
 * column (integers at their width, timestamps as INT64 milliseconds UTC, dictionary columns as
 * dictionary pages from the run's codes), min/max/null-count statistics per column chunk.
 *
 * @example toParquet('out/orders.parquet', { compression: 'zstd', rowGroupBytes: '16MB' })
 */
export function toParquet<R = AnyRow>(path: string, options: ParquetSinkOptions = {}): Sink<R> {
  const checked = checkOptions('toParquet()', OPTIONS, options);
  if (path.endsWith('.gz')) {
    throw new SluiceError('INVALID_OPTION', `toParquet(): ${path} ends in .gz, but a Parquet file is compressed inside (pages); name it .parquet and choose \`compression\`.`, {
      option: 'path',
      value: path,
    });
  }
  const settings = {
    compression: checked.compression ?? 'zstd',
    rowGroupRows: checked.rowGroupRows ?? 1 << 20,
    rowGroupBytes: checked.rowGroupBytes === undefined ? 8 << 20 : parseBytes(checked.rowGroupBytes, 'rowGroupBytes'),
  };
  return {
    kind: 'parquet',
    describe: () => ({ kind: 'parquet', location: path, notes: [`${settings.compression}, row groups of up to ${settings.rowGroupRows} rows or ${settings.rowGroupBytes} bytes`] }),
    async write(input: AsyncIterable<Batch<R>>, context: SinkContext): Promise<SinkResult> {
      let rowsWritten = 0;
      if (context.dryRun) {
        for await (const batch of input) rowsWritten += batch.length;
        return { rowsWritten, location: `${path} (dry run: not written)` };
      }
      const output = await AtomicFile.open(path);
      let committed = false;
      try {
        const file = new ParquetFileWriter(path, output, settings);
        await output.write(MAGIC);
        for await (const batch of input) {
          context.signal.throwIfAborted();
          await file.add(batch as Batch<unknown>);
          rowsWritten += batch.length;
        }
        await file.finish();
        await output.commit();
        committed = true;
        return { rowsWritten, location: path, bytesWritten: output.bytesWritten };
      } finally {
        if (!committed) await output.discard();
      }
    },
  };
}

interface FileColumn {
  name: string;
  /** The dtype the footer declares: the first batch's, widened within its storage by later ones. */
  dtype: DType;
  chunk: ColumnChunk;
}

class ParquetFileWriter {
  private columns: FileColumn[] | null = null;
  private rowGroups: { rows: number; chunks: { metadata: ChunkMetadata; position: number }[]; uncompressed: number; compressed: number; position: number }[] = [];
  private rows = 0;
  private position = MAGIC.length;
  /** Page bodies are assembled here, one page at a time, for every column. */
  private readonly scratch = new GrowableBytes();

  private readonly path: string;
  private readonly output: AtomicFile;
  private readonly settings: { compression: Compression; rowGroupRows: number; rowGroupBytes: number };
  constructor(
    path: string,
    output: AtomicFile,
    settings: { compression: Compression; rowGroupRows: number; rowGroupBytes: number },
  ) {
    this.path = path;
    this.output = output;
    this.settings = settings;
  }

  async add(batch: Batch<unknown>): Promise<void> {
    const columns = (this.columns ??= batch.names.map((name) => ({ name, dtype: batch.columns[name].dtype, chunk: new ColumnChunk(name, columnType(batch.columns[name].dtype).physical, this.settings.compression, this.scratch) })));
    this.check(batch, columns);
    const bytesPerRow = batch.length === 0 ? 0 : batch.byteSize / batch.length;
    let start = 0;
    while (start < batch.length) {
      const heldBytes = this.heldBytes();
      const byRows = this.settings.rowGroupRows - this.rows;
      const byBytes = bytesPerRow === 0 ? byRows : Math.max(1, Math.floor((this.settings.rowGroupBytes - heldBytes) / bytesPerRow));
      const end = Math.min(batch.length, start + Math.max(1, Math.min(byRows, byBytes)));
      for (const column of columns) column.chunk.add(batch.columns[column.name], start, end);
      this.rows += end - start;
      start = end;
      if (this.rows >= this.settings.rowGroupRows || this.heldBytes() >= this.settings.rowGroupBytes) await this.flushRowGroup();
    }
  }

  async finish(): Promise<void> {
    if (this.rows > 0) await this.flushRowGroup();
    const footer = this.footer();
    const length = new Uint8Array(4);
    new DataView(length.buffer).setUint32(0, footer.length, true);
    await this.output.write(footer);
    await this.output.write(length);
    await this.output.write(MAGIC);
  }

  private heldBytes(): number {
    let bytes = 0;
    for (const column of this.columns ?? []) bytes += column.chunk.uncompressedBytes;
    return bytes;
  }

  /** The file's columns are set by the first batch; later batches must keep them and their storage. */
  private check(batch: Batch<unknown>, columns: FileColumn[]): void {
    if (batch.names.length !== columns.length || columns.some((column, c) => batch.names[c] !== column.name)) {
      throw new SluiceError('OUTPUT_WRITE', `Cannot write ${this.path}: a batch has columns (${batch.names.join(', ')}) other than the file's (${columns.map((column) => column.name).join(', ')}); a Parquet file has one schema.`, { file: this.path });
    }
    for (const column of columns) {
      const dtype = batch.columns[column.name].dtype;
      if (dtype === column.dtype) continue;
      if (!sameStorage(column.dtype, dtype)) {
        throw new SluiceError(
          'OUTPUT_WRITE',
          `Cannot write ${this.path}: column ${JSON.stringify(column.name)} changed from ${column.dtype} to ${dtype} after the first batch (a widened inferred column?), and a Parquet column keeps one type. Give the source a schema so the type is fixed from the start.`,
          { file: this.path, column: column.name },
        );
      }
      column.dtype = column.dtype === 'string' || column.dtype === 'dictionary' ? column.dtype : widerInteger(column.dtype, dtype);
    }
  }

  private async flushRowGroup(): Promise<void> {
    const group = { rows: this.rows, chunks: [] as { metadata: ChunkMetadata; position: number }[], uncompressed: 0, compressed: 0, position: this.position };
    for (const column of this.columns!) {
      const { bytes, metadata } = column.chunk.finish();
      group.chunks.push({ metadata, position: this.position });
      for (const piece of bytes) await this.output.write(piece);
      this.position += metadata.compressedBytes;
      group.uncompressed += metadata.uncompressedBytes;
      group.compressed += metadata.compressedBytes;
    }
    this.rowGroups.push(group);
    this.rows = 0;
  }

  private footer(): Uint8Array {
    const columns = this.columns ?? [];
    const thrift = new ThriftWriter().i32(1, 2);
    thrift.list(2, ThriftType.STRUCT, columns.length + 1);
    thrift.elementStruct().string(4, 'schema').i32(5, columns.length).end();
    for (const column of columns) writeSchemaElement(thrift, column.name, column.dtype);
    thrift.i64(3, this.rowGroups.reduce((sum, group) => sum + group.rows, 0));
    thrift.list(4, ThriftType.STRUCT, this.rowGroups.length);
    this.rowGroups.forEach((group) => {
      thrift.elementStruct();
      thrift.list(1, ThriftType.STRUCT, group.chunks.length);
      for (const { metadata, position } of group.chunks) writeColumnChunk(thrift, metadata, position);
      thrift.i64(2, group.uncompressed).i64(3, group.rows).i64(5, group.position).i64(6, group.compressed);
      thrift.end();
    });
    const dtypes = Object.fromEntries(columns.map((column) => [column.name, column.dtype]));
    thrift.list(5, ThriftType.STRUCT, 1).elementStruct().string(1, DTYPES_KEY).string(2, JSON.stringify(dtypes)).end();
    thrift.string(6, 'sluice');
    // TYPE_ORDER for every column: readers trust min/max of strings only with a declared order.
    thrift.list(7, ThriftType.STRUCT, columns.length);
    for (let c = 0; c < columns.length; c++) thrift.elementStruct().struct(1).end().end();
    return thrift.finish();
  }
}

function writeSchemaElement(thrift: ThriftWriter, name: string, dtype: DType): void {
  const type = columnType(dtype);
  thrift.elementStruct().i32(1, type.physical).i32(3, OPTIONAL_REPETITION).string(4, name);
  if (type.converted !== undefined) thrift.i32(6, type.converted);
  if (type.logical !== undefined) {
    thrift.struct(10);
    if (type.logical === 'string') thrift.struct(1).end();
    else if (type.logical === 'date') thrift.struct(6).end();
    else if (type.logical === 'timestamp') thrift.struct(8).bool(1, true).struct(2).struct(1).end().end().end();
    else thrift.struct(10).i8(1, type.logical.bitWidth).bool(2, type.logical.signed).end();
    thrift.end();
  }
  thrift.end();
}
