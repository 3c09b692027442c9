/**
 * The body of a CPU worker: runs task-handle chunks sent by the kernel's
 * thread. Loaded by `CpuPool` in a worker thread (Node) or a Worker (Deno).
 */
import { errorLine, isRetryable } from "../errors.ts";
import { runtime } from "../runtime/mod.ts";
import type { TaskRequest, TaskResponse } from "./cpu-pool.ts";

type ChunkFn = (chunk: unknown[], info: unknown) => unknown;
const loaded = new Map<string, Promise<ChunkFn>>();

function load(module: string, name: string): Promise<ChunkFn> {
  const key = `${module}#${name}`;
  let fn = loaded.get(key);
  if (!fn) {
    fn = import(module).then((exports) => {
      if (typeof exports[name] !== "function") throw new Error(`module ${module} exports no function "${name}"`);
      return exports[name] as ChunkFn;
    });
    loaded.set(key, fn);
  }
  return fn;
}

// Never aborted here: the kernel aborts a chunk by terminating its worker.
const signal = new AbortController().signal;

runtime.workerPort().onMessage(async (request: TaskRequest) => {
  let response: TaskResponse;
  try {
    const fn = await load(request.module, request.name);
    const result = await fn(request.chunk, { device: undefined, devices: [], share: 0, signal, index: request.index });
    response = { id: request.id, ok: true, result };
  } catch (err) {
    response = { id: request.id, ok: false, error: errorLine(err), retryable: isRetryable(err) };
  }
  runtime.workerPort().post(response);
});
