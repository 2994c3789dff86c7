// The whole public surface of Sluice. Everything else under src/ is internal.

export { Batch, type AnyRow, type BatchOrigin, type RowView } from './batch/batch.ts';
export { Column, columnFromValues } from './batch/column.ts';
export { Dictionary } from './batch/dictionary.ts';
export { DTYPES, type DType, type NumericDType } from './batch/dtype.ts';
export { SluiceError, isSluiceError, formatLocation, type ErrorCode, type ErrorLocation, type SluiceErrorDetails } from './errors.ts';
export {
  pipeline,
  definePipeline,
  PipelineBuilder,
  type Pipeline,
  type PipelineOptions,
  type RejectOptions,
  type RunContext,
  type Sink,
  type SinkContext,
  type SinkResult,
  type Source,
  type SourceContext,
  type SourceDescription,
  type Stage,
  type StageContext,
  type IncrementalState,
  type RetryOptions,
  type SinkTransaction,
  type StateOptions,
} from './pipeline.ts';
export { run, runOrThrow, type ProgressEvent, type RunOptions, type RunStateStore } from './run.ts';
export { runTracked, isTransientError, type TrackedRunOptions, type TrackedRunResult } from './schedule/tracked-run.ts';
export type { RunRecord, RunStatus } from './schedule/history.ts';
export type { RunSummary, StageSummary } from './report/summary.ts';
export { profile, type ColumnProfile, type MemoryEstimate, type ProfileOptions, type ProfileReport } from './report/profile.ts';
export { MemoryBudget } from './scheduler/budget.ts';
export { orderedMap, type OrderedMapOptions } from './scheduler/ordered-map.ts';
export { parseBytes, formatBytes } from './scheduler/bytes.ts';
export { compileSchema, type CompileOptions } from './schema/compile.ts';
export { inferColumns, type ColumnStats } from './schema/infer.ts';
export type { ColumnPlan, SchemaPlan } from './schema/plan.ts';
export { csv, type CsvOptions, type RowOf } from './sources/csv/index.ts';
export { ndjson, type NdjsonOptions } from './sources/ndjson.ts';
export {
  postgres,
  type PostgresInput,
  type PostgresQueryInput,
  type PostgresTableInput,
  type PostgresSourceOptions,
} from './sources/postgres.ts';
export { toPostgres, type PostgresSinkOptions } from './sinks/postgres.ts';
export type { PgConnectionOptions, PgPoolOptions } from './postgres/connection.ts';
export type { QualifiedName } from './postgres/identifiers.ts';
export { toCsv, type CsvSinkOptions } from './sinks/csv.ts';
export { toNdjson } from './sinks/ndjson.ts';
export { filter } from './stages/filter.ts';
export { map } from './stages/map.ts';
export { derive, type Derivation, type Derivations, type Derived } from './stages/derive.ts';
export { select } from './stages/select.ts';
export { rename, type Renamed } from './stages/rename.ts';
export { take } from './stages/take.ts';
export { tap } from './stages/tap.ts';
export { mapBatches, type MapBatchesOptions } from './stages/map-batches.ts';
