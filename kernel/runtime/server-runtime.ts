/**
 * The part of the runtime adapter that the server (server/) uses beyond a cell's: serving HTTP, watching
 * pipeline files, the signals that stop it, and its own small files (the chunk ticket secret). Exported from
 * kernel/mod.ts, the server's one kernel import.
 *
 * @example
 * ```ts
 * import { serverRuntime } from "../mod.ts"; // in server/: "../kernel/mod.ts"
 *
 * const served = await serverRuntime.serve(() => new Response("ok"), { hostname: "127.0.0.1", port: 0 });
 * await served.close();
 * ```
 */
import { runtime as full } from "./mod.ts";
import type { Runtime } from "./types.ts";

export type ServerRuntime = Pick<
  Runtime,
  "name" | "serve" | "watch" | "onSignal" | "writeOut" | "writeErr" | "readDir" | "exists" | "resolve" | "cwd" | "readTextFile" | "writeTextFile"
>;

export const serverRuntime: ServerRuntime = full;
