/**
 * `cellar serve` in one call: the pipelines of a directory (watched), the facade over the store, the
 * scheduler over the scheduled ones (restarted when a file changes), and the app listening. close() cancels
 * the runs still going (they stay resumable) and stops the rest in reverse order.
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
import { type Cellar, CellarError, errorLine, openCellar, type Pipeline, serverRuntime as runtime } from "../kernel/mod.ts";
import { createApp } from "./app.ts";
import { bindRefusal } from "./auth.ts";
import { EventLog } from "./events.ts";
import { openPipelineRegistry, type WatchedRegistry } from "./pipelines.ts";

export interface ServerOptions {
  db: string;
  host: string;
  port: number;
  token?: string;
  /** The directory of pipeline files served. */
  pipelines: string;
  /** false: no scheduler (the API and triggered runs only). */
  schedule?: boolean;
}

export interface RunningServer {
  url: string;
  port: number;
  cellar: Cellar;
  registry: WatchedRegistry;
  close(): Promise<void>;
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const refusal = bindRefusal(options.host, options.token);
  if (refusal) throw new CellarError(refusal);
  const registry = await openPipelineRegistry(options.pipelines);
  const cellar = openCellar({ db: options.db });
  try {
    // Open the store now: a held or broken store fails the start, not the first request.
    await cellar.store();
    const events = new EventLog(cellar, { pipelines: registry });
    const app = createApp({ cellar, pipelines: registry }, { events, ...(options.token ? { token: options.token } : {}) });
    const served = await runtime.serve(app.fetch, { hostname: options.host, port: options.port });
    const scheduler = options.schedule === false ? undefined : keepScheduling(cellar, registry);
    return {
      url: served.url,
      port: served.port,
      cellar,
      registry,
      close: async () => {
        // Runs still going stop as `cellar schedule` stops them on a signal: cancelled, left resumable.
        cellar.cancel(undefined, "server stopping");
        // Open event streams end first: Deno's shutdown waits for every response to finish.
        events.close();
        await served.close();
        await scheduler?.stop();
        registry.close();
        await cellar.close();
      },
    };
  } catch (err) {
    registry.close();
    await cellar.close();
    throw err;
  }
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
