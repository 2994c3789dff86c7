/**
 * The columns of a query result as the source sees them: name, dtype (from the PostgreSQL type, see
 * types.ts) and how its text is decoded; and the column plans they make, with or without a schema.
 */
import type pg from 'pg';
import type { DType } from '../../batch/dtype.ts';
import { SluiceError } from '../../core/errors.ts';
import { compileSchema, type CompileOptions } from '../../schema/compile.ts';
import { clonePlans } from '../../schema/decode.ts';
import type { ColumnPlan } from '../../schema/plan.ts';
import type { ResolvedConnection } from './connection.ts';
import { wrapPgError } from './errors.ts';
import { DESCRIBE_PREFIX, describeSql } from './query.ts';
import { dtypeForOid, PG_OID } from './types.ts';

// An object rather than an enum, so that Node can run this file by erasing its types.
/** How a column's text becomes its stored value (fast path, types from the result's fields). */
export const Kind = {
  Bool: 0,
  Integer: 1,
  Float: 2,
  Date: 3,
  Timestamp: 4,
  Text: 5,
  /** Text stored as codes into a dictionary shared by the run's batches (COPY mode, see TextColumns). */
  Dictionary: 6,
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

export interface Field {
  name: string;
  dtype: DType;
  kind: Kind;
  oid: number;
}

const identity = (value: string) => value;
/** pg parses nothing: every value stays the server's text, which Sluice parses itself into typed arrays. */
export const IDENTITY_TYPES = { getTypeParser: () => identity };

/**
 * Rows per batch when a batch holds string arrays (cursor pages, COPY text columns past their
 * dictionary), whatever the batch size: V8 puts arrays past ~16K elements (128 KB) in its large-object
 * space, where allocating one measured ~0.6 ms (vs ~5 µs below), and their strings outlive more
 * scavenges. pg-cursor also collects each page in a growing array. The read-ahead hides the extra
 * round trips of smaller pages.
 */
export const STRING_BATCH_ROWS = 8192;

const TYPE_NAMES = new Map<number, string>(Object.entries(PG_OID).map(([name, oid]) => [oid, name]));

function kindOf(dtype: DType): Kind {
  switch (dtype) {
    case 'bool':
      return Kind.Bool;
    case 'int8':
    case 'int16':
    case 'int32':
    case 'uint8':
    case 'uint16':
    case 'uint32':
      return Kind.Integer;
    case 'float32':
    case 'float64':
      return Kind.Float;
    case 'date':
      return Kind.Date;
    case 'timestamp':
      return Kind.Timestamp;
    default:
      return Kind.Text;
  }
}

/** The result's columns, refusing duplicate names (a batch is keyed by name). */
export function fieldsOf(defs: readonly pg.FieldDef[], sql: string): Field[] {
  const seen = new Set<string>();
  return defs.map((def) => {
    if (seen.has(def.name)) {
      throw new SluiceError('INVALID_OPTION', `The query returns two columns named ${JSON.stringify(def.name)}: give them distinct names with AS.`, {
        query: sql,
        column: def.name,
      });
    }
    seen.add(def.name);
    const dtype = dtypeForOid(def.dataTypeID);
    return { name: def.name, dtype, kind: kindOf(dtype), oid: def.dataTypeID };
  });
}

/** The result columns of a query, without running it to completion (`LIMIT 0`). */
export async function describeFields(client: pg.PoolClient, sql: string, params: unknown[] | undefined, connection: ResolvedConnection): Promise<Field[]> {
  try {
    const result = await client.query({ text: describeSql(sql), values: params, rowMode: 'array', types: IDENTITY_TYPES });
    return fieldsOf(result.fields, sql);
  } catch (error) {
    if (error instanceof SluiceError) throw error;
    // Report positions against the user's SQL, not the wrapper.
    const position = (error as { position?: string }).position;
    if (position !== undefined) (error as { position?: string }).position = String(Math.max(1, Number(position) - DESCRIBE_PREFIX.length));
    throw wrapPgError(error, { operation: 'query', query: sql, connection });
  }
}

/** What a source's columns are checked against: its zod schema, if any, and the columns it asked for. */
export interface PlanSource {
  schema: unknown;
  compile: CompileOptions;
  /** A table input's `columns`. */
  wanted: readonly string[] | undefined;
  sql: string;
}

/** The column plans of a result: the schema's (each named column must be there), else one per field from its type. */
export function columnPlans(fields: readonly Field[], source: PlanSource): ColumnPlan[] {
  if (source.schema === undefined) {
    return fields.map((field) => ({
      name: field.name,
      dtype: field.dtype,
      nullable: true,
      coerce: false,
      storesZodOutput: false,
      rule: TYPE_NAMES.get(field.oid) ?? `type oid ${field.oid}`,
      origin: 'schema',
    }));
  }
  const plans = clonePlans(compileSchema(source.schema, source.compile).columns);
  const names = fields.map((field) => field.name);
  for (const plan of plans) {
    if (!names.includes(plan.name) && (source.wanted === undefined || source.wanted.includes(plan.name))) {
      throw new SluiceError(
        'SCHEMA_MISSING_COLUMN',
        `The query result has no column ${JSON.stringify(plan.name)} that the schema names (it has ${names.map((n) => JSON.stringify(n)).join(', ')}).`,
        { query: source.sql, column: plan.name },
      );
    }
  }
  return plans.filter((plan) => names.includes(plan.name));
}

/** Where each plan's column is in the result's fields. */
export function positionsOf(plans: readonly ColumnPlan[], fields: readonly Field[]): number[] {
  return plans.map((plan) => fields.findIndex((field) => field.name === plan.name));
}
