/**
 * `cellar serve` in one call: the pipelines of a directory (watched), the facade over the store, the
 * scheduler over the scheduled ones (restarted when a file changes), the runs a killed process left adopted
 * (adopt.ts), the registry of remote kernels with
 * the NATS they are given (`nats`, or a nats-server started beside the store), and the app listening. close() cancels
 * the runs still going (they stay resumable, marked so that the next server adopts them as it adopts a killed
 * server's) and stops the rest in reverse order.
 *
 * @example
 * ```ts
 * import { startServer } from "./serve.ts";
 *
 * const server = await startServer({ db: ".cellar/cellar.duckdb", host: "127.0.0.1", port: 7878, pipelines: "pipelines" });
 * console.log(`listening on ${server.url}`);
 * await server.close();
 * ```
 */
import {
  type Cellar, CellarError, collectProcessMetrics, errorLine, type LocalNats, type NatsAccess, newTicketSecret, openCellar, type Pipeline, type RemoteOptions, serverRuntime as runtime,
  startLocalNats,
} from "../kernel/mod.ts";
import { adoptOrphans } from "./adopt.ts";
import { createApp } from "./app.ts";
import { bindRefusal } from "./auth.ts";
import { EventLog } from "./events.ts";
import { openPipelineRegistry, type WatchedRegistry } from "./pipelines.ts";
import { localNatsControl, parseNatsUrl, sharedNatsControl, WorkerNames, WorkerRegistry } from "./workers.ts";

export interface ServerOptions {
  db: string;
  host: string;
  port: number;
  token?: string;
  /** The directory of pipeline files served. */
  pipelines: string;
  /** false: no scheduler (the API and triggered runs only). */
  schedule?: boolean;
  /** An external NATS for remote kernels: `nats://user:password@host:port` (comma-separated for a cluster). */
  nats?: string;
  /** Start a nats-server of our own (from PATH) beside the store, `<db>.nats/`, on 127.0.0.1. */
  natsLocal?: boolean;
  /** What a joining worker must present; default `token`. */
  joinToken?: string;
  /** How often workers send heartbeats (default 5 s; lost after three missed). */
  workerHeartbeatMs?: number;
  /** Remote placement's settings beyond the NATS connection (`consumer`'s ack_wait, max_deliver, …), with `nats` or `natsLocal`. */
  remote?: Omit<RemoteOptions, "nats">;
}

export interface RunningServer {
  url: string;
  port: number;
  cellar: Cellar;
  registry: WatchedRegistry;
  /** The remote kernels that joined. */
  workers: WorkerRegistry;
  /** How this server reaches NATS (its own user), when it has one: what remote placement connects with. */
  nats?: NatsAccess;
  /** The nats-server it started (`natsLocal`). */
  localNats?: LocalNats;
  /** One line per run a process that ended left unfinished, saying whether this server adopted it (adopt.ts). */
  adopted: string[];
  close(): Promise<void>;
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const refusal = bindRefusal(options.host, options.token);
  if (refusal) throw new CellarError(refusal);
  collectProcessMetrics();
  const { localNats, nats, workers, ticketSecret } = await remoteKernels(options);
  let registry: WatchedRegistry;
  try {
    registry = await openPipelineRegistry(options.pipelines);
  } catch (err) {
    await localNats?.stop();
    throw err;
  }
  // With NATS, ctx.map's placement "remote" and "auto" send task chunks to the workers, as this server's own
  // NATS user (the facade closes that connection with itself). Results count only from workers that joined
  // and were not revoked: under an external --nats a revoked worker's shared credentials still connect.
  const placement = { acceptWorker: (name: string) => workers.accepts(name), gpuWorkers: () => workers.hasGpu(), ...(ticketSecret ? { ticketSecret } : {}) };
  const cellar = openCellar({ db: options.db, ...(nats ? { remote: { ...placement, ...options.remote, nats } } : {}) });
  cellar.countWorkers(() => workers.counts());
  try {
    // Open the store now: a held or broken store fails the start, not the first request.
    await cellar.store();
    // The chunk stream and buckets now, so that a worker joining before the first remote map finds them; if
    // NATS refuses, the server still serves, and the first remote map tries again.
    if (nats) await cellar.openRemote().catch((err) => runtime.writeErr(`cellar serve: ${errorLine(err)}\n`));
    const events = new EventLog(cellar, { pipelines: registry, workers });
    const app = createApp({ cellar, pipelines: registry, workers }, { events, ...(options.token ? { token: options.token } : {}) });
    const served = await runtime.serve(app.fetch, { hostname: options.host, port: options.port });
    // Before the scheduler's first look: the runs adopted here are claimed, and those left to it are noted.
    const adopted = await adoptOrphans(cellar, registry, { scheduling: options.schedule !== false })
      .catch((err) => [`the runs a process that ended left unfinished were not adopted: ${errorLine(err)}`]);
    const scheduler = options.schedule === false ? undefined : keepScheduling(cellar, registry);
    return {
      url: served.url,
      port: served.port,
      cellar,
      registry,
      workers,
      adopted,
      ...(nats ? { nats } : {}),
      ...(localNats ? { localNats } : {}),
      close: () => stopServer({ cellar, events, served, scheduler, registry, workers, localNats }),
    };
  } catch (err) {
    registry.close();
    await cellar.close();
    await localNats?.stop();
    throw err;
  }
}

