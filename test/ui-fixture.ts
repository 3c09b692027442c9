/**
 * What the UI tests share: a real store in a temp dir with a few runs of two small pipelines (one of them
 * failing, one cell whose output is a `<script>` string), a third never run with slow cells, and the UI,
 * the API and the event stream served on 127.0.0.1. For the search page, notes' module exports a search
 * whose first hit's title is that `<script>` string, and flaky's the real index search (it built no index).
 */
import { serve } from "@hono/node-server";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Hono } from "hono";
import { type Browser, chromium } from "playwright-core";
import { type Cellar, openCellar, type Pipeline } from "../kernel/mod.ts";
import type { ServerDeps } from "../server/deps.ts";
import { eventRoutes } from "../server/api/events.ts";
import { apiRoutes } from "../server/api/routes.ts";
import { EventLog } from "../server/events.ts";
import { openPipelineRegistry } from "../server/pipelines.ts";
import { uiRoutes } from "../server/ui/routes.tsx";
import { evalPipelineSource } from "./eval-fixture.ts";
import { ROOT, tempDir, writePipeline } from "./helpers.ts";

export const SCRIPT_OUTPUT = "<script>alert(1)</script>";

/** Debian's chromium through playwright-core (its own browser download cannot be reached here). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
}

const NOTES = `export default pipeline({ id: "notes", schedule: "@daily", startDate: "2026-05-01", params: { n: 3 } })
  .cell("fetch_notes", { retries: 2, timeout: "30s" }, (ctx) => {
    // Each note's title is what a crawled page could hold.
    const n = ctx.params.n as number;
    return Array.from({ length: n }, (_, i) => ({ id: i + 1, title: i === 0 ? ${JSON.stringify(SCRIPT_OUTPUT)} : \`note \${i + 1}\` }));
  })
  .cell("keep_table", async (ctx, notes: Array<{ id: number; title: string }>) => {
    const table = await ctx.table("notes", { id: "INTEGER", title: "VARCHAR" });
    await table.append(notes);
    return await table.finish();
  })
  .cell("headline", { needs: ["fetch_notes"] }, (_ctx, notes: Array<{ title: string }>) => notes[0].title)
  .cell("count", { needs: ["keep_table"], gpu: 0.25 }, (_ctx, ref: { rows: number }) => ({ rows: ref.rows, big: "x".repeat(6000) }));

// What the search page shows: hits whose crawled title holds a <script> tag, the others naming the mode searched.
export function search(_ctx: unknown, queries: string[], options: { k: number; mode?: string }) {
  return queries.map((q) => Array.from({ length: Math.min(options.k, 3) }, (_, i) => ({
    rank: i + 1, score: 0.9 - i * 0.2, document: "https://example.org/" + (i + 1),
    title: i === 0 ? ${JSON.stringify(SCRIPT_OUTPUT)} : q + " page " + (i + 1) + " by " + (options.mode ?? "the default mode"),
  })));
}
`;

const FLAKY = `import { searchIndex } from ${JSON.stringify(join(ROOT, "cells/index/search.ts"))};
// The real index search, over a store where flaky never built an index: the search page's missing-index line.
export const search = searchIndex;
export default pipeline({ id: "flaky", params: { fail: false } })
  .cell("load", async (ctx) => {
    for (let i = 1; i <= 250; i++) ctx.log.info("loaded part " + i + (i === 7 ? " <img src=x onerror=alert(2)>" : ""));
    await new Promise((r) => setTimeout(r, 30));
    return 41;
  })
  .cell("check", async (ctx, x: number) => {
    ctx.log.warn("checking " + x);
    await new Promise((r) => setTimeout(r, 15));
    if (ctx.params.fail) throw new Error("check failed: <b>x</b> was " + x);
    return x + 1;
  })
  .cell("publish", { retries: 1, retryDelay: "10ms" }, async (ctx, x: number) => {
    ctx.cost.add("api_calls", 2);
    await new Promise((r) => setTimeout(r, 10));
    if (ctx.tryNumber === 1) throw new Error("publish: the endpoint answered 503");
    return { published: x };
  });
`;

// Cells slow enough (~300 ms each) that a browser sees them change state live, never run before the tests.
const SLOW = `export default pipeline({ id: "slow", params: { n: 2, label: "demo" } })
  .cell("start", async (ctx) => {
    await new Promise((r) => setTimeout(r, 300));
    return ctx.params.n as number;
  })
  .cell("double", async (ctx, x: number) => {
    ctx.log.info(\`doubling \${x}\`);
    await new Promise((r) => setTimeout(r, 300));
    return x * 2;
  })
  .cell("report", async (ctx, x: number) => {
    await new Promise((r) => setTimeout(r, 300));
    return \`\${ctx.params.label}: \${x}\`;
  });
`;

export interface UiFixture {
  cellar: Cellar;
  pipelines: Pipeline[];
  base: string;
  runIds: { notes: number[]; flaky: number[] };
  slow: Pipeline;
  /** The folder of the pipeline files (notes.ts, flaky.ts, slow.ts) and the store. */
  dir: string;
  close(): Promise<void>;
}

