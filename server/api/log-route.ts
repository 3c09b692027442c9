/**
 * `GET /api/v1/runs/{id}/logs`: a page of a run's log lines, filtered by cell, try, lowest level or errors
 * only, and read by cursor (`after` a page's `later`, `before` its `earlier`, or `tail` for the newest page):
 * a page deep in a 1,000,000-line log answers as fast as the first. An unknown run is a one-line 404.
 *
 * @example
 * ```ts
 * import { OpenAPIHono } from "@hono/zod-openapi";
 * import { logRoute } from "./log-route.ts";
 * import type { ServerDeps } from "../deps.ts";
 * declare const deps: ServerDeps;
 *
 * const api = new OpenAPIHono();
 * logRoute(api, deps); // GET /runs/12/logs?level=warn&tail=1&limit=100
 * ```
 */
import { createRoute, type OpenAPIHono, type z } from "@hono/zod-openapi";
import type { LogQuery } from "../../kernel/mod.ts";
import type { ServerDeps } from "../deps.ts";
import { logPageJson } from "./json.ts";
import * as S from "./schemas.ts";

export function logRoute(api: OpenAPIHono, deps: ServerDeps): void {
  api.openapi(
    createRoute({
      method: "get",
      path: "/runs/{id}/logs",
      request: { params: S.RunId, query: S.LogPageQuery },
      responses: {
        200: { content: { "application/json": { schema: S.LogPageBody } }, description: "A page of the run's log lines, oldest first, with the cursors of the pages around it" },
        400: { content: { "application/json": { schema: S.ErrorBody } }, description: "A bad filter or cursor" },
        404: { content: { "application/json": { schema: S.ErrorBody } }, description: "No such run" },
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const page = await deps.cellar.logs(id, logQuery(c.req.valid("query")));
      return c.json(S.LogPageBody.parse(logPageJson(page)), 200);
    },
  );
}

/** The API's query (`try`, flags as strings) as the facade's. */
export function logQuery(q: z.infer<typeof S.LogPageQuery>): LogQuery {
  return {
    limit: q.limit,
    ...(q.cell !== undefined ? { cell: q.cell } : {}),
    ...(q.try !== undefined ? { tryNumber: q.try } : {}),
    ...(q.level !== undefined ? { level: q.level } : {}),
    ...(q.errors ? { errors: true } : {}),
    ...(q.after !== undefined ? { after: q.after } : {}),
    ...(q.before !== undefined ? { before: q.before } : {}),
    ...(q.tail ? { tail: true } : {}),
  };
}
