// Eval results over time: the facade's history, GET /api/v1/eval, the Eval page, its chart in Chromium, and
// the eval gauges on /metrics, over a real server (startServer, as `cellar serve` runs) and a temp store. The
// eval pipelines are test/eval-fixture.ts's: the real gate over given means, so four runs take milliseconds.
import { request } from "node:http";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Pipeline } from "../kernel/mod.ts";
import { Runner } from "../kernel/runner.ts";
import { createManualRun } from "../kernel/run-records.ts";
import { type RunningServer, startServer } from "../server/serve.ts";
import { evalPipelineSource, inkedCanvases, RETRAINED_MODEL, SHADY_QID, SHADY_SPEC } from "./eval-fixture.ts";
import { ROOT, tempDir, writePipeline } from "./helpers.ts";

const ARTIFACTS = join(ROOT, "test/artifacts");

let server: RunningServer;
let browser: Browser;
const runIds: number[] = [];

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const dir = tempDir("cellar-eval-page-");
  writePipeline(dir, "eval.ts", evalPipelineSource("eval"));
  writePipeline(dir, "eval-nightly.ts", evalPipelineSource("eval-nightly"));
  writePipeline(dir, "eval-weekly.ts", evalPipelineSource("eval-weekly"));
  writePipeline(dir, "eval-two.ts", evalPipelineSource("eval-two"));
  writePipeline(dir, "hello.ts", `export default pipeline({ id: "hello" }).cell("greet", () => "hi");`);
  const launching = chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  server = await startServer({ db: join(dir, "cellar.duckdb"), host: "127.0.0.1", port: 0, pipelines: dir, schedule: false });
  const evalP = server.registry.get("eval") as Pipeline;
  // A first run (no baseline), a better one, a regression of nDCG@10 (question q7 fell most), a recovery.
  const runs = [
    { ndcg: "0.40", recall: "0.50", mrr: "0.60", q7: "0.9" },
    { ndcg: "0.42", recall: "0.52", mrr: "0.61", q7: "0.9" },
    { ndcg: "0.35", recall: "0.515", mrr: "0.62", q7: "0.1" },
    { ndcg: "0.43", recall: "0.53", mrr: "0.62", q7: "0.9" },
  ];
  for (const [i, params] of runs.entries()) {
    runIds.push((await server.cellar.run(evalP, { params, date: `2026-05-0${i + 1}T00:00:00Z`, new: true })).runId);
  }
  // Two runs: the first without a baseline, the second gated against it (the Eval page's steps).
  const two = server.registry.get("eval-two") as Pipeline;
  for (const ndcg of ["0.40", "0.42"]) await server.cellar.run(two, { params: { ndcg }, new: true });
  // A run this process's metrics never saw (a runner, not the facade, executes it): as one before a restart.
  const store = await server.cellar.store();
  const weekly = server.registry.get("eval-weekly") as Pipeline;
  const date = new Date("2026-05-01T00:00:00Z");
  await new Runner(store).execute(weekly, await createManualRun(store, weekly.id, "manual", date, { start: date, end: date }, weekly.resolveParams({ ndcg: "0.31" }), {}));
  browser = await launching;
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

const getJson = async (path: string) => {
  const res = await fetch(server.url + path);
  return { status: res.status, body: await res.json() as any };
};

