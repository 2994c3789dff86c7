/**
 * Options are checked once, at the door: each function or command that takes options declares them as
 * a zod object of {@link option} fields and calls {@link checkOptions} before doing anything else. An
 * unknown key is refused with the nearest known name (`delimeter` → did you mean `delimiter`?), a wrong
 * value with what was expected and what was given; the error carries the option's name as data.
 *
 * zod does the walking (it is already the schema language of Sluice); the messages are ours, because
 * they must name the option and say how to fix it, as p-limit's do: "Expected `concurrency` to be a
 * number from 1 and up; got 0."
 */
import { z } from 'zod';
import { parseBytes } from './bytes.ts';
import { SluiceError } from './errors.ts';

/** One option: its zod type and, in plain words, what it must be (`an integer from 1 and up`). */
export function option<T extends z.ZodType>(type: T, expected: string): z.ZodOptional<T> {
  return type.optional().meta({ expected }) as z.ZodOptional<T>;
}

/** A required option (a field of a nested object that must be there). */
export function requiredOption<T extends z.ZodType>(type: T, expected: string): T {
  return type.meta({ expected }) as T;
}

/** An object of options that refuses unknown keys. */
export function optionsObject<S extends z.core.$ZodLooseShape>(shape: S): z.ZodObject<S, z.core.$strict> {
  return z.strictObject(shape);
}

/** Any function (zod 4's `z.function()` is not a schema). */
export const functionValue = z.custom<(...args: any[]) => unknown>((value) => typeof value === 'function').meta({ expected: 'a function' });

/** A byte size: a number of bytes or a string such as `'256MB'`, as parseBytes reads it. */
export const byteSize = z.union([z.number(), z.string()]).refine((value) => {
  try {
    parseBytes(value);
    return true;
  } catch {
    return false;
  }
});

/** An integer from `min` up. */
export const integerFrom = (min: number) => z.number().int().min(min);

/** A finite number of milliseconds from `min` up (`above` excludes `min` itself). */
export const millisecondsFrom = (min: number, above = false) => (above ? z.number().finite().gt(min) : z.number().finite().min(min));

/** A zod object schema, from this copy of zod or another (a pipeline file may bring its own). */
export const zodObjectValue = z
  .custom<z.ZodObject>((value) => (value as { _zod?: { def?: { type?: unknown } } } | null)?._zod?.def?.type === 'object')
  .meta({ expected: 'a zod object' });

/** An AbortSignal. */
export const signalValue = z.custom<AbortSignal>((value) => value instanceof AbortSignal).meta({ expected: 'an AbortSignal' });

/** A file path, or a glob or a list of them where `list` says so. */
export const filePath = z.string().min(1);

/**
 * Checks one positional argument (`take(count)`, `filter(predicate)`) the way {@link checkOptions}
 * checks an option: the error names the argument and what it must be.
 */
export function checkArgument<T extends z.ZodType>(where: string, name: string, type: T, expected: string, value: unknown): z.output<T> {
  const checked = checkOptions(where, optionsObject({ [name]: requiredOption(type, expected) }), { [name]: value }) as Record<string, z.output<T>>;
  return checked[name];
}

/**
 * Checks `value` against `schema` and returns it (with zod's output: defaults filled in where the schema
 * has them). `where` names the call for the message, e.g. `csv()` or `etl run`.
 *
 * @throws SluiceError INVALID_OPTION with `details.option` (the dotted path), `expected` and `value`.
 */
export function checkOptions<T extends z.ZodType>(where: string, schema: T, value: unknown): z.output<T> {
  if (value === undefined) value = {};
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw optionError(where, schema, value, firstIssue(result.error.issues));
}

function optionError(where: string, schema: z.ZodType, input: unknown, issue: z.core.$ZodIssue): SluiceError {
  issue = narrowUnion(schema, input, issue);
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0];
    const path = [...issue.path, key];
    const known = Object.keys(shapeAt(schema, issue.path) ?? {});
    const nearest = closestName(key, known);
    const hint =
      nearest !== undefined
        ? `Did you mean \`${joinPath([...issue.path, nearest])}\`?`
        : known.length === 0
          ? 'It takes no options.'
          : `Known options: ${known.map((name) => `\`${name}\``).join(', ')}.`;
    return new SluiceError('INVALID_OPTION', `${where}: unknown option \`${joinPath(path)}\`. ${hint}`, {
      option: joinPath(path),
      value: key,
      expected: nearest ?? (known.length === 0 ? 'no options' : `one of ${known.join(', ')}`),
    });
  }
  const path = issue.path;
  const given = valueAt(input, path);
  const expected = expectedAt(schema, path) ?? zodExpected(issue);
  const name = joinPath(path);
  const message = name === '' ? `${where}: expected options to be ${expected}; got ${show(given)}.` : `${where}: expected \`${name}\` to be ${expected}; got ${show(given)}.`;
  return new SluiceError('INVALID_OPTION', message, { option: name, value: show(given), expected });
}

