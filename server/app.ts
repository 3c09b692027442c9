/**
 * The server's Hono app, built from its dependencies: `/healthz`, `/metrics` (Prometheus text), the JSON
 * API under `/api/v1` with its live updates (`/api/v1/events`, SSE), the notebook UI (ui/) at `/`; behind the
 * token when one is set (auth.ts: bearer header or login cookie), state changes from this origin only, a CSP
 * and other security headers, and a 1 MB limit on request bodies. The same app serves under Node and Deno (kernel/mod.ts's serverRuntime.serve).
 *
 * @example
 * ```ts
 * import { openCellar, pipeline } from "../kernel/mod.ts";
 * import { createApp } from "./app.ts";
 *
 * const hello = pipeline({ id: "hello" }).cell("greet", () => "hi");
 * const app = createApp({
 *   cellar: openCellar({ db: ":memory:" }),
 *   pipelines: { list: () => [hello], get: (id) => (id === "hello" ? hello : undefined), changed: () => () => {} },
 * }, {});
 * const res = await app.request("/healthz"); // → 200 "ok"
 * ```
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { secureHeaders } from "hono/secure-headers";
import { eventRoutes } from "./api/events.ts";
import { apiRoutes, failure } from "./api/routes.ts";
import { isWorkerCall } from "./api/worker-routes.ts";
import { sameOrigin, tokenGuard } from "./auth.ts";
import type { ServerDeps } from "./deps.ts";
import { EventLog } from "./events.ts";
import { watchEvalMetrics } from "./eval-metrics.ts";
import { STYLE_PATH } from "./ui/layout.tsx";
import { FAVICON_PATH } from "./ui/static-files.ts";
import { uiRoutes } from "./ui/routes.tsx";

/** The pages load their script and style from this server only, and nothing inline (outputs included). */
const CSP = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", "data:"],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  frameAncestors: ["'none'"],
};

/** Request bodies above this are refused (413) before they are read in full. */
export const MAX_BODY_BYTES = 1024 * 1024;

export interface AppOptions {
  /** When set, every route but /healthz (and the login form and its stylesheet) needs `Authorization: Bearer <token>` or a login session. */
  token?: string;
  /** The live updates' event log; made over `deps.cellar` if not given (whoever makes one closes it). */
  events?: EventLog;
}

export function createApp(deps: ServerDeps, options: AppOptions = {}): OpenAPIHono {
  const app = new OpenAPIHono();
  app.use("*", secureHeaders({ contentSecurityPolicy: CSP }));
  // Before the token: a page on another origin must not change state on a loopback server without one either.
  app.use("*", sameOrigin());
  // The login form's page needs its stylesheet and icon before a session exists.
  const guard = options.token ? tokenGuard(options.token, ["/healthz", STYLE_PATH, FAVICON_PATH, "/favicon.ico"], isWorkerCall) : undefined;
  if (guard) app.use("*", guard.check);
  // The rest of the body is not read: the connection cannot carry another request, and the client must know.
  app.use("*", bodyLimit({ maxSize: MAX_BODY_BYTES, onError: (c) => c.json({ error: "request body over 1 MB" }, 413, { connection: "close" }) }));
  app.onError((err, c) => failure(c, err));
  app.notFound((c) => c.json({ error: `${c.req.method} ${c.req.path}: no such route` }, 404));

  app.get("/healthz", (c) => c.text("ok"));
  const evalMetrics = watchEvalMetrics(deps);
  app.get("/metrics", async (c) => {
    await evalMetrics.settled();
    const { contentType, text } = await deps.cellar.metrics();
    return c.body(text, 200, { "content-type": contentType });
  });
  app.route("/api/v1", eventRoutes(options.events ?? new EventLog(deps.cellar, { pipelines: deps.pipelines })));
  app.route("/api/v1", apiRoutes(deps));
  if (guard) app.route("/", guard.login);
  app.route("/", uiRoutes(deps));
  return app;
}
