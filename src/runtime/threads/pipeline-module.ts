/**
 * The file a pipeline was loaded from. A worker thread cannot be handed a pipeline (its functions do
 * not cross threads), so it imports the same file and takes the same source and stages from its
 * default export, by their index: what the user wrote runs as written, closures and all.
 */
import type { Pipeline } from '../pipeline.ts';

const modules = new WeakMap<object, string>();

/** Says that `pipeline` is the default export of the module at `url` (loadPipeline does). */
export function markPipelineModule(pipeline: Pipeline<any>, url: string): void {
  modules.set(pipeline, url);
}

export function pipelineModuleOf(pipeline: Pipeline<any>): string | undefined {
  return modules.get(pipeline);
}
