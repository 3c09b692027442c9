/**
 * What the server's parts (API routes, UI pages, metrics) are given: the facade and the pipelines it
 * serves. One object, so a test can build the app over a temp store and a handful of pipelines.
 *
 * @example
 * ```ts
 * import { openCellar, pipeline } from "../kernel/mod.ts";
 * import type { ServerDeps } from "./deps.ts";
 *
 * const hello = pipeline({ id: "hello" }).cell("greet", () => "hi");
 * const deps: ServerDeps = {
 *   cellar: openCellar({ db: "/tmp/cellar.duckdb" }),
 *   pipelines: { list: () => [hello], get: (id) => (id === "hello" ? hello : undefined), changed: () => () => {} },
 * };
 * ```
 */
import type { Cellar, Pipeline } from "../kernel/mod.ts";
import type { WorkerRegistry } from "./workers.ts";

/** The pipelines the server serves (from `--pipelines <dir>`), kept current as their files change. */
export interface PipelineRegistry {
  list(): Pipeline[];
  get(id: string): Pipeline | undefined;
  /** Calls `listener` with a pipeline's id whenever its file was reloaded; returns an unsubscribe. */
  changed(listener: (id: string) => void): () => void;
  /** The file a pipeline was loaded from (what the facade's search loads for its `search` export). */
  fileOf?(id: string): string | undefined;
  /** The directory's files that failed to load, each with its error in one line. */
  loadErrors?(): Array<{ file: string; error: string }>;
}

export interface ServerDeps {
  cellar: Cellar;
  pipelines: PipelineRegistry;
  /** The remote kernels that joined (workers.ts); none: an empty registry without NATS, which refuses joins. */
  workers?: WorkerRegistry;
}
