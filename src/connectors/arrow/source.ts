/**
 * `arrow(pathOrGlob, options)`: Arrow IPC files and streams read one record batch at a time through
 * apache-arrow's reader (the file format by seeking to each batch its footer lists, the stream format
 * front to back), only the projected columns converted, into typed batches whose numeric buffers are
 * views on the record batch's body (from-arrow-data.ts). A record batch larger than the run's batch
 * size is handed on in slices of it.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { type RecordBatch, RecordBatchReader, type Schema } from 'apache-arrow';
import { z } from 'zod';
import type { AnyRow, Batch } from '../../batch/batch.ts';
import { Batch as BatchClass, columnRecord } from '../../batch/batch.ts';
import type { DType } from '../../batch/dtype.ts';
import { SluiceError } from '../../core/errors.ts';
import { checkOptions } from '../../core/options.ts';
import type { RunContext, Source, SourceContext, SourceDescription } from '../../contracts/contracts.ts';
import { clonePlans, columnWidened, emptyBatch } from '../../schema/decode.ts';
import type { ColumnPlan } from '../../schema/plan.ts';
import type { RowOf } from '../../schema/row-type.ts';
import { checkedBatches, COLUMNAR_OPTIONS, type ColumnarOptions, planFor, RunDictionaries, schemaPlansOf, sliceBatch, sliceColumn, wantedColumns } from '../files/columnar.ts';
import { unfinishedFiles } from '../files/finished-files.ts';
import { expandInputs, totalSize } from '../files/inputs.ts';
import { columnOf, DictionaryMapper, dtypeOfField } from './from-arrow-data.ts';

export type ArrowOptions<S = unknown, K extends string = string> = ColumnarOptions<S, K>;

const ENGINE = 'arrow ipc (apache-arrow)';

/** Reads Arrow IPC files or streams (a path, glob or list), one record batch at a time. */
export function arrow<S extends z.ZodObject | undefined = undefined, const K extends string = string>(
  path: string | readonly string[],
  options: ArrowOptions<S, K> = {},
): Source<RowOf<S, K>> {
  const checked = checkOptions('arrow()', COLUMNAR_OPTIONS, options);
  return new ArrowSource(path, checked as ArrowOptions<unknown, string>) as unknown as Source<RowOf<S, K>>;
}

interface FileColumn {
  name: string;
  index: number;
  dtype: DType;
}

class ArrowSource implements Source<AnyRow> {
  readonly kind = 'arrow';
  readonly location: string;
  private readonly dictionaries: RunDictionaries;

  constructor(
    private readonly path: string | readonly string[],
    private readonly options: ArrowOptions<unknown, string>,
  ) {
    this.location = typeof path === 'string' ? path : path.join(', ');
    this.dictionaries = new RunDictionaries(options.dictionaryCap);
  }

  async describe(_context: RunContext): Promise<SourceDescription> {
    const files = await expandInputs(this.path);
    const opened = await openArrow(files[0]);
    try {
      const plans = this.options.schema !== undefined ? schemaPlansOf(this.options) : this.fileColumns(files[0], opened.reader.schema).map(({ name, dtype }) => planFor(name, dtype));
      return { kind: 'arrow', location: files.join(', '), engine: ENGINE, columns: plans, totalBytes: await totalSize(files), notes: [`${files[0]}: Arrow IPC ${opened.reader.isFile() ? 'file' : 'stream'}`] };
    } finally {
      await opened.handle.close();
    }
  }

  async *read(context: SourceContext): AsyncGenerator<Batch> {
    const files = await expandInputs(this.path);
    const totalBytes = await totalSize(files);
    context.engine(ENGINE);
    const progress = await unfinishedFiles(files, context, this.options.incremental);
    const schemaPlans = this.options.schema === undefined ? null : clonePlans(schemaPlansOf(this.options));
    let rowsLeft = context.limit ?? Infinity;
    let doneBytes = 0;
    let yielded = false;
    let lastPlans: ColumnPlan[] = schemaPlans ?? [];
    for (const file of progress.files) {
      if (rowsLeft <= 0) break;
      const opened = await openArrow(file);
      let whole = true;
      try {
        const columns = this.fileColumns(file, opened.reader.schema);
        const mappers = new Map<string, DictionaryMapper>();
        if (schemaPlans === null) lastPlans = columns.map(({ name, dtype }) => planFor(name, dtype, dtype === 'dictionary' ? this.dictionaries.of(name) : undefined));
        let index = 0;
        for await (const recordBatch of readBatches(opened.reader, file)) {
          if (rowsLeft <= 0) {
            whole = false;
            break;
          }
          context.signal.throwIfAborted();
          const batch = this.toBatch(recordBatch, columns, mappers, file, index, context);
          const rows = Math.min(batch.length, rowsLeft);
          // Cut short by the limit, the file is not finished: marking it would skip its rest next time.
          if (rows < batch.length) whole = false;
          const kept = rows < batch.length ? new BatchClass(sliced(batch, rows), rows, batch.origin) : batch;
          const recordIndex = index;
          const pieces = schemaPlans === null ? sliceBatch(kept, context.batchRows()) : await checkedBatches(kept, schemaPlans, context, (row) => ({ file, recordBatch: recordIndex, row }));
          for (const piece of pieces) {
            yielded = true;
            yield piece;
          }
          rowsLeft -= rows;
          index++;
        }
      } finally {
        await opened.handle.close();
      }
      doneBytes += await totalSize([file]);
      context.progress(doneBytes, totalBytes);
      if (whole) await progress.finished(file);
    }
    if (!yielded) yield emptyBatch(lastPlans);
  }

