/** Batches as Arrow IPC messages, through apache-arrow's writers, for `toArrow()`. */
import { AsyncByteQueue, RecordBatch, RecordBatchFileWriter, RecordBatchStreamWriter, type RecordBatchWriter, Schema, Struct, makeData } from 'apache-arrow';
import type { Batch } from '../../batch/batch.ts';
import { Column } from '../../batch/column.ts';
import { SluiceError } from '../../core/errors.ts';
import type { BatchEncoder } from '../files/file-sink.ts';
import { ArrowColumnWriter, arrowTypeOf, schemaOf } from './to-arrow-data.ts';

/** The writer's output, taken as it is produced, so each record batch goes to the file before the next batch is asked for. */
class Chunks extends AsyncByteQueue<Uint8Array> {
  private pending: Uint8Array[] = [];

  override write(value: Uint8Array): void {
    if (value.byteLength > 0) this.pending.push(value);
  }

  take(): Uint8Array[] {
    const taken = this.pending;
    this.pending = [];
    return taken;
  }
}

/** Batches as Arrow IPC messages: the schema with the first batch, then one record batch (and its dictionary deltas) per batch. */
export class ArrowEncoder implements BatchEncoder {
  private readonly chunks = new Chunks();
  private readonly writer: RecordBatchWriter;
  private columns: ArrowColumnWriter[] | null = null;
  private schema: Schema | null = null;
  private recordBatches = 0;

  private readonly path: string;
  constructor(
    path: string,
    format: 'file' | 'stream',
  ) {
    this.path = path;
    this.writer = format === 'file' ? new RecordBatchFileWriter() : new RecordBatchStreamWriter();
  }

  encode(batch: Batch<unknown>): Uint8Array[] {
    if (this.columns === null) {
      const dtypes = batch.names.map((name) => batch.columns[name].dtype);
      this.schema = schemaOf(batch.names, dtypes);
      this.columns = batch.names.map((name, c) => new ArrowColumnWriter(name, dtypes[c], this.schema!.fields[c].type));
      this.writer.reset(this.chunks, this.schema);
    }
    if (batch.length > 0) {
      const children = this.columns.map((column) => column.data(this.columnOf(batch, column)));
      const data = makeData({ type: new Struct(this.schema!.fields), length: batch.length, nullCount: 0, children });
      this.writer.write(new RecordBatch(this.schema!, data));
      this.recordBatches++;
    }
    return this.chunks.take();
  }

  end(): Uint8Array[] {
    // No batch at all: still a valid file, of no columns.
    if (this.schema === null) this.writer.reset(this.chunks, new Schema([]));
    this.writer.finish();
    return this.chunks.take();
  }

  /** The batch's column for a file column: the file keeps its first batch's columns and types. */
  private columnOf(batch: Batch<unknown>, file: ArrowColumnWriter): Column {
    const where = { file: this.path, recordBatch: this.recordBatches, column: file.name };
    const names = this.columns!.map((column) => column.name);
    if (batch.names.length !== names.length || names.some((name, c) => batch.names[c] !== name)) {
      throw new SluiceError('OUTPUT_WRITE', `Cannot write ${this.path}: record batch ${this.recordBatches} has columns (${batch.names.join(', ')}) other than the file's (${names.join(', ')}); an Arrow file has one schema.`, { file: this.path, recordBatch: this.recordBatches });
    }
    const column = batch.columns[file.name];
    if (column.dtype === 'dictionary' && file.dtype === 'dictionary') {
      file.dictionary ??= column.dictionary;
      if (column.dictionary === file.dictionary) return column;
    }
    if (column.dtype === file.dtype && column.dtype !== 'dictionary') return column;
    // A dictionary column that fell back to plain strings (its dictionary filled up) still fits a utf8 column.
    if (column.dtype === 'dictionary' && file.dtype === 'string') return asStrings(column);
    throw new SluiceError(
      'OUTPUT_WRITE',
      `Cannot write ${this.path}: column ${JSON.stringify(file.name)} is ${describe(column)} in record batch ${this.recordBatches}, but the file's schema (from the first batch) has it as ${arrowTypeOf(file.dtype, 0)}, and an Arrow file keeps one schema. Give the source a schema so the types are fixed from the start${file.dtype === 'dictionary' ? ', or a larger dictionaryCap' : ''}.`,
      where,
    );
  }
}

function describe(column: Column): string {
  return column.dtype === 'dictionary' ? 'a dictionary column over another dictionary' : column.dtype;
}

function asStrings(column: Column): Column {
  const values = column.dictionary!.values;
  const codes = column.data as Int32Array;
  const strings = new Array<string>(column.length);
  for (let i = 0; i < column.length; i++) strings[i] = values[codes[i]];
  return new Column('string', column.length, strings, column.validity);
}
