/**
 * The notebook UI's routes, server-rendered with hono/jsx: `/` the pipelines, `/pipelines/:id` a pipeline as
 * a notebook (`?run=<id>` picks the run), `/pipelines/:id/grid` its runs × cells (`?runs=` how many), `/runs/:id` a run
 * (its logs filtered and paged by `?cell=&try=&level=&errors=1` and `?after=`, `?before=` or `?tail=1`), `/eval` eval results over time (eval-page.tsx), the stylesheet and live.js. Unknown ids answer 404 with one line. Every
 * page is plain HTML; live.js, the one client script, only updates a running run in place and wires the
 * run buttons to the API.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { uiRoutes } from "./routes.tsx";
 * import type { ServerDeps } from "../deps.ts";
 * declare const deps: ServerDeps;
 *
 * const app = new Hono().route("/", uiRoutes(deps));
 * ```
 */
import { readFile } from "node:fs/promises";
import { Hono } from "hono";
import { isCellarError, RunState } from "../../kernel/mod.ts";
import type { ServerDeps } from "../deps.ts";
import { evalRoutes } from "./eval-page.tsx";
import { LIVE_PATH, NotFound, STYLE_PATH } from "./layout.tsx";
import { GRID_RUNS, gridPageStream, MAX_GRID_RUNS } from "./grid-page.tsx";
import { logFilter } from "./log-view.tsx";
import { notebookPage } from "./notebook-page.tsx";
import { pipelinesPage } from "./pipelines-page.tsx";
import { runPage } from "./run-page.tsx";
import { costQuery, costsCsv, costsPage } from "./costs-page.tsx";
import { devicesPage } from "./devices-page.tsx";
import { searchResponse } from "./search-page.tsx";
import { staticFiles } from "./static-files.ts";
import { STYLE } from "./style.ts";

const RUN_ID = /^[1-9]\d{0,15}$/;

/** live.js, read once at the first request: a file of its own so that it is plain, lintable browser JS. */
let liveScript: Promise<string> | undefined;
const readLive = () => (liveScript ??= readFile(new URL("./live.js", import.meta.url), "utf8"));

export function uiRoutes(deps: ServerDeps): Hono {
  const app = new Hono();
  app.get(STYLE_PATH, (c) => c.body(STYLE, 200, { "content-type": "text/css; charset=utf-8", "cache-control": "public, max-age=300" }));
  app.get(LIVE_PATH, async (c) => c.body(await readLive(), 200, { "content-type": "text/javascript; charset=utf-8", "cache-control": "public, max-age=300" }));
  app.get("/", async (c) => c.html(await pipelinesPage(deps.cellar, deps.pipelines.list())));
  app.route("/", staticFiles());
  app.get("/costs", async (c) => {
    const query = costQuery(c.req.query());
    return typeof query === "string" ? c.html(<NotFound what={query} />, 400) : c.html(await costsPage(deps.cellar, query, deps.pipelines.list().map((p) => p.id)));
  });
  app.get("/costs.csv", async (c) => {
    const query = costQuery(c.req.query());
    if (typeof query === "string") return c.text(query, 400);
    const csv = costsCsv(await deps.cellar.costsByDay({ days: query.days, ...(query.pipeline ? { pipeline: query.pipeline } : {}) }));
    return c.body(csv, 200, { "content-type": "text/csv; charset=utf-8", "content-disposition": `attachment; filename="cellar-costs-${query.days}d.csv"` });
  });
  app.get("/devices", async (c) => c.html(devicesPage(await deps.cellar.devices(), deps.workers?.list())));
  app.get("/search", async (c) => {
    const { status, page } = await searchResponse(deps, c.req.query());
    return c.html(page, status);
  });
  app.route("/", evalRoutes(deps));
  app.get("/pipelines/:id", async (c) => {
    const id = c.req.param("id");
    const pipeline = deps.pipelines.get(id);
    if (!pipeline) return c.html(<NotFound what={`pipeline ${id}: no such pipeline`} />, 404);
    const run = c.req.query("run");
    if (run !== undefined && !RUN_ID.test(run)) return c.html(<NotFound what={`run ${run}: no such run`} />, 404);
    const { status, page } = await notebookPage(deps.cellar, pipeline, run === undefined ? undefined : Number(run));
    return c.html(page, status);
  });
  app.get("/pipelines/:id/grid", (c) => {
    const id = c.req.param("id");
    const pipeline = deps.pipelines.get(id);
    if (!pipeline) return c.html(<NotFound what={`pipeline ${id}: no such pipeline`} />, 404);
    const runs = c.req.query("runs") ?? String(GRID_RUNS);
    if (!/^[1-9]\d{0,3}$/.test(runs) || Number(runs) > MAX_GRID_RUNS) {
      return c.html(<NotFound what={`runs ${runs}: expected a whole number from 1 to ${MAX_GRID_RUNS}`} />, 400);
    }
    return c.body(gridPageStream(deps.cellar, pipeline, Number(runs)), 200, { "content-type": "text/html; charset=UTF-8" });
  });
  app.get("/runs/:id", async (c) => {
    const id = c.req.param("id");
    const notFound = () => c.html(<NotFound what={`run ${id}: no such run`} />, 404);
    if (!RUN_ID.test(id)) return notFound();
    try {
      const detail = await deps.cellar.show(Number(id));
      const going = detail.run.state === RunState.Running || detail.run.state === RunState.Queued;
      const { filter, query, error } = logFilter(new URL(c.req.url).searchParams, going);
      if (error) return c.html(<NotFound what={error} />, 400);
      const page = await deps.cellar.logs(detail.run.runId, query);
      const order = deps.pipelines.get(detail.run.pipeline)?.cells.map((cell) => cell.name);
      return c.html(runPage(detail, order, { filter, page }));
    } catch (err) {
      if (isCellarError(err) && /no such run/.test(err.message)) return notFound();
      throw err;
    }
  });
  return app;
}
