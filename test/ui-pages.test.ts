// The costs, devices and search pages and /costs.csv over real HTTP on 127.0.0.1 (the shared UI fixture:
// flaky's publish cell reports api_calls, notes' module exports a search whose hits hold a <script> title,
// flaky's the real index search over a store with no index); the device and cost metrics; the bounded
// JSON tree of an output preview.
import { parse } from "csv-parse/sync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseClaim } from "../kernel/compute/claim.ts";
import { DevicePool } from "../kernel/compute/device-pool.ts";
import { deviceSnapshot } from "../kernel/compute/device-snapshot.ts";
import { registry } from "../kernel/prometheus.ts";
import { devicesPage } from "../server/ui/devices-page.tsx";
import { JsonTree } from "../server/ui/json-tree.tsx";
import { jsonTree, outputPreview, TREE_ITEMS } from "../server/preview/output-preview.ts";
import { PREVIEW_COLUMNS, tablePreview } from "../server/preview/table-preview.ts";
import { SCRIPT_OUTPUT, type UiFixture, uiFixture } from "./ui-fixture.ts";

let ui: UiFixture;
beforeAll(async () => {
  ui = await uiFixture();
}, 60_000);
afterAll(async () => await ui?.close());

async function get(path: string): Promise<{ status: number; headers: Headers; body: string }> {
  const res = await fetch(ui.base + path);
  return { status: res.status, headers: res.headers, body: await res.text() };
}

const today = () => new Date().toISOString().slice(0, 10);
const GiB = 2 ** 30;

describe("costs page", () => {
  it("charts and tabulates a resource per pipeline and cell over days, reported units first", async () => {
    const page = await get("/costs");
    expect(page.status).toBe(200);
    // The tabs: flaky's api_calls before the seconds every try has.
    expect(page.body).toMatch(/<nav class="tabs resources"><span class="tabs-label">resource<\/span><b class="tab selected">api_calls<\/b><a class="tab" href="\/costs\?days=30&amp;resource=cpu_seconds">cpu_seconds<\/a>/);
    // The pipelines, to filter by.
    expect(page.body).toContain('<b class="tab selected">all pipelines</b><a class="tab" href="/costs?days=30&amp;pipeline=notes">notes</a>');
    const notes = await get("/costs?pipeline=notes");
    expect(notes.body).toContain('<a class="tab" href="/costs?days=30">all pipelines</a><b class="tab selected">notes</b>');
    expect(notes.body).not.toContain("api_calls");
    // Two runs succeeded publishing after one failed try: 2 + 2 units each.
    expect(page.body).toContain(`<tr><td class="mono">${today()}</td><td><a href="/pipelines/flaky">flaky</a></td><td class="mono">publish</td><td class="num">8</td></tr>`);
    const chart = /data-cost-chart="([^"]+)"/.exec(page.body)?.[1].replaceAll("&quot;", '"');
    const data = JSON.parse(chart!);
    expect(data.resource).toBe("api_calls");
    expect(data.x).toHaveLength(30);
    expect(data.series).toEqual([{ name: "flaky · publish", values: [...Array(29).fill(null), 8] }]);
    expect(page.body).toContain('<script src="/ui/vendor/uplot.js" defer=""></script><script src="/ui/costs.js" defer=""></script>');
    // uPlot's two files, from node_modules by fixed paths.
    const uplot = await get("/ui/vendor/uplot.js");
    expect(uplot.headers.get("content-type")).toMatch(/^text\/javascript/);
    expect(uplot.body).toContain("uPlot");
    expect((await get("/ui/vendor/uplot.css")).headers.get("content-type")).toMatch(/^text\/css/);
    expect((await get("/ui/vendor/uPlot.cjs.js")).status).toBe(404);
    const js = await get("/ui/costs.js");
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toMatch(/^text\/javascript/);
    expect(js.body).toContain("new uPlot(");
    const seconds = await get("/costs?days=7&resource=wall_seconds");
    expect(seconds.body).toContain('<td class="mono">fetch_notes</td>');
    expect(seconds.body).toContain("<b>7 days</b>");
    expect((await get("/costs?days=0")).body).toContain("days 0: expected a whole number from 1 to 366");
  });

  it("downloads the window as CSV, every resource, as an attachment", async () => {
    const res = await get("/costs.csv?days=7");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/csv/);
    expect(res.headers.get("content-disposition")).toBe('attachment; filename="cellar-costs-7d.csv"');
    const rows = parse(res.body, { columns: true }) as Array<Record<string, string>>;
    expect(Object.keys(rows[0])).toEqual(["day", "pipeline", "cell", "resource", "amount", "unit"]);
    expect(rows).toContainEqual({ day: today(), pipeline: "flaky", cell: "publish", resource: "api_calls", amount: "8", unit: "api_calls" });
    const resources = new Set(rows.map((r) => r.resource));
    expect([...resources].sort()).toEqual(["api_calls", "cpu_seconds", "wall_seconds"]);
    expect(rows.filter((r) => r.resource === "wall_seconds").every((r) => r.unit === "second" && Number(r.amount) > 0)).toBe(true);
    const flaky = parse((await get("/costs.csv?pipeline=notes")).body, { columns: true }) as Array<Record<string, string>>;
    expect(new Set(flaky.map((r) => r.pipeline))).toEqual(new Set(["notes"]));
  });
});

