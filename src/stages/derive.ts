import { moveView } from '../batch/batch.ts';
import type { Column } from '../batch/column.ts';
import type { DType } from '../batch/dtype.ts';
import type { Stage } from '../contracts/contracts.ts';
import { z } from 'zod';
import { checkArgument, functionValue, optionsObject, requiredOption } from '../core/options.ts';
import { DTYPES } from '../batch/dtype.ts';
import { ComputedColumn } from './values.ts';
import { passesOn } from '../contracts/columns.ts';
import { checkReads, type ReadsOption, readsOption } from './reads.ts';

/** A computed column: a function of the row, or the function with the dtype to store it as. */
export type Derivation<R> = ((row: R) => unknown) | { dtype: DType; value: (row: R) => unknown };
export type Derivations<R> = Record<string, Derivation<R>>;

type ValueOf<D> = D extends (row: any) => infer V ? V : D extends { value: (row: any) => infer V } ? V : never;

/**
 * The row type after `derive`: the input row with the computed columns added (or replaced).
 * `-readonly`: `derive` takes its derivations as a `const` type parameter, which makes their keys
 * readonly; the columns they compute are ordinary columns.
 */
export type Derived<R, D> = Omit<R, keyof D> & { -readonly [K in keyof D]: ValueOf<D[K]> };

// A computed column cannot be dictionary-encoded: its values are not known up front.
const COMPUTED_DTYPES = DTYPES.filter((dtype) => dtype !== 'dictionary') as [DType, ...DType[]];

const DERIVATION = z.union([
  functionValue,
  optionsObject({
    dtype: requiredOption(z.enum(COMPUTED_DTYPES), `one of ${COMPUTED_DTYPES.map((dtype) => `'${dtype}'`).join(', ')}`),
    value: requiredOption(functionValue, 'a function (row) => value'),
  }),
]).meta({ expected: 'a function (row) => value, or { dtype, value }' });

/**
 * Adds computed columns. Values go straight into typed storage: float64 for numbers unless a dtype is
 * given (`{ dtype: 'float32', value: (row) => … }`), bool, timestamp for Dates, strings.
 */
export function derive<R, const D extends Derivations<R>>(derivations: D, options: ReadsOption<R> = {}): Stage<R, Derived<R, D>> {
  checkArgument('derive()', 'derivations', z.record(z.string(), DERIVATION), "an object of column name to a function (row) => value, or to { dtype, value }", derivations);
  const reads = readsOption('derive()', options);
  const names = Object.keys(derivations);
  const functions = names.map((name) => {
    const derivation = derivations[name];
    return typeof derivation === 'function' ? derivation : derivation.value;
  });
  const stage: Stage<R, Derived<R, D>> = async function* deriveStage(input, context) {
    const computed = names.map((name) => {
      const derivation = derivations[name];
      return new ComputedColumn(name, context.stage, typeof derivation === 'function' ? undefined : derivation.dtype);
    });
    let first = true;
    for await (const batch of input) {
      if (first) checkReads(batch, reads, context.stage);
      first = false;
      for (const column of computed) column.begin(batch.length);
      const view = batch.view();
      for (let i = 0; i < batch.length; i++) {
        moveView(view, i);
        for (let d = 0; d < functions.length; d++) computed[d].set(i, functions[d](view));
      }
      const columns: Record<string, Column> = { ...batch.columns };
      computed.forEach((column, d) => {
        columns[names[d]] = column.finish();
      });
      yield batch.withColumns<Derived<R, D>>(columns);
    }
  };
  stage.stageName = 'derive';
  stage.rowWise = true;
  if (reads !== undefined) stage.columns = passesOn(reads, names);
  return stage;
}
