/**
 * Node's `runtime.serve`: a web-standard fetch handler on `@hono/node-server`. Imported by node.ts at the first serve(), so that a CLI command that
 * serves nothing never loads an HTTP server.
 *
 * @example
 * ```ts
 * import { serve } from "./node-serve.ts";
 *
 * const served = await serve(() => new Response("ok"), { hostname: "127.0.0.1", port: 0 });
 * await fetch(served.url);
 * await served.close();
 * ```
 */
import type { AddressInfo } from "node:net";
import { serve as honoServe } from "@hono/node-server";
import type { FetchHandler, ServeOptions, Served } from "./types.ts";
import { urlOf } from "./url-of.ts";

export function serve(fetch: FetchHandler, options: ServeOptions): Promise<Served> {
  return new Promise((resolve, reject) => {
    const server = honoServe({ fetch, hostname: options.hostname, port: options.port }, (info: AddressInfo) => {
      let closing: Promise<void> | undefined;
      const close = () =>
        closing ??= new Promise<void>((done) => {
          server.close(() => done());
          // Kept-alive connections would hold close() open until they time out.
          (server as { closeAllConnections?: () => void }).closeAllConnections?.();
        });
      options.signal?.addEventListener("abort", () => void close(), { once: true });
      resolve({ url: urlOf(options.hostname, info.port), port: info.port, close });
    });
    server.once("error", reject);
  });
}
