/**
 * Page compression. zstd and gzip are Node's own zlib (no dependency); snappy, which Node lacks, is
 * snappyjs (pure JS, small, no native build).
 * Reading: hyparquet has snappy built in and takes zstd and gzip from {@link decompressors}.
 */
import { createRequire } from 'node:module';
import { constants, gunzipSync, gzipSync, zstdCompressSync, zstdDecompressSync } from 'node:zlib';
import type { Compression } from './format.ts';

const snappy = createRequire(import.meta.url)('snappyjs') as {
  compress(input: Uint8Array): Uint8Array;
};

/** zstd level 3 (zstd's own default, DuckDB's too): most of the size gain at a fraction of the time. */
const ZSTD_LEVEL = 3;

export function compress(codec: Compression, body: Uint8Array): Uint8Array {
  switch (codec) {
    case 'none':
      return body;
    case 'zstd':
      return zstdCompressSync(body, { params: { [constants.ZSTD_c_compressionLevel]: ZSTD_LEVEL } });
    case 'gzip':
      return gzipSync(body, { level: 6 });
    case 'snappy':
      return snappy.compress(body);
  }
}

/** Decompressors in hyparquet's shape (input, expected output length). */
export const decompressors = {
  ZSTD: (input: Uint8Array, outputLength: number) => new Uint8Array(zstdDecompressSync(input, { maxOutputLength: Math.max(outputLength, 1) })),
  GZIP: (input: Uint8Array) => new Uint8Array(gunzipSync(input)),
};
