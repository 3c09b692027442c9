// The notebook flow around cache reasons, stale cells and paused schedules, over real HTTP and in
// Chromium (test/ui-fixture.ts, its pipelines served from their folder as `cellar serve` serves them): the
// API pauses and unpauses; a saved pipeline file marks the changed cell stale on an open notebook without a
// reload; running that cell alone serves its upstreams from cache and says why each cell ran or did not.
// Screenshots go to test/artifacts/.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "./helpers.ts";
import { launchChromium, type UiFixture, uiFixture } from "./ui-fixture.ts";

const ARTIFACTS = join(ROOT, "test/artifacts");

let ui: UiFixture;
let browser: Browser;
beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  [ui, browser] = await Promise.all([uiFixture({ watch: true }), launchChromium()]);
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
    expect(Object.fromEntries(list.pipelines.map((p) => [p.id, p.paused]))).toEqual({ flaky: false, notes: true, slow: false });
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

describe("notebook in Chromium", () => {
  it("marks a cell stale when its file is saved, without a reload; running it alone serves its upstreams from cache", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const errors: string[] = [];
    page.on("pageerror", (err) => errors.push(err.message));
    // A CSP violation shows as a console error; the browser's own favicon request is no page's.
    page.on("console", (msg) => void (msg.type() === "error" && !msg.location().url.endsWith("/favicon.ico") && errors.push(msg.text())));
    // The notebook's stream must be open before the file changes, or the change is not sent to it.
    const streaming = page.waitForResponse((res) => res.url().includes("/api/v1/events?pipeline=notes"));
    await page.goto(ui.base + "/pipelines/notes");
    await streaming;
    expect(await page.locator("[data-cell-stale]").count()).toBe(0);
    await page.evaluate(() => Object.assign(window, { liveMarker: "kept" }));
    let navigations = 0;
    page.on("framenavigated", () => navigations++);

    const file = join(ui.dir, "notes.ts");
    writeFileSync(file, readFileSync(file, "utf8").replace("notes[0].title)", "notes[0].title.trim())"));
    await page.locator("#cell-headline [data-cell-stale]").waitFor({ timeout: 5_000 });
    expect(await page.locator("[data-cell-stale]").count()).toBe(1);
    await expect(page.locator("#cell-headline pre.source").textContent()).resolves.toContain("notes[0].title.trim()");
    await expect(page.evaluate(() => (window as unknown as { liveMarker?: string }).liveMarker)).resolves.toBe("kept");
    expect(navigations).toBe(0);
    await page.screenshot({ path: join(ARTIFACTS, "ui-flow-stale.png"), fullPage: true });

    // The redrawn cell's button works: the cell alone, its upstream read from its latest checkpoint.
    const streams: string[] = [];
    page.on("request", (req) => void (req.url().includes("/api/v1/events") && streams.push(new URL(req.url()).search)));
    await page.click('#cell-headline button[data-post$="/cells/headline/runs"]');
    await page.waitForURL(/\/pipelines\/notes\?run=\d+$/);
    const runId = Number(new URL(page.url()).searchParams.get("run"));
    await page.locator("#cell-headline [data-cell-badge].state-success").waitFor({ timeout: 10_000 });
    await page.locator("#cell-headline [data-cell-reason]", { hasText: "recomputed: forced (run alone)" }).waitFor({ timeout: 5_000 });
    await expect(page.locator("#cell-fetch_notes [data-cell-badge]").getAttribute("class")).resolves.toBe("badge state-cached");
    await expect(page.locator("#cell-fetch_notes [data-cell-facts]").textContent()).resolves.toContain(`served from the checkpoint of run #${ui.runIds.notes[1]}`);
    // Its new checkpoint is of the code now in the file: no longer stale, once the run has ended.
    await page.locator("[data-cell-stale]").waitFor({ state: "detached", timeout: 5_000 });
    await page.screenshot({ path: join(ARTIFACTS, "ui-flow-cell.png"), fullPage: true });
    // The notebook followed the run on its one stream, the pipeline's: no stream of the run's own.
    expect(streams).toEqual(["?pipeline=notes"]);
    const detail = await json(`/api/v1/runs/${runId}`) as { cells: Array<{ cell: string; state: string }> };
    expect(detail.cells.map((c) => `${c.cell}:${c.state}`)).toEqual(["headline:success"]);

    // The run page says why each cell ran or came from cache.
    await page.goto(`${ui.base}/runs/${ui.runIds.notes[1]}`);
    await expect(page.locator('tr[data-cell="keep_table"] [data-cell-reason]').textContent()).resolves.toBe("recomputed: forced (run from here)");
    await page.screenshot({ path: join(ARTIFACTS, "ui-flow-run-reasons.png"), fullPage: true });
    expect(errors).toEqual([]);
  }, 30_000);

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
