/**
 * Where a distributed run's queue and records live, and the names of a pipeline's queues: what every
 * command that touches distributed runs needs, without loading pg-boss (queue.ts) for it.
 */
import type { PgConnectionOptions } from '../../connectors/postgres/connection.ts';
import { resolveConnection } from '../../connectors/postgres/connection.ts';
import type { DistributedOptions } from '../../runtime/pipeline.ts';

export const DEFAULT_SCHEMA = 'sluice';
export const DEFAULT_QUEUE_SCHEMA = 'pgboss';
export const DEFAULT_RETRIES = 2;
export const DEFAULT_HEARTBEAT_SECONDS = 30;
/** A partition's job may be active this long at most (pg-boss's cap is 24 hours); the heartbeat catches a dead worker much sooner. */
export const PARTITION_EXPIRE_SECONDS = 12 * 60 * 60;

/** Where a distributed run's queue and records live, resolved from the pipeline's options and the command line. */
export interface QueuePlace {
  /** pg's connection configuration (it may hold a password: never print it). */
  config: Record<string, unknown>;
  /** For messages: the URL with its password masked. */
  description: string;
  schema: string;
  queueSchema: string;
}

export function queuePlace(options: DistributedOptions | undefined, connection?: PgConnectionOptions, schemas: { schema?: string; queueSchema?: string } = {}): QueuePlace {
  const resolved = resolveConnection(connection ?? options?.connection);
  return {
    config: { ...resolved.config } as Record<string, unknown>,
    description: resolved.description,
    schema: schemas.schema ?? options?.schema ?? DEFAULT_SCHEMA,
    queueSchema: schemas.queueSchema ?? options?.queueSchema ?? DEFAULT_QUEUE_SCHEMA,
  };
}

export function partitionQueue(pipeline: string): string {
  return `sluice.${queueSafe(pipeline)}.partition`;
}

export function finalizeQueue(pipeline: string): string {
  return `sluice.${queueSafe(pipeline)}.finalize`;
}

/** pg-boss takes letters, digits, `_`, `-`, `.` and `/` in a queue name; anything else becomes `_` plus its code, so two names stay apart. */
function queueSafe(name: string): string {
  return name.replace(/[^\w.\-/]/g, (character) => `_${character.codePointAt(0)!.toString(16)}_`);
}
