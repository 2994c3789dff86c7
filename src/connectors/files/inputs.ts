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

/** What says a file is the one that was opened, unchanged: compared at open and at the end of its read. */
export interface InputIdentity {
  readonly size: number;
  readonly mtimeMs: number;
  readonly ino: number;
  readonly dev: number;
}

export async function inputIdentity(file: string): Promise<InputIdentity> {
  try {
    const { size, mtimeMs, ino, dev } = await stat(file);
    return { size, mtimeMs, ino, dev };
  } catch (error) {
    throw readError(file, error);
  }
}

/**
 * Fails when `file` is not as it was when its read began: cut short (the reader met an end of file
 * early, so its last record may be a torn one that parses, `123.23` read as `1`), grown, rewritten
 * in place, or replaced by another file. Rows read from a file that changed under the reader are
 * neither the old file nor the new one, so the run fails, before its sink commits, rather than
 * succeed with them.
 */
export async function checkUnchanged(file: string, before: InputIdentity, cause?: unknown): Promise<void> {
  const after = await inputIdentity(file).catch(() => undefined);
  if (after !== undefined && after.size === before.size && after.mtimeMs === before.mtimeMs && after.ino === before.ino && after.dev === before.dev) return;
  const what =
    after === undefined
      ? 'was removed'
      : after.ino !== before.ino || after.dev !== before.dev
        ? 'was replaced by another file'
        : after.size < before.size
          ? `shrank from ${before.size} to ${after.size} bytes`
          : after.size > before.size
            ? `grew from ${before.size} to ${after.size} bytes`
            : 'was modified (same size, new modification time)';
  throw new SluiceError(
    'INPUT_CHANGED',
    `${file} ${what} while it was read: the rows read from it may be torn or incomplete, so the run fails and its output is not committed. Write input files under another name and rename them into place when complete, then run again.`,
    { file, expected: 'an input file that does not change while it is read', value: what, cause },
  );
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
export function openInput(file: string, highWaterMark = 1 << 20, range?: { start: number; end: number }): OpenedInput {
  // A byte range is of a plain file (a compressed one is one part of a threaded read).
  const raw = createReadStream(file, range === undefined ? { highWaterMark } : { highWaterMark, start: range.start, end: range.end - 1 });
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
