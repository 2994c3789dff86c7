import { SluiceError } from '../../core/errors.ts';
import type { ColumnPlan } from '../../schema/plan.ts';

/** Shared by both engines so that their errors read the same. */
export function missingColumn(file: string, name: string, header: readonly string[]): SluiceError {
  return new SluiceError(
    'SCHEMA_MISSING_COLUMN',
    `${file}:1: the header has no column ${JSON.stringify(name)} (it has ${header.map((h) => JSON.stringify(h)).join(', ')})`,
    { file, line: 1, column: name, expected: `a column named ${name}` },
  );
}

/** Each name of a header and the 0-based fields it stands at, in one pass: headers of 10,000 columns exist. */
function fieldsByName(header: readonly string[]): Map<string, number[]> {
  const fields = new Map<string, number[]>();
  header.forEach((name, k) => {
    const at = fields.get(name);
    if (at === undefined) fields.set(name, [k]);
    else at.push(k);
  });
  return fields;
}

/**
 * Refuses a header that names a column it reads twice (`id,name,amount,name`): one of the two would be
 * lost without a word. Columns not read (projection) may repeat.
 */
function checkFields(file: string, byName: Map<string, number[]>, names: readonly string[]): void {
  for (const name of new Set(names)) {
    const fields = (byName.get(name) ?? []).map((k) => k + 1);
    if (fields.length > 1) {
      throw new SluiceError(
        'CSV_DUPLICATE_HEADER',
        `${file}:1: the header names column ${JSON.stringify(name)} ${fields.length} times (fields ${fields.join(', ')}); one would be lost. ` +
          'Rename the columns in the file, or read them under names of your own with `header: [...]` (the header line then reads as a record).',
        { file, line: 1, column: name, value: fields.join(','), expected: 'distinct column names' },
      );
    }
  }
}

/** Where the named columns stand in a file's records; refuses a name the header lacks or repeats. */
export function namePositions(file: string, header: readonly string[], names: readonly string[]): number[] {
  const byName = fieldsByName(header);
  checkFields(file, byName, names);
  return names.map((name) => {
    const position = byName.get(name)?.[0];
    if (position === undefined) throw missingColumn(file, name, header);
    return position;
  });
}

/** Where the planned columns stand in a file's records. */
export function positionsOf(file: string, plans: readonly ColumnPlan[], header: readonly string[]): number[] {
  return namePositions(
    file,
    header,
    plans.map((plan) => plan.name),
  );
}

export function fieldCountError(file: string, line: number, expected: number, got: number, column: number): SluiceError {
  return new SluiceError(
    'CSV_FIELD_COUNT',
    `${file}:${line}:${column}: expected ${expected} fields as in the header, found ${got}`,
    { file, line, column, expected: `${expected} fields`, value: String(got) },
  );
}
