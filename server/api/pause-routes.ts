/**
 * `POST /api/v1/pipelines/{id}/pause` and `/unpause`: a pipeline's schedule stopped and started again, as
 * Airflow pauses a DAG; unpausing a pipeline with catchup runs the intervals missed meanwhile. Each answers
 * the pipeline's pause state, and whether the call changed it.
 *
 * @example
 * ```ts
 * import { OpenAPIHono } from "@hono/zod-openapi";
 * import { pauseRoutes } from "./pause-routes.ts";
 * import type { ServerDeps } from "../deps.ts";
 * declare const deps: ServerDeps;
 *
 * const api = new OpenAPIHono();
 * pauseRoutes(api, deps); // POST /pipelines/ingest/pause → { pipeline: "ingest", paused: true, changed: true }
 * ```
 */
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { ServerDeps } from "../deps.ts";
import * as S from "./schemas.ts";

export function pauseRoutes(api: OpenAPIHono, deps: ServerDeps): void {
  for (const action of ["pause", "unpause"] as const) {
    api.openapi(
      createRoute({
        method: "post",
        path: `/pipelines/{id}/${action}`,
        request: { params: S.PipelineId },
        responses: {
          200: {
            content: { "application/json": { schema: S.PauseState } },
            description: action === "pause" ? "Its schedule is paused: no scheduled run of it is created or started" : "Its schedule runs again; with catchup, the missed intervals are due now",
          },
          404: { content: { "application/json": { schema: S.ErrorBody } }, description: "No such pipeline" },
        },
      }),
      async (c) => {
        const { id } = c.req.valid("param");
        const pipeline = deps.pipelines.get(id);
        if (!pipeline) return c.json({ error: `pipeline ${id}: no such pipeline` }, 404);
        const state = action === "pause" ? await deps.cellar.pause(pipeline) : await deps.cellar.unpause(pipeline);
        return c.json(S.PauseState.parse(state), 200);
      },
    );
  }
}
