import { createReadStream } from 'node:fs';
import { type FileHandle, glob, open, stat } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { isAbsolute, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { SluiceError } from '../../core/errors.ts';

const GLOB_CHARS = /[*?[\]{}]/;

/** The files named by a path, a glob, or a list of either; sorted, so runs are repeatable. */
export async function expandInputs(inputs: string | readonly string[]): Promise<string[]> {
  const patterns = typeof inputs === 'string' ? [inputs] : [...inputs];
  const files: string[] = [];
  for (const pattern of patterns) {
    if (GLOB_CHARS.test(pattern)) {
      const matched: string[] = [];
      for await (const file of glob(pattern)) matched.push(file);
      if (matched.length === 0) {
        const where = isAbsolute(pattern) ? '' : ` in ${process.cwd()} (relative paths start from the current directory)`;
        throw new SluiceError('INPUT_NOT_FOUND', `No file matches ${JSON.stringify(pattern)}${where}.`, { file: pattern });
      }
      files.push(...matched.sort());
    } else {
      try {
        const info = await stat(pattern);
        if (!info.isFile()) throw new SluiceError('INPUT_NOT_FOUND', `${pattern} is not a file.`, { file: pattern });
      } catch (error) {
        if (error instanceof SluiceError) throw error;
        const where = isAbsolute(pattern) ? '' : ` (relative paths start from the current directory: ${resolve(pattern)})`;
        throw new SluiceError('INPUT_NOT_FOUND', `Input file ${pattern} does not exist or cannot be read${where}.`, {
          file: pattern,
          cause: error,
        });
      }
      files.push(pattern);
    }
  }
  return files;
}

export async function totalSize(files: readonly string[]): Promise<number> {
  let total = 0;
  for (const file of files) total += (await stat(file)).size;
  return total;
}

export interface OpenedInput {
  /** Decompressed bytes. */
  stream: Readable;
  /** Bytes read from disk so far (compressed bytes for .gz): progress against the file size. */
  readonly diskBytes: () => number;
  close(): void;
}

/** Opens a file for reading in large chunks, gunzipping `.gz` files. */
export function openInput(file: string, highWaterMark = 1 << 20): OpenedInput {
  const raw = createReadStream(file, { highWaterMark });
  const stream = file.endsWith('.gz') ? raw.pipe(createGunzip({ chunkSize: highWaterMark })) : raw;
  if (stream !== raw) {
    raw.on('error', (error) => stream.destroy(error));
  }
  return {
    stream,
    diskBytes: () => raw.bytesRead,
    close() {
      raw.destroy();
      if (stream !== raw) stream.destroy();
    },
  };
}

export function readError(file: string, error: unknown): SluiceError {
  if (error instanceof SluiceError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new SluiceError('INPUT_READ', `Cannot read ${file}: ${message}`, { file, cause: error });
}

/**
 * The 1-based line and column (in bytes) of a byte offset of a file, counted by reading the file again:
 * only errors pay for it (invalid UTF-8, a stray byte-order mark), not the hot path.
 */
export async function locateByteOffset(file: string, byteOffset: number): Promise<{ line: number; column: number }> {
  const input = openInput(file);
  let line = 1;
  let lineStart = 0;
  let position = 0;
  try {
    for await (const chunk of input.stream as AsyncIterable<Buffer>) {
      const stop = Math.min(chunk.length, byteOffset - position);
      for (let at = chunk.indexOf(0x0a); at >= 0 && at < stop; at = chunk.indexOf(0x0a, at + 1)) {
        line++;
        lineStart = position + at + 1;
      }
      position += chunk.length;
      if (position >= byteOffset) break;
    }
  } finally {
    input.close();
  }
  return { line, column: byteOffset - lineStart + 1 };
}

/** Adds line and column to an input error that only knows its byte offset. */
export async function withLineOf(error: unknown): Promise<unknown> {
  if (!(error instanceof SluiceError)) return error;
  const { file, byteOffset, line } = error.details;
  if (file === undefined || byteOffset === undefined || line !== undefined) return error;
  try {
    const place = await locateByteOffset(file, byteOffset);
    const message = error.message.replace(`${file}:`, `${file}:${place.line}:${place.column}:`);
    return new SluiceError(error.code, message, { ...error.details, ...place, cause: error.details.cause });
  } catch {
    return error;
  }
}

/** A file opened for reading at offsets (Parquet, Arrow), or INPUT_READ naming it. */
export async function openForReading(file: string): Promise<FileHandle> {
  try {
    return await open(file, 'r');
  } catch (error) {
    throw new SluiceError('INPUT_READ', `Cannot read ${file}: ${(error as Error).message}`, { file, cause: error });
  }
}