/** A misspelled key comes first: it often explains the rest (`{ valu: fn }` is also missing `value`). */
function firstIssue(issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue {
  return issues.find((issue) => issue.code === 'unrecognized_keys') ?? issues[0];
}

/**
 * An object given where a union allows one object form (a derivation's `{ dtype, value }` beside a
 * function): the error is that object's own (which field is wrong), not "none of the forms".
 */
function narrowUnion(schema: z.ZodType, input: unknown, issue: z.core.$ZodIssue): z.core.$ZodIssue {
  for (let guard = 0; guard < 10 && issue.code === 'invalid_union'; guard++) {
    const value = valueAt(input, issue.path);
    const at = schemaAt(schema, issue.path);
    if (at === undefined || typeof value !== 'object' || value === null || Array.isArray(value)) return issue;
    const members = (unwrap(at) as any)._zod.def.options as z.ZodType[] | undefined;
    const objects = (members ?? []).flatMap((member, k) => ((unwrap(member) as any)._zod.def.type === 'object' ? [k] : []));
    const inner = objects.length === 1 ? firstIssue(issue.errors[objects[0]] ?? []) : undefined;
    if (inner === undefined) return issue;
    issue = { ...inner, path: [...issue.path, ...inner.path] } as z.core.$ZodIssue;
  }
  return issue;
}

/** The known name nearest to `name` (edit distance at most a third of its length, at least 2), if any. */
export function closestName(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const candidate of known) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Damerau–Levenshtein distance (optimal string alignment): a swap of two letters counts as one edit. */
function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const columns = b.length + 1;
  const d: number[] = new Array(rows * columns).fill(0);
  for (let i = 0; i < rows; i++) d[i * columns] = i;
  for (let j = 0; j < columns; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < columns; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(d[(i - 1) * columns + j] + 1, d[i * columns + j - 1] + 1, d[(i - 1) * columns + j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) value = Math.min(value, d[(i - 2) * columns + j - 2] + 1);
      d[i * columns + j] = value;
    }
  }
  return d[rows * columns - 1];
}

function joinPath(path: readonly PropertyKey[]): string {
  return path.map((part, k) => (typeof part === 'number' ? `[${part}]` : k === 0 ? String(part) : `.${String(part)}`)).join('');
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let current = value;
  for (const part of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<PropertyKey, unknown>)[part];
  }
  return current;
}

/** Unwraps optional, nullable, default and pipe wrappers down to the type that carries the shape. */
function unwrap(schema: z.ZodType): z.ZodType {
  let current: any = schema;
  for (let guard = 0; guard < 10; guard++) {
    const def = current?._zod?.def;
    if (def === undefined) return current;
    if (def.type === 'optional' || def.type === 'nullable' || def.type === 'default' || def.type === 'prefault' || def.type === 'readonly') current = def.innerType;
    else if (def.type === 'pipe') current = def.in;
    else return current;
  }
  return current;
}

/** The schema of the option at `path` (objects, arrays, records, and the object members of unions). */
function schemaAt(schema: z.ZodType, path: readonly PropertyKey[]): z.ZodType | undefined {
  let current: z.ZodType | undefined = schema;
  for (const part of path) {
    if (current === undefined) return undefined;
    const def: any = (unwrap(current) as any)._zod.def;
    if (def.type === 'object') current = def.shape[part as string];
    else if (def.type === 'array') current = def.element;
    else if (def.type === 'record') current = def.valueType;
    else if (def.type === 'union') {
      current = (def.options as z.ZodType[]).map((member) => (unwrap(member) as any)._zod.def).find((memberDef) => memberDef.type === 'object' && part in memberDef.shape)?.shape[part as string];
    } else return undefined;
  }
  return current;
}

function shapeAt(schema: z.ZodType, path: readonly PropertyKey[]): Record<string, unknown> | undefined {
  const at = schemaAt(schema, path);
  if (at === undefined) return undefined;
  const def: any = (unwrap(at) as any)._zod.def;
  if (def.type === 'object') return def.shape;
  if (def.type === 'union') {
    // Unknown key in one member of a union of objects: suggest from all of them.
    return Object.assign({}, ...(def.options as z.ZodType[]).map((member) => (unwrap(member) as any)._zod.def.shape ?? {}));
  }
  return undefined;
}

function expectedAt(schema: z.ZodType, path: readonly PropertyKey[]): string | undefined {
  const at = schemaAt(schema, path);
  if (at === undefined) return undefined;
  const meta = (at as z.ZodType).meta?.() as { expected?: string } | undefined;
  if (meta?.expected !== undefined) return meta.expected;
  const inner = unwrap(at).meta?.() as { expected?: string } | undefined;
  return inner?.expected;
}

function zodExpected(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return `${/^[aeiou]/.test(issue.expected) ? 'an' : 'a'} ${issue.expected}`;
    case 'invalid_value':
      return `one of ${issue.values.map((value) => JSON.stringify(value)).join(', ')}`;
    case 'too_small':
      return `at least ${String(issue.minimum)}`;
    case 'too_big':
      return `at most ${String(issue.maximum)}`;
    default:
      return issue.message;
  }
}

function show(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  if (value === undefined) return 'nothing';
  try {
    const text = JSON.stringify(value);
    return text === undefined ? String(value) : text.length > 80 ? `${text.slice(0, 79)}…` : text;
  } catch {
    return String(value);
  }
}
