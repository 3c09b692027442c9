/**
 * The pipelines the server serves: every pipeline file of a directory, loaded through the facade, reloaded
 * when it changes on disk, and a file that fails to load kept as a load error (the others still served).
 *
 * @example
 * ```ts
 * import { openPipelineRegistry } from "./pipelines.ts";
 *
 * const registry = await openPipelineRegistry("pipelines");
 * registry.changed((id) => console.log(`${id} reloaded`));
 * console.log(registry.list().map((p) => p.id), registry.loadErrors());
 * registry.close();
 * ```
 */
import { errorLine, loadPipelineFile, type Pipeline, serverRuntime as runtime } from "../kernel/mod.ts";
import type { PipelineRegistry } from "./deps.ts";

/** A pipeline file that would not load, and why, in one line. */
export interface LoadError {
  file: string;
  error: string;
}

export interface WatchedRegistry extends PipelineRegistry {
  fileOf(id: string): string | undefined;
  /** The directory's files that failed to load, as of their last change. */
  loadErrors(): LoadError[];
  /** Stops watching the directory. */
  close(): void;
}

/** A pipeline file: TypeScript or JavaScript, not a declaration or test file. */
const PIPELINE_FILE = /^(?!.*\.d\.ts$)(?!.*\.test\.)[^.].*\.(ts|mts|js|mjs)$/;
/** Editors write a file in bursts (truncate, write, rename): one reload per burst. */
const SETTLE_MS = 100;

/** Loads every pipeline file of `dir` and, unless `watch: false`, keeps them current. */
export async function openPipelineRegistry(dir: string, options: { watch?: boolean } = {}): Promise<WatchedRegistry> {
  const root = runtime.resolve(dir);
  const byFile = new Map<string, Pipeline>();
  const errors = new Map<string, string>();
  const listeners = new Set<(id: string) => void>();

  const load = async (file: string, fresh: boolean): Promise<void> => {
    const before = byFile.get(file);
    try {
      byFile.set(file, (await loadPipelineFile(file, { fresh })).pipeline);
      errors.delete(file);
    } catch (err) {
      byFile.delete(file);
      // A file deleted (or renamed away) is no load error: it is simply no longer served.
      if (await runtime.exists(file)) errors.set(file, errorLine(err));
      else errors.delete(file);
    }
    const ids = new Set([before?.id, byFile.get(file)?.id].filter((id) => id !== undefined));
    if (fresh) for (const id of ids) listeners.forEach((listener) => listener(id));
  };

  const files = (await runtime.exists(root)) ? (await runtime.readDir(root)).filter((f) => PIPELINE_FILE.test(f)).sort() : [];
  for (const name of files) await load(runtime.resolve(root, name), false);
  const unwatch = options.watch === false || !(await runtime.exists(root)) ? () => {} : watchFiles(root, (file) => load(file, true));

  const pipelines = () => [...byFile.values()];
  return {
    list: () => pipelines().sort((a, b) => a.id.localeCompare(b.id)),
    get: (id) => pipelines().find((p) => p.id === id),
    fileOf: (id) => [...byFile].find(([, p]) => p.id === id)?.[0],
    changed: (listener) => {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    loadErrors: () => [...errors].map(([file, error]) => ({ file, error })),
    close: unwatch,
  };
}

/** Calls `reload` once per burst of changes to a pipeline file of `root`, one reload at a time. */
function watchFiles(root: string, reload: (file: string) => Promise<void>): () => void {
  const timers = new Map<string, ReturnType<typeof setTimeout>>();
  let queue = Promise.resolve();
  const stop = runtime.watch(root, (path) => {
    const name = path.slice(path.lastIndexOf("/") + 1);
    if (!PIPELINE_FILE.test(name)) return;
    clearTimeout(timers.get(path));
    timers.set(path, setTimeout(() => {
      timers.delete(path);
      queue = queue.then(() => reload(path));
    }, SETTLE_MS));
  });
  return () => {
    stop();
    timers.forEach((timer) => clearTimeout(timer));
  };
}
