/**
 * Finds and loads a pipeline module: `ingest` means `pipelines/ingest.ts`,
 * anything with a slash or an extension is a file. The module's default
 * export must be a pipeline; it is validated before anything runs.
 *
 * @example
 * ```ts
 * import { loadPipeline } from "./loader.ts";
 *
 * const { pipeline, file } = await loadPipeline("ingest"); // file → <cwd>/pipelines/ingest.ts
 * ```
 */
import { CellarError, errorLine, isCellarError } from "./errors.ts";
import { isPipeline, type Pipeline } from "./pipeline.ts";
import { forgetFileVersions } from "./fingerprint.ts";
import { runtime } from "./runtime/mod.ts";

let reloads = 0;

export interface LoadedPipeline {
  pipeline: Pipeline;
  file: string;
  /** The module's other exports, e.g. a `search` function for `cellar search`. */
  exports: Record<string, unknown>;
}

/** True for `ingest`, false for `pipelines/ingest.ts` or `./my.ts`. */
export function isPipelineId(ref: string): boolean {
  return !/[\\/]/.test(ref) && !/\.[cm]?[jt]s$/.test(ref);
}

/**
 * Loads `ref` (an id under `cwd`'s pipelines/, or a file). With `fresh`, the file is imported anew even if
 * this process imported it before (the server reloading a changed file), and its cells are versioned from
 * the text now on disk.
 */
export async function loadPipeline(ref: string, cwd = runtime.cwd(), options: { fresh?: boolean } = {}): Promise<LoadedPipeline> {
  const isFile = !isPipelineId(ref);
  const file = isFile ? runtime.resolve(cwd, ref) : runtime.resolve(cwd, "pipelines", `${ref}.ts`);
  if (!(await runtime.exists(file))) {
    throw new CellarError(
      isFile ? `pipeline file ${ref}: not found` : `pipeline "${ref}": no file pipelines/${ref}.ts under ${cwd}; give a pipeline id or a file path`,
    );
  }
  let module: Record<string, unknown>;
  try {
    if (options.fresh) forgetFileVersions();
    // A module URL is imported once per process; another query string is another module.
    module = await import(runtime.toFileUrl(file) + (options.fresh ? `?reload=${++reloads}` : ""));
  } catch (err) {
    // By brand: a pipeline that imports another copy of the kernel throws that copy's CellarError.
    if (isCellarError(err)) {
      throw new CellarError(`${ref}: ${errorLine(err)}`);
    }
    throw new CellarError(`pipeline file ${ref}: failed to load: ${loadFailure(err)}`);
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
  return { pipeline, file, exports: module };
}

/**
 * One line for a module that would not load, naming where when its first line does not:
 * a syntax error's first line is only "Transform failed with 1 error:" (esbuild, under tsx),
 * and an error thrown while the module runs says what but not where.
 */
function loadFailure(err: unknown): string {
  const line = errorLine(err);
  if (!(err instanceof Error)) return line;
  const next = err.message.split("\n").slice(1).map((l) => l.trim()).find((l) => l !== "");
  if (line.endsWith(":") && next) return `${line} ${next}`;
  for (const frame of (err.stack ?? "").split("\n").slice(1)) {
    const at = /(?:\(|at )((?:file:\/\/)?\/[^\s()]+):(\d+):\d+\)?\s*$/.exec(frame);
    if (at && !at[1].includes("/node_modules/")) return `${line} (at ${at[1]}:${at[2]})`;
  }
  return line;
}
