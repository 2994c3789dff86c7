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

/** Where the planned columns stand in a file's records. */
export function positionsOf(file: string, plans: readonly ColumnPlan[], header: readonly string[]): number[] {
  return plans.map((plan) => {
    const position = header.indexOf(plan.name);
    if (position < 0) throw missingColumn(file, plan.name, header);
    return position;
  });
}

export function fieldCountError(file: string, line: number, expected: number, got: number, column: number): SluiceError {
  return new SluiceError(
    'CSV_FIELD_COUNT',
    `${file}:${line}:${column}: expected ${expected} fields as in the header, found ${got}`,
    { file, line, column, expected: `${expected} fields`, value: String(got) },
  );
}
