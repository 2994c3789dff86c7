/**
 * Durability of files renamed into place: a rename is atomic, but without an fsync of the file before it
 * and of the folder after it, a power loss can leave the final name with an empty or partial file
 * (ext4's delayed allocation, and every file system that reorders metadata and data).
 */
import { open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { rename } from 'node:fs/promises';

/** Flushes a file's data and metadata to the disk (through any descriptor: fsync applies to the file). */
export async function fsyncFile(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Flushes a folder's entries (a rename or a new file in it) to the disk. */
export async function fsyncFolder(path: string): Promise<void> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch {
    return; // a platform that cannot open folders (Windows) has nothing to flush this way
  }
  try {
    await handle.sync();
  } catch (error) {
    // Some file systems refuse fsync on a folder (EINVAL); the rename itself went through.
    if ((error as NodeJS.ErrnoException).code !== 'EINVAL') throw error;
  } finally {
    await handle.close();
  }
}

/** fsync the written file, rename it into place, fsync the folder: the final name holds all or nothing. */
export async function renameDurably(temporaryPath: string, path: string): Promise<void> {
  await fsyncFile(temporaryPath);
  await rename(temporaryPath, path);
  await fsyncFolder(dirname(path));
}
