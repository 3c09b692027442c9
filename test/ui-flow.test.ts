// The browser flow, and what it rests on: cache reasons, stale cells and paused schedules, over real
// HTTP and in Chromium (test/ui-fixture.ts, its pipelines served from their folder as `cellar serve` serves
// them, an eval pipeline among them). The API pauses and unpauses; in Chromium, the flow in its order
// (a run triggered from the UI and followed live, a cell's output and logs, a saved file's stale cell run
// alone on cached upstreams, the eval chart). Screenshots go to test/artifacts/ (flow-*.png).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "./helpers.ts";
import { inkedCanvases } from "./eval-fixture.ts";
import { launchChromium, type UiFixture, uiFixture } from "./ui-fixture.ts";

const ARTIFACTS = join(ROOT, "test/artifacts");

let ui: UiFixture;
let browser: Browser;
beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  [ui, browser] = await Promise.all([uiFixture({ watch: true, eval: true }), launchChromium()]);
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await ui?.close();
});

const post = (path: string) => fetch(ui.base + path, { method: "POST" });
const json = async (path: string) => await (await fetch(ui.base + path)).json();

describe("API: pause, stale cells and cache reasons", () => {
  it("pauses and unpauses a schedule, answers 404 in one line for an unknown pipeline, and documents both", async () => {
    const paused = await post("/api/v1/pipelines/notes/pause");
    expect(paused.status).toBe(200);
    await expect(paused.json()).resolves.toEqual({ pipeline: "notes", paused: true, changed: true });
    await expect((await post("/api/v1/pipelines/notes/pause")).json()).resolves.toMatchObject({ changed: false });
    const list = await json("/api/v1/pipelines") as { pipelines: Array<{ id: string; paused: boolean }> };
    expect(Object.fromEntries(list.pipelines.map((p) => [p.id, p.paused]))).toEqual({ eval: false, flaky: false, notes: true, slow: false });
    await expect(json("/api/v1/pipelines/notes")).resolves.toMatchObject({ paused: true, stale: [] });
    expect((await ui.cellar.metrics()).text).toContain('cellar_pipeline_paused{pipeline="notes"} 1');
    const html = await (await fetch(`${ui.base}/`)).text();
    expect(html).toContain('data-pause="/api/v1/pipelines/notes/unpause"');
    expect(html).toContain('<span class="badge paused"');

    const unknown = await post("/api/v1/pipelines/nope/unpause");
    expect(unknown.status).toBe(404);
    await expect(unknown.json()).resolves.toEqual({ error: "pipeline nope: no such pipeline" });
    await expect((await post("/api/v1/pipelines/notes/unpause")).json()).resolves.toEqual({ pipeline: "notes", paused: false, changed: true });
    expect(await (await fetch(`${ui.base}/pipelines/notes`)).text()).toContain('data-pause="/api/v1/pipelines/notes/pause"');

    const doc = await json("/api/v1/openapi.json") as { paths: Record<string, unknown>; components: { schemas: Record<string, unknown> } };
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(["/pipelines/{id}/pause", "/pipelines/{id}/unpause"]));
    expect(doc.components.schemas).toHaveProperty("PauseState");
  });

  it("says in a run's detail why each cell was served from cache or recomputed", async () => {
    // The fixture's second notes run is "run from keep_table".
    const detail = await json(`/api/v1/runs/${ui.runIds.notes[1]}`) as { cells: Array<{ cell: string; cacheReason: { reason: string; text: string } | null }> };
    expect(Object.fromEntries(detail.cells.map((c) => [c.cell, c.cacheReason?.text]))).toEqual({
      fetch_notes: "served from cache: same code, params, inputs and interval",
      headline: "served from cache: same code, params, inputs and interval",
      keep_table: "recomputed: forced (run from here)",
      count: "recomputed: forced (run from keep_table)",
    });
  });
  it("sends a pipeline's stream its runs' cell events too (what a notebook follows its run by)", async () => {
    const aborted = new AbortController();
    const stream = await fetch(`${ui.base}/api/v1/events?pipeline=flaky`, { signal: aborted.signal });
    const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader();
    const { id } = await (await fetch(`${ui.base}/api/v1/pipelines/flaky/runs`, { method: "POST" })).json() as { id: number };
    let text = "";
    while (!text.includes('"type":"run","runId":' + id + ',"pipeline":"flaky","state":"success"')) text += (await reader.read()).value ?? "";
    aborted.abort();
    const events = [...text.matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1]) as { type: string; runId?: number; cell?: string });
    expect(events.filter((e) => e.type === "cell" && e.runId === id).map((e) => e.cell)).toEqual(expect.arrayContaining(["load", "check", "publish"]));
    expect(events.every((e) => e.runId === id)).toBe(true);
  });
});