describe("GET /api/v1/eval", () => {
  it("lists each eval run's metrics and verdict, newest first, a failed gate's too", async () => {
    const { status, body } = await getJson("/api/v1/eval");
    expect(status).toBe(200);
    expect(body.pipeline).toBe("eval");
    expect(body.runs.map((r: any) => [r.id, r.state, r.verdict.pass])).toEqual([
      [runIds[3], "success", true],
      [runIds[2], "failed", false],
      [runIds[1], "success", true],
      [runIds[0], "success", true],
    ]);
    const [recovered, regressed, , first] = body.runs;
    expect(first.verdict).toMatchObject({ baseline: null, pass: true });
    expect(first.verdict.rows[0]).toEqual({ metric: "nDCG@10", baseline: null, now: 0.4, delta: null, allowedDrop: 0.02, result: "new" });
    expect(regressed.logicalDate).toBe("2026-05-03T00:00:00.000Z");
    expect(regressed.finishedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(regressed.metrics).toEqual({ "nDCG@10": 0.35, "recall@10": 0.515, MRR: 0.62 });
    expect(regressed.verdict.baseline).toBe(`eval run ${runIds[1]}`);
    expect(regressed.verdict.rows.map((r: any) => [r.metric, r.baseline, r.result])).toEqual([
      ["nDCG@10", 0.42, "FAIL"],
      ["recall@10", 0.52, "pass"],
      ["MRR", 0.61, "pass"],
    ]);
    expect(regressed.verdict.drops["nDCG@10"][0]).toEqual({ qid: SHADY_QID, baseline: 0.9, now: 0.1 });
    // The failed run is no baseline: the recovery compares with the run before it.
    expect(recovered.verdict.baseline).toBe(`eval run ${runIds[1]}`);
    // The retrieval comparison, a failed gate's included (it is what says which spec would have done better).
    expect(regressed.comparison.rows.map((r: any) => [r.spec, r.primary, r.metrics["nDCG@10"]])).toEqual([
      ["hybrid", true, 0.35],
      ["lexical:k1=0.9|1.5", false, 0.35 - 0.05],
      [SHADY_SPEC, false, 0.1],
      ["dense", false, 0.2],
    ]);
    expect(regressed.comparison.rows[3].index).toEqual({ pipeline: "retrain", model: RETRAINED_MODEL, revision: "0123456789ab" });
    expect(recovered.comparison.rows[1].cv).toHaveLength(5);
  });

  it("pages by limit, picks the pipeline, and refuses bad input in one line", async () => {
    expect((await getJson("/api/v1/eval?limit=2")).body.runs.map((r: any) => r.id)).toEqual([runIds[3], runIds[2]]);
    expect(await getJson("/api/v1/eval?pipeline=eval-nightly")).toEqual({ status: 200, body: { pipeline: "eval-nightly", cell: "run_eval_suite", runs: [] } });
    expect(await getJson("/api/v1/eval?pipeline=nope")).toEqual({ status: 404, body: { error: "pipeline nope: no such pipeline" } });
    const bad = await getJson("/api/v1/eval?limit=0");
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/^bad request: limit: /);
    const doc = await getJson("/api/v1/openapi.json");
    expect(doc.body.paths["/eval"].get.responses["200"]).toBeDefined();
    expect(doc.body.components.schemas.EvalRun).toBeDefined();
  });
});

