/**
 * The routes the `cellar` commands use when this server holds their store (kernel/cli/remote.ts), beyond
 * the trigger, cancel and run-detail routes: a backfill over a range with Airflow 3's reprocess choices
 * (`POST /pipelines/{id}/backfills`), a pipeline's runs as `cellar runs` lists them (newest logical date
 * first: `GET /pipelines/{id}/runs`), and a cell's output in a run as `cellar cell` prints it
 * (`GET /runs/{id}/cells/{cell}/output`).
 *
 * @example
 * ```ts
 * import { OpenAPIHono } from "@hono/zod-openapi";
 * import { cliRoutes } from "./cli-routes.ts";
 * import type { ServerDeps } from "../deps.ts";
 * declare const deps: ServerDeps;
 *
 * const api = new OpenAPIHono();
 * cliRoutes(api, deps); // POST /pipelines/daily/backfills { "start": "2026-05-01", "end": "2026-05-07", "reprocess": "failed" }
 * ```
 */
import { createRoute, type OpenAPIHono, type z } from "@hono/zod-openapi";
import { checkpointOf } from "../../kernel/mod.ts";
import type { ServerDeps } from "../deps.ts";
import { runJson } from "./json.ts";
import * as S from "./schemas.ts";

const json = <T extends z.ZodType>(schema: T, description: string) => ({ content: { "application/json": { schema } }, description });
const refused = (description: string) => json(S.ErrorBody, description);
const noSuchPipeline = (id: string) => ({ error: `pipeline ${id}: no such pipeline` });

export function cliRoutes(api: OpenAPIHono, deps: ServerDeps): void {
  backfillRoute(api, deps);
  api.openapi(
    createRoute({
      method: "get",
      path: "/pipelines/{id}/runs",
      request: { params: S.PipelineId, query: S.PipelineRunsQuery },
      responses: { 200: json(S.RunList, "The pipeline's runs, newest logical date first (as `cellar runs` lists them); `next` is null") },
    }),
    async (c) => {
      // Not only the pipelines served: a store keeps the runs of pipelines whose files have gone.
      const runs = await deps.cellar.runs(c.req.valid("param").id, { limit: c.req.valid("query").limit });
      return c.json(S.RunList.parse({ runs: runs.map(runJson), next: null }), 200);
    },
  );
  api.openapi(
    createRoute({
      method: "get",
      path: "/runs/{id}/cells/{cell}/output",
      request: { params: S.RunCellPath },
      responses: { 200: json(S.CellOutputBody, "The cell's output in that run, as a later run reads it"), 404: refused("No such run, or the cell left no output there") },
    }),
    async (c) => {
      const { id, cell } = c.req.valid("param");
      await deps.cellar.show(id); // 404 for an unknown run
      const store = await deps.cellar.store();
      const sql = (query: string, values?: unknown[]) => store.query(query, values as Parameters<typeof store.query>[1]);
      const checkpoint = await checkpointOf({ sql }, Number(id), cell);
      if (!checkpoint) return c.json({ error: `run ${id}: cell ${cell} left no output` }, 404);
      return c.json(S.CellOutputBody.parse({ output: checkpoint.output }), 200);
    },
  );
}

function backfillRoute(api: OpenAPIHono, deps: ServerDeps): void {
  api.openapi(
    createRoute({
      method: "post",
      path: "/pipelines/{id}/backfills",
      request: { params: S.PipelineId, body: { content: { "application/json": { schema: S.BackfillBody } }, required: true } },
      responses: {
        202: json(S.BackfillAccepted, "The range's runs exist and go on"),
        400: refused("Bad range or reprocess choice, or a pipeline without a schedule"),
        404: refused("No such pipeline"),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const pipeline = deps.pipelines.get(id);
      if (!pipeline) return c.json(noSuchPipeline(id), 404);
      const body = c.req.valid("json");
      const plan = await deps.cellar.startBackfill(pipeline, { from: body.start, to: body.end, ...(body.reprocess ? { reprocess: body.reprocess } : {}) });
      // The runs' ends are recorded in the store and sent over /api/v1/events; nobody awaits them here.
      void plan.done.catch(() => {});
      const answer = { intervals: plan.intervals, notEnded: plan.notEnded, created: plan.created, runs: plan.runs.map(runJson) };
      return c.json(S.BackfillAccepted.parse(answer), 202);
    },
  );
}
