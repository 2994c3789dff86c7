import { open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { deserialize, serialize } from 'node:v8';
import { Batch, columnRecord } from '../../batch/batch.ts';
import { Column } from '../../batch/column.ts';
import type { Dictionary } from '../../batch/dictionary.ts';
import type { DType, TypedArray } from '../../batch/dtype.ts';
import { SluiceError } from '../../core/errors.ts';

/**
 * A sorted run on disk: one file of blocks of consecutive sorted rows, each block written as
 * `[uint32 byte length][v8.serialize({ length, columns })]` where a column is its dtype, its typed
 * array (or array of strings), its validity bitmap, and for a dictionary column the index of its
 * dictionary in the stage's list (the dictionary itself stays in memory: it is the run's, shared by
 * every batch), and strings packed into one (see {@link PackedStrings}). The same columnar, copy-as-bytes format as the group-by's spill files, and as
 * temporary: another Node version need not read it, and the stage removes it when it ends.
 */
interface StoredColumn {
  dtype: DType;
  data: TypedArray | PackedStrings;
  validity: Uint8Array | null;
  dictionary: number;
}

/**
 * A string column's values as one string and each value's length: v8's serializer copies one long
 * string at memory speed, where an array of strings costs it a tag and a header per value (it was the
 * largest part of writing a run). Read back, the values are slices of the one string.
 */
interface PackedStrings {
  joined: string;
  lengths: Uint32Array;
}

function pack(strings: string[]): PackedStrings {
  const lengths = new Uint32Array(strings.length);
  for (let i = 0; i < strings.length; i++) lengths[i] = strings[i]?.length ?? 0;
  return { joined: strings.join(''), lengths };
}

function unpack({ joined, lengths }: PackedStrings): string[] {
  const strings = new Array<string>(lengths.length);
  let at = 0;
  for (let i = 0; i < lengths.length; i++) {
    strings[i] = joined.slice(at, at + lengths[i]);
    at += lengths[i];
  }
  return strings;
}

interface StoredBlock {
  length: number;
  names: string[];
  columns: StoredColumn[];
}

/** Dictionaries met by one sort, so blocks can name theirs by index. */
export class Dictionaries {
  private readonly list: Dictionary[] = [];

  indexOf(dictionary: Dictionary | undefined): number {
    if (dictionary === undefined) return -1;
    let index = this.list.indexOf(dictionary);
    if (index < 0) index = this.list.push(dictionary) - 1;
    return index;
  }

  at(index: number): Dictionary | undefined {
    return index < 0 ? undefined : this.list[index];
  }
}

export class RunFile {
  private handle: FileHandle | undefined;
  private readonly blockEnds: number[] = [];
  /** Rows written, bytes written, and the largest block's bytes (what a reader holds at once). */
  rows = 0;
  bytes = 0;
  largestBlock = 0;
  /** Rows of the longest block: a merge of this run writes blocks no longer. */
  blockRows = 0;

  readonly path: string;
  private readonly dictionaries: Dictionaries;
  constructor(
    path: string,
    dictionaries: Dictionaries,
  ) {
    this.path = path;
    this.dictionaries = dictionaries;
  }

  static in(folder: string, name: string, dictionaries: Dictionaries): RunFile {
    return new RunFile(join(folder, `${name}.run`), dictionaries);
  }

  async append(batch: Batch<any>): Promise<void> {
    const block: StoredBlock = {
      length: batch.length,
      names: [...batch.names],
      columns: batch.names.map((name) => {
        const column = batch.columns[name];
        const data = column.dtype === 'string' ? pack(column.data as string[]) : (column.data as TypedArray);
        return { dtype: column.dtype, data, validity: column.validity, dictionary: this.dictionaries.indexOf(column.dictionary) };
      }),
    };
    const body = serialize(block);
    const head = Buffer.alloc(4);
    head.writeUInt32LE(body.length, 0);
    try {
      this.handle ??= await open(this.path, 'wx', 0o600);
      await this.handle.writev([head, body]);
    } catch (error) {
      throw new SluiceError('OUTPUT_WRITE', `Could not write a sort run in ${this.path}: ${(error as Error).message}`, { cause: error });
    }
    this.bytes += 4 + body.length;
    this.blockEnds.push(this.bytes);
    this.rows += batch.length;
    if (body.length > this.largestBlock) this.largestBlock = body.length;
    if (batch.length > this.blockRows) this.blockRows = batch.length;
  }

  /** Done writing: the file stays until `remove`. */
  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
  }

  /** The run's blocks in order, as batches, each with its size on disk. */
  async *blocks(): AsyncGenerator<{ batch: Batch; bytes: number }> {
    await this.close();
    const handle = await open(this.path, 'r');
    try {
      let position = 0;
      for (const end of this.blockEnds) {
        const body = Buffer.alloc(end - position - 4);
        await handle.read(body, 0, body.length, position + 4);
        position = end;
        const block = deserialize(body) as StoredBlock;
        const columns = columnRecord();
        block.names.forEach((name, c) => {
          const stored = block.columns[c];
          const data = stored.dtype === 'string' ? unpack(stored.data as PackedStrings) : (stored.data as TypedArray);
          columns[name] = new Column(stored.dtype, block.length, data, stored.validity, this.dictionaries.at(stored.dictionary));
        });
        yield { batch: new Batch(columns, block.length), bytes: body.length };
      }
    } finally {
      await handle.close();
    }
  }

  async remove(): Promise<void> {
    await this.close();
    await rm(this.path, { force: true });
  }
}
