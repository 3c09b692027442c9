/**
 * `cellar serve`: the scheduler, the JSON API and /metrics in one process, until SIGINT or SIGTERM. The
 * server (server/) is imported at the command's run: the kernel does not depend on it otherwise.
 *
 * @example
 * ```ts
 * import type { Cli } from "./command.ts";
 * import { serveCommands } from "./serve.ts";
 * declare const cli: Cli;
 *
 * serveCommands(cli); // cellar serve --port 7878 --pipelines pipelines/
 * ```
 */
import { CellarError } from "../errors.ts";
import { runtime } from "../runtime/mod.ts";
import { type Cli, EXIT, stopOnSignals } from "./command.ts";
import { announceServer } from "./server-file.ts";

interface ServeOpts {
  host: string;
  port: string;
  token?: string;
  pipelines: string;
  nats?: string;
  natsLocal?: boolean;
  joinToken?: string;
}

export function serveCommands(cli: Cli): void {
  cli.program.command("serve")
    .description("run the scheduler, the JSON API (/api/v1) and /metrics in one process, until interrupted")
    .option("--host <host>", "address to listen on; anything but loopback needs a token", "127.0.0.1")
    .option("--port <port>", "port to listen on (0: any free one)", "7878")
    .option("--token <token>", "bearer token every route but /healthz then needs (default: $CELLAR_TOKEN)")
    .option("--pipelines <dir>", "directory of the pipeline files served, watched for changes", "pipelines")
    .option("--nats <url>", "NATS JetStream for remote kernels, nats://user:password@host:port (default: $CELLAR_NATS)")
    .option("--nats-local", "start a nats-server from PATH for remote kernels, its files beside the store (<db>.nats/)")
    .option("--join-token <token>", "what `cellar worker` must present to join (default: $CELLAR_JOIN_TOKEN, else --token)")
    .action(cli.action(async (opts: ServeOpts) => {
      const port = Number(opts.port);
      if (!/^\d+$/.test(opts.port) || port > 65535) throw new CellarError(`--port ${opts.port}: expected a port number (0-65535)`);
      const token = opts.token ?? cli.token();
      const { startServer } = await import("../../server/serve.ts");
      // $CELLAR_NATS yields to --nats-local; --nats with it is refused by startServer.
      const nats = opts.nats ?? (opts.natsLocal ? undefined : runtime.env("CELLAR_NATS"));
      const joinToken = opts.joinToken ?? runtime.env("CELLAR_JOIN_TOKEN");
      const server = await startServer({
        db: cli.db(),
        host: opts.host,
        port,
        pipelines: opts.pipelines,
        ...(token ? { token } : {}),
        ...(nats ? { nats } : {}),
        ...(opts.natsLocal ? { natsLocal: true } : {}),
        ...(joinToken ? { joinToken } : {}),
      });
      let withdraw: () => Promise<void>;
      try {
        // What `cellar run` and the other commands read to send their requests here rather than meet the store's lock.
        withdraw = await announceServer(cli.db(), { url: server.url, tokenRequired: Boolean(token) });
      } catch (err) {
        await server.close();
        throw err;
      }
      for (const { file, error } of server.registry.loadErrors()) runtime.writeErr(`cellar serve: ${file}: ${error}\n`);
      runtime.writeOut(`cellar serve: listening on ${server.url} (pipelines: ${server.registry.list().map((p) => p.id).join(", ") || "none"})\n`);
      for (const line of server.adopted) runtime.writeOut(`cellar serve: ${line}\n`);
      if (server.nats) {
        const where = server.localNats ? `a nats-server of its own (pid ${server.localNats.pid}, files in ${server.localNats.dir})` : "NATS";
        runtime.writeOut(`cellar serve: remote kernels join at ${server.url}/api/v1/workers; ${where} at ${server.nats.servers.join(", ")}\n`);
      }
      let off = () => {};
      await new Promise<void>((resolve) => (off = stopOnSignals(resolve)));
      runtime.writeErr("cellar serve: stopping (again to exit at once)\n");
      try {
        await withdraw();
        await server.close();
      } finally {
        off();
      }
      return EXIT.ok;
    }));
}
