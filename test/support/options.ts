/**
 * Table-driven option tests, as csv-parse has them: for each option of a call, a valid value is accepted
 * and an invalid one refused with the exact message and `details.option`; a misspelled key is refused
 * with the nearest name. The table must name every option the call declares, so a new option without
 * a row fails the test.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSluiceError } from '../../src/core/errors.ts';

export interface OptionRow {
  /** The option's path as the error names it (`rejects.max`, `columns[0]`); its first part is the key given. */
  option: string;
  /** A value of that key the call accepts. */
  valid: unknown;
  /** A value it refuses, with this exact message. */
  invalid: unknown;
  message: string;
}

export interface Misspelling {
  options: Record<string, unknown>;
  message: string;
  option: string;
}

/** What a call refused: its error's code, message and `details.option`. Fails when it did not throw. */
export function refusal(call: () => unknown): { code: string; message: string; option: unknown } {
  try {
    call();
  } catch (error) {
    return described(error);
  }
  assert.fail('the call was accepted');
}

/** The same for a call that may be async (`run()`): what it threw or rejected with. */
export async function rejection(call: () => unknown): Promise<{ code: string; message: string; option: unknown }> {
  try {
    await call();
  } catch (error) {
    return described(error);
  }
  assert.fail('the call was accepted');
}

function described(error: unknown): { code: string; message: string; option: unknown } {
  assert.ok(isSluiceError(error), `not a SluiceError: ${String(error)}`);
  return { code: error.code, message: error.message, option: error.details.option };
}

/**
 * Registers one test per row and one for the misspellings. `call` makes the call with the options (and
 * may return a promise); `declared` is every option the call's schema has.
 */
export function optionTable(where: string, declared: readonly string[], call: (options: Record<string, unknown>) => unknown, rows: readonly OptionRow[], misspellings: readonly Misspelling[]): void {
  test(`${where}: the table has a row for each of its options`, () => {
    assert.deepEqual([...new Set(rows.map((row) => row.option.split(/[.[]/)[0]))].sort(), [...declared].sort());
  });
  for (const row of rows) {
    const key = row.option.split(/[.[]/)[0];
    test(`${where}: \`${row.option}\` accepts ${show(row.valid)} and refuses ${show(row.invalid)}`, async () => {
      await call({ [key]: row.valid });
      assert.deepEqual(await rejection(() => call({ [key]: row.invalid })), { code: 'INVALID_OPTION', message: row.message, option: row.option });
    });
  }
  test(`${where}: a misspelled option is refused with the nearest name`, async () => {
    for (const { options, message, option } of misspellings) {
      assert.deepEqual(await rejection(() => call(options)), { code: 'INVALID_OPTION', message, option });
    }
  });
}

function show(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  return JSON.stringify(value) ?? String(value);
}
