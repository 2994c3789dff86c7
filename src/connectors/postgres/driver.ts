/**
 * pg and its stream helpers, loaded on first use: a run that touches no database (a CSV → CSV pipeline)
 * does not pay for loading them, ~150 ms of CPU at startup under tsx (measured for issue 3). They are
 * CommonJS, so `require` loads them synchronously and the adapters keep their synchronous shape.
 */
import { createRequire } from 'node:module';
import type pgModule from 'pg';
import type copyStreamsModule from 'pg-copy-streams';
import type QueryStreamClass from 'pg-query-stream';

const require = createRequire(import.meta.url);

let pg: typeof pgModule | undefined;
let copyStreams: typeof copyStreamsModule | undefined;
let queryStream: typeof QueryStreamClass | undefined;

export function pgDriver(): typeof pgModule {
  return (pg ??= require('pg') as typeof pgModule);
}

export function pgCopyStreams(): typeof copyStreamsModule {
  return (copyStreams ??= require('pg-copy-streams') as typeof copyStreamsModule);
}

export function pgQueryStream(): typeof QueryStreamClass {
  return (queryStream ??= require('pg-query-stream') as typeof QueryStreamClass);
}
