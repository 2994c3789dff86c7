import { Dictionary } from '../batch/dictionary.ts';
import { type DType, smallestIntegerDType } from '../batch/dtype.ts';
import { SluiceError } from '../core/errors.ts';
import type { ColumnPlan, NumberBounds, SchemaPlan } from './plan.ts';

/** Options that tune compilation. */
export interface CompileOptions {
  /** Store unbounded `z.number()` columns as float32 instead of float64 (halves them; ~7 significant digits). @default false */
  float32?: boolean;
  /** Distinct strings kept per dictionary column before it falls back to plain strings. @default 65536 */
  dictionaryCap?: number;
  /** Store unconstrained `z.string()` columns dictionary-encoded. @default false */
  dictionaryStrings?: boolean | readonly string[];
}

// A zod v4 schema, read through its public definition (`_zod.def`); zod is not imported here so that
// the compiler works with whichever zod instance the user's pipeline imported.
interface ZodLike {
  _zod: { def: ZodDef };
  safeParse(value: unknown): { success: boolean; data?: unknown; error?: { issues: { message: string }[] } };
}
interface ZodDef {
  type: string;
  coerce?: boolean;
  checks?: ZodLike[];
  check?: string;
  format?: string;
  pattern?: RegExp;
  value?: number;
  inclusive?: boolean;
  minimum?: number;
  maximum?: number;
  entries?: Record<string, string | number>;
  innerType?: ZodLike;
  defaultValue?: unknown;
  in?: ZodLike;
  out?: ZodLike;
  shape?: Record<string, ZodLike>;
  catchall?: ZodLike;
}

export function isZodObject(schema: unknown): boolean {
  return typeof schema === 'object' && schema !== null && (schema as ZodLike)._zod?.def?.type === 'object';
}

/** Compile a zod object schema into a column plan. */
export function compileSchema(schema: unknown, options: CompileOptions = {}): SchemaPlan {
  if (!isZodObject(schema)) {
    throw new SluiceError('SCHEMA_UNSUPPORTED', 'A schema must be a zod object, e.g. z.object({ id: z.number().int() }) (zod v4).');
  }
  const def = (schema as ZodLike)._zod.def;
  const columns = Object.entries(def.shape ?? {}).map(([name, field]) => compileField(name, field, options));
  return { columns, strict: false };
}

function compileField(name: string, field: ZodLike, options: CompileOptions): ColumnPlan {
  const plan: ColumnPlan = {
    name,
    dtype: 'string',
    nullable: false,
    coerce: false,
    storesZodOutput: false,
    rule: '',
    origin: 'schema',
  };
  let node = field;
  let needsZod = false;
  // Unwrap modifiers: nullable, optional, default.
  for (;;) {
    const def = node._zod.def;
    if (def.type === 'nullable' || def.type === 'optional') {
      plan.nullable = true;
      node = def.innerType!;
    } else if (def.type === 'default' || def.type === 'prefault') {
      plan.defaultValue = typeof def.defaultValue === 'function' ? (def.defaultValue as () => unknown)() : def.defaultValue;
      node = def.innerType!;
    } else if (def.type === 'readonly') {
      node = def.innerType!;
    } else break;
  }
  const def = node._zod.def;
  plan.coerce = def.coerce === true;
  switch (def.type) {
    case 'number': {
      const bounds = numberBounds(node);
      if (bounds.unknown) needsZod = true;
      plan.bounds = bounds.bounds;
      plan.dtype = numberDType(bounds.bounds, bounds.format, options);
      plan.rule = describeBounds(bounds.bounds);
      break;
    }
    case 'int':
    case 'bigint':
      plan.bounds = { integer: true };
      plan.dtype = 'float64';
      plan.rule = 'integer';
      break;
    case 'boolean':
      plan.dtype = 'bool';
      plan.rule = 'boolean (true/false, t/f, 1/0, yes/no)';
      break;
    case 'date':
      plan.dtype = 'timestamp';
      plan.rule = 'date-time (ISO 8601)';
      break;
    case 'enum': {
      const values = Object.values(def.entries ?? {}).map(String);
      plan.enumValues = values;
      plan.dtype = 'dictionary';
      plan.dictionary = new Dictionary(Math.max(values.length, 1), values);
      plan.rule = `one of ${values.join('|')}`;
      break;
    }
    case 'string': {
      const format = def.format;
      if (def.check === 'string_format' && format === 'datetime') {
        plan.dtype = 'timestamp';
        plan.pattern = def.pattern;
        const zone = (def as { offset?: boolean; local?: boolean });
        plan.rule = `ISO 8601 date-time like 2024-01-02T03:04:05Z${zone.offset ? ' or with an offset (+02:00)' : ''}${zone.local ? ' or without a zone' : ''}`;
        plan.storesZodOutput = false;
        break;
      }
      if (def.check === 'string_format' && format === 'date') {
        plan.dtype = 'date';
        plan.pattern = def.pattern;
        plan.rule = 'ISO 8601 date (YYYY-MM-DD)';
        break;
      }
      if (def.check === 'string_format') needsZod = true;
      const { minLength, maxLength, unknown } = stringBounds(node);
      if (unknown) needsZod = true;
      plan.minLength = minLength;
      plan.maxLength = maxLength;
      const dictionary =
        options.dictionaryStrings === true || (Array.isArray(options.dictionaryStrings) && options.dictionaryStrings.includes(name));
      plan.dtype = dictionary ? 'dictionary' : 'string';
      if (dictionary) plan.dictionary = new Dictionary(options.dictionaryCap ?? 65536);
      plan.rule = [
        'text',
        minLength !== undefined ? `length >= ${minLength}` : '',
        maxLength !== undefined ? `length <= ${maxLength}` : '',
        format ? `format ${format}` : '',
      ]
        .filter(Boolean)
        .join(', ');
      break;
    }
    case 'literal':
    case 'pipe':
    case 'transform':
    case 'custom':
    case 'any':
    case 'unknown':
    case 'union':
    default:
      // Not compiled: zod parses every value; the stored dtype is picked from zod's first output.
      plan.dtype = 'string';
      plan.storesZodOutput = true;
      plan.rule = `zod ${def.type}`;
      needsZod = true;
      break;
  }
  if (needsZod) plan.zod = field;
  return plan;
}