  private toBatch(recordBatch: RecordBatch, columns: FileColumn[], mappers: Map<string, DictionaryMapper>, file: string, index: number, context: SourceContext): Batch {
    const read = columnRecord();
    for (const column of columns) {
      const where = { file, recordBatch: index, column: column.name };
      let mapper = mappers.get(column.name);
      if (column.dtype === 'dictionary' && mapper === undefined) {
        mapper = new DictionaryMapper(this.dictionaries.of(column.name));
        mappers.set(column.name, mapper);
      }
      const data = recordBatch.data.children[column.index];
      const { column: converted, overflowed } = columnOf(data, column.dtype, mapper, where);
      if (overflowed) {
        context.warn(columnWidened(column.name, 'dictionary', 'string', `${mapper!.dictionary.cap}+ distinct values`, { file }));
        column.dtype = 'string';
        this.dictionaries.overflow(column.name);
      }
      read[column.name] = converted;
    }
    return new BatchClass(read, recordBatch.numRows, { file, recordBatch: index });
  }

  /** The columns to read from this file, where each is in its record batches, and the dtype each reads as. */
  private fileColumns(file: string, schema: Schema): FileColumn[] {
    const fields = schema.fields;
    const wanted = wantedColumns(this.options, fields.map((field) => field.name));
    return wanted.map((name) => {
      const index = fields.findIndex((field) => field.name === name);
      if (index < 0) {
        throw new SluiceError('SCHEMA_MISSING_COLUMN', `${file}: no column ${JSON.stringify(name)} (the file has ${fields.map((field) => field.name).join(', ')}).`, { file, column: name });
      }
      return { name, index, dtype: this.dictionaries.dtypeOf(name, dtypeOfField(file, fields[index])) };
    });
  }
}

function sliced(batch: Batch, rows: number): Record<string, ReturnType<typeof sliceColumn>> {
  const columns = columnRecord();
  for (const name of batch.names) columns[name] = sliceColumn(batch.columns[name], 0, rows);
  return columns;
}

type Reader = Awaited<ReturnType<typeof RecordBatchReader.from<any>>>;

async function openArrow(file: string): Promise<{ handle: FileHandle; reader: Reader }> {
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    throw new SluiceError('INPUT_READ', `Cannot read ${file}: ${(error as Error).message}`, { file, cause: error });
  }
  try {
    const reader = await RecordBatchReader.from(handle);
    await reader.open();
    if (reader.schema === undefined || reader.schema === null) throw new Error('no schema message');
    return { handle, reader };
  } catch (error) {
    await handle.close();
    throw new SluiceError('INPUT_READ', `${file} is not a readable Arrow IPC file or stream: ${(error as Error).message} (an Arrow file starts with "ARROW1", a stream with a schema message; truncated, or another format?).`, { file, cause: error });
  }
}

/** The reader's record batches, its failures named by file and record batch. */
async function* readBatches(reader: Reader, file: string): AsyncGenerator<RecordBatch> {
  let index = 0;
  const batches = reader[Symbol.asyncIterator]();
  try {
    while (true) {
      let next: IteratorResult<RecordBatch>;
      try {
        next = await batches.next();
      } catch (error) {
        throw new SluiceError('INPUT_READ', `${file}: record batch ${index}: cannot decode: ${(error as Error).message} (truncated or corrupt?).`, { file, recordBatch: index, cause: error });
      }
      if (next.done) return;
      yield next.value;
      index++;
    }
  } finally {
    await batches.return?.();
  }
}
