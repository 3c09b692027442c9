/**
 * `GET /api/v1/eval`: eval results over time. Per run of the eval pipeline (`?pipeline=`, default "eval")
 * that left a result: its logical date, when it finished, its mean metrics, and its gate's verdict (the
 * baseline and allowed drop per metric, and the questions that fell most); newest first, `?limit=` of them.
 *
 * @example
 * ```ts
 * import { OpenAPIHono } from "@hono/zod-openapi";
 * import { evalRoute } from "./eval-route.ts";
 * import type { ServerDeps } from "../deps.ts";
 * declare const deps: ServerDeps;
 *
 * const api = new OpenAPIHono();
 * evalRoute(api, deps); // GET /eval?pipeline=eval&limit=50
 * ```
 */
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { ServerDeps } from "../deps.ts";
import { EVAL_CELL, evalHistory, type EvalRun } from "../eval-history.ts";
import * as S from "./schemas.ts";

export function evalRoute(api: OpenAPIHono, deps: ServerDeps): void {
  api.openapi(
    createRoute({
      method: "get",
      path: "/eval",
      request: { query: S.EvalQuery },
      responses: {
        200: { content: { "application/json": { schema: S.EvalHistoryBody } }, description: "The eval runs' metrics and verdicts, newest first" },
        404: { content: { "application/json": { schema: S.ErrorBody } }, description: "No such pipeline" },
      },
    }),
    async (c) => {
      const { pipeline, limit } = c.req.valid("query");
      if (!deps.pipelines.get(pipeline)) return c.json({ error: `pipeline ${pipeline}: no such pipeline` }, 404);
      const runs = await evalHistory(deps.cellar, { pipeline, cell: EVAL_CELL, limit });
      return c.json(S.EvalHistoryBody.parse({ pipeline, cell: EVAL_CELL, runs: runs.map(evalRunJson) }), 200);
    },
  );
}

export function evalRunJson(r: EvalRun) {
  return {
    id: r.runId,
    kind: r.kind,
    state: r.state,
    logicalDate: r.logicalDate.toISOString(),
    finishedAt: r.finishedAt?.toISOString() ?? null,
    metrics: r.metrics,
    verdict: r.verdict,
    comparison: r.comparison,
  };
}
