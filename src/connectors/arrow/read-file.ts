/** One Arrow IPC file or stream opened for the columnar skeleton: its columns, and its record batches as batches. */
import type { FileHandle } from 'node:fs/promises';
import { type RecordBatch, RecordBatchReader } from 'apache-arrow';
import type { Batch } from '../../batch/batch.ts';
import { Batch as BatchClass, columnRecord } from '../../batch/batch.ts';
import { SluiceError } from '../../core/errors.ts';
import type { RunContext } from '../../contracts/contracts.ts';
import { columnWidened } from '../../schema/decode.ts';
import type { RunDictionaries } from '../files/columnar.ts';
import type { ColumnarFile } from '../files/columnar-source.ts';
import { openForReading } from '../files/inputs.ts';
import { columnOf, DictionaryMapper, dtypeOfField } from './from-arrow-data.ts';

export async function openFile(file: string, wanted: (all: readonly string[]) => readonly string[], dictionaries: RunDictionaries, context: Pick<RunContext, 'warn'>): Promise<ColumnarFile> {
  const opened = await openArrow(file);
  try {
    const fields = opened.reader.schema.fields;
    const columns = wanted(fields.map((field) => field.name)).map((name) => {
      const index = fields.findIndex((field) => field.name === name);
      if (index < 0) {
        throw new SluiceError('SCHEMA_MISSING_COLUMN', `${file}: no column ${JSON.stringify(name)} (the file has ${fields.map((field) => field.name).join(', ')}).`, { file, column: name });
      }
      return { name, index, dtype: dictionaries.dtypeOf(name, dtypeOfField(file, fields[index])) };
    });
    const mappers = new Map<string, DictionaryMapper>();
    /** One record batch as a batch of views on its body; a dictionary column that fills the run's dictionary reads as strings from then on. */
    const toBatch = (recordBatch: RecordBatch, index: number): Batch => {
      const read = columnRecord();
      for (const column of columns) {
        let mapper = mappers.get(column.name);
        if (column.dtype === 'dictionary' && mapper === undefined) {
          mapper = new DictionaryMapper(dictionaries.of(column.name));
          mappers.set(column.name, mapper);
        }
        const converted = columnOf(recordBatch.data.children[column.index], column.dtype, mapper, { file, recordBatch: index, column: column.name });
        if (converted.overflowed) {
          context.warn(columnWidened(column.name, 'dictionary', 'string', `${mapper!.dictionary.cap}+ distinct values`, { file }));
          column.dtype = 'string';
          dictionaries.overflow(column.name);
        }
        read[column.name] = converted.column;
      }
      return new BatchClass(read, recordBatch.numRows, { file, recordBatch: index });
    };
    return {
      columns,
      async *units() {
        let index = 0;
        for await (const recordBatch of readBatches(opened.reader, file)) yield toBatch(recordBatch, index++);
      },
      bytesRead: () => 0,
      notes: () => [`${file}: Arrow IPC ${opened.reader.isFile() ? 'file' : 'stream'}`],
      close: () => opened.handle.close(),
    };
  } catch (error) {
    await opened.handle.close();
    throw error;
  }
}

export type Reader = Awaited<ReturnType<typeof RecordBatchReader.from<any>>>;

export async function openArrow(file: string): Promise<{ handle: FileHandle; reader: Reader }> {
  const handle = await openForReading(file);
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
export async function* readBatches(reader: Reader, file: string): AsyncGenerator<RecordBatch> {
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