function numberBounds(node: ZodLike): { bounds: NumberBounds; format?: string; unknown: boolean } {
  const bounds: NumberBounds = { integer: false };
  let format: string | undefined;
  let unknown = false;
  const def = node._zod.def;
  const checks = [...(def.check === 'number_format' ? [node] : []), ...(def.checks ?? [])];
  for (const check of checks) {
    const c = check._zod.def;
    switch (c.check) {
      case 'number_format':
        format = c.format;
        if (format !== 'float32' && format !== 'float64') bounds.integer = true;
        applyFormatRange(bounds, format);
        break;
      case 'greater_than':
        tighten(bounds, 'min', c.value!, c.inclusive !== false);
        break;
      case 'less_than':
        tighten(bounds, 'max', c.value!, c.inclusive !== false);
        break;
      default:
        unknown = true; // multipleOf, refine, …
    }
  }
  return { bounds, format, unknown };
}

const FORMAT_RANGE: Record<string, [number, number]> = {
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
  safeint: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};

function applyFormatRange(bounds: NumberBounds, format: string | undefined): void {
  const range = format === undefined ? undefined : FORMAT_RANGE[format];
  if (range === undefined) return;
  tighten(bounds, 'min', range[0], true);
  tighten(bounds, 'max', range[1], true);
}

function tighten(bounds: NumberBounds, side: 'min' | 'max', value: number, inclusive: boolean): void {
  const current = bounds[side];
  const stricter = current === undefined || (side === 'min' ? value > current : value < current);
  if (stricter || (value === current && !inclusive)) {
    bounds[side] = value;
    bounds[side === 'min' ? 'minInclusive' : 'maxInclusive'] = inclusive;
  }
}

function numberDType(bounds: NumberBounds, format: string | undefined, options: CompileOptions): DType {
  if (format === 'float32') return 'float32';
  if (bounds.integer && bounds.min !== undefined && bounds.max !== undefined) {
    const lo = bounds.minInclusive === false ? Math.floor(bounds.min) + 1 : Math.ceil(bounds.min);
    const hi = bounds.maxInclusive === false ? Math.ceil(bounds.max) - 1 : Math.floor(bounds.max);
    return smallestIntegerDType(lo, hi);
  }
  return options.float32 ? 'float32' : 'float64';
}

function describeBounds(bounds: NumberBounds): string {
  const parts = [bounds.integer ? 'integer' : 'number'];
  const isDefault = (side: 'min' | 'max') =>
    bounds[side] === (side === 'min' ? Number.MIN_SAFE_INTEGER : Number.MAX_SAFE_INTEGER);
  if (bounds.min !== undefined && !isDefault('min')) parts.push(`${bounds.minInclusive === false ? '>' : '>='} ${bounds.min}`);
  if (bounds.max !== undefined && !isDefault('max')) parts.push(`${bounds.maxInclusive === false ? '<' : '<='} ${bounds.max}`);
  return parts.join(' ');
}

function stringBounds(node: ZodLike): { minLength?: number; maxLength?: number; unknown: boolean } {
  let minLength: number | undefined;
  let maxLength: number | undefined;
  let unknown = false;
  for (const check of node._zod.def.checks ?? []) {
    const c = check._zod.def;
    if (c.check === 'min_length') minLength = c.minimum;
    else if (c.check === 'max_length') maxLength = c.maximum;
    else if (c.check === 'length_equals') {
      minLength = (c as { length?: number }).length;
      maxLength = minLength;
    } else unknown = true;
  }
  return { minLength, maxLength, unknown };
}
