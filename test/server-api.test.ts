// The server's JSON API over real HTTP on 127.0.0.1 (Node, @hono/node-server): a temp store and a temp
// directory of pipeline files, served by startServer as `cellar serve` does.
import { spawn } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventData } from "../server/api/event-schemas.ts";
import { type RunningServer, startServer } from "../server/serve.ts";
import { ROOT, tempDir, TSX, writePipeline } from "./helpers.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function pipelinesDir(): string {
  const dir = tempDir("cellar-server-");
  writePipeline(dir, "small.ts", `export default pipeline({ id: "small", schedule: "@daily", startDate: "2026-05-01", params: { n: 2 } })
  .cell("make", (ctx) => { ctx.log.info("making"); return Array.from({ length: ctx.params.n as number }, (_, i) => i); })
  .cell("sum", { retries: 1 }, (_ctx, xs: number[]) => xs.reduce((a, b) => a + b, 0));`);
  writeFileSync(join(dir, "broken.ts"), "export default 42;\n");
  return dir;
}

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await sleep(50);
  }
}

interface Sse {
  event: string;
  id: string;
  data: any;
}

/** Reads Server-Sent Events off a fetch response. */
function sseReader(res: Response) {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const seen: Sse[] = [];
  return {
    async until(done: (e: Sse) => boolean, ms = 20_000): Promise<Sse[]> {
      const deadline = Date.now() + ms;
      for (;;) {
        let end: number;
        while ((end = text.indexOf("\n\n")) >= 0) {
          const block = text.slice(0, end);
          text = text.slice(end + 2);
          const field = (name: string) => block.split("\n").find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2);
          if (field("data") === undefined) continue;
          const e = { event: field("event") ?? "message", id: field("id") ?? "", data: JSON.parse(field("data")!) };
          seen.push(e);
          if (done(e)) return seen;
        }
        if (Date.now() > deadline) throw new Error(`no such event in ${JSON.stringify(seen)}`);
        const { value, done: ended } = await reader.read();
        if (ended) throw new Error(`stream ended: ${JSON.stringify(seen)}`);
        text += value;
      }
    },
    close: () => void reader.cancel().catch(() => {}),
  };
}

