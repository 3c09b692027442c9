/**
 * The JSON API under `/api/v1`: pipelines, runs, a run's detail, triggering and cancelling a run, eval
 * results over time (eval-route.ts), and the
 * OpenAPI document of all of it at `/api/v1/openapi.json`. Requests are validated by the route schemas,
 * answers parsed through theirs; a refusal is one line, `{ error }`.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { apiRoutes } from "./routes.ts";
 * import type { ServerDeps } from "../deps.ts";
 * declare const deps: ServerDeps;
 *
 * const app = new Hono().route("/api/v1", apiRoutes(deps));
 * ```
 */
import { createRoute, OpenAPIHono, type z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { type Cellar, errorLine, isCellarError, type Pipeline, RunState } from "../../kernel/mod.ts";
import type { ServerDeps } from "../deps.ts";
import { cellPreviews } from "../preview/cell-previews.ts";
import { activeRunOf, type Trigger } from "./active-run.ts";
import { cliRoutes } from "./cli-routes.ts";
import { evalRoute } from "./eval-route.ts";
import { describeEvents } from "./event-schemas.ts";
import { pipelineDetail, pipelineSummary, runDetailJson, runJson } from "./json.ts";
import { logRoute } from "./log-route.ts";
import { pauseRoutes } from "./pause-routes.ts";
import * as S from "./schemas.ts";
import { BodyCache, matchesETag } from "./body-cache.ts";
import { workerRoutes } from "./worker-routes.ts";
import { WorkerRegistry } from "../workers.ts";

const json = <T extends z.ZodType>(schema: T, description: string) => ({ content: { "application/json": { schema } }, description });
const refused = (description: string) => json(S.ErrorBody, description);

export function apiRoutes(deps: ServerDeps): OpenAPIHono {
  const api = new OpenAPIHono({
    defaultHook: (result, c) => {
      if (!result.success) return c.json({ error: `bad request: ${oneLine(result.error)}` }, 400);
    },
  });
  api.onError((err, c) => failure(c, err));
  pipelineRoutes(api, deps);
  runRoutes(api, deps);
  logRoute(api, deps);
  actionRoutes(api, deps);
  pauseRoutes(api, deps);
  cliRoutes(api, deps);
  evalRoute(api, deps);
  workerRoutes(api, deps.workers ?? new WorkerRegistry());
  // The event stream is served by events.ts beside this router; the document describes it with the rest.
  describeEvents(api.openAPIRegistry);
  api.doc31("/openapi.json", { openapi: "3.1.0", info: { title: "Cellar", version: "1" }, servers: [{ url: "/api/v1" }] });
  return api;
}

function pipelineRoutes(api: OpenAPIHono, deps: ServerDeps): void {
  api.openapi(
    createRoute({ method: "get", path: "/pipelines", responses: { 200: json(S.PipelineList, "The pipelines served, and the files that failed to load") } }),
    async (c) => {
      const loadErrors = deps.pipelines.loadErrors?.() ?? [];
      const served = deps.pipelines.list();
      const paused = await deps.cellar.paused(served.map((p) => p.id));
      const pipelines = served.map((p) => ({ ...pipelineSummary(p), paused: paused.has(p.id) }));
      return c.json(S.PipelineList.parse({ pipelines, loadErrors }), 200);
    },
  );
  api.openapi(
    createRoute({
      method: "get",
      path: "/pipelines/{id}",
      request: { params: S.PipelineId },
      responses: { 200: json(S.PipelineDetail, "A pipeline: its cells with their options and source, its schedule"), 404: refused("No such pipeline") },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const pipeline = deps.pipelines.get(id);
      if (!pipeline) return c.json(noSuchPipeline(id), 404);
      const paused = (await deps.cellar.paused([id])).has(id);
      const stale = await deps.cellar.stale(pipeline);
      return c.json(S.PipelineDetail.parse({ ...pipelineDetail(pipeline), paused, stale }), 200);
    },
  );
}

/** Facade events that never change a run's row, so leave the cached run lists as they are. */
const ROW_KEEPING_EVENTS = new Set(["cell", "log", "progress", "chunks", "backfill", "scheduling"]);

function runRoutes(api: OpenAPIHono, deps: ServerDeps): void {
  // Many clients polling the same page get the bytes sent last (body-cache.ts) until something changes a
  // run's row: a run event or a new run (backfill, resume), or any request here that may write (a trigger's
  // run is queued before its first event). Cell, log and progress events leave the rows as they are.
  const runLists = new BodyCache();
  deps.cellar.on((event) => {
    if (!ROW_KEEPING_EVENTS.has(event.type)) runLists.invalidate();
  });
  api.use("*", async (c, next) => {
    try {
      await next();
    } finally {
      if (c.req.method !== "GET" && c.req.method !== "HEAD") runLists.invalidate();
    }
  });
  api.openapi(
    createRoute({
      method: "get",
      path: "/runs",
      request: { query: S.RunQuery },
      responses: {
        200: json(S.RunList, "Runs, newest first; `next` is the cursor of the next page"),
        304: { description: "Not modified: If-None-Match named the body's ETag" },
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const body = await runLists.get(JSON.stringify([q.pipeline, q.state, q.cursor, q.limit]), async () => {
        const page = await deps.cellar.runPage({
          limit: q.limit,
          ...(q.pipeline ? { pipeline: q.pipeline } : {}),
          ...(q.state ? { states: [q.state] } : {}),
          ...(q.cursor ? { before: q.cursor } : {}),
        });
        return S.RunList.parse({ runs: page.runs.map(runJson), next: page.next });
      });
      if (matchesETag(c.req.header("if-none-match"), body.etag)) return c.body(null, 304, { etag: body.etag });
      // The exact bytes kept, not c.json, which would serialize them again.
      return c.body(body.bytes, 200, { "content-type": "application/json", etag: body.etag });
    },
  );
  api.openapi(
    createRoute({
      method: "get",
      path: "/runs/{id}",
      request: { params: S.RunId, query: S.LogQuery },
      responses: { 200: json(S.RunDetailBody, "A run: its cells, attempts, errors, costs, output previews and a page of its logs"), 404: refused("No such run") },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const { logsLimit } = c.req.valid("query");
      const detail = await deps.cellar.show(id);
      const [logs, previews] = await Promise.all([deps.cellar.logs(id, { limit: logsLimit }), cellPreviews(deps.cellar, detail)]);
      return c.json(S.RunDetailBody.parse(runDetailJson(detail, logs, previews)), 200);
    },
  );
}

type Started = { runId: number; done?: Promise<unknown> };

/**
 * Triggers of one pipeline, logical date, params and start cell (or single cell) that arrive while such a run
 * is starting or going on answer with that run: a double click, or two clients, make one run. Memory holds the
 * runs this server starts, from the request to their end; the store (active-run.ts) those it does not
 * remember, across a restart. A trigger without a date is for now, and never the same as another.
 */
function oneRunPerTrigger(cellar: Cellar) {
  const inFlight = new Map<string, Promise<number>>();
  return (pipeline: Pipeline, trigger: Trigger | undefined, start: () => Promise<Started>): Promise<number> => {
    const key = trigger && JSON.stringify([pipeline.id, trigger.kind, trigger.cell ?? null, trigger.date, trigger.params ?? {}, trigger.from ?? null]);
    const going = key === undefined ? undefined : inFlight.get(key);
    if (going) return going;
    const active = trigger ? activeRunOf(cellar, pipeline, trigger) : Promise.resolve(undefined);
    const runId = active.then(async (found): Promise<Started> => found !== undefined ? { runId: found } : await start()).then((s) => {
      // The run's end is recorded in the store; nobody awaits it here. A run found in the store is looked up again.
      void (s.done ?? Promise.resolve()).catch(() => {}).finally(() => key !== undefined && inFlight.delete(key));
      return s.runId;
    });
    if (key !== undefined) {
      inFlight.set(key, runId);
      runId.catch(() => inFlight.delete(key));
    }
    return runId;
  };
}

function actionRoutes(api: OpenAPIHono, deps: ServerDeps): void {
  const once = oneRunPerTrigger(deps.cellar);
  api.openapi(
    createRoute({
      method: "post",
      path: "/pipelines/{id}/runs",
      request: { params: S.PipelineId, body: { content: { "application/json": { schema: S.TriggerBody } }, required: false } },
      responses: { 202: json(S.Accepted, "The run exists and goes on"), 400: refused("Bad params, date or cell"), 404: refused("No such pipeline") },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const pipeline = deps.pipelines.get(id);
      if (!pipeline) return c.json(noSuchPipeline(id), 404);
      const body = (await bodyOf(c, S.TriggerBody)) as z.infer<typeof S.TriggerBody>;
      const trigger = body.date === undefined ? undefined : { kind: "manual" as const, date: body.date, params: body.params, from: body.from };
      const runId = await once(pipeline, trigger, () => deps.cellar.start(pipeline, body as Parameters<ServerDeps["cellar"]["start"]>[1]));
      return c.json(S.Accepted.parse({ id: runId }), 202);
    },
  );
  api.openapi(
    createRoute({
      method: "post",
      path: "/pipelines/{id}/cells/{cell}/runs",
      request: { params: S.CellPath, body: { content: { "application/json": { schema: S.CellTriggerBody } }, required: false } },
      responses: {
        202: json(S.Accepted, "The cell's run exists and goes on, its upstream inputs from their latest checkpoints"),
        400: refused("Bad params or date, or an upstream cell without a checkpoint"),
        404: refused("No such pipeline or cell"),
      },
    }),
    async (c) => {
      const { id, cell } = c.req.valid("param");
      const pipeline = deps.pipelines.get(id);
      if (!pipeline) return c.json(noSuchPipeline(id), 404);
      if (!pipeline.cells.some((def) => def.name === cell)) return c.json({ error: `pipeline ${id}: no cell ${cell}` }, 404);
      const body = (await bodyOf(c, S.CellTriggerBody)) as z.infer<typeof S.CellTriggerBody>;
      const trigger = body.date === undefined ? undefined : { kind: "cell" as const, date: body.date, params: body.params, cell };
      const runId = await once(pipeline, trigger, () => deps.cellar.startCell(pipeline, cell, body as Parameters<ServerDeps["cellar"]["startCell"]>[2]));
      return c.json(S.Accepted.parse({ id: runId }), 202);
    },
  );
  cancelRoute(api, deps);
  searchRoute(api, deps);
}

function searchRoute(api: OpenAPIHono, deps: ServerDeps): void {
  api.openapi(
    createRoute({
      method: "get",
      path: "/search",
      request: { query: S.SearchQuery },
      responses: { 200: json(S.SearchHits, "The index's best documents for the query"), 400: refused("No such index"), 404: refused("No such pipeline") },
    }),
    async (c) => {
      const { q, pipeline: id, k, mode } = c.req.valid("query");
      if (!deps.pipelines.get(id)) return c.json(noSuchPipeline(id), 404);
      const hits = await deps.cellar.search(q, { pipeline: deps.pipelines.fileOf?.(id) ?? id, k, mode });
      return c.json(S.SearchHits.parse({ hits }), 200);
    },
  );
}

function cancelRoute(api: OpenAPIHono, deps: ServerDeps): void {
  api.openapi(
    createRoute({
      method: "post",
      path: "/runs/{id}/cancel",
      request: { params: S.RunId },
      responses: {
        202: json(S.Cancelled, "Its running cells are being cancelled; the run stays resumable"),
        404: refused("No such run"),
        409: refused("The run has ended, or is not executing in this server"),
      },
    }),
    async (c) => {
      const id = Number(c.req.valid("param").id);
      const { run } = await deps.cellar.show(id);
      if (run.state === RunState.Success || run.state === RunState.Failed) {
        return c.json({ error: `run ${id} has already ended (${run.state}); nothing to cancel` }, 409);
      }
      if (!deps.cellar.cancel(id, "cancelled through the API")) {
        return c.json({ error: `run ${id} is ${run.state}, not executing in this server; nothing to cancel` }, 409);
      }
      return c.json(S.Cancelled.parse({ id, cancelled: true }), 202);
    },
  );
}

/** An optional JSON body: none (or an empty one) is `{}`; one that is there must match `schema`. */
async function bodyOf(c: Context, schema: z.ZodType): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new HTTPException(400, { message: "bad request: the body is not JSON" });
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new HTTPException(400, { message: `bad request: ${oneLine(parsed.error)}` });
  return parsed.data;
}

/** A refusal: an HTTPException as it says; from the facade, 404 for an unknown run, 400 for other bad input; 500 for the rest. */
export function failure(c: Context, err: unknown): Response {
  if (err instanceof HTTPException) return c.json({ error: err.message }, err.status);
  if (isCellarError(err)) return c.json({ error: errorLine(err) }, /: no such run in /.test(err.message) ? 404 : 400);
  return c.json({ error: `internal error: ${errorLine(err)}` }, 500);
}

function oneLine(error: { issues: ReadonlyArray<{ path: PropertyKey[]; message: string }> }): string {
  return error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; ");
}

/** The one 404 body for a pipeline id the server does not serve. */
function noSuchPipeline(id: string): { error: string } {
  return { error: `pipeline ${id}: no such pipeline` };
}
