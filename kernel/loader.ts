/**
 * Finds and loads a pipeline module: `ingest` means `pipelines/ingest.ts`,
 * anything with a slash or an extension is a file. The module's default
 * export must be a pipeline; it is validated before anything runs.
 *
 * @example
 * const { pipeline, file } = await loadPipeline("ingest");
 */
import { CellarError, errorLine } from "./errors.ts";
import { isPipeline, type Pipeline } from "./pipeline.ts";
import { runtime } from "./runtime/mod.ts";

export interface LoadedPipeline {
  pipeline: Pipeline;
  file: string;
}

export async function loadPipeline(ref: string, cwd = runtime.cwd()): Promise<LoadedPipeline> {
  const isFile = /[\\/]/.test(ref) || /\.[cm]?[jt]s$/.test(ref);
  const file = isFile ? runtime.resolve(cwd, ref) : runtime.resolve(cwd, "pipelines", `${ref}.ts`);
  if (!(await runtime.exists(file))) {
    throw new CellarError(
      isFile ? `pipeline file ${ref}: not found` : `pipeline "${ref}": no file pipelines/${ref}.ts under ${cwd}; give a pipeline id or a file path`,
    );
  }
  let module: Record<string, unknown>;
  try {
    module = await import(runtime.toFileUrl(file));
  } catch (err) {
    if (err instanceof CellarError) throw new CellarError(`${ref}: ${err.message}`);
    throw new CellarError(`pipeline file ${ref}: failed to load: ${errorLine(err)}`);
  }
  const pipeline = module.default;
  if (!isPipeline(pipeline)) {
    throw new CellarError(`pipeline file ${ref}: its default export is not a pipeline; expected \`export default pipeline({ id, ... }).cell(...)\``);
  }
  try {
    pipeline.validate();
  } catch (err) {
    throw new CellarError(`${ref}: ${errorLine(err)}`);
  }
  return { pipeline, file };
}
