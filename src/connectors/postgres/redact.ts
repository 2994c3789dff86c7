/**
 * Credentials never appear in output: logs, errors, run summaries, reports. Every message that may carry
 * a connection string or text from the driver goes through {@link redactSecrets} with the secrets of the
 * connection ({@link connectionSecrets}).
 *
 * Over-redaction is the accepted failure mode: a password of one common character blanks out every
 * occurrence of that character, and any `password=…` in a text is masked whether or not it is one.
 */

/** What a secret is replaced with. */
export const REDACTED = '***';

const URL_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;
// libpq keyword/value strings: values end at whitespace or are single-quoted with backslash escapes.
const KEY_VALUE_SECRET = /\b((?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'?|\S*)/gi;
// The same keys in a URL's query string, where values end at `&` or `#`.
const QUERY_SECRET = /([?&](?:ssl)?password=)([^&#\s]*)/gi;
// A URL with credentials anywhere inside a text: scheme://user:password@, up to the last `@` before
// whitespace (a raw password may hold `@`, `/`, `?` and `#`; see userInfoEnd).
const URL_IN_TEXT = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/?#@]*:)([^\s]*)@(?=[^\s@]*(?:\s|$))/gi;

/**
 * Masks the password of a connection string, in both forms libpq accepts:
 * - URL: `postgres://user:secret@host/db?sslpassword=x` → `postgres://user:***@host/db?sslpassword=***`
 * - keyword/value: `host=h password='se cret'` → `host=h password=***`
 *
 * The user, host, port and database stay visible: they are what a person needs to fix a connection.
 */
export function redactConnectionString(connectionString: string): string {
  if (typeof connectionString !== 'string') return connectionString;
  let text = connectionString;
  if (URL_SCHEME.test(text)) {
    const authorityStart = text.indexOf('://') + 3;
    const at = userInfoEnd(text, authorityStart);
    if (at !== -1) {
      const colon = text.indexOf(':', authorityStart);
      if (colon !== -1 && colon < at) text = `${text.slice(0, colon + 1)}${REDACTED}${text.slice(at)}`;
    }
    return text.replace(QUERY_SECRET, `$1${REDACTED}`);
  }
  return text.replace(KEY_VALUE_SECRET, `$1${REDACTED}`);
}

/**
 * Where the user-info part of a URL ends (the index of its `@`), or -1. pg (WHATWG URL) takes the last
 * `@` before the first `/`, `?` or `#`; but a password written without percent-encoding may itself hold
 * those (`user:pA@:/%#w0rd@host/db`), and then that rule ends the password early and prints the rest of
 * it. So we take the last `@` of the whole string: a sloppy URL, or an `@` in the query, is over-redacted
 * (user-info up to it masked) rather than leaked.
 */
function userInfoEnd(text: string, authorityStart: number): number {
  const at = text.lastIndexOf('@');
  return at >= authorityStart ? at : -1;
}

/**
 * Replaces every occurrence of each secret in a text, as written, percent-decoded and percent-encoded
 * (a password reaches messages in whichever form the driver or the user wrote it). Also masks any
 * `scheme://user:password@` and `password=value` found in the text, known secret or not.
 */
export function redactSecrets(text: string, secrets: readonly (string | undefined | null)[] = []): string {
  if (typeof text !== 'string' || text.length === 0) return text;
  let result = text;
  for (const form of secretForms(secrets)) {
    if (result.includes(form)) result = result.replaceAll(form, REDACTED);
  }
  result = result.replace(URL_IN_TEXT, `$1${REDACTED}@`);
  return result.replace(KEY_VALUE_SECRET, `$1${REDACTED}`);
}

/** Every spelling of the secrets, longest first so that a longer form is not half-replaced by a shorter one. */
function secretForms(secrets: readonly (string | undefined | null)[]): string[] {
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (typeof secret !== 'string' || secret.length === 0) continue;
    forms.add(secret);
    forms.add(encodeURIComponent(secret));
    forms.add(encodeURI(secret));
    try {
      forms.add(decodeURIComponent(secret));
    } catch {
      // Not valid percent-encoding: the raw form is enough.
    }
  }
  forms.delete('');
  return [...forms].sort((a, b) => b.length - a.length);
}

/** The subset of a pg config that can hold credentials. */
export interface ConnectionSecretSource {
  connectionString?: string | undefined;
  password?: string | (() => string | Promise<string>) | undefined;
  ssl?: unknown;
}

/**
 * The secrets of a connection: the password of its URL (as written and decoded), of `password=` and
 * `sslpassword=` parameters, and the `password` option when it is a string. A password given as a
 * function is resolved by pg at connect time and cannot be known here; pg does not put it in messages.
 */
export function connectionSecrets(options: string | ConnectionSecretSource | undefined | null): string[] {
  if (options === undefined || options === null) return [];
  const secrets: string[] = [];
  const connectionString = typeof options === 'string' ? options : options.connectionString;
  if (typeof connectionString === 'string') secrets.push(...secretsInConnectionString(connectionString));
  if (typeof options === 'object') {
    if (typeof options.password === 'string') secrets.push(options.password);
    const ssl = options.ssl;
    if (ssl !== null && typeof ssl === 'object' && typeof (ssl as { passphrase?: unknown }).passphrase === 'string') {
      secrets.push((ssl as { passphrase: string }).passphrase);
    }
  }
  return [...new Set(secrets.filter((secret) => secret.length > 0))];
}

function secretsInConnectionString(text: string): string[] {
  const secrets: string[] = [];
  if (URL_SCHEME.test(text)) {
    const authorityStart = text.indexOf('://') + 3;
    const at = userInfoEnd(text, authorityStart);
    if (at !== -1) {
      const colon = text.indexOf(':', authorityStart);
      if (colon !== -1 && colon < at) secrets.push(text.slice(colon + 1, at));
    }
    for (const match of text.matchAll(QUERY_SECRET)) secrets.push(match[2]);
  } else {
    for (const match of text.matchAll(KEY_VALUE_SECRET)) {
      const value = match[2];
      secrets.push(value);
      if (value.startsWith("'")) {
        const closed = value.length > 1 && value.endsWith("'");
        secrets.push(value.slice(1, closed ? -1 : undefined).replace(/\\(.)/g, '$1'));
      }
    }
  }
  const decoded: string[] = [];
  for (const secret of secrets) {
    try {
      decoded.push(decodeURIComponent(secret));
    } catch {
      // keep the raw form only
    }
  }
  return [...secrets, ...decoded];
}
