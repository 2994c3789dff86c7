/**
 * Where `replace` and `upsert` stage their rows before they reach the target. In one process: a
 * temporary table of the transaction (`ON COMMIT DROP`). In a distributed run, for `replace`: `append` and `upsert` partitions write into the target, each in its
 * own transaction. `replace` partitions append into a staging table of the run (a real table beside
 * the target, `LIKE` it, so that it outlives the workers), and the run's finalize swaps it in once, in
 * one transaction, as a single-process replace does: the target shows the old rows until then; a
 * failed run drops the staging table and leaves the target untouched.
 */
import { randomBytes } from 'node:crypto';
import type { AnyRow } from '../../batch/batch.ts';
import { SluiceError } from '../../core/errors.ts';
import type { DistributedRunSink, Sink, SinkTransaction } from '../../contracts/contracts.ts';
import { type QualifiedName, quoteIdent, quoteQualified } from './identifiers.ts';

/** A replace's staging table has the target's defaults, constraints and indexes, so a bad row fails in the COPY, with its line. */
const REPLACE_LIKE = 'INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES';

/**
 * The staging table of a load into `target` (quoted), if its mode has one: its name unquoted (for
 * messages, which name the target instead), where the COPY goes, and the statement that makes it.
 * `shared`: the run's staging table of a distributed replace, which every partition writes into.
 */
export function stagingOf(mode: 'append' | 'replace' | 'upsert', runStaging: QualifiedName | undefined, target: string): { name: string; into: string; create: string; shared: boolean } | undefined {
  if (runStaging !== undefined) {
    const into = quoteQualified(runStaging);
    return { name: runStaging.table, into, create: `CREATE TABLE IF NOT EXISTS ${into} (LIKE ${target} ${REPLACE_LIKE})`, shared: true };
  }
  if (mode === 'append') return undefined;
  const name = `sluice_staging_${randomBytes(6).toString('hex')}`;
  const like = mode === 'replace' ? REPLACE_LIKE : 'INCLUDING DEFAULTS';
  return { name, into: quoteIdent(name), create: `CREATE TEMPORARY TABLE ${quoteIdent(name)} (LIKE ${target} ${like}) ON COMMIT DROP`, shared: false };
}

/** The staging table of a run, beside the target. */
export function runStagingTable(target: QualifiedName, runId: string): QualifiedName {
  return { schema: target.schema, table: `sluice_run_${runId.replaceAll('-', '').slice(0, 20)}` };
}

/** `partition`: the sink appending into `staging` (creating it `LIKE` the target when missing). */
export function distributedReplace(table: QualifiedName, staging: QualifiedName, allowEmpty: boolean, partition: Sink<AnyRow>): DistributedRunSink {
  const quotedStaging = quoteQualified(staging);
  const target = quoteQualified(table);
  const exists = async (transaction: SinkTransaction, name: string) => (await transaction.query('SELECT to_regclass($1) IS NOT NULL AS present', [name])).rows[0].present === true;
  return {
    partition,
    async publish(transaction) {
      // No partition had a row: no staging table, or an empty one.
      const staged = (await exists(transaction, quotedStaging)) && (await transaction.query(`SELECT EXISTS (SELECT 1 FROM ${quotedStaging}) AS rows`)).rows[0].rows === true;
      if (staged) {
        await transaction.query(`LOCK TABLE ${target} IN EXCLUSIVE MODE`);
        await transaction.query(`DELETE FROM ${target}`);
        // The staging table is LIKE the target: the same columns in the same order, defaults applied.
        await transaction.query(`INSERT INTO ${target} SELECT * FROM ${quotedStaging}`);
      } else if (await exists(transaction, target)) {
        if (!allowEmpty) throw emptyReplace(target);
        await transaction.query(`DELETE FROM ${target}`);
      }
      await transaction.query(`DROP TABLE IF EXISTS ${quotedStaging}`);
    },
    async discard(transaction) {
      await transaction.query(`DROP TABLE IF EXISTS ${quotedStaging}`);
    },
  };
}

export function emptyReplace(target: string): SluiceError {
  return new SluiceError(
    'PG_EMPTY_REPLACE',
    `The input had no rows, so replacing ${target} would empty it; nothing was changed. If an empty table is what you want, pass allowEmpty: true to toPostgres().`,
    { query: target },
  );
}
