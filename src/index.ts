// The whole public surface of Sluice. Everything else under src/ is internal.

export { Batch, type AnyRow, type BatchOrigin, type RowView } from './batch/batch.ts';
export { Column, columnFromValues } from './batch/column.ts';
export { Dictionary } from './batch/dictionary.ts';
export { DTYPES, type DType, type NumericDType } from './batch/dtype.ts';
export { SluiceError, isSluiceError, formatLocation, type ErrorCode, type ErrorLocation, type SluiceErrorDetails } from './core/errors.ts';
export {
  pipeline,
  definePipeline,
  PipelineBuilder,
  type Pipeline,
  type PipelineOptions,
  type RejectOptions,
  type RetryOptions,
  type StateOptions,
  type DistributedOptions,
} from './runtime/pipeline.ts';
export type {
  RunContext,
  Sink,
  SinkContext,
  SinkResult,
  Source,
  SourceContext,
  SourceDescription,
  DescribeContext,
  Stage,
  StageContext,
  IncrementalState,
  SinkTransaction,
  DistributedRunSink,
  SourceSample,
  SourcePartition,
  RunWarning,
  WarningCode,
} from './contracts/contracts.ts';
export { passesOn, replacesRows, READS_ALL, type ColumnSet, type ColumnUse } from './contracts/columns.ts';
export { run, runOrThrow, type ProgressEvent, type RunOptions, type RunStateStore } from './runtime/run.ts';
export { runTracked, isTransientError, type TrackedRunOptions, type TrackedRunResult } from './ops/tracked-run.ts';
export { loadPipeline } from './ops/load.ts';
export type { RunRecord, RunStatus } from './ops/history.ts';
export type { RunSummary, StageSummary } from './runtime/summary.ts';
export { profile, type ColumnProfile, type MemoryEstimate, type ProfileOptions, type ProfileReport } from './profile/profile.ts';
export { MemoryBudget } from './runtime/budget.ts';
export { orderedMap, type OrderedMapOptions } from './core/ordered-map.ts';
export { parseBytes, formatBytes } from './core/bytes.ts';
export { compileSchema, type CompileOptions } from './schema/compile.ts';
export { inferColumns, type ColumnStats } from './schema/infer.ts';
export type { ColumnPlan, SchemaPlan } from './schema/plan.ts';
export { csv, type CsvOptions, type RowOf } from './connectors/csv/source.ts';
export { ndjson, type NdjsonOptions } from './connectors/ndjson/source.ts';
export { parquet, type ParquetOptions } from './connectors/parquet/parquet.ts';
export { arrow, type ArrowOptions } from './connectors/arrow/source.ts';
export {
  postgres,
  type PostgresInput,
  type PostgresQueryInput,
  type PostgresTableInput,
  type PostgresSourceOptions,
} from './connectors/postgres/source.ts';
export { toPostgres, type PostgresSinkOptions } from './connectors/postgres/sink.ts';
export type { PgConnectionOptions, PgPoolOptions } from './connectors/postgres/connection.ts';
export type { QualifiedName } from './connectors/postgres/identifiers.ts';
export { fileSource, type FileFormat, type FilePlan, type FileReadContext } from './connectors/files/file-source.ts';
export { toCsv, type CsvSinkOptions } from './connectors/csv/sink.ts';
export { toNdjson } from './connectors/ndjson/sink.ts';
export { toParquet, type ParquetSinkOptions } from './connectors/parquet/sink.ts';
export { toArrow, type ArrowSinkOptions } from './connectors/arrow/sink.ts';
export { tee } from './runtime/tee.ts';
export { filter } from './stages/filter.ts';
export { map } from './stages/map.ts';
export { derive, type Derivation, type Derivations, type Derived } from './stages/derive.ts';
export { select } from './stages/select.ts';
export { rename, type Renamed } from './stages/rename.ts';
export { take } from './stages/take.ts';
export { tap } from './stages/tap.ts';
export { mapBatches, type MapBatchesOptions } from './stages/map-batches.ts';
export { groupBy, type GroupByFigures } from './stages/aggregate/group-by.ts';
export { sort, type SortFigures, type SortKey, type SortOptions, type SortSpec } from './stages/sort/sort.ts';
export { distinct, dedupe, type DedupeOptions } from './stages/distinct.ts';
export { join, type JoinFigures } from './stages/join/join.ts';
export type { Joined, JoinKey, JoinOn, JoinOptions, JoinSelect, JoinType } from './stages/join/options.ts';
export {
  count,
  sum,
  mean,
  min,
  max,
  first,
  last,
  countDistinct,
  reduce,
  type Aggregation,
  type Aggregations,
  type Grouped,
  type Reducer,
} from './stages/aggregate/aggregations.ts';
