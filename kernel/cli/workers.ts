/**
 * `cellar workers`: the remote kernels that joined a `cellar serve`, with their state (alive, lost by
 * missed heartbeats, revoked), devices and last heartbeat; `cellar workers revoke <name>` withdraws one's
 * credential and NATS user. Both go through the server's API (`GET /api/v1/workers`,
 * `POST /api/v1/workers/{name}/revoke`): the server found by the store's server file, or `--server <url>`,
 * with the bearer token of --token or $CELLAR_TOKEN.
 *
 * @example
 * ```ts
 * import type { Cli } from "./command.ts";
 * import { workersCommands } from "./workers.ts";
 * declare const cli: Cli;
 *
 * workersCommands(cli); // cellar workers --server http://10.0.0.5:7878; cellar workers revoke gpu-box-1
 * ```
 */
import { CellarError } from "../errors.ts";
import type { WorkerView } from "../remote/join.ts";
import { runtime } from "../runtime/mod.ts";
import { type Cli, EXIT, table } from "./command.ts";
import { Remote } from "./remote.ts";
import { liveServer } from "./server-file.ts";

export function workersCommands(cli: Cli): void {
  const workers = cli.program.command("workers")
    .description("list the remote kernels (cellar worker) that joined the server: state, devices, last heartbeat")
    .option("--server <url>", "the cellar serve to ask (default: the one holding --db)")
    .option("--json", "print the list as JSON")
    .action(cli.action(async (opts: { server?: string; json?: boolean }) => {
      const remote = await serverOf(cli, opts.server);
      const { workers: list } = await remote.call<{ workers: WorkerView[] }>("GET", "/workers");
      if (opts.json) {
        runtime.writeOut(`${JSON.stringify(list, null, 2)}\n`);
        return EXIT.ok;
      }
      if (list.length === 0) {
        runtime.writeOut(`no remote kernels have joined ${remote.url}\n`);
        return EXIT.ok;
      }
      const out = table(["worker", "state", "host", "devices", "chunks in flight", "last heartbeat"]);
      for (const w of list) {
        const devices = w.devices.map((d) => `${d.id} (${d.kind}, ${d.budget})`).join(", ") || "none";
        out.push([w.name, w.state, w.host ?? "", devices, String(w.inFlight), w.lastHeartbeatAt.replace("T", " ").slice(0, 19)]);
      }
      runtime.writeOut(`${out.toString()}\n`);
      return EXIT.ok;
    }));
  workers.command("revoke")
    .description("withdraw a worker's credential and NATS user: its calls are refused and (with --nats-local) its connection closed")
    .argument("<name>", "the worker's name, as cellar workers lists it")
    .option("--server <url>", "the cellar serve to ask (default: the one holding --db)")
    .action(cli.action(async (name: string, opts: { server?: string }) => {
      // The parent's --server too: `cellar workers --server URL revoke x` reads naturally.
      const remote = await serverOf(cli, opts.server ?? workers.opts<{ server?: string }>().server);
      const revoked = await remote.call<WorkerView>("POST", `/workers/${encodeURIComponent(name)}/revoke`);
      runtime.writeOut(`revoked worker ${revoked.name}${revoked.natsUser ? ` (NATS user ${revoked.natsUser} removed)` : ""}\n`);
      return EXIT.ok;
    }));
}

async function serverOf(cli: Cli, server: string | undefined): Promise<Remote> {
  if (server !== undefined) {
    if (!/^https?:\/\/[^/]+/.test(server)) throw new CellarError(`--server ${server}: expected the server's URL, e.g. http://127.0.0.1:7878`);
    return new Remote(server.replace(/\/+$/, ""), cli.db(), cli.token());
  }
  const file = await liveServer(cli.db());
  if (!file) throw new CellarError(`no cellar serve holds ${cli.db()}; pass --server <url> (or --db of the store it serves)`);
  return new Remote(file.url, cli.db(), cli.token());
}
