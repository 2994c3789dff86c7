import assert from 'node:assert/strict';
import { test } from 'node:test';
import { definePipeline, pipeline, run, runOrThrow } from '../../src/index.ts';
import { MemoryBudget } from '../../src/runtime/budget.ts';
import { PIPELINE_OPTIONS } from '../../src/runtime/pipeline-options.ts';
import { RUN_OPTIONS } from '../../src/runtime/run-options.ts';
import { collect, counting } from '../support/fakes.ts';
import { optionTable, refusal } from '../support/options.ts';

const expected = (where: string, option: string, what: string, got: string) => `${where}: expected \`${option}\` to be ${what}; got ${got}.`;
const p = (option: string, what: string, got: string) => expected('pipeline()', option, what, got);
const STATE = "either { folder: '.sluice' } (a local folder) or { connection: 'postgres://…', schema?: 'sluice' } (a PostgreSQL database)";

optionTable(
  'pipeline()',
  Object.keys(PIPELINE_OPTIONS.shape),
  (options) => pipeline(options),
  [
    { option: 'name', valid: 'orders', invalid: '', message: p('name', 'a non-empty name such as "orders"', '""') },
    { option: 'memory', valid: '64MB', invalid: '64 parsecs', message: p('memory', "a size such as '256MB' or a number of bytes", '"64 parsecs"') },
    { option: 'tempDir', valid: 'scratch', invalid: '', message: p('tempDir', "a folder such as '/mnt/scratch'", '""') },
    { option: 'batchRows', valid: 500, invalid: 0, message: p('batchRows', 'a whole number of rows from 1 and up', '0') },
    { option: 'threads', valid: 2, invalid: 0, message: p('threads', 'a whole number of threads from 1 to 64', '0') },
    { option: 'ordered', valid: false, invalid: 'no', message: p('ordered', 'true or false', '"no"') },
    { option: 'rejects', valid: { path: 'rejects.ndjson' }, invalid: 'rejects.ndjson', message: p('rejects', "an object { path, max? } such as { path: 'out/rejects.ndjson' }", '"rejects.ndjson"') },
    { option: 'rejects.max', valid: { path: 'r.ndjson', max: Infinity }, invalid: { path: 'r.ndjson', max: -1 }, message: p('rejects.max', 'a number of rows from 0 and up', '-1') },
    { option: 'rejects.path', valid: { path: 'r.ndjson', max: 0 }, invalid: { max: 3 }, message: p('rejects.path', "a file path such as 'out/rejects.ndjson'", 'nothing') },
    { option: 'stallTimeoutMs', valid: 5000, invalid: 0, message: p('stallTimeoutMs', 'a number of milliseconds above 0', '0') },
    { option: 'pushDown', valid: false, invalid: 'no', message: p('pushDown', 'true or false', '"no"') },
    { option: 'distributed', valid: {}, invalid: 5, message: p('distributed', 'an object { connection?, schema?, queueSchema?, retries?, heartbeatSeconds? }', '5') },
    { option: 'schedule', valid: '*/5 * * * *', invalid: ' ', message: p('schedule', "a cron expression such as '0 * * * *'", '" "') },
    { option: 'timezone', valid: 'Europe/Paris', invalid: 1, message: p('timezone', "an IANA time zone such as 'UTC' or 'Europe/Paris'", '1') },
    { option: 'overlap', valid: 'queue', invalid: 'wait', message: p('overlap', "'skip' or 'queue'", '"wait"') },
    { option: 'catchUp', valid: 'all', invalid: true, message: p('catchUp', "'none', 'latest' or 'all'", 'true') },
    { option: 'retries', valid: { max: 3, backoffMs: 2000 }, invalid: 3, message: p('retries', 'an object { max, backoffMs? } such as { max: 3, backoffMs: 2000 }', '3') },
    { option: 'retries.max', valid: { max: 0 }, invalid: { max: 1.5 }, message: p('retries.max', 'a whole number from 0 and up', '1.5') },
    { option: 'retries.backoffMs', valid: { max: 1, backoffMs: 0 }, invalid: { max: 1, backoffMs: -5 }, message: p('retries.backoffMs', 'a number of milliseconds from 0 and up', '-5') },
    { option: 'runTimeoutMs', valid: 60_000, invalid: Number.NaN, message: p('runTimeoutMs', 'a number of milliseconds above 0', 'NaN') },
    { option: 'state', valid: { folder: 'state' }, invalid: {}, message: p('state', STATE, '{}') },
    { option: 'state.keepRuns', valid: { connection: 'postgres://localhost/test', keepRuns: 10 }, invalid: { connection: 'postgres://localhost/test', keepRuns: 0 }, message: p('state.keepRuns', 'a whole number from 1 and up', '0') },
  ],
  [
    { options: { batchrows: 100 }, message: 'pipeline(): unknown option `batchrows`. Did you mean `batchRows`?', option: 'batchrows' },
    { options: { timeZone: 'UTC' }, message: 'pipeline(): unknown option `timeZone`. Did you mean `timezone`?', option: 'timeZone' },
    { options: { retires: { max: 1 } }, message: 'pipeline(): unknown option `retires`. Did you mean `retries`?', option: 'retires' },
    { options: { retries: { max: 1, backoff: 10 } }, message: 'pipeline(): unknown option `retries.backoff`. Did you mean `retries.backoffMs`?', option: 'retries.backoff' },
    { options: { state: { folder: '.sluice', schem: 'x' } }, message: 'pipeline(): unknown option `state.schem`. Did you mean `state.schema`?', option: 'state.schem' },
    { options: { stalTimeoutMs: 10 }, message: 'pipeline(): unknown option `stalTimeoutMs`. Did you mean `stallTimeoutMs`?', option: 'stalTimeoutMs' },
  ],
);