async function load(file: string): Promise<Pipeline> {
  return (await import(pathToFileURL(file).href)).default as Pipeline;
}

/**
 * Two pipelines, a few runs of each (so the strips have something in them), and the UI served. With `eval`,
 * an eval pipeline too (test/eval-fixture.ts's, id "eval") with two passing runs, for the Eval page's chart.
 */
export async function uiFixture(options: { watch?: boolean; eval?: boolean } = {}): Promise<UiFixture> {
  const dir = tempDir("cellar-ui-");
  const files = { notes: writePipeline(dir, "notes.ts", NOTES), flaky: writePipeline(dir, "flaky.ts", FLAKY), slow: writePipeline(dir, "slow.ts", SLOW) };
  const notes = await load(files.notes);
  const flaky = await load(files.flaky);
  const slow = await load(files.slow);
  const cellar = openCellar({ db: join(dir, "cellar.duckdb") });
  const runIds = { notes: [] as number[], flaky: [] as number[] };
  runIds.notes.push((await cellar.run(notes, { date: "2026-05-02T00:00:00Z" })).runId);
  runIds.notes.push((await cellar.run(notes, { date: "2026-05-03T00:00:00Z", from: "keep_table" })).runId);
  for (const fail of [false, true, false, true]) {
    runIds.flaky.push((await cellar.run(flaky, { params: { fail: String(fail) }, new: true, cache: false })).runId);
  }
  const pipelines = [notes, flaky, slow];
  if (options.eval) {
    const evals = await load(writePipeline(dir, "eval.ts", evalPipelineSource("eval")));
    for (const ndcg of ["0.40", "0.42"]) await cellar.run(evals, { params: { ndcg }, new: true });
    pipelines.push(evals);
  }
  const deps: ServerDeps = {
    cellar,
    pipelines: {
      list: () => pipelines,
      get: (id) => pipelines.find((p) => p.id === id),
      changed: () => () => {},
      // The search pages load a pipeline's module by its file, for its search export.
      fileOf: (id) => files[id as keyof typeof files],
    },
  };
  // With `watch`, the pipelines served are the server's registry over the folder: saving a file reloads it.
  const registry = options.watch ? await openPipelineRegistry(dir) : undefined;
  if (registry) deps.pipelines = registry;
  // The API and the event stream too, for the run buttons and the live updates (no auth: a loopback bind).
  const events = new EventLog(cellar, { pipelines: deps.pipelines });
  const app = new Hono();
  // The server's CSP, so the browser tests show live.js and the pages work under it.
  app.use(async (c, next) => {
    await next();
    c.header("content-security-policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'");
  });
  app.route("/api/v1", eventRoutes(events)).route("/api/v1", apiRoutes(deps)).route("/", uiRoutes(deps));
  const { server, port } = await new Promise<{ server: ReturnType<typeof serve>; port: number }>((resolve) => {
    const server = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, (info: AddressInfo) => resolve({ server, port: info.port }));
  });
  return {
    cellar,
    pipelines,
    base: `http://127.0.0.1:${port}`,
    runIds,
    slow,
    dir,
    close: async () => {
      registry?.close();
      events.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await cellar.close();
    },
  };
}
