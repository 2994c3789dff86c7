import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, existsSync, type WriteStream } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { createGzip, type Gzip } from 'node:zlib';
import { SluiceError } from '../../core/errors.ts';
import { renameDurably } from './durable.ts';

/**
 * An output file written under a temporary name in the same folder and renamed into place only by
 * `commit()`, so a failed run never leaves an output that looks complete. `.gz` names are gzipped.
 *
 * The temporary name is unpredictable (random bytes after the pid) and created with O_EXCL (`wx`): a
 * file or symlink planted at it makes the open fail instead of being written through. The file is
 * fsynced before the rename and the folder after it, so after a power loss the final name holds the
 * whole output or the previous one.
 */
export class AtomicFile {
  readonly temporaryPath: string;
  private readonly file: WriteStream;
  private readonly gzip: Gzip | null;
  private readonly head: WriteStream | Gzip;
  private failure: unknown = null;
  bytesWritten = 0;

  readonly path: string;
  private constructor(path: string) {
    this.path = path;
    this.temporaryPath = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(12).toString('hex')}.tmp`);
    this.file = createWriteStream(this.temporaryPath, { flags: 'wx', mode: 0o644, highWaterMark: 1 << 20 });
    this.gzip = path.endsWith('.gz') ? createGzip({ level: 6 }) : null;
    if (this.gzip !== null) this.gzip.pipe(this.file);
    this.head = this.gzip ?? this.file;
    const remember = (error: unknown) => {
      this.failure ??= error;
    };
    this.file.on('error', remember);
    this.gzip?.on('error', remember);
  }

  static async open(path: string): Promise<AtomicFile> {
    try {
      await mkdir(dirname(path), { recursive: true });
    } catch (error) {
      throw outputError(path, 'create the folder of', await realMkdirError(dirname(path), error));
    }
    await removeDeadWritersFiles(path);
    const output = new AtomicFile(path);
    await once(output.file, 'open').catch((error) => {
      throw outputError(path, 'create', error);
    });
    return output;
  }

  /**
   * Writes a chunk; waits when the disk is slower than the pipeline (the stream's backpressure).
   * `written` is called once the stream is done with the chunk (not on failure): its memory may be reused.
   */
  async write(chunk: Uint8Array, written?: () => void): Promise<void> {
    this.check();
    this.bytesWritten += chunk.byteLength;
    const accepted = written === undefined ? this.head.write(chunk) : this.head.write(chunk, (error) => error == null && written());
    if (!accepted) {
      // Both listeners go once either fires: a listener left behind per wait would pile up over a long run.
      const settled = new AbortController();
      const waits = [once(this.head, 'drain', { signal: settled.signal }), once(this.file, 'error', { signal: settled.signal })];
      for (const wait of waits) wait.catch(() => {}); // the loser rejects with an AbortError below
      try {
        await Promise.race(waits);
      } catch (error) {
        this.failure ??= error;
      } finally {
        settled.abort();
      }
      this.check();
    }
  }

  /** Flushes, closes and renames the file into place. */
  async commit(): Promise<void> {
    this.check();
    const finished = once(this.file, 'close');
    this.head.end();
    try {
      await finished;
    } catch (error) {
      // `once` rejects when the stream errors before it closes (a full disk at the last flush).
      this.failure ??= error;
    }
    this.check();
    try {
      await renameDurably(this.temporaryPath, this.path);
    } catch (error) {
      throw outputError(this.path, 'move into place', error);
    }
  }

  /** Removes the temporary file. Safe to call after commit and more than once. */
  async discard(): Promise<void> {
    this.gzip?.destroy();
    this.file.destroy();
    await rm(this.temporaryPath, { force: true });
  }

  private check(): void {
    if (this.failure !== null) throw outputError(this.path, 'write', this.failure);
  }
}

/**
 * Node's recursive mkdir reports ENOENT for every failure below an existing folder (a read-only file
 * system, a permission): creating the first missing folder alone gives the real reason.
 */
async function realMkdirError(folder: string, error: unknown): Promise<unknown> {
  if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return error;
  let missing = folder;
  while (dirname(missing) !== missing && !existsSync(dirname(missing))) missing = dirname(missing);
  try {
    await mkdir(missing);
  } catch (real) {
    return real;
  }
  return error;
}

/**
 * An output failure with a code and words for what to do: a full disk is OUTPUT_DISK_FULL, the rest
 * OUTPUT_WRITE with the system's reason in plain words. The output is never left looking complete.
 */
function outputError(path: string, doing: string, error: unknown): SluiceError {
  const code = (error as NodeJS.ErrnoException).code;
  const reason = error instanceof Error ? error.message : String(error);
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new SluiceError(
      'OUTPUT_DISK_FULL',
      `Cannot ${doing} ${path}: the disk (or quota) holding it is full (${code}). Free some space or write the output elsewhere; ${path} was left as it was.`,
      { file: path, cause: error },
    );
  }
  const hint =
    code === 'EROFS' ? 'the file system is read-only'
    : code === 'EACCES' || code === 'EPERM' ? 'permission denied'
    : code === 'EEXIST' ? 'a file is already at its temporary name (planted?); nothing was written through it'
    : code === 'ENAMETOOLONG' ? 'the name is too long for the file system'
    : code === 'ENOTDIR' ? 'a part of the path is a file, not a folder'
    : undefined;
  return new SluiceError('OUTPUT_WRITE', `Cannot ${doing} ${path}: ${hint === undefined ? reason : `${hint} (${reason})`}.`, { file: path, cause: error });
}

/**
 * Removes this output's temporary files left by writers that are gone: a run killed outright (SIGKILL,
 * out of memory) cannot remove its own. The pid in the name tells whether the writer is alive; on this
 * machine, that is (two machines writing one output file through a shared folder conflict anyway).
 */
async function removeDeadWritersFiles(path: string): Promise<void> {
  const prefix = `.${basename(path)}.`;
  const names = await readdir(dirname(path)).catch(() => [] as string[]);
  for (const name of names) {
    const match = /^(\d+)\.[0-9a-z]+\.tmp$/.exec(name.startsWith(prefix) ? name.slice(prefix.length) : '');
    if (match === null || Number(match[1]) === process.pid) continue;
    try {
      process.kill(Number(match[1]), 0);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ESRCH') await rm(join(dirname(path), name), { force: true });
    }
  }
}
