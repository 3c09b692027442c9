/**
 * The runtime adapter for the runtime we are on. The only door to `Deno.*` and Node's `process`.
 *
 * @example
 * ```ts
 * import { runtime } from "./mod.ts";
 *
 * runtime.env("CELLAR_DB"); // → the variable's value, or undefined
 * ```
 */
import { runtime as deno } from "./deno.ts";
import { runtime as node } from "./node.ts";
import type { Runtime } from "./types.ts";

export type { Runtime, WorkerHandle, WorkerPort } from "./types.ts";

// Both adapters are imported statically (each touches its runtime's globals only when called): a top-level
// await here would stop a pipeline file that Node loads as CommonJS (one outside any "type": "module"
// package) from importing the kernel at all.
export const runtime: Runtime = "Deno" in globalThis ? deno : node;
