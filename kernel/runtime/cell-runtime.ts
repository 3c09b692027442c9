/**
 * The part of the runtime adapter that cells may use, exported from kernel/mod.ts: files, paths, the
 * environment, hashing and HTTP GET. Signals, exit, the CPU pool's workers and the process's streams stay the kernel's.
 *
 * @example
 * ```ts
 * import { runtime } from "../mod.ts"; // in a cell: "../kernel/mod.ts"
 *
 * const text = await runtime.readTextFile(runtime.resolve(runtime.cwd(), "seeds.txt"));
 * ```
 */
import { runtime as full } from "./mod.ts";
import type { Runtime } from "./types.ts";

export type CellRuntime = Pick<
  Runtime,
  | "name" | "env" | "cwd" | "resolve" | "dirname" | "toFileUrl" | "fromFileUrl"
  | "exists" | "readDirEntries" | "stat" | "realPath" | "readFile" | "readChunks" | "readTextFile" | "writeTextFile"
  | "sha256Hex" | "httpGet"
  // A model from a hub downloads into a cache: parts appended and hashed, moved in when complete, linked; one
  // process at a time per file, under a lock file naming it (whether that process still lives, after a crash).
  | "mkdir" | "rename" | "remove" | "appendFile" | "symlink" | "hasher" | "progressStream" | "createExclusive" | "processAlive" | "pid" | "hostname"
  // The cross-encoder judge asks onnxruntime's WebGPU backend for an adapter of its own.
  | "gpu"
  // onnxruntime sessions (the transformers embedder, exact top-k) size their thread pools to the cores.
  | "cpuCount"
  // The web crawl extracts pages in a worker thread while its main thread fetches and stores.
  | "spawnHandlerWorker"
>;

export const runtime: CellRuntime = full;
