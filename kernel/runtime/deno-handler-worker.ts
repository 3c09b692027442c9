/**
 * Entry point of a Deno handler worker (runtime.spawnHandlerWorker): loads the module its URL's `module`
 * query names and answers each message with what the module's `handle` export returns, one message after
 * another, in order. A handler that throws ends the worker, which its owner hears as the worker's error.
 *
 * @example
 * ```ts
 * const entry = new URL("./deno-handler-worker.ts", import.meta.url);
 * entry.searchParams.set("module", "file:///app/cells/crawl/extract-worker.ts");
 * new Worker(entry, { type: "module" });
 * ```
 */
const moduleUrl = new URL(import.meta.url).searchParams.get("module");
if (moduleUrl === null) throw new Error("deno-handler-worker: no module= in its URL");
const { handle } = await import(moduleUrl) as { handle: (message: unknown) => unknown };
const scope = globalThis as unknown as { onmessage: ((e: MessageEvent) => void) | null; postMessage(m: unknown): void };
let previous = Promise.resolve();
scope.onmessage = (event) => {
  previous = previous.then(async () => scope.postMessage(await handle(event.data)));
};
