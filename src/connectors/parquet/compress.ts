/**
 * Page compression. zstd and gzip are Node's own zlib (no dependency); snappy, which Node lacks, is
 * snappyjs (pure JS, small, no native build).
 * Reading: hyparquet has snappy built in and takes zstd and gzip from {@link decompressors}.
 */
import { createRequire } from 'node:module';
import { constants, gunzipSync, gzipSync, zstdCompressSync, zstdDecompressSync } from 'node:zlib';
import type { Compression } from './format.ts';

// Loaded with the first snappy page, not with Sluice.
let snappy: { compress(input: Uint8Array): Uint8Array } | undefined;

/** zstd level 3 (zstd's own default, DuckDB's too): most of the size gain at a fraction of the time. */
const ZSTD_LEVEL = 3;

export function compress(codec: Compression, body: Uint8Array): Uint8Array {
  switch (codec) {
    case 'none':
      return body;
    case 'zstd':
      // The pledged size lets zstd size its tables to the page rather than to its 2 MB+ window (and
      // puts the size in the frame): a quarter less CPU per 1 MB page, measured here.
      return exact(zstdCompressSync(body, { chunkSize: chunkFor(body.length), pledgedSrcSize: body.length, params: { [constants.ZSTD_c_compressionLevel]: ZSTD_LEVEL } }));
    case 'gzip':
      return exact(gzipSync(body, { level: 6, chunkSize: chunkFor(body.length) }));
    case 'snappy':
      snappy ??= createRequire(import.meta.url)('snappyjs') as { compress(input: Uint8Array): Uint8Array };
      return snappy.compress(body);
  }
}

/**
 * zlib's sync call hands back a view on its output chunk, which is the page's size: a page compressed
 * to a fifth would keep the whole chunk alive for as long as the row group is held. Copied when that
 * wastes more than a third: the sink then holds its compressed pages' bytes, not a page-sized buffer each.
 */
function exact(compressed: Buffer): Uint8Array {
  return compressed.buffer.byteLength > compressed.length * 1.5 + 4096 ? Uint8Array.prototype.slice.call(compressed) : compressed;
}

/**
 * zlib's sync calls work in chunks of `chunkSize` (16 KB by default) and join them at the end: for a
 * page of a megabyte, 64 calls into zstd and a copy. One chunk of the page's size (which the page
 * header gives when reading) is a single call with no join: zstd pages decompressed 2-3x faster.
 */
function chunkFor(bytes: number): number {
  return Math.max(64, Math.min(bytes, 64 << 20));
}

/** Decompressors in hyparquet's shape (input, expected output length). */
export const decompressors = {
  // One byte to spare: a chunk filled exactly makes zlib allocate another before it sees the end.
  // Views, not copies: zlib's Buffer is ours alone.
  ZSTD: (input: Uint8Array, outputLength: number) => view(zstdDecompressSync(input, { maxOutputLength: Math.max(outputLength, 1), chunkSize: chunkFor(outputLength + 1) })),
  GZIP: (input: Uint8Array, outputLength: number) => view(gunzipSync(input, { chunkSize: chunkFor(outputLength + 1) })),
};

function view(bytes: Buffer): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