describe("the JSON API, without a token", () => {
  let server: RunningServer;
  const get = async (path: string) => {
    const res = await fetch(server.url + path);
    return { status: res.status, body: await res.json() as any };
  };
  const post = async (path: string, body?: unknown) => {
    const res = await fetch(server.url + path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() as any };
  };

  beforeAll(async () => {
    const dir = pipelinesDir();
    server = await startServer({ db: join(dir, "cellar.duckdb"), host: "127.0.0.1", port: 0, pipelines: dir, schedule: false });
  });
  afterAll(async () => await server?.close());

  it("answers /healthz and /metrics, with security headers", async () => {
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.text()).toBe("ok");
    expect(health.headers.get("x-content-type-options")).toBe("nosniff");
    const metrics = await fetch(`${server.url}/metrics`);
    expect(metrics.headers.get("content-type")).toMatch(/^text\/plain/);
    const text = await metrics.text();
    expect(text).toMatch(/^# HELP cellar_/m);
    expect(text).toMatch(/^# TYPE cellar_\w+ /m);
  });

  it("serves the notebook UI beside the API", async () => {
    const page = await fetch(`${server.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await page.text()).toContain("small");
  });

  it("serves the OpenAPI document", async () => {
    const { status, body } = await get("/api/v1/openapi.json");
    expect(status).toBe(200);
    expect(body.openapi).toBe("3.1.0");
    expect(Object.keys(body.paths)).toEqual(expect.arrayContaining(["/pipelines", "/pipelines/{id}", "/runs", "/runs/{id}", "/pipelines/{id}/runs", "/runs/{id}/cancel"]));
    // The event stream too: its query, and each event's data shape.
    const events = body.paths["/events"].get;
    expect(events.parameters.map((p: any) => p.name)).toEqual(expect.arrayContaining(["run", "pipeline", "lastEventId", "last-event-id"]));
    expect(Object.keys(events.responses[200].content)).toEqual(["text/event-stream"]);
    for (const name of ["RunEvent", "CellEvent", "ChunksEvent", "LogEvent", "PipelineChangedEvent", "SseMessage", "OutputPreview", "JsonNode"]) {
      expect(Object.keys(body.components.schemas)).toContain(name);
    }
    expect(body.components.schemas.CellRun.properties.preview).toBeDefined();
  });

  it("lists the pipelines, with the file that failed to load, and shows one with its cells' options and source", async () => {
    const list = await get("/api/v1/pipelines");
    expect(list.status).toBe(200);
    expect(list.body.pipelines).toEqual([expect.objectContaining({ id: "small", schedule: "@daily", cells: ["make", "sum"] })]);
    expect(list.body.pipelines[0].nextLogicalDates).toHaveLength(5);
    expect(list.body.loadErrors).toEqual([{ file: expect.stringMatching(/broken\.ts$/), error: expect.stringMatching(/not a pipeline/) }]);
    const detail = await get("/api/v1/pipelines/small");
    expect(detail.status).toBe(200);
    expect(detail.body.params).toEqual({ n: 2 });
    expect(detail.body.cells[1]).toMatchObject({ name: "sum", needs: ["make"], retries: 1, cache: true });
    expect(detail.body.cells[1].source).toContain("xs.reduce");
  });

  it("triggers a run that answers 202 at once, and shows it until it succeeds, its logs paged", async () => {
    const started = await post("/api/v1/pipelines/small/runs", { params: { n: 4 }, date: "2026-05-03" });
    expect(started.status).toBe(202);
    const id = started.body.id;
    expect(id).toBeGreaterThan(0);
    const shown = await until(() => get(`/api/v1/runs/${id}`), (r) => r.body.state === "success");
    expect(shown.status).toBe(200);
    expect(shown.body.run).toMatchObject({ id, pipeline: "small", params: { n: 4 }, logicalDate: "2026-05-03T00:00:00.000Z" });
    expect(shown.body.cells.map((c: any) => `${c.cell}:${c.state}:${c.tries}`)).toEqual(["make:success:1", "sum:success:1"]);
    expect(shown.body.logs.map((l: any) => l.message)).toContain("making");
    // Each done cell's output preview, the notebook's: small JSON as text and a tree.
    expect(shown.body.cells[1].preview).toEqual({ kind: "json", text: "6", truncated: false, bytes: 1 });
    expect(shown.body.cells[0].preview).toMatchObject({ kind: "json", text: "[\n  0,\n  1,\n  2,\n  3\n]", tree: { kind: "branch", array: true, size: 4 } });
    const page = await get(`/api/v1/runs/${id}?logsLimit=1`);
    expect(page.body.logs).toHaveLength(1);
    // "making" is its one line: no next page.
    expect(page.body.logsNext).toBeNull();
  });

  it("lists runs filtered by pipeline and state, paged by cursor", async () => {
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) ids.push((await post("/api/v1/pipelines/small/runs", { params: { n: 10 + i } })).body.id);
    for (const id of ids) await until(() => get(`/api/v1/runs/${id}`), (r) => r.body.state === "success");
    const first = await get("/api/v1/runs?pipeline=small&state=success&limit=2");
    expect(first.status).toBe(200);
    expect(first.body.runs.map((r: any) => r.id)).toEqual([ids[2], ids[1]]);
    const second = await get(`/api/v1/runs?pipeline=small&state=success&limit=2&cursor=${first.body.next}`);
    expect(second.body.runs[0].id).toBe(ids[0]);
    expect((await get("/api/v1/runs?state=failed")).body).toEqual({ runs: [], next: null });
    expect((await get("/api/v1/runs?state=bogus")).status).toBe(400);
  });

  it("makes one run of two concurrent triggers for one logical date", async () => {
    const [a, b] = await Promise.all([0, 1].map(() => post("/api/v1/pipelines/small/runs", { date: "2026-05-07" })));
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(a.body.id).toBe(b.body.id);
    await until(() => get(`/api/v1/runs/${a.body.id}`), (r) => r.body.state === "success");
    const runs = (await get("/api/v1/runs?pipeline=small&limit=100")).body.runs;
    expect(runs.filter((r: any) => r.logicalDate === "2026-05-07T00:00:00.000Z")).toHaveLength(1);
  });

  it("runs one cell on its cached upstream, and runs from a cell", async () => {
    const cell = await post("/api/v1/pipelines/small/cells/sum/runs", { date: "2026-05-08" });
    expect(cell.status).toBe(202);
    const one = await until(() => get(`/api/v1/runs/${cell.body.id}`), (r) => r.body.state === "success");
    expect(one.body.run.kind).toBe("cell");
    expect(one.body.cells.map((c: any) => c.cell)).toEqual(["sum"]);
    const from = await post("/api/v1/pipelines/small/runs", { date: "2026-05-03", from: "sum" });
    const fromRun = await until(() => get(`/api/v1/runs/${from.body.id}`), (r) => r.body.state === "success");
    expect(fromRun.body.cells.map((c: any) => `${c.cell}:${c.state}`)).toEqual(["make:cached", "sum:success"]);
    expect((await post("/api/v1/pipelines/small/cells/nope/runs", {})).status).toBe(404);
    expect((await post("/api/v1/pipelines/small/runs", { from: "nope" })).status).toBe(400);
    expect((await post("/api/v1/pipelines/small/runs", { bogus: 1 })).status).toBe(400);
  });

  it("streams a run's events over SSE, and resumes after Last-Event-ID", async () => {
    const open = async (headers: Record<string, string> = {}, query = "") => {
      const res = await fetch(`${server.url}/api/v1/events${query}`, { headers });
      expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
      return sseReader(res);
    };
    const live = await open();
    const { body: { id } } = await post("/api/v1/pipelines/small/runs", { date: "2026-05-09", params: { n: 77 } });
    const seen = await live.until((e) => e.event === "run" && e.data.runId === id && e.data.state === "success");
    live.close();
    const mine = seen.filter((e) => e.data.runId === id);
    expect(mine[0]).toMatchObject({ event: "run", data: { state: "running" } });
    expect(mine.some((e) => e.event === "cell" && e.data.cell === "sum" && e.data.state === "success")).toBe(true);
    expect(mine.some((e) => e.event === "log" && e.data.message === "making")).toBe(true);
    // Each is what the OpenAPI document says of its type.
    for (const e of seen) {
      expect(e.data.type, JSON.stringify(e)).toBe(e.event);
      expect(EventData.safeParse(e.data).error, JSON.stringify(e)).toBeUndefined();
    }
    // Reconnecting after the first event: the rest of them again, the same ids, none before.
    const again = await open({ "last-event-id": mine[0].id }, `?run=${id}`);
    const replayed = await again.until((e) => e.event === "run" && e.data.state === "success");
    again.close();
    expect(replayed.map((e) => e.id)).toEqual(mine.slice(1).map((e) => e.id));
  });

  it("answers unknown pipelines, runs and routes with 404 and one line", async () => {
    for (const path of ["/api/v1/pipelines/nope", "/api/v1/runs/999999", "/api/v1/nothing"]) {
      const { status, body } = await get(path);
      expect(status).toBe(404);
      expect(Object.keys(body)).toEqual(["error"]);
      expect(body.error).not.toContain("\n");
    }
    expect((await post("/api/v1/pipelines/nope/runs", {})).status).toBe(404);
    expect((await post("/api/v1/runs/999999/cancel")).status).toBe(404);
    expect((await get("/api/v1/runs/abc")).status).toBe(400);
  });

  it("refuses bad params, a 2 MB body (413), and cancelling a finished run (409) without crashing", async () => {
    const bad = await post("/api/v1/pipelines/small/runs", { params: { nope: 1 } });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/nope/);
    const big = await post("/api/v1/pipelines/small/runs", { params: { n: "x".repeat(2 * 1024 * 1024) } });
    expect(big.status).toBe(413);
    const { body: { id } } = await post("/api/v1/pipelines/small/runs", {});
    await until(() => get(`/api/v1/runs/${id}`), (r) => r.body.state === "success");
    const cancelled = await post(`/api/v1/runs/${id}/cancel`);
    expect(cancelled.status).toBe(409);
    expect(cancelled.body.error).toMatch(/already ended \(success\)/);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });
});

describe("the run list's cached body", () => {
  let server: RunningServer;
  beforeAll(async () => {
    const dir = tempDir("cellar-server-cache-");
    writePipeline(dir, "slow.ts", `export default pipeline({ id: "slow" })
  .cell("wait", (ctx) => new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason))));`);
    server = await startServer({ db: join(dir, "cellar.duckdb"), host: "127.0.0.1", port: 0, pipelines: dir, schedule: false });
  });
  afterAll(async () => await server?.close());
  const list = async (query = "", headers: Record<string, string> = {}) => {
    const res = await fetch(`${server.url}/api/v1/runs${query}`, { headers });
    return { status: res.status, etag: res.headers.get("etag")!, runs: res.status === 200 ? ((await res.json()) as any).runs : [] };
  };

  it("answers If-None-Match with 304, and never serves the body from before a new run or a state change", async () => {
    const empty = await list();
    expect(empty.etag).toMatch(/^"[\w-]+"$/);
    expect((await list("", { "if-none-match": empty.etag })).status).toBe(304);
    const events = sseReader(await fetch(`${server.url}/api/v1/events`));
    const post = (path: string) => fetch(server.url + path, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    const res = await post("/api/v1/pipelines/slow/runs");
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: number };
    // Created by the request before: listed by the next one, whose old ETag no longer matches.
    const created = await list("", { "if-none-match": empty.etag });
    expect(created.status).toBe(200);
    expect(created.runs.map((r: any) => r.id)).toEqual([id]);
    await events.until((e) => e.event === "run" && e.data.runId === id && e.data.state === "running");
    expect((await list()).runs[0].state).toBe("running");
    // A different query is an entry of its own.
    expect((await list("?state=success")).runs).toEqual([]);
    expect((await list("?limit=1")).runs.map((r: any) => r.id)).toEqual([id]);
    expect((await post(`/api/v1/runs/${id}/cancel`)).status).toBe(202);
    // Kept again after the cancel's request, while the run still runs: only the run's event can drop it.
    const running = await list();
    await events.until((e) => e.event === "run" && e.data.runId === id && e.data.state !== "running");
    events.close();
    const after = await list("", { "if-none-match": running.etag });
    expect(after.status).toBe(200);
    expect(after.runs[0].state).toBe("interrupted");
  });
});

describe("the JSON API with a token", () => {
  let server: RunningServer;
  beforeAll(async () => {
    const dir = pipelinesDir();
    server = await startServer({ db: join(dir, "cellar.duckdb"), host: "127.0.0.1", port: 0, pipelines: dir, schedule: false, token: "s3cret" });
  });
  afterAll(async () => await server?.close());

  it("needs the bearer token on every route but /healthz", async () => {
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    for (const path of ["/api/v1/pipelines", "/metrics", "/api/v1/openapi.json"]) {
      expect((await fetch(server.url + path)).status).toBe(401);
      expect((await fetch(server.url + path, { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
      expect((await fetch(server.url + path, { headers: { authorization: "Bearer s3cret" } })).status).toBe(200);
    }
    const post = await fetch(`${server.url}/api/v1/pipelines/small/runs`, { method: "POST", body: "{}", headers: { "content-type": "application/json" } });
    expect(post.status).toBe(401);
  });

  it("refuses to listen beyond loopback without a token", async () => {
    const dir = pipelinesDir();
    await expect(startServer({ db: join(dir, "cellar.duckdb"), host: "0.0.0.0", port: 0, pipelines: dir }))
      .rejects.toThrow("--host 0.0.0.0 is not loopback; set --token (or CELLAR_TOKEN) to listen there");
  });
});

describe("the pipeline files served", () => {
  it("reloads a file when it changes, and reports one that stops loading as a load error", async () => {
    const dir = pipelinesDir();
    const server = await startServer({ db: join(dir, "cellar.duckdb"), host: "127.0.0.1", port: 0, pipelines: dir, schedule: false });
    try {
      const reloaded: string[] = [];
      server.registry.changed((id) => reloaded.push(id));
      const pipelines = async () => (await (await fetch(`${server.url}/api/v1/pipelines`)).json()) as any;
      writePipeline(dir, "small.ts", `export default pipeline({ id: "small" }).cell("only", () => 1).cell("more", (_c, x: number) => x + 1);`);
      const after = await until(pipelines, (b) => b.pipelines[0]?.cells.length === 2 && b.pipelines[0].cells[0] === "only");
      expect(after.pipelines[0].cells).toEqual(["only", "more"]);
      expect(reloaded).toContain("small");
      writeFileSync(join(dir, "small.ts"), "export default pipeline(;\n");
      const broken = await until(pipelines, (b) => b.pipelines.length === 0);
      expect(broken.pipelines).toEqual([]);
      expect(broken.loadErrors.map((e: any) => e.file).sort()).toEqual([join(dir, "broken.ts"), join(dir, "small.ts")]);
      const metric = async () => Number(/^cellar_pipeline_load_errors (\d+)/m.exec(await (await fetch(`${server.url}/metrics`)).text())?.[1]);
      // The gauge is the process's: the other tests' servers left their broken.ts counted too.
      const before = await metric();
      expect(before).toBeGreaterThanOrEqual(2);
      rmSync(join(dir, "broken.ts"));
      const gone = await until(pipelines, (b) => b.loadErrors.length === 1);
      expect(gone.loadErrors.map((e: any) => e.file)).toEqual([join(dir, "small.ts")]);
      expect(await metric()).toBe(before - 1);
    } finally {
      await server.close();
    }
  });
});

describe("the scheduler in the server", () => {
  it("runs the latest due interval of a scheduled pipeline, and reports its heartbeat, loop time and delay", async () => {
    const dir = pipelinesDir();
    const server = await startServer({ db: join(dir, "cellar.duckdb"), host: "127.0.0.1", port: 0, pipelines: dir });
    try {
      const runs = await until(
        async () => (await (await fetch(`${server.url}/api/v1/runs?pipeline=small&state=success`)).json()) as any,
        (b) => b.runs.length > 0,
      );
      expect(runs.runs[0].kind).toBe("scheduled");
      const text = await until(async () => await (await fetch(`${server.url}/metrics`)).text(), (t) => /^cellar_scheduler_loop_duration_seconds_count [1-9]/m.test(t));
      const beat = Number(/^cellar_scheduler_heartbeat_timestamp_seconds (\S+)/m.exec(text)?.[1]);
      expect(Math.abs(beat - Date.now() / 1000)).toBeLessThan(60);
      expect(text).toMatch(/^cellar_schedule_delay_seconds_count\{pipeline="small"\} 1$/m);
      expect(text).toMatch(/^cellar_pipeline_last_success_timestamp_seconds\{pipeline="small"\} \d/m);
    } finally {
      await server.close();
    }
  }, 30_000);
});

describe("search", () => {
  it("answers a query through the pipeline module's search export, and refuses an unknown pipeline", async () => {
    const dir = tempDir("cellar-server-");
    writePipeline(dir, "finder.ts", `export default pipeline({ id: "finder" }).cell("noop", () => 1);
export function search(_ctx: unknown, queries: string[], options: { k: number; mode?: string }) {
  return queries.map((q) => Array.from({ length: options.k }, (_, i) => ({ rank: i + 1, score: 1 / (i + 1), document: q + i, title: options.mode ?? null })));
}`);
    const server = await startServer({ db: join(dir, "cellar.duckdb"), host: "127.0.0.1", port: 0, pipelines: dir, schedule: false });
    try {
      const res = await fetch(`${server.url}/api/v1/search?q=wing&pipeline=finder&k=2`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ hits: [{ rank: 1, score: 1, document: "wing0", title: null }, { rank: 2, score: 0.5, document: "wing1", title: null }] });
      // ?mode= reaches the pipeline's search export as its retrieval spec.
      const byMode = await fetch(`${server.url}/api/v1/search?q=wing&pipeline=finder&k=1&mode=lexical%2Brm3`);
      expect(await byMode.json()).toEqual({ hits: [{ rank: 1, score: 1, document: "wing0", title: "lexical+rm3" }] });
      expect((await fetch(`${server.url}/api/v1/search?q=wing&pipeline=nope`)).status).toBe(404);
      expect((await fetch(`${server.url}/api/v1/search?pipeline=finder`)).status).toBe(400);
    } finally {
      await server.close();
    }
  }, 30_000);
});

describe("a pipeline file edited while served", () => {
  it("recomputes the edited cell on the next run, and serves the unchanged one from its checkpoint", async () => {
    const dir = pipelinesDir();
    const server = await startServer({ db: join(dir, "cellar.duckdb"), host: "127.0.0.1", port: 0, pipelines: dir, schedule: false });
    const trigger = async () => {
      const { id } = (await (await fetch(`${server.url}/api/v1/pipelines/small/runs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ date: "2026-05-03" }) })).json()) as any;
      const detail = await until(async () => (await (await fetch(`${server.url}/api/v1/runs/${id}`)).json()) as any, (d) => d.state === "success");
      return detail.cells.map((c: any) => `${c.cell}:${c.state}`);
    };
    try {
      expect(await trigger()).toEqual(["make:success", "sum:success"]);
      writePipeline(dir, "small.ts", `export default pipeline({ id: "small", schedule: "@daily", startDate: "2026-05-01", params: { n: 2 } })
  .cell("make", (ctx) => { ctx.log.info("making"); return Array.from({ length: ctx.params.n as number }, (_, i) => i); })
  .cell("sum", { retries: 1 }, (_ctx, xs: number[]) => xs.reduce((a, b) => a + b, 100));`);
      await until(async () => (await (await fetch(`${server.url}/api/v1/pipelines/small`)).json()) as any, (p) => p.cells[1].source.includes("100"));
      expect(await trigger()).toEqual(["make:cached", "sum:success"]);
    } finally {
      await server.close();
    }
  });
});

