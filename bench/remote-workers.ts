/**
 * The worker processes the remote benchmarks start: test/fixtures/remote/worker.ts (runWorker, as `cellar
 * worker` runs it once joined) under tsx, on a local nats-server's admin user. It prints "ready" once it
 * pulls, then one JSON line per notable chunk.
 *
 * @example
 * ```ts
 * import { spawnWorker, untilReady } from "./remote-workers.ts";
 * import type { LocalNats } from "../kernel/remote/nats-local.ts";
 * declare const nats: LocalNats;
 *
 * const child = spawnWorker(nats, "w1", 2);
 * await untilReady(child, "w1");
 * ```
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { LocalNats } from "../kernel/remote/nats-local.ts";

const ROOT = resolve(import.meta.dirname, "..");
const TSX = pathToFileURL(join(ROOT, "node_modules/tsx/dist/loader.mjs")).href;
const WORKER = join(ROOT, "test/fixtures/remote/worker.ts");

/** A worker process with `lanes` chunks at once; its stdout is piped for the caller to read. */
export function spawnWorker(nats: LocalNats, name: string, lanes: number): ChildProcess {
  return spawn(process.execPath, ["--import", TSX, WORKER, nats.servers[0], nats.admin.user, nats.admin.pass, name, String(lanes), "0"], {
    cwd: ROOT,
    stdio: ["pipe", "pipe", "inherit"],
  });
}

/** Resolves once the worker says it pulls; rejects if it exits first. */
export function untilReady(child: ChildProcess, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    child.stdout!.on("data", (data: Buffer) => {
      if (String(data).includes("ready")) resolve();
    });
    child.on("exit", (code, signal) => reject(new Error(`worker ${name} exited (${code ?? signal}) before it was ready`)));
  });
}
