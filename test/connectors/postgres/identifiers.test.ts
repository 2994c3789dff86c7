import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkDistinctOnServer, parseQualifiedName, quoteIdent, quoteQualified, serverIdentifier } from '../../../src/connectors/postgres/identifiers.ts';
import { isSluiceError } from '../../../src/core/errors.ts';
import { testSchema } from '../../support/db.ts';

const db = await testSchema('identifiers');

test('quoteIdent always quotes and doubles embedded quotes', () => {
  assert.equal(quoteIdent('id'), '"id"');
  assert.equal(quoteIdent('Order'), '"Order"');
  assert.equal(quoteIdent('a"b'), '"a""b"');
  assert.equal(quoteIdent('""'), '""""""');
});

test('serverIdentifier keeps 63 bytes of UTF-8 and never half a character', () => {
  assert.equal(serverIdentifier('a'.repeat(63)), 'a'.repeat(63));
  assert.equal(serverIdentifier('a'.repeat(70)), 'a'.repeat(63));
  // 62 ASCII bytes, then a 2-byte é: 64 bytes, so the é goes whole.
  assert.equal(serverIdentifier(`${'a'.repeat(62)}é`), 'a'.repeat(62));
});

test('checkDistinctOnServer refuses names one on the server and names every group', () => {
  const stem = 'x'.repeat(63);
  checkDistinctOnServer(['id', stem, 'name'], 'columns');
  assert.throws(
    () => checkDistinctOnServer(['id', `${stem}1`, `${stem}2`, `${stem}3`], 'The columns of t'),
    (error: unknown) =>
      isSluiceError(error) &&
      error.code === 'INVALID_OPTION' &&
      error.message.startsWith(`The columns of t: PostgreSQL keeps the first 63 bytes of a name, so "${stem}1" and "${stem}2" and "${stem}3" are all "${stem}" on the server.`),
  );
});

test('quoteIdent rejects empty names and NUL with INVALID_OPTION', () => {
  assert.throws(() => quoteIdent(''), (error) => isSluiceError(error, 'INVALID_OPTION') && /non-empty/.test(error.message));
  assert.throws(() => quoteIdent('a\0b'), (error) => isSluiceError(error, 'INVALID_OPTION') && /NUL/.test(error.message));
});

test('a dot outside quotes separates schema and table; quoted parts keep dots and quotes', () => {
  assert.deepEqual(parseQualifiedName('orders'), { table: 'orders' });
  assert.deepEqual(parseQualifiedName('sales.Orders'), { schema: 'sales', table: 'Orders' });
  assert.deepEqual(parseQualifiedName('"my.schema"."a""b.c"'), { schema: 'my.schema', table: 'a"b.c' });
  assert.deepEqual(parseQualifiedName('"a.b"'), { table: 'a.b' });
  assert.deepEqual(parseQualifiedName('s."t"'), { schema: 's', table: 't' });
  assert.equal(quoteQualified('sales.orders'), '"sales"."orders"');
  assert.equal(quoteQualified({ schema: 'a.b', table: 'c.d' }), '"a.b"."c.d"');
  assert.equal(quoteQualified({ table: 'x.y' }), '"x.y"');
});

test('malformed table names fail with INVALID_OPTION saying how to write them', () => {
  for (const name of ['', 'a.b.c', '.t', 's.', 'a..b', '"open', '"q"x', 'a"b', '"".t']) {
    assert.throws(
      () => parseQualifiedName(name),
      (error) => isSluiceError(error, 'INVALID_OPTION') && (name === '' || /schema\.table/.test(error.message)),
      name,
    );
  }
});

test('a hostile column name round-trips through CREATE TABLE, INSERT and SELECT', async () => {
  const column = 'x"; drop table t; --';
  const table = quoteQualified({ schema: db.schema, table: 'weird "table".name' });
  await db.query(`create table ${table} (${quoteIdent(column)} text, ${quoteIdent('Order')} int)`);
  await db.query(`insert into ${table} (${quoteIdent(column)}, ${quoteIdent('Order')}) values ($1, $2)`, ['v', 7]);
  const result = await db.query(`select ${quoteIdent(column)}, ${quoteIdent('Order')} from ${table}`);
  assert.deepEqual(result.fields.map((field) => field.name), [column, 'Order']);
  assert.deepEqual(result.rows, [{ [column]: 'v', Order: 7 }]);
  const tables = await db.query<{ table_name: string }>(
    'select table_name from information_schema.tables where table_schema = $1 order by 1',
    [db.schema],
  );
  assert.deepEqual(tables.rows.map((row) => row.table_name), ['weird "table".name']);
});

test('a dotted string name resolves to the schema-qualified table on the server', async () => {
  await db.query(`create table ${quoteQualified({ schema: db.schema, table: 'Plain' })} (id int)`);
  await db.query(`insert into ${quoteQualified(`${db.schema}.Plain`)} values (1)`);
  const result = await db.query(`select count(*)::int as n from ${quoteQualified(`"${db.schema}"."Plain"`)}`);
  assert.equal(result.rows[0].n, 1);
});