describe("cellar serve", () => {
  it("starts as a child process, answers /healthz, and exits 0 on SIGINT", async () => {
    const dir = pipelinesDir();
    const child = spawn(process.execPath, ["--import", TSX, join(ROOT, "kernel/cli.ts"), "--db", join(dir, "cellar.duckdb"), "serve", "--port", "0", "--pipelines", dir], { cwd: dir });
    let stdout = "";
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on("data", (d) => {
        stdout += d;
        const match = /listening on (http:\/\/\S+)/.exec(stdout);
        if (match) resolve(match[1]);
      });
      child.on("close", () => reject(new Error(`cellar serve exited: ${stderr}`)));
    });
    expect(stdout).toMatch(/pipelines: small/);
    expect(stderr).toMatch(/broken\.ts: .*not a pipeline/);
    const health = await fetch(`${url}/healthz`);
    expect(await health.text()).toBe("ok");
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    child.kill("SIGINT");
    expect(await exited).toBe(0);
  }, 30_000);

  it("refuses a non-loopback host without a token, in one line", async () => {
    const dir = pipelinesDir();
    const child = spawn(process.execPath, ["--import", TSX, join(ROOT, "kernel/cli.ts"), "--db", join(dir, "cellar.duckdb"), "serve", "--host", "0.0.0.0", "--pipelines", dir], { cwd: dir });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
    expect(code).toBe(2);
    expect(stderr).toBe("cellar: --host 0.0.0.0 is not loopback; set --token (or CELLAR_TOKEN) to listen there\n");
  }, 30_000);
});
