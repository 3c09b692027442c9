/**
 * `cellar worker --server <url> --token <join-token> [--devices …] [--name …]`: a remote kernel. It joins
 * the server (kernel/remote/join.ts) with its devices and the code versions of its task modules, connects
 * to NATS with the credential the server answers, runs chunks (kernel/remote/worker-loop.ts) and sends
 * heartbeats until SIGINT/SIGTERM; then it finishes or gives back its chunks and deregisters. NATS and the
 * worker loop are imported when the command runs: the other commands never load them.
 *
 * @example
 * ```ts
 * import type { Cli } from "./command.ts";
 * import { workerCommands } from "./worker.ts";
 * declare const cli: Cli;
 *
 * workerCommands(cli); // cellar worker --server http://10.0.0.5:7878 --token … --devices cpu
 * ```
 */
import { CellarError, errorLine } from "../errors.ts";
import { runtime } from "../runtime/mod.ts";
import { type Cli, EXIT, stopOnSignals } from "./command.ts";

interface WorkerOpts {
  server: string;
  token?: string;
  devices: string;
  name?: string;
  capacity?: string;
  modules: string;
  drain: string;
}

export function workerCommands(cli: Cli): void {
  cli.program.command("worker")
    .description("run a remote kernel: join a `cellar serve`, run its ctx.map chunks from NATS until interrupted")
    .requiredOption("--server <url>", "the `cellar serve` to join, e.g. http://10.0.0.5:7878")
    .option("--token <token>", "the server's join token (default: $CELLAR_TOKEN)")
    .option("--devices <devices>", `"auto" (every WebGPU adapter), "cpu" (none), or a number of logical devices`, "auto")
    .option("--name <name>", "the worker's name on the server (default: <host>-<pid>)")
    .option("--capacity <n>", "CPU chunks run at once (default: one per core)")
    .option("--modules <dir>", "the task modules offered, a directory of the project (their code versions are sent)", "cells")
    .option("--drain <seconds>", "on SIGTERM, how long running chunks may finish before they are given back", "5")
    .action(cli.action(async (opts: WorkerOpts) => {
      const { runRemoteKernel } = await import("../remote/remote-kernel.ts");
      const stop = new AbortController();
      const off = stopOnSignals(() => {
        runtime.writeErr("cellar worker: stopping: finishing or giving back running chunks (again to exit at once)\n");
        stop.abort(new CellarError("stopped by signal"));
      });
      try {
        await runRemoteKernel({
          server: opts.server,
          token: opts.token ?? cli.token(),
          devices: opts.devices,
          name: opts.name ?? `${runtime.hostname()}-${runtime.pid()}`.replace(/[^A-Za-z0-9._-]/g, "-").slice(0, 63),
          capacity: opts.capacity === undefined ? undefined : wholeNumber(opts.capacity, "--capacity", 1),
          modules: opts.modules,
          drainMs: wholeNumber(opts.drain, "--drain", 0) * 1000,
          signal: stop.signal,
          say: (line) => runtime.writeOut(`cellar worker: ${line}\n`),
          warn: (line) => runtime.writeErr(`cellar worker: ${line}\n`),
        });
      } catch (err) {
        if (!stop.signal.aborted) throw err;
        runtime.writeErr(`cellar worker: ${errorLine(err)}\n`);
        return EXIT.failed;
      } finally {
        off();
      }
      return EXIT.ok;
    }));
}

function wholeNumber(text: string, what: string, min: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min) throw new CellarError(`${what} ${text}: expected a whole number ≥ ${min}`);
  return n;
}