describe("devices page", () => {
  it("shows each device of the pool with its claimed fraction, memory and leases, and the queue", async () => {
    const page = await get("/devices");
    expect(page.status).toBe(200);
    expect(page.body).toContain("<h1>Devices</h1>");
    expect(page.body).toContain('<script src="/ui/devices.js" defer=""></script>');
    expect(page.body).toMatch(/queue <b data-devices-queue="">0<\/b>/);
    expect(page.body).toMatch(/<tr data-device="gpu0"|No GPU devices on this host/);
    const js = await get("/ui/devices.js");
    expect(js.body).toContain('new EventSource("/api/v1/events")');
    expect(js.body).not.toMatch(/setInterval|innerHTML/);
  });

  it("renders a pool's snapshot: a quarter claimed with 1 GiB, two leases, one claim waiting", async () => {
    const pool = new DevicePool([{ id: "t0", description: "test adapter", fallback: true, memoryBytes: 4 * GiB, handle: null }]);
    const a = await pool.acquire(parseClaim({ gpu: 0.25, gpuMemory: GiB }, "test"));
    const b = await pool.acquire(parseClaim({ gpu: 0.5 }, "test"));
    const waiting = pool.acquire(parseClaim({ gpu: 0.5 }, "test"));
    const snapshot = deviceSnapshot(pool, "host-a");
    expect(snapshot).toEqual({
      host: "host-a",
      queued: 1,
      devices: [{ host: "host-a", id: "t0", description: "test adapter", fallback: true, claimed: 0.75, memoryBytes: 4 * GiB, memoryClaimedBytes: GiB, leases: 2, removed: false }],
    });
    const html = String(devicesPage(snapshot));
    expect(html).toContain('<span class="mono" data-device-claimed="">75%</span>');
    expect(html).toContain("1 GiB of 4 GiB");
    expect(html).toContain('<td class="num" data-device-leases="">2</td>');
    expect(html).toMatch(/queue <b data-devices-queue="">1<\/b> claim waiting/);
    // The metrics: the claimed fraction and memory per device, as the pool changes.
    const text = await registry.metrics();
    expect(text).toContain('cellar_device_claimed_ratio{device="t0"} 0.75');
    expect(text).toContain(`cellar_device_memory_bytes{device="t0"} ${GiB}`);
    a.release();
    b.release();
    (await waiting).release();
    const after = await registry.metrics();
    expect(after).toContain('cellar_device_claimed_ratio{device="t0"} 0');
    expect(after).toContain('cellar_device_memory_bytes{device="t0"} 0');
  });
});