/** close(): the server's parts stopped in reverse order. */
async function stopServer(parts: {
  cellar: Cellar;
  events: EventLog;
  served: { close(): Promise<void> };
  scheduler: { stop(): Promise<void> } | undefined;
  registry: WatchedRegistry;
  workers: WorkerRegistry;
  localNats: LocalNats | undefined;
}): Promise<void> {
  const { cellar, events, served, scheduler, registry, workers, localNats } = parts;
  // Runs still going stop as `cellar schedule` stops them on a signal: cancelled, left resumable, and
  // marked so that the next server adopts them (a deploy's restart goes on with them).
  const stopped = cellar.shutdown("server stopping");
  // Open event streams end first: Deno's shutdown waits for every response to finish.
  events.close();
  await served.close();
  await scheduler?.stop();
  registry.close();
  workers.close();
  await stopped.catch((err) => runtime.writeErr(`cellar serve: the runs stopped were not all marked for the next server: ${errorLine(err)}\n`));
  await cellar.close();
  await localNats?.stop();
}

/**
 * The NATS remote kernels are given — an external one (`nats`), one started here with its JetStream files
 * in `<db>.nats/` beside the store (`natsLocal`), or none — and the registry they join.
 */
async function remoteKernels(
  options: ServerOptions,
): Promise<{ localNats?: LocalNats; nats?: NatsAccess; workers: WorkerRegistry; ticketSecret?: string }> {
  if (options.nats && options.natsLocal) throw new CellarError("--nats and --nats-local: give one (an external NATS, or one started here)");
  if (options.natsLocal && options.db === ":memory:") {
    throw new CellarError("--nats-local keeps its JetStream files beside the store: give a store file (--db), not :memory:");
  }
  // Read before a nats-server is started, which a bad file would leave behind.
  const beside = (suffix: string) => options.db === ":memory:" ? undefined : `${runtime.resolve(options.db)}.${suffix}`;
  const [revoked, known] = [await WorkerNames.load(beside("revoked-workers.json")), await WorkerNames.load(beside("known-workers.json"))];
  const ticketSecret = options.nats || options.natsLocal ? await loadTicketSecret(beside("chunk-ticket-secret")) : undefined;
  const localNats = options.natsLocal ? await startLocalNats({ dir: `${runtime.resolve(options.db)}.nats` }) : undefined;
  const nats: NatsAccess | undefined = localNats
    ? { servers: localNats.servers, user: localNats.admin.user, pass: localNats.admin.pass }
    : options.nats ? parseNatsUrl(options.nats) : undefined;
  const control = localNats ? localNatsControl(localNats) : nats ? sharedNatsControl(nats) : undefined;
  const joinToken = options.joinToken ?? options.token;
  const workers = new WorkerRegistry({
    revoked,
    known,
    ...(control ? { nats: control } : {}),
    ...(joinToken ? { joinToken } : {}),
    ...(options.workerHeartbeatMs ? { heartbeatMs: options.workerHeartbeatMs } : {}),
  });
  return { ...(localNats ? { localNats } : {}), ...(nats ? { nats } : {}), workers, ...(ticketSecret ? { ticketSecret } : {}) };
}

/**
 * The secret chunk tickets are signed under (kernel/remote/ticket.ts), made on first start and kept beside the
 * store (mode 0600), so that results remote kernels wrote before a restart still verify after it; a store in
 * memory gets one for this process.
 */
async function loadTicketSecret(path: string | undefined): Promise<string> {
  if (path === undefined) return newTicketSecret();
  try {
    const text = (await runtime.readTextFile(path)).trim();
    if (/^[0-9a-f]{64}$/.test(text)) return text;
    throw new CellarError(`${path}: expected the 64 hex characters of the chunk ticket secret; delete the file to make a new one (results not yet taken run again)`);
  } catch (err) {
    if (err instanceof CellarError) throw err;
  }
  const secret = newTicketSecret();
  await runtime.writeTextFile(path, `${secret}\n`, { mode: 0o600 });
  return secret;
}

/** The facade's scheduler over the registry's scheduled pipelines, started anew after a file reloads. */
function keepScheduling(cellar: Cellar, registry: WatchedRegistry): { stop(): Promise<void> } {
  let current: { stopping: AbortController; done: Promise<void> } | undefined;
  let stopped = false;
  const begin = () => {
    const pipelines = registry.list().filter((p: Pipeline) => p.timetable !== undefined || p.triggers.length > 0);
    if (stopped || pipelines.length === 0) return undefined;
    const stopping = new AbortController();
    const done = cellar.schedule(pipelines, { signal: stopping.signal }).then(
      () => {},
      (err) => runtime.writeErr(`cellar serve: scheduler stopped: ${errorLine(err)}\n`),
    );
    return { stopping, done };
  };
  // One restart at a time: the old loop ends before the new one reads the registry.
  let chain = Promise.resolve();
  const restart = () =>
    chain = chain.then(async () => {
      current?.stopping.abort();
      await current?.done;
      current = begin();
    });
  const off = registry.changed(() => void restart());
  void restart();
  return {
    stop: async () => {
      stopped = true;
      off();
      await restart();
    },
  };
}
