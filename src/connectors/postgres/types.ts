/**
 * PostgreSQL types ↔ Sluice dtypes: which dtype a result column gets (by the type OID of its field), and
 * which SQL type `createTable` declares for a dtype.
 *
 * Precision, on purpose:
 * - `int8` (bigint) becomes float64: exact for integers up to ±2^53 (9007199254740992); larger values are
 *   rounded to the nearest representable double. Cast to text in the query (`id::text`) to keep them exact.
 * - `numeric` becomes float64: about 15–17 significant decimal digits; amounts with more digits, or that
 *   must stay exact decimals (money), should be cast to text (`amount::text`) or scaled to integers
 *   (`(amount * 100)::int8` for cents).
 * - Types without a dtype of their own (interval, arrays, bytea, inet, …) arrive as their text form.
 */
import type { DType } from '../../batch/dtype.ts';

/** Built-in type OIDs (stable across PostgreSQL versions: they are fixed in pg_type.dat). */
export const PG_OID = {
  bool: 16,
  bytea: 17,
  char: 18,
  name: 19,
  int8: 20,
  int2: 21,
  int4: 23,
  text: 25,
  oid: 26,
  json: 114,
  float4: 700,
  float8: 701,
  bpchar: 1042,
  varchar: 1043,
  date: 1082,
  time: 1083,
  timestamp: 1114,
  timestamptz: 1184,
  interval: 1186,
  numeric: 1700,
  uuid: 2950,
  jsonb: 3802,
} as const;

const DTYPE_BY_OID = new Map<number, DType>([
  [PG_OID.bool, 'bool'],
  [PG_OID.int2, 'int16'],
  [PG_OID.int4, 'int32'],
  [PG_OID.int8, 'float64'],
  [PG_OID.float4, 'float32'],
  [PG_OID.float8, 'float64'],
  [PG_OID.numeric, 'float64'],
  [PG_OID.text, 'string'],
  [PG_OID.varchar, 'string'],
  [PG_OID.bpchar, 'string'],
  [PG_OID.name, 'string'],
  [PG_OID.uuid, 'string'],
  [PG_OID.json, 'string'],
  [PG_OID.jsonb, 'string'],
  [PG_OID.date, 'date'],
  [PG_OID.timestamp, 'timestamp'],
  [PG_OID.timestamptz, 'timestamp'],
]);

/**
 * The dtype of a result column of this type OID (`FieldDef.dataTypeID` in pg). Unknown and user-defined
 * types (enums, domains, composites, arrays) give `string`: their text form.
 *
 * `timestamp` without time zone is read as UTC: Sluice timestamps are UTC milliseconds, and a wall-clock
 * time has no zone to convert from.
 */
export function dtypeForOid(oid: number): DType {
  return DTYPE_BY_OID.get(oid) ?? 'string';
}

const SQL_TYPE_BY_DTYPE: Record<DType, string> = {
  bool: 'boolean',
  // PostgreSQL has no 1-byte integer: smallint is the smallest holding int8 and uint8.
  int8: 'smallint',
  uint8: 'smallint',
  int16: 'smallint',
  // Unsigned types need the next wider signed type.
  uint16: 'integer',
  int32: 'integer',
  uint32: 'bigint',
  float32: 'real',
  float64: 'double precision',
  timestamp: 'timestamptz',
  date: 'date',
  string: 'text',
  dictionary: 'text',
};

/** The SQL type `createTable` declares for a column of this dtype. */
export function sqlTypeForDType(dtype: DType): string {
  const sqlType = SQL_TYPE_BY_DTYPE[dtype];
  if (sqlType === undefined) throw new TypeError(`Unknown dtype ${JSON.stringify(dtype)}`);
  return sqlType;
}

/** The reading direction, for docs: PostgreSQL type → dtype, with notes. */
export const PG_TO_DTYPE_ROWS: readonly (readonly [postgres: string, dtype: DType, note: string])[] = [
  ['boolean', 'bool', ''],
  ['smallint (int2)', 'int16', ''],
  ['integer (int4)', 'int32', ''],
  ['bigint (int8)', 'float64', 'exact up to ±2^53; cast to text for larger ids'],
  ['real (float4)', 'float32', ''],
  ['double precision (float8)', 'float64', ''],
  ['numeric', 'float64', '15–17 significant digits; cast to text for exact decimals'],
  ['text, varchar, char(n), name, uuid, json, jsonb', 'string', ''],
  ['date', 'date', 'days since 1970-01-01'],
  ['timestamp, timestamptz', 'timestamp', 'UTC milliseconds; timestamp without time zone is read as UTC'],
  ['anything else (interval, arrays, enums, …)', 'string', 'the PostgreSQL text form'],
];

/**
 * The mapping in both directions as Markdown, for the README:
 * `import { PG_TYPE_MAPPING_MARKDOWN } from './src/connectors/postgres/types.ts'`.
 */
export const PG_TYPE_MAPPING_MARKDOWN: string = [
  '| PostgreSQL | Sluice dtype | note |',
  '|---|---|---|',
  ...PG_TO_DTYPE_ROWS.map(([postgres, dtype, note]) => `| ${postgres} | ${dtype} | ${note} |`),
  '',
  '| Sluice dtype | created as |',
  '|---|---|',
  ...(Object.entries(SQL_TYPE_BY_DTYPE) as [DType, string][]).map(([dtype, sqlType]) => `| ${dtype} | ${sqlType} |`),
].join('\n');
