import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dtypeForOid, PG_OID, PG_TYPE_MAPPING_MARKDOWN, sqlTypeForDType } from '../../../src/connectors/postgres/types.ts';
import { quoteIdent } from '../../../src/connectors/postgres/identifiers.ts';
import { DTYPES, INTEGER_RANGE, isIntegerDType, type DType } from '../../../src/batch/dtype.ts';
import { testSchema } from '../../support/db.ts';

const db = await testSchema('types');

test('result fields of the server map to the documented dtypes', async () => {
  const expected: [string, DType][] = [
    ['true', 'bool'],
    ['1::int2', 'int16'],
    ['1::int4', 'int32'],
    ['1::int8', 'float64'],
    ['1::float4', 'float32'],
    ['1::float8', 'float64'],
    ['1::numeric', 'float64'],
    ["'a'::text", 'string'],
    ["'a'::varchar(3)", 'string'],
    ["'a'::char(3)", 'string'],
    ["'a'::name", 'string'],
    ['gen_random_uuid()', 'string'],
    ["'{}'::json", 'string'],
    ["'{}'::jsonb", 'string'],
    ['current_date', 'date'],
    ['localtimestamp', 'timestamp'],
    ['now()', 'timestamp'],
    ["interval '1 day'", 'string'],
    ['array[1, 2]', 'string'],
    ["'\\x00'::bytea", 'string'],
  ];
  const result = await db.query(`select ${expected.map(([sql], i) => `${sql} as c${i}`).join(', ')}`);
  result.fields.forEach((field, i) => {
    assert.equal(dtypeForOid(field.dataTypeID), expected[i][1], expected[i][0]);
  });
});

test('the OID constants are the server\'s', async () => {
  const names = Object.keys(PG_OID);
  const result = await db.query<{ typname: string; oid: number }>('select typname, oid::int from pg_type where typname = any($1)', [names]);
  const byName = Object.fromEntries(result.rows.map((row) => [row.typname, row.oid]));
  for (const name of names) assert.equal(byName[name], PG_OID[name as keyof typeof PG_OID], name);
});

test('every dtype creates a column that holds its whole range and reads back as a dtype at least as wide', async () => {
  const columns = DTYPES.map((dtype) => `${quoteIdent(dtype)} ${sqlTypeForDType(dtype)}`);
  await db.query(`create table every_dtype (${columns.join(', ')})`);
  const integerDTypes = DTYPES.filter(isIntegerDType);
  for (const bound of [0, 1] as const) {
    await db.query(
      `insert into every_dtype (${integerDTypes.map(quoteIdent).join(', ')}) values (${integerDTypes.map((_, i) => `$${i + 1}`).join(', ')})`,
      integerDTypes.map((dtype) => INTEGER_RANGE[dtype][bound]),
    );
  }
  const result = await db.query('select * from every_dtype limit 0');
  const readAs = Object.fromEntries(result.fields.map((field) => [field.name, dtypeForOid(field.dataTypeID)]));
  const wideEnough: Record<DType, DType[]> = {
    bool: ['bool'],
    int8: ['int16'],
    uint8: ['int16'],
    int16: ['int16'],
    uint16: ['int32'],
    int32: ['int32'],
    uint32: ['float64'],
    float32: ['float32'],
    float64: ['float64'],
    timestamp: ['timestamp'],
    date: ['date'],
    string: ['string'],
    dictionary: ['string'],
  };
  for (const dtype of DTYPES) assert.ok(wideEnough[dtype].includes(readAs[dtype]), `${dtype} read back as ${readAs[dtype]}`);
});

test('bigint read as float64 is exact up to 2^53, as documented', async () => {
  const result = await db.query<{ exact: string; beyond: string }>("select (2^53)::int8::text as exact, 9007199254740993::int8::text as beyond");
  assert.equal(Number(result.rows[0].exact), 2 ** 53);
  assert.notEqual(String(Number(result.rows[0].beyond)), result.rows[0].beyond);
});

test('the Markdown table lists every dtype and the precision notes', () => {
  for (const dtype of DTYPES) assert.match(PG_TYPE_MAPPING_MARKDOWN, new RegExp(`\\| ${dtype} \\| `));
  assert.match(PG_TYPE_MAPPING_MARKDOWN, /2\^53/);
  assert.match(PG_TYPE_MAPPING_MARKDOWN, /numeric \| float64 \| 15–17 significant digits/);
});