describe("search page", () => {
  it("shows the hits with their scores, a crawled <script> title as text", async () => {
    const page = await get("/search?pipeline=notes&q=wing&k=5");
    expect(page.status).toBe(200);
    expect(page.body).toContain('<option value="notes" selected="">notes</option>');
    expect(page.body).toContain('value="wing"');
    expect(page.body.match(/<tr><td class="num">\d<\/td>/g)).toHaveLength(3);
    expect(page.body).toContain('<span class="mono">0.9000</span>');
    expect(page.body).toContain('<div class="hit-title">&lt;script&gt;alert(1)&lt;/script&gt;</div>');
    expect(page.body).not.toContain(SCRIPT_OUTPUT);
    expect(page.body).toContain("wing page 2 by the default mode");
    expect(page.body).toContain('<option value="" selected="">default</option>');
  });

  it("searches with the mode selected, and offers a mode given in the address as text", async () => {
    const page = await get("/search?pipeline=notes&q=wing&mode=hybrid%3Arrf");
    expect(page.status).toBe(200);
    expect(page.body).toContain("wing page 2 by hybrid:rrf");
    expect(page.body).toContain('<option value="hybrid:rrf" selected="">hybrid:rrf</option>');
    expect(page.body).toContain('<option value="lexical+rm3">lexical+rm3</option>');
    const shady = await get("/search?pipeline=notes&q=wing&mode=" + encodeURIComponent("<b>x</b>"));
    expect(shady.body).toContain('<option value="&lt;b&gt;x&lt;/b&gt;" selected="">&lt;b&gt;x&lt;/b&gt;</option>');
    expect(shady.body).not.toContain("<b>x</b>");
    expect((await get("/search?pipeline=notes&q=wing&mode=" + "x".repeat(201))).body).toContain("the mode has 201 characters; at most 200");
  });

  it("says in one line what is missing: an index, a search export, a pipeline, a good k", async () => {
    const missing = await get("/search?pipeline=flaky&q=wing");
    expect(missing.status).toBe(400);
    expect(missing.body).toContain('<p class="action-error search-error">pipeline &quot;flaky&quot; has no index yet; run it first (cellar run flaky)</p>');
    const none = await get("/search?pipeline=slow&q=wing");
    expect(none.body).toContain("pipeline &quot;slow&quot; has no search; its module can export search(ctx, queries, { k, mode })");
    expect((await get("/search?pipeline=nope&q=wing")).status).toBe(404);
    expect((await get("/search?q=wing&k=0")).body).toContain("k 0: expected a whole number from 1 to 1000");
    // No query: the form alone.
    const form = await get("/search");
    expect(form.status).toBe(200);
    expect(form.body).toContain('<form class="searchform" method="get" action="/search">');
    expect(form.body).not.toContain("search-error");
  });
});

describe("the three pages under a strict CSP", () => {
  it("load scripts from this server only, with no inline script and no style or on* attribute", async () => {
    for (const path of ["/costs", "/devices", "/search?pipeline=notes&q=wing", "/search?pipeline=flaky&q=wing"]) {
      const { body } = await get(path);
      const tags = body.match(/<script[^>]*>/g) ?? [];
      expect(tags.every((t) => /^<script src="\/ui\/[\w/.-]+\.js" defer="">$/.test(t)), path).toBe(true);
      expect(body.match(/<script[^>]*>[^<]/g), path).toBeNull();
      expect(body, path).not.toMatch(/<[a-z][^>]*\s(?:style|on[a-z]+)=/i);
      // The nav links to the three, and marks the page's own.
      const own = path.slice(1).split("?")[0];
      for (const name of ["costs", "devices", "search"]) {
        const link = `<a href="/${name}"${name === own ? ' aria-current="page"' : ""}>${name[0].toUpperCase()}${name.slice(1)}</a>`;
        expect(body, path).toContain(link);
      }
    }
  });
});

describe("cost metrics", () => {
  it("counts the units cells reported, by pipeline and unit, with no run ids", async () => {
    const text = await registry.metrics();
    expect(text).toContain('cellar_cost_units_total{pipeline="flaky",unit="api_calls"} 8');
    expect(text).not.toMatch(/^cellar_cost_units_total\{[^}]*run/m);
  });
});

