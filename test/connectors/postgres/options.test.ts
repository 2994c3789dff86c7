/**
 * The options of postgres() and toPostgres(), checked once at the door: every key accepted with a good
 * value, refused with a bad one (saying what it must be), unknown keys refused with the nearest name,
 * and the rules between keys. Nothing here connects: the checks run when the source or sink is made.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { postgres, toPostgres } from '../../../src/index.ts';
import { isSluiceError } from '../../../src/core/errors.ts';

const URL_ = 'postgres://u@127.0.0.1:5432/d';

function refusal(make: () => unknown): { message: string; option: string | undefined } {
  try {
    make();
  } catch (error) {
    assert.ok(isSluiceError(error, 'INVALID_OPTION'), String(error));
    return { message: error.message, option: error.details.option };
  }
  assert.fail('was accepted');
}

const sourceOptions: { options: Record<string, unknown>; input?: Record<string, unknown>; message: string; option: string }[] = [
  { options: { batchrows: 10 }, message: 'postgres(): unknown option `batchrows`. Did you mean `batchRows`?', option: 'batchrows' },
  { options: { mdoe: 'copy' }, message: 'postgres(): unknown option `mdoe`. Did you mean `mode`?', option: 'mdoe' },
  { options: { conection: URL_ }, message: 'postgres(): unknown option `conection`. Did you mean `connection`?', option: 'conection' },
  { options: { statementTimout: 5 }, message: 'postgres(): unknown option `statementTimout`. Did you mean `statementTimeout`?', option: 'statementTimout' },
  { options: { incremental: { column: 'at', key: 'id', kye: 'id' } }, message: 'postgres(): unknown option `incremental.kye`. Did you mean `incremental.key`?', option: 'incremental.kye' },
  // A misspelled key is named before the required key it misspells: the suggestion is the fix.
  { options: { incremental: { column: 'at', kye: 'id' } }, message: 'postgres(): unknown option `incremental.kye`. Did you mean `incremental.key`?', option: 'incremental.kye' },
  { options: { connection: 5 }, message: 'postgres(): expected `connection` to be a postgres:// URL or a pg PoolConfig object; got 5.', option: 'connection' },
  { options: { schema: { id: 'number' } }, message: 'postgres(): expected `schema` to be a zod object, e.g. z.object({ … }); got {"id":"number"}.', option: 'schema' },
  { options: { batchRows: 0 }, message: 'postgres(): expected `batchRows` to be an integer from 1 and up; got 0.', option: 'batchRows' },
  { options: { batchRows: 2.5 }, message: 'postgres(): expected `batchRows` to be an integer from 1 and up; got 2.5.', option: 'batchRows' },
  { options: { mode: 'binary' }, message: "postgres(): expected `mode` to be 'cursor' or 'copy'; got \"binary\".", option: 'mode' },
  { options: { statementTimeout: -1 }, message: 'postgres(): expected `statementTimeout` to be a whole number of milliseconds from 0 (no limit) and up; got -1.', option: 'statementTimeout' },
  { options: { incremental: 'updated_at' }, message: "postgres(): expected `incremental` to be { column, key }, e.g. { column: 'updated_at', key: 'id' }; got \"updated_at\".", option: 'incremental' },
  { options: { incremental: { column: 'updated_at' } }, message: 'postgres(): expected `incremental.key` to be a column name; got nothing.', option: 'incremental.key' },
  { options: { incremental: { column: '', key: 'id' } }, message: 'postgres(): expected `incremental.column` to be a column name; got "".', option: 'incremental.column' },
  { options: { float32: 'yes' }, message: 'postgres(): expected `float32` to be true or false; got "yes".', option: 'float32' },
  { options: { dictionaryCap: 0 }, message: 'postgres(): expected `dictionaryCap` to be an integer from 1 and up; got 0.', option: 'dictionaryCap' },
  { options: { dictionaryStrings: 'name' }, message: 'postgres(): expected `dictionaryStrings` to be true, false or an array of column names; got "name".', option: 'dictionaryStrings' },
  // Rules between keys.
  { options: { mode: 'copy' }, input: { query: 'select $1::int as x', params: [1] }, message: "postgres(): mode: 'copy' cannot take `params` (COPY has no parameters, and Sluice never splices values into SQL): use mode: 'cursor'.", option: 'mode' },
  { options: { mode: 'copy', incremental: { column: 'at', key: 'id' } }, message: "postgres(): `incremental` reads with a cursor: remove mode: 'copy'.", option: 'incremental' },
];

for (const { options, input, message, option } of sourceOptions) {
  test(`postgres() refuses ${JSON.stringify(options)}${input ? ` with ${JSON.stringify(input)}` : ''}, naming the option`, () => {
    const error = refusal(() => postgres((input ?? { table: 'orders' }) as never, options as never));
    assert.equal(error.message, message);
    assert.equal(error.option, option);
  });
}

const inputs: { input: unknown; message: string; option: string }[] = [
  { input: { table: 'orders', colums: ['id'] }, message: 'postgres() input: unknown option `colums`. Did you mean `columns`?', option: 'colums' },
  { input: { query: 'select 1', param: [1] }, message: 'postgres() input: unknown option `param`. Did you mean `params`?', option: 'param' },
  { input: { query: '  ' }, message: 'postgres() input: expected `query` to be a non-empty SQL string; got "  ".', option: 'query' },
  { input: { table: 'orders', columns: [] }, message: 'postgres() input: expected `columns` to be a non-empty array of column names; got [].', option: 'columns' },
  { input: { table: 'orders', where: 5 }, message: 'postgres() input: expected `where` to be a SQL condition, its values as $1, $2, … in `params`; got 5.', option: 'where' },
  { input: { table: 'orders', params: 'paid' }, message: 'postgres() input: expected `params` to be an array of the values of $1, $2, …; got "paid".', option: 'params' },
  { input: { table: 7 }, message: "postgres() input: expected `table` to be a table name such as 'orders' or 'sales.orders', or { schema, table }; got 7.", option: 'table' },
  { input: { sql: 'select 1' }, message: 'postgres() expects `{ query, params? }` or `{ table, columns?, where?, params? }` as its first argument.', option: '' },
];

for (const { input, message, option } of inputs) {
  test(`postgres() refuses the input ${JSON.stringify(input)}, naming the key`, () => {
    const error = refusal(() => postgres(input as never, { connection: URL_ }));
    assert.equal(error.message, message);
    assert.equal(error.option, option);
  });
}

test('postgres() takes every option it documents', () => {
  const schema = z.object({ id: z.number() });
  const every = {
    connection: { connectionString: URL_, max: 2 },
    schema,
    batchRows: 100,
    mode: 'cursor',
    statementTimeout: 0,
    incremental: { column: 'updated_at', key: 'id' },
    float32: true,
    dictionaryCap: 10,
    dictionaryStrings: ['name'],
  } as const;
  const source = postgres({ table: 'sales.orders', columns: ['id'], where: 'id > $1', params: [1] }, every);
  assert.equal(source.kind, 'postgres');
  assert.match(source.location, /table "sales"\."orders"$/);
  postgres({ query: 'select 1;' }, { connection: URL_, mode: 'copy', dictionaryStrings: true });
});

const sinkOptions: { options: unknown; message: string; option: string }[] = [
  { options: { table: 't', mdoe: 'replace' }, message: 'toPostgres(): unknown option `mdoe`. Did you mean `mode`?', option: 'mdoe' },
  { options: { table: 't', createtable: true }, message: 'toPostgres(): unknown option `createtable`. Did you mean `createTable`?', option: 'createtable' },
  { options: { table: 't', keys: ['id'] }, message: 'toPostgres(): unknown option `keys`. Did you mean `key`?', option: 'keys' },
  // An object where the table may be a name or { schema, table }: the object's own error.
  { options: { table: { schema: 's', tabel: 't' } }, message: 'toPostgres(): unknown option `table.tabel`. Did you mean `table.table`?', option: 'table.tabel' },
  { options: undefined, message: "toPostgres(): expected `table` to be a table name such as 'orders' or 'sales.orders', or { schema, table }; got nothing.", option: 'table' },
  { options: { table: '' }, message: "toPostgres(): expected `table` to be a table name such as 'orders' or 'sales.orders', or { schema, table }; got \"\".", option: 'table' },
  { options: { table: 't', mode: 'merge' }, message: "toPostgres(): expected `mode` to be 'append', 'replace' or 'upsert'; got \"merge\".", option: 'mode' },
  { options: { table: 't', mode: 'upsert', key: [] }, message: 'toPostgres(): expected `key` to be a column name or an array of them; got [].', option: 'key' },
  { options: { table: 't', createTable: 1 }, message: 'toPostgres(): expected `createTable` to be true or false; got 1.', option: 'createTable' },
  { options: { table: 't', mode: 'replace', allowEmpty: 'yes' }, message: "toPostgres(): expected `allowEmpty` to be true or false; got \"yes\".", option: 'allowEmpty' },
  { options: { table: 't', allowEmpty: true }, message: "toPostgres(): `allowEmpty` is only used by mode: 'replace'.", option: 'allowEmpty' },
  { options: { table: 't', statementTimeout: 1.5 }, message: 'toPostgres(): expected `statementTimeout` to be a whole number of milliseconds from 0 (no limit) and up; got 1.5.', option: 'statementTimeout' },
  { options: { table: 't', connection: ['x'] }, message: 'toPostgres(): expected `connection` to be a postgres:// URL or a pg PoolConfig object; got ["x"].', option: 'connection' },
  // Rules between keys.
  { options: { table: 't', mode: 'upsert' }, message: "toPostgres(): mode: 'upsert' needs `key`: the column(s) of a unique index, e.g. { mode: 'upsert', key: 'order_id' }.", option: 'key' },
  { options: { table: 't', key: 'id' }, message: "toPostgres(): `key` is only used by mode: 'upsert'.", option: 'key' },
];

for (const { options, message, option } of sinkOptions) {
  test(`toPostgres() refuses ${JSON.stringify(options)}, naming the option`, () => {
    const error = refusal(() => toPostgres(options as never));
    assert.equal(error.message, message);
    assert.equal(error.option, option);
  });
}

test('toPostgres() takes every option it documents', () => {
  const sink = toPostgres({ table: { schema: 'sales', table: 'orders' }, mode: 'upsert', key: ['id', 'day'], createTable: true, connection: URL_, statementTimeout: 100 });
  assert.deepEqual(sink.describe!().notes, ['mode upsert on id, day', 'creates the table if missing']);
  assert.match(sink.describe!().location, /table "sales"\."orders"$/);
});
