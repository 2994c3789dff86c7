import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectionSecrets, redactConnectionString, redactSecrets, REDACTED } from '../../../src/connectors/postgres/redact.ts';

const PASSWORD = 'p@ss w/rd:%#?&\'"\\';
const ENCODED = encodeURIComponent(PASSWORD);

function assertNoSecret(text: string, secrets: string[]): void {
  for (const secret of secrets) assert.ok(!text.includes(secret), `${JSON.stringify(text)} contains ${JSON.stringify(secret)}`);
}

test('a URL password is masked, user, host, port and database stay', () => {
  assert.equal(redactConnectionString('postgres://alice:secret@db.example:6543/sales'), `postgres://alice:${REDACTED}@db.example:6543/sales`);
  assert.equal(redactConnectionString('postgres://alice@db/sales'), 'postgres://alice@db/sales');
  assert.equal(redactConnectionString('postgresql://db/sales'), 'postgresql://db/sales');
  const url = `postgres://alice:${ENCODED}@db:5432/sales?sslmode=require`;
  assert.equal(redactConnectionString(url), `postgres://alice:${REDACTED}@db:5432/sales?sslmode=require`);
});

test('password and sslpassword query parameters are masked', () => {
  assert.equal(
    redactConnectionString('postgres://db/sales?user=a&password=secret&sslpassword=key%20pass&sslmode=require'),
    `postgres://db/sales?user=a&password=${REDACTED}&sslpassword=${REDACTED}&sslmode=require`,
  );
});

test('an unencoded password containing @, ? or # is over-redacted, never leaked', () => {
  for (const password of ['a@b', 'a?b@c', 'x#y', 'pA@:/%#w0rd', 'a/b@c', 'q#r?s@t']) {
    const text = redactConnectionString(`postgres://alice:${password}@db:5432/sales`);
    assertNoSecret(text, [password]);
    assert.ok(text.includes('alice'), text);
  }
});

test('a raw password holding @, /, ? and # is masked whole in a URL, in free text and in the secrets', () => {
  const url = 'postgres://user:pA@:/%#w0rd@host/db';
  assert.equal(redactConnectionString(url), `postgres://user:${REDACTED}@host/db`);
  assert.equal(redactSecrets(`failed: ${url} then`), `failed: postgres://user:${REDACTED}@host/db then`);
  assert.ok(connectionSecrets(url).includes('pA@:/%#w0rd'), JSON.stringify(connectionSecrets(url)));
});

test('libpq keyword/value strings: plain and quoted passwords are masked', () => {
  assert.equal(redactConnectionString('host=db user=alice password=secret dbname=sales'), `host=db user=alice password=${REDACTED} dbname=sales`);
  assert.equal(
    redactConnectionString("host=db password = 'se cret \\' x' dbname=sales"),
    `host=db password = ${REDACTED} dbname=sales`,
  );
});

test('redactSecrets removes a secret in raw, decoded and percent-encoded forms', () => {
  const text = `raw ${PASSWORD} encoded ${ENCODED} end`;
  const redacted = redactSecrets(text, [ENCODED]);
  assertNoSecret(redacted, [PASSWORD, ENCODED]);
  assert.ok(redacted.startsWith('raw ') && redacted.endsWith(' end'), redacted);
  assertNoSecret(redactSecrets(text, [PASSWORD]), [PASSWORD, ENCODED]);
});

test('redactSecrets masks URLs and password= in free text even without known secrets', () => {
  const text = 'failed: postgres://bob:hunter2@db:5432/x and postgres://bob:a@b@db/x then password=hunter3 done';
  const redacted = redactSecrets(text);
  assertNoSecret(redacted, ['hunter2', 'hunter3', 'a@b']);
  assert.ok(redacted.endsWith(' done'), redacted);
});

test('redactSecrets leaves text without secrets unchanged and ignores empty secrets', () => {
  assert.equal(redactSecrets('select 1', ['', undefined, null]), 'select 1');
});

test('connectionSecrets finds every spelling of the password of a URL, a config and key=value', () => {
  const url = `postgres://alice:${ENCODED}@db/sales?sslpassword=k%40y`;
  const secrets = connectionSecrets(url);
  assert.ok(secrets.includes(ENCODED) && secrets.includes(PASSWORD) && secrets.includes('k@y'), JSON.stringify(secrets));
  assert.deepEqual(connectionSecrets({ host: 'db', password: 'pw' } as never), ['pw']);
  assert.deepEqual(connectionSecrets({ connectionString: 'postgres://a:b@c/d', password: 'e' }), ['b', 'e']);
  assert.deepEqual(connectionSecrets('postgres://a@c/d'), []);
  assert.ok(connectionSecrets("host=x password='q w'").includes('q w'));
});