describe("output previews", () => {
  it("shows small JSON as a tree of <details>, a vector as its dimensions, bounded in depth and entries", () => {
    const preview = outputPreview({ docs: 3, embedding: Array(384).fill(0.25), tags: ["a", "<b>"] });
    expect(preview.kind === "json" && preview.text).toContain('"embedding": [384 numbers]');
    expect(preview.kind === "json" && preview.tree).toMatchObject({ kind: "branch", size: 3, children: [{ key: "docs" }, { kind: "vector", key: "embedding", dims: 384 }, { key: "tags", size: 2 }] });
    const html = String(JsonTree({ node: (preview as { tree: Parameters<typeof JsonTree>[0]["node"] }).tree }));
    expect(html).toContain('<details open=""><summary><span class="j-shape">{3 keys}</span></summary>');
    expect(html).toContain('<span class="j-key">embedding: </span><span class="j-vector">vector · 384 dims</span>');
    expect(html).toContain('<span class="j-string">&quot;&lt;b&gt;&quot;</span>');
    expect(html).not.toContain("0.25");
    // Deep and wide: folded past 6 levels, 50 entries a level.
    let deep: unknown = 1;
    for (let i = 0; i < 10; i++) deep = { next: deep };
    expect(String(JsonTree({ node: jsonTree(deep) }))).toContain("{1 key} · deeper than 6 levels");
    const wide = jsonTree(Array.from({ length: 120 }, (_, i) => i % 2 ? "x" : i));
    expect(wide.kind === "branch" && wide.children.length).toBe(TREE_ITEMS);
    expect(String(JsonTree({ node: wide }))).toContain('<li class="muted">… 70 more</li>');
    // A scalar, or JSON over 4 KB, stays text.
    expect(outputPreview("hi")).toEqual({ kind: "json", text: '"hi"', truncated: false, bytes: 4 });
    expect(outputPreview({ big: "x".repeat(6000) })).not.toHaveProperty("tree");
  });

  it("shows a notebook cell's small JSON output as a tree, its <script> text escaped", async () => {
    const page = await get(`/pipelines/notes?run=${ui.runIds.notes[0]}`);
    const cell = page.body.slice(page.body.indexOf('id="cell-fetch_notes"'), page.body.indexOf('id="cell-keep_table"'));
    expect(cell).toContain('<div class="json-tree"><details open=""><summary><span class="j-shape">[3 items]</span></summary>');
    expect(cell).toContain('<span class="j-key">title: </span><span class="j-string">&quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;</span>');
    // count's output is over 4 KB: text, cut.
    expect(page.body).toMatch(/… cut at 4,096 of [\d,]+ bytes/);
  });

  it("reads a table's first rows through LIMIT, a FLOAT[n] column as its dimensions, bounded in columns and bytes", async () => {
    const store = await ui.cellar.store();
    const sql = (q: string) => store.query(q);
    const wide = Array.from({ length: 50 }, (_, i) => `repeat('y', 500) AS c${i}`).join(", ");
    const ref = { $table: "t", sql: `(SELECT range AS i, [0.5, 1.5, 2.5, 3.5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]::FLOAT[20] AS v, ${wide} FROM range(100))`, rows: 100, hash: "h" };
    const preview = (await tablePreview(sql, ref))!;
    expect(preview.columns.slice(0, 2)).toEqual([{ name: "i", type: "BIGINT" }, { name: "v", type: "FLOAT[20]" }]);
    expect(preview.columns).toHaveLength(PREVIEW_COLUMNS);
    expect(preview.hiddenColumns).toBe(52 - PREVIEW_COLUMNS);
    expect(preview.rows[0][1]).toBe("vector · 20 dims");
    // 38 text columns of 160 characters a row: 16 KB holds 2 rows, not the 10 asked for.
    expect(preview.rows.length).toBe(2);
  });
});
