import { access } from 'node:fs/promises';
import { basename, extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SluiceError } from '../core/errors.ts';
import { importPipelineFile } from '../runtime/import-pipeline.ts';
import { markPipelineModule } from '../runtime/threads/pipeline-module.ts';
import type { Pipeline } from '../runtime/pipeline.ts';
import { resolveScheduleOptions } from './schedule-options.ts';
import { checkPipelineName } from './state.ts';

/**
 * Loads a pipeline file (TypeScript or JavaScript) and checks that its default export is a pipeline.
 * Every way it can go wrong gets a message that says what is wrong and where.
 */
export async function loadPipeline(file: string): Promise<Pipeline<any>> {
  const path = resolve(file);
  try {
    await access(path);
  } catch {
    throw new SluiceError('PIPELINE_LOAD', `Pipeline file ${file} does not exist.`, { file });
  }
  let module: Record<string, unknown>;
  try {
    module = await importPipelineFile(pathToFileURL(path).href);
  } catch (error) {
    throw loadError(file, error);
  }
  const definition = module.default;
  if (definition === undefined) {
    throw new SluiceError(
      'PIPELINE_SHAPE',
      `${file} has no default export. End it with \`export default pipeline({ … }).from(source).to(sink)\` (or definePipeline({ source, stages, sink })).`,
      { file },
    );
  }
  const problems = shapeProblems(definition);
  if (problems.length > 0) {
    throw new SluiceError('PIPELINE_SHAPE', `${file}: the default export is not a pipeline: ${problems.join('; ')}.`, { file });
  }
  const pipeline = definition as Pipeline<any>;
  resolveScheduleOptions(pipeline, file);
  const named = pipeline.name === undefined ? { ...pipeline, name: basename(file, extname(file)) } : pipeline;
  checkPipelineName(named.name!, file);
  // Worker threads of a threaded run import the same file for its source and stages.
  markPipelineModule(named, pathToFileURL(path).href);
  return named;
}

function shapeProblems(value: unknown): string[] {
  if (typeof value !== 'object' || value === null) return [`expected an object, got ${value === null ? 'null' : typeof value}`];
  const candidate = value as Record<string, unknown>;
  const problems: string[] = [];
  const source = candidate.source as Record<string, unknown> | undefined;
  if (typeof source !== 'object' || source === null || typeof source.read !== 'function') {
    problems.push('`source` must be a source such as csv(…), ndjson(…) or postgres(…)');
  }
  const sink = candidate.sink as Record<string, unknown> | undefined;
  if (typeof sink !== 'object' || sink === null || typeof sink.write !== 'function') {
    problems.push('`sink` must be a sink such as toCsv(…), toNdjson(…) or toPostgres(…)');
  }
  if (!Array.isArray(candidate.stages) || candidate.stages.some((stage) => typeof stage !== 'function')) {
    problems.push('`stages` must be an array of stage functions');
  }
  if (typeof source === 'object' && source !== null && typeof (source as { then?: unknown }).then === 'function') {
    problems.push('`source` is a Promise: did you forget an await, or call an async function?');
  }
  return problems;
}

function loadError(file: string, error: unknown): SluiceError {
  if (error instanceof SluiceError) {
    return new SluiceError(error.code, `${file}: ${error.message}`, { ...error.details, cause: error });
  }
  const raw = error instanceof Error ? error.message : String(error);
  // esbuild (through tsx) reports syntax errors as "Transform failed with N error(s):\nfile:line:column: ERROR: text".
  const located = /([^\s:]+\.[cm]?[jt]s):(\d+):(\d+): ERROR: (.*)/.exec(raw);
  if (located !== null) {
    const [, where, line, column, text] = located;
    return new SluiceError('PIPELINE_LOAD', `${file}:${line}:${column}: syntax error: ${text}`, {
      file: where.endsWith(basename(file)) ? file : where,
      line: Number(line),
      column: Number(column),
      cause: error,
    });
  }
  const code = (error as { code?: string }).code;
  if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
    return new SluiceError('PIPELINE_LOAD', `${file} imports something that cannot be found: ${firstLine(raw)}`, { file, cause: error });
  }
  const stackLine = error instanceof Error ? error.stack?.split('\n').find((line) => line.includes(basename(file))) : undefined;
  return new SluiceError(
    'PIPELINE_LOAD',
    `${file} failed while loading: ${firstLine(raw)}${stackLine ? ` (${stackLine.trim().replace(/^at /, 'at ')})` : ''}`,
    { file, cause: error },
  );
}

function firstLine(text: string): string {
  return text.split('\n')[0];
}