test('pipeline(): a schedule that is no cron expression, or a time zone that does not exist, is SCHEDULE_INVALID when called', () => {
  const schedule = refusal(() => pipeline({ schedule: '61 * * * *' }));
  assert.equal(schedule.code, 'SCHEDULE_INVALID');
  assert.equal(schedule.option, 'schedule');
  assert.match(schedule.message, /^pipeline\(\): schedule "61 \* \* \* \*" is not a valid cron expression \(.*minute.*\)\. Write 5 fields/);
  assert.deepEqual(refusal(() => pipeline({ schedule: '0 * * * *', timezone: 'Mars/Olympus' })), {
    code: 'SCHEDULE_INVALID',
    message: "pipeline(): `timezone` \"Mars/Olympus\" is not a time zone; use an IANA name such as 'UTC' or 'Europe/Paris'.",
    option: 'timezone',
  });
});

test('definePipeline() checks the same options, and leaves source, stages and sink to the loader', () => {
  const parts = { source: counting(1, 1), stages: [], sink: collect() };
  assert.deepEqual(refusal(() => definePipeline({ ...parts, batchrows: 5 } as never)), {
    code: 'INVALID_OPTION',
    message: 'definePipeline(): unknown option `batchrows`. Did you mean `batchRows`?',
    option: 'batchrows',
  });
  assert.equal(definePipeline({ ...parts, batchRows: 5 }).batchRows, 5);
});

const r = (option: string, what: string, got: string) => expected('run()', option, what, got);
const onePipeline = () => pipeline().from(counting(1, 3)).to(collect());

optionTable(
  'run()',
  Object.keys(RUN_OPTIONS.shape),
  // Invalid options fail before anything runs; valid ones run a tiny pipeline.
  (options) => run(onePipeline(), options),
  [
    { option: 'memory', valid: 64 << 20, invalid: -1, message: r('memory', "a size such as '256MB' or a number of bytes", '-1') },
    { option: 'concurrency', valid: 4, invalid: 0, message: r('concurrency', 'a whole number from 1 and up', '0') },
    { option: 'limit', valid: 0, invalid: -1, message: r('limit', 'a whole number of rows from 0 and up', '-1') },
    { option: 'dryRun', valid: true, invalid: 'true', message: r('dryRun', 'true or false', '"true"') },
    { option: 'signal', valid: new AbortController().signal, invalid: {}, message: r('signal', 'an AbortSignal', '{}') },
    { option: 'onProgress', valid: () => {}, invalid: 'log', message: r('onProgress', 'a function', '"log"') },
    { option: 'onWarning', valid: () => {}, invalid: 1, message: r('onWarning', 'a function', '1') },
    { option: 'onSample', valid: () => {}, invalid: true, message: r('onSample', 'a function', 'true') },
    { option: 'openTelemetry', valid: false, invalid: 'no', message: r('openTelemetry', 'true or false', '"no"') },
    { option: 'threads', valid: 2, invalid: 65, message: r('threads', 'a whole number of threads from 1 to 64', '65') },
    { option: 'tempDir', valid: 'scratch', invalid: 5, message: r('tempDir', "a folder such as '/mnt/scratch'", '5') },
    { option: 'budget', valid: new MemoryBudget(64 << 20), invalid: 64 << 20, message: r('budget', 'a MemoryBudget', String(64 << 20)) },
    { option: 'state.saveIn', valid: { committed: {}, saveIn: async () => false, save: async () => {} }, invalid: { committed: {}, save: () => {} }, message: r('state.saveIn', 'a function', 'nothing') },
  ],
  [
    { options: { dryrun: true }, message: 'run(): unknown option `dryrun`. Did you mean `dryRun`?', option: 'dryrun' },
    { options: { memroy: '1GB' }, message: 'run(): unknown option `memroy`. Did you mean `memory`?', option: 'memroy' },
  ],
);