describe("/metrics", () => {
  it("has the latest eval run's means as gauges and counts the failed gate", async () => {
    const text = await (await fetch(server.url + "/metrics")).text();
    expect(text).toContain('cellar_eval_metric{pipeline="eval",metric="nDCG@10"} 0.43\n');
    expect(text).toContain('cellar_eval_metric{pipeline="eval",metric="MRR"} 0.62\n');
    expect(text).toContain('cellar_eval_gate_failures_total{pipeline="eval"} 1\n');
    expect(text).toMatch(/^# TYPE cellar_eval_gate_failures_total counter$/m);
    // The latest result in the store of a pipeline no run of this process reported.
    expect(text).toContain('cellar_eval_metric{pipeline="eval-weekly",metric="nDCG@10"} 0.31\n');
  });
});

describe("the Eval page", () => {
  const page = async (path: string) => {
    const res = await fetch(server.url + path);
    return { status: res.status, html: await res.text() };
  };

  it("shows the chart data, the selected run's verdict table and the questions that fell most, escaped", async () => {
    const { status, html } = await page(`/eval?run=${runIds[2]}`);
    expect(status).toBe(200);
    expect(html).toContain('<a href="/eval" aria-current="page">Eval</a>');
    expect(html.match(/data-chart="/g)).toHaveLength(3);
    expect(html).toContain('<script src="/ui/vendor/uplot.js" defer=""></script>');
    expect(html).toMatch(/<tr class="result-fail"><td class="mono">nDCG@10<\/td><td class="num">0\.4200<\/td><td class="num">0\.3500<\/td><td class="num">-0\.0700<\/td><td class="num">0\.0200<\/td><td class="num">0\.4000<\/td>/);
    expect(html).toContain(`<td class="mono">&lt;b&gt;q7&lt;/b&gt;</td><td class="num">0.9000</td><td class="num">0.1000</td><td class="num">-0.8000</td>`);
    expect(html).not.toContain(SHADY_QID);
    expect(html).toContain("regression");
    // Both eval pipelines are offered; the one without runs says so.
    expect(html).toContain('href="/eval?pipeline=eval-nightly"');
    const empty = await page("/eval?pipeline=eval-nightly");
    expect(empty.html).toContain("No eval run of eval-nightly yet");
    expect(empty.html).not.toContain("data-chart");
  });

  it("shows the retrieval specs the selected run compared, the gated one marked and each metric's best in bold, escaped", async () => {
    const { html } = await page(`/eval?run=${runIds[3]}`);
    expect(html).toContain(`<h2>Retrieval compared in run #${runIds[3]}</h2>`);
    expect(html).toContain("5-fold cross-validation (seed 13) on nDCG@10");
    // Rows from two indexes (ingest's and a retrain's): each names its index and the model that built it.
    expect(html).toContain(`<td><span class="mono">retrain</span><div class="muted small mono">${RETRAINED_MODEL}</div></td><td><span class="mono">dense</span>`);
    expect(html).toMatch(/<tr class="primary"><td><span class="mono">ingest<\/span><div class="muted small mono">use-lite<\/div><\/td><td><span class="mono">hybrid<\/span><span class="badge">gated<\/span><\/td><td class="num best">0\.4300<\/td><td class="num">0\.5000<\/td><td class="num best">0\.6000<\/td><td class="num best">0\.3000<\/td><td class="num">1\.25<\/td>/);
    expect(html).toContain('<td class="num best">0.5500</td>');
    expect(html).toContain("2 points; the folds chose lexical:k1=1.5 most");
    expect(html).toContain("&lt;i&gt;dense&lt;/i&gt;");
    expect(html).not.toContain(SHADY_SPEC);
  });

  it("answers 404 in one line for unknown pipelines and runs, and serves uPlot's two files by name only", async () => {
    expect((await page("/eval?pipeline=hello")).status).toBe(404);
    const missing = await page("/eval?run=999");
    expect(missing.status).toBe(404);
    expect(missing.html).toContain("run 999: no eval result of pipeline eval among its last 50");
    const js = await fetch(server.url + "/ui/vendor/uplot.js");
    expect(js.headers.get("content-type")).toMatch(/^text\/javascript/);
    expect(await js.text()).toContain("uPlot");
    expect((await fetch(server.url + "/ui/vendor/uplot.css")).status).toBe(200);
    expect((await fetch(server.url + "/ui/eval-chart.js")).status).toBe(200);
    for (const path of ["/ui/vendor/uPlot.cjs.js", "/ui/vendor/../../package.json", "/ui/vendor/%2e%2e/%2e%2e/package.json", "/ui/vendor/uplot.js/../../../package.json"]) {
      expect(await rawStatus(path), path).toBe(404);
    }
  });
});

describe("the Eval page in Chromium", () => {
  it("draws a uPlot chart per metric under the CSP, and a click on a point opens that run's verdict", async () => {
    const tab = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const errors: string[] = [];
    tab.on("pageerror", (err) => errors.push(err.message));
    // A CSP violation shows as a console error; the browser's own favicon request is no page's.
    tab.on("console", (msg) => void (msg.type() === "error" && !msg.location().url.endsWith("/favicon.ico") && errors.push(msg.text())));
    await tab.goto(server.url + "/eval");
    await tab.waitForSelector(".plot[data-drawn] canvas");
    expect(await tab.locator(".plot[data-drawn='4']").count()).toBe(3);
    // Pixels drawn on every canvas: not a blank one.
    const inked = await inkedCanvases(tab);
    expect(inked).toHaveLength(3);
    for (const n of inked) expect(n).toBeGreaterThan(500);
    expect(await tab.locator(".u-legend .u-series").count()).toBe(12);
    await expect(tab.locator("section.verdict h2").first().textContent()).resolves.toContain(`#${runIds[3]}`);
    await tab.screenshot({ path: join(ARTIFACTS, "eval.png"), fullPage: true });

    // The third point (the regression) of the first chart.
    const over = tab.locator(".plot .u-over").first();
    const box = (await over.boundingBox())!;
    await tab.mouse.move(box.x + box.width * (2.5 / 4), box.y + box.height / 2);
    await tab.mouse.click(box.x + box.width * (2.5 / 4), box.y + box.height / 2);
    await tab.waitForURL(`**/eval?pipeline=eval&run=${runIds[2]}`);
    await tab.waitForSelector(".plot[data-drawn] canvas");
    await expect(tab.locator("table.drops td.mono").nth(1).textContent()).resolves.toBe(SHADY_QID);
    await tab.screenshot({ path: join(ARTIFACTS, "eval-regression.png"), fullPage: true });

    await tab.goto(server.url + "/eval?pipeline=eval-nightly");
    await tab.screenshot({ path: join(ARTIFACTS, "eval-empty.png"), fullPage: true });
    expect(errors).toEqual([]);
  }, 30_000);

  it("draws the baseline and threshold as steps across a run's column with two runs, and a one-run chart", async () => {
    const tab = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    tab.on("pageerror", (err) => errors.push(err.message));
    await tab.goto(server.url + "/eval?pipeline=eval-two");
    await tab.waitForSelector(".plot[data-drawn='2'] canvas");
    // The second run's baseline (grey) and threshold (red) are levels across half the plot, not one point each.
    await tab.screenshot({ path: join(ARTIFACTS, "eval-two-runs.png"), fullPage: true });
    const [baseline, threshold] = await inkOf(tab, [[0x65, 0x6d, 0x76], [0xcf, 0x22, 0x2e]]);
    // (~75 and ~50 at this width; as lines through the one point each, none.)
    expect(baseline).toBeGreaterThan(40);
    expect(threshold).toBeGreaterThan(25);
    await tab.goto(server.url + "/eval?pipeline=eval-weekly");
    await tab.waitForSelector(".plot[data-drawn='1'] canvas");
    for (const n of await inkedCanvases(tab)) expect(n).toBeGreaterThan(500);
    await tab.screenshot({ path: join(ARTIFACTS, "eval-one-run.png"), fullPage: true });
    expect(errors).toEqual([]);
  }, 15_000);
});

/** Pixels of the first chart's canvas near each colour (within 40 per channel, opaque enough to be a line). */
function inkOf(page: Page, colors: number[][]): Promise<number[]> {
  return page.locator(".plot canvas").first().evaluate((c, colors) => {
    const canvas = c as HTMLCanvasElement;
    const { data } = canvas.getContext("2d")!.getImageData(0, 0, canvas.width, canvas.height);
    return colors.map(([r, g, b]) => {
      let n = 0;
      for (let i = 0; i < data.length; i += 4) {
        if (data[i + 3] > 160 && Math.abs(data[i] - r) < 40 && Math.abs(data[i + 1] - g) < 40 && Math.abs(data[i + 2] - b) < 40) n++;
      }
      return n;
    });
  }, colors);
}

/** The status of a GET of `path` as sent, unnormalised (fetch would resolve its dots). */
function rawStatus(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(server.url, { path }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end();
  });
}
