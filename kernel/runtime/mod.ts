/**
 * The runtime adapter for the runtime we are on. The only door to `Deno.*` and Node's `process`.
 *
 * @example
 * import { runtime } from "./runtime/mod.ts";
 * runtime.env("CELLAR_DB");
 */
import type { Runtime } from "./types.ts";

export type { Runtime, WorkerHandle, WorkerPort } from "./types.ts";

export const runtime: Runtime = "Deno" in globalThis
  ? (await import("./deno.ts")).runtime
  : (await import("./node.ts")).runtime;
