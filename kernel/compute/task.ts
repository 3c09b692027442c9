/**
 * Task handles: a function named by its module and export, so that it can run
 * where a closure cannot go — in a CPU worker (which imports the same module)
 * or, later, on a remote kernel. Ray's remote function, without pickling.
 *
 * @example
 * ```ts
 * // cells/dedup.ts, which imports "../kernel/mod.ts"
 * import { type Context, task } from "../mod.ts";
 * declare const ctx: Context;
 * declare const texts: string[];
 * declare function minhash(text: string): Uint32Array;
 *
 * export function minhashChunk(texts: string[]): Uint32Array[] {
 *   return texts.map(minhash);
 * }
 * await ctx.map(texts, task(import.meta.url, "minhashChunk"), { batchSize: 256 });
 * ```
 */
import { CellarError } from "../errors.ts";

const TASK = Symbol.for("cellar.task");

export interface TaskHandle {
  readonly [TASK]: true;
  /** The module's URL (`import.meta.url` of the module that exports the function). */
  readonly module: string;
  /** The export's name. */
  readonly name: string;
  /** Imports the module and returns the function. */
  load<T, R, D>(): Promise<(chunk: T[], info: unknown) => R[] | Promise<R[]>>;
}

export function task(module: string, name: string): TaskHandle {
  if (typeof module !== "string" || !/^(file|https?):/.test(module)) {
    throw new CellarError(`task(${JSON.stringify(module)}, ...): expected import.meta.url of the module that exports the function`);
  }
  if (typeof name !== "string" || name === "") throw new CellarError(`task(..., ${JSON.stringify(name)}): expected the export's name`);
  return {
    [TASK]: true,
    module,
    name,
    async load() {
      const exports = await import(module);
      const fn = exports[name];
      if (typeof fn !== "function") throw new CellarError(`task ${name} of ${module}: the module exports no function "${name}"`);
      return fn;
    },
  };
}

export function isTask(value: unknown): value is TaskHandle {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[TASK] === true;
}