describe("the issue's flow in Chromium", () => {
  /**
   * One test, the steps in its order, each on the page a person would use for it: from the pipelines
   * page to a run of `slow` followed live, a cell's output and logs, a saved file's stale cell, that cell run
   * alone on cached upstreams, and the Eval page's charts. Long because the steps share one page and run.
   */
  it("runs a pipeline from the UI and sees it live, its output and logs, a stale cell run alone on cached upstreams, and the eval chart", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on("pageerror", (err) => errors.push(err.message));
    // A CSP violation shows as a console error; the browser's own favicon request is no page's.
    page.on("console", (msg) => void (msg.type() === "error" && !msg.location().url.endsWith("/favicon.ico") && errors.push(msg.text())));
    // Every change made to a cell's badge after a page was drawn (what it was drawn with is no mutation):
    // what this records happened live.
    await page.addInitScript(() => {
      const seen: string[] = [];
      Object.assign(window, { badgeChanges: seen });
      new MutationObserver((records) => {
        for (const r of records) {
          const el = r.target as Element;
          if (el.hasAttribute("data-cell-badge")) seen.push(`${el.closest("[data-cell]")?.getAttribute("data-cell")}:${el.className.replace("badge state-", "")}`);
        }
      }).observe(document, { subtree: true, attributes: true, attributeFilter: ["class"] });
    });
    const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `flow-${name}.png`), fullPage: true });
    const badge = (cell: string) => page.locator(`#cell-${cell} [data-cell-badge]`);
    let navigations = 0;
    page.on("framenavigated", (frame) => void (frame === page.mainFrame() && navigations++));
    /** From here on, the page must be updated in place: a marker on it survives and nothing navigates. */
    const stay = async () => {
      await page.evaluate(() => Object.assign(window, { liveMarker: "kept" }));
      navigations = 0;
      return async () => {
        await expect(page.evaluate(() => (window as unknown as { liveMarker?: string }).liveMarker)).resolves.toBe("kept");
        expect(navigations).toBe(0);
      };
    };

    // 1. The pipelines page: slow has never run.
    await page.goto(ui.base + "/");
    await expect(page.locator('tr:has(a[href="/pipelines/slow"]) td').nth(3).textContent()).resolves.toBe("never run");
    await expect(page.locator('header.top [aria-current="page"]').textContent()).resolves.toBe("Pipelines");
    await shot("1-pipelines");

    // 2. A run of slow from its notebook's form, its cells turning green live.
    await page.click('a[href="/pipelines/slow"]');
    await page.waitForURL("**/pipelines/slow");
    await page.click("form.runform button");
    await page.waitForURL(/\/pipelines\/slow\?run=\d+$/);
    const runId = Number(new URL(page.url()).searchParams.get("run"));
    const stayed = await stay();
    await badge("double").and(page.locator(".state-running")).waitFor({ timeout: 5_000 });
    await expect(badge("report").getAttribute("class")).resolves.not.toContain("state-success");
    await shot("2-running");
    for (const cell of ["start", "double", "report"]) await badge(cell).and(page.locator(".state-success")).waitFor({ timeout: 10_000 });
    await page.locator("[data-live-status]", { hasText: "the run ended: success" }).waitFor({ timeout: 5_000 });
    await stayed();
    // Not only the end state: the cells after the first were seen running, then green, in that order.
    const changes = await page.evaluate(() => (window as unknown as { badgeChanges: string[] }).badgeChanges);
    for (const cell of ["double", "report"]) {
      const states = changes.filter((c) => c.startsWith(`${cell}:`)).map((c) => c.slice(cell.length + 1));
      expect(states, cell).toContain("running");
      expect(states.indexOf("running"), cell).toBeLessThan(states.lastIndexOf("success"));
      expect(states.at(-1), cell).toBe("success");
    }

    // 3. A cell's output on the notebook, and its logs on the run page.
    await page.locator("#cell-report pre.output", { hasText: '"demo: 4"' }).waitFor({ timeout: 5_000 });
    await shot("3-done");
    await page.click("#cell-double a.cell-logs");
    await page.waitForURL(`**/runs/${runId}?cell=double#logs`);
    expect(await page.locator("[data-log-lines] td.msg").allTextContents()).toEqual(["doubling 2"]);
    await expect(page.locator('tr[data-cell="double"] [data-cell-reason]').textContent()).resolves.toBe("computed: no earlier checkpoint");
    await shot("4-logs");

    // 4. The file saved in an editor: the changed cell is marked stale on the open notebook.
    const streaming = page.waitForResponse((res) => res.url().includes("/api/v1/events?pipeline=slow"));
    await page.goto(`${ui.base}/pipelines/slow`);
    await streaming;
    expect(await page.locator("[data-cell-stale]").count()).toBe(0);
    const saved = await stay();
    const file = join(ui.dir, "slow.ts");
    writeFileSync(file, readFileSync(file, "utf8").replace(": ${x}`", " = ${x}`"));
    await page.locator("#cell-report [data-cell-stale]").waitFor({ timeout: 5_000 });
    expect(await page.locator("[data-cell-stale]").count()).toBe(1);
    await expect(page.locator("#cell-report pre.source").textContent()).resolves.toContain(" = ${x}`");
    await saved();
    await shot("5-stale");

    // 5. That cell alone: its upstreams are read from the first run's checkpoints, not run again.
    const streams: string[] = [];
    page.on("request", (req) => void (req.url().includes("/api/v1/events") && streams.push(new URL(req.url()).search)));
    await page.click('#cell-report button[data-post$="/cells/report/runs"]');
    await page.waitForURL((url) => /^\d+$/.test(url.searchParams.get("run") ?? "") && url.searchParams.get("run") !== String(runId));
    const aloneId = Number(new URL(page.url()).searchParams.get("run"));
    await badge("report").and(page.locator(".state-success")).waitFor({ timeout: 10_000 });
    await page.locator("#cell-report [data-cell-reason]", { hasText: "recomputed: forced (run alone)" }).waitFor({ timeout: 5_000 });
    for (const cell of ["start", "double"]) {
      await expect(badge(cell).getAttribute("class")).resolves.toBe("badge state-cached");
      await expect(page.locator(`#cell-${cell} [data-cell-facts]`).textContent()).resolves.toContain(`served from the checkpoint of run #${runId}`);
    }
    // Its new checkpoint is of the code now in the file: no longer stale, once the run has ended.
    await page.locator("[data-cell-stale]").waitFor({ state: "detached", timeout: 5_000 });
    await page.locator("#cell-report pre.output", { hasText: '"demo = 4"' }).waitFor({ timeout: 5_000 });
    await shot("6-cell-alone");
    // The notebook followed the run on its one stream, the pipeline's: no stream of the run's own.
    expect(streams).toEqual(["?pipeline=slow"]);
    const detail = await json(`/api/v1/runs/${aloneId}`) as { cells: Array<{ cell: string; state: string }> };
    expect(detail.cells.map((c) => `${c.cell}:${c.state}`)).toEqual(["report:success"]);

    // 6. The Eval page from the nav: a chart per metric, drawn (ink on each canvas).
    await page.click('header.top a[href="/eval"]');
    await page.waitForSelector(".plot[data-drawn] canvas");
    const inked = await inkedCanvases(page);
    expect(inked).toHaveLength(3);
    for (const n of inked) expect(n).toBeGreaterThan(500);
    await expect(page.locator('header.top [aria-current="page"]').textContent()).resolves.toBe("Eval");
    await shot("7-eval");
    expect(errors).toEqual([]);
  }, 40_000);

  it("fits a phone's screen: wide tables and strips scroll in their box, the page never sideways", async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
    for (const path of ["/", `/runs/${ui.runIds.flaky[3]}`, `/pipelines/flaky?run=${ui.runIds.flaky[3]}`, "/pipelines/flaky/grid", "/eval"]) {
      await page.goto(ui.base + path);
      await expect(page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth), path).resolves.toBeLessThanOrEqual(0);
    }
    await page.screenshot({ path: join(ARTIFACTS, "flow-phone-eval.png"), fullPage: true });
  }, 15_000);

  it("pauses and unpauses a schedule from the pipelines page and the notebook", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 600 } });
    await page.goto(ui.base + "/");
    await page.click('button[data-pause="/api/v1/pipelines/notes/pause"]');
    await page.locator('button[data-pause="/api/v1/pipelines/notes/unpause"]').waitFor({ timeout: 5_000 });
    await expect(page.locator('[data-paused="true"] .badge.paused').count()).resolves.toBe(1);
    await page.screenshot({ path: join(ARTIFACTS, "ui-flow-paused.png") });
    await page.goto(ui.base + "/pipelines/notes");
    await expect(page.locator(".sub .badge.paused").count()).resolves.toBe(1);
    await page.screenshot({ path: join(ARTIFACTS, "ui-flow-notebook-paused.png") });
    await page.click('button[data-pause="/api/v1/pipelines/notes/unpause"]');
    await page.locator('button[data-pause="/api/v1/pipelines/notes/pause"]').waitFor({ timeout: 5_000 });
    expect(await page.locator(".badge.paused").count()).toBe(0);
    await expect(json("/api/v1/pipelines/notes")).resolves.toMatchObject({ paused: false });
  }, 15_000);
});
