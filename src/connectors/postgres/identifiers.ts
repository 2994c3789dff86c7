/**
 * SQL identifiers. Sluice always quotes: a column called `order`, `Total` or `x"; drop table t; --` is
 * just a name. Because everything is quoted, names are taken literally: `Orders` means the table
 * `"Orders"`, not PostgreSQL's case-folded `orders`.
 *
 * PostgreSQL truncates identifiers longer than 63 bytes (with a NOTICE); Sluice does not, so two long
 * names that share their first 63 bytes name the same column on the server: {@link checkDistinctOnServer}
 * refuses them before anything is written.
 */
import { SluiceError } from '../../core/errors.ts';

/** NAMEDATALEN - 1 in a default PostgreSQL build: the bytes of an identifier the server keeps. */
export const MAX_IDENTIFIER_BYTES = 63;

/** The name the server keeps: its first 63 bytes of UTF-8, cut before a character that does not fit (as pg_mbcliplen does). */
export function serverIdentifier(name: string): string {
  const bytes = Buffer.from(name, 'utf8');
  if (bytes.length <= MAX_IDENTIFIER_BYTES) return name;
  let end = MAX_IDENTIFIER_BYTES;
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString('utf8');
}

/**
 * Refuses names that are distinct here but one name on the server once truncated to 63 bytes (else
 * PostgreSQL fails with "column specified more than once", or writes one column where two were meant).
 * @throws SluiceError INVALID_OPTION naming each group of colliding names and what they become.
 */
export function checkDistinctOnServer(names: readonly string[], what: string): void {
  const byServerName = new Map<string, string[]>();
  for (const name of names) {
    const kept = serverIdentifier(name);
    const group = byServerName.get(kept);
    if (group === undefined) byServerName.set(kept, [name]);
    else if (!group.includes(name)) group.push(name);
  }
  const collisions = [...byServerName].filter(([, group]) => group.length > 1);
  if (collisions.length === 0) return;
  const listed = collisions.map(([kept, group]) => `${group.map((name) => JSON.stringify(name)).join(' and ')} are all ${JSON.stringify(kept)}`).join('; ');
  throw new SluiceError(
    'INVALID_OPTION',
    `${what}: PostgreSQL keeps the first ${MAX_IDENTIFIER_BYTES} bytes of a name, so ${listed} on the server. Rename them (rename(…)) so that they differ within their first ${MAX_IDENTIFIER_BYTES} bytes.`,
    { column: collisions[0][1][1], value: collisions[0][0] },
  );
}

export interface QualifiedName {
  /** Omitted: PostgreSQL's `search_path` decides. */
  schema?: string | undefined;
  table: string;
}

/**
 * Quotes one identifier: wraps it in double quotes and doubles the quotes inside.
 * @throws SluiceError INVALID_OPTION for an empty name or a name containing NUL (PostgreSQL accepts neither).
 * @example quoteIdent('order') // '"order"'
 * @example quoteIdent('x"y') // '"x""y"'
 */
export function quoteIdent(name: string): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new SluiceError('INVALID_OPTION', `Expected an identifier to be a non-empty string, got ${describe(name)}`, {
      value: String(name),
    });
  }
  if (name.includes('\0')) {
    throw new SluiceError(
      'INVALID_OPTION',
      `Identifier ${JSON.stringify(name)} contains a NUL character, which PostgreSQL does not allow in names; rename it`,
      { value: name },
    );
  }
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Splits a table name written as text into schema and table:
 * - a dot outside double quotes separates the schema from the table: `sales.orders`;
 * - double quotes protect dots and quotes inside a part, SQL style: `"my.schema"."odd""name"`;
 * - unquoted parts are taken literally (no case folding, no trimming);
 * - at most one dot: `db.schema.table` is rejected (PostgreSQL cannot name another database anyway).
 *
 * Use the `{ schema, table }` form to pass names that should not be parsed at all.
 * @throws SluiceError INVALID_OPTION with what is wrong and how to write the name instead.
 */
export function parseQualifiedName(name: string): QualifiedName {
  if (typeof name !== 'string' || name.length === 0) {
    throw new SluiceError('INVALID_OPTION', `Expected a table name to be a non-empty string, got ${describe(name)}`, {
      value: String(name),
    });
  }
  const parts: string[] = [];
  let index = 0;
  for (;;) {
    let part: string;
    if (name[index] === '"') {
      // Quoted part: up to the closing quote that is not doubled.
      let text = '';
      let cursor = index + 1;
      for (;;) {
        const close = name.indexOf('"', cursor);
        if (close === -1) throw badName(name, 'a double quote is not closed');
        text += name.slice(cursor, close);
        if (name[close + 1] === '"') {
          text += '"';
          cursor = close + 2;
        } else {
          cursor = close + 1;
          break;
        }
      }
      part = text;
      index = cursor;
      if (index < name.length && name[index] !== '.') {
        throw badName(name, `unexpected ${JSON.stringify(name[index])} after a quoted part`);
      }
    } else {
      const dot = name.indexOf('.', index);
      const end = dot === -1 ? name.length : dot;
      part = name.slice(index, end);
      if (part.includes('"')) throw badName(name, 'a double quote inside an unquoted part');
      index = end;
    }
    if (part.length === 0) throw badName(name, 'an empty part');
    parts.push(part);
    if (index >= name.length) break;
    index++; // the dot
    if (index >= name.length) throw badName(name, 'an empty part');
  }
  if (parts.length > 2) throw badName(name, `${parts.length} dot-separated parts, expected table or schema.table`);
  return parts.length === 2 ? { schema: parts[0], table: parts[1] } : { table: parts[0] };
}

/**
 * Quotes a table name, optionally schema-qualified.
 * @example quoteQualified('sales.orders') // '"sales"."orders"'
 * @example quoteQualified({ schema: 'sales', table: 'a.b' }) // '"sales"."a.b"'
 */
export function quoteQualified(name: string | QualifiedName): string {
  const { schema, table } = typeof name === 'string' ? parseQualifiedName(name) : name;
  return schema === undefined ? quoteIdent(table) : `${quoteIdent(schema)}.${quoteIdent(table)}`;
}

function badName(name: string, problem: string): SluiceError {
  return new SluiceError(
    'INVALID_OPTION',
    `Cannot read table name ${JSON.stringify(name)}: ${problem}. ` +
      'Write it as table or schema.table, double-quote parts that contain dots or quotes ' +
      '(doubling quotes inside them), or pass { schema, table } to skip parsing',
    { value: name },
  );
}

function describe(value: unknown): string {
  return typeof value === 'string' ? 'an empty string' : typeof value;
}
