// The notebook UI in a real browser: Debian's chromium driven by playwright-core (its own browser download
// cannot be reached here). Click from the pipelines page to a notebook and to a run; a `<script>` output
// must show as text and never run. Screenshots go to test/artifacts/ (gitignored) for a person to look at.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pipeline } from "../kernel/mod.ts";
import { ROOT } from "./helpers.ts";
import { SCRIPT_OUTPUT, type UiFixture, uiFixture } from "./ui-fixture.ts";

const ARTIFACTS = join(ROOT, "test/artifacts");

let ui: UiFixture;
let browser: Browser;
beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  [ui, browser] = await Promise.all([uiFixture(), chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] })]);
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await ui?.close();
});

describe("notebook UI in Chromium", () => {
  it("clicks from the pipelines to a notebook and a run, showing a <script> output as text", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const dialogs: string[] = [];
    page.on("dialog", async (dialog) => {
      dialogs.push(dialog.message());
      await dialog.dismiss();
    });
    const errors: string[] = [];
    page.on("pageerror", (err) => errors.push(err.message));

    await page.goto(ui.base + "/");
    await expect(page.locator("h1").textContent()).resolves.toBe("Pipelines");
    expect(await page.locator(".strip a").count()).toBe(ui.runIds.notes.length + ui.runIds.flaky.length);
    await page.screenshot({ path: join(ARTIFACTS, "ui-pipelines.png"), fullPage: true });

    await page.click('a[href="/pipelines/notes"]');
    await page.waitForURL("**/pipelines/notes");
    expect(await page.locator("section.cell h2").allTextContents()).toEqual(["fetch_notes", "keep_table", "headline", "count"]);
    expect(await page.locator("pre.source .hljs-keyword").count()).toBeGreaterThan(0);
    // The output holding a <script> tag is text on the page, and no script element came of it: the one
    // script is the static live.js.
    await expect(page.locator("#cell-headline pre.output").textContent()).resolves.toBe(JSON.stringify(SCRIPT_OUTPUT));
    expect(await page.locator("script").evaluateAll((els) => els.map((el) => el.getAttribute("src")))).toEqual(["/ui/live.js"]);
    await page.screenshot({ path: join(ARTIFACTS, "ui-notebook.png"), fullPage: true });

    await page.goto(ui.base + "/pipelines/flaky");
    await page.click(`nav.runpick a[href$="run=${ui.runIds.flaky[3]}"]`);
    await expect(page.locator("#cell-check pre.error").textContent()).resolves.toBe("check failed: <b>x</b> was 41");
    await page.screenshot({ path: join(ARTIFACTS, "ui-notebook-failed.png"), fullPage: true });
    await page.click(`.sub a[href="/runs/${ui.runIds.flaky[3]}"]`);
    await page.waitForURL(`**/runs/${ui.runIds.flaky[3]}`);
    expect(await page.locator(".tl-bar").count()).toBe(2);
    expect(await page.locator("table.list tbody tr").count()).toBe(3);
    // A log line holding an <img onerror> is text too.
    await expect(page.locator("td.msg").nth(6).textContent()).resolves.toBe("loaded part 7 <img src=x onerror=alert(2)>");
    expect(await page.locator("img").count()).toBe(0);
    await page.screenshot({ path: join(ARTIFACTS, "ui-run.png"), fullPage: true });

    await page.goto(`${ui.base}/runs/${ui.runIds.flaky[0]}`);
    await page.screenshot({ path: join(ARTIFACTS, "ui-run-retried.png"), fullPage: true });
    await page.click('.crumbs a[href="/pipelines/flaky"]');
    await page.click('.sub a[href="/pipelines/flaky/grid"]');
    await page.waitForURL("**/pipelines/flaky/grid");
    expect(await page.locator("a.sq").count()).toBe(3 * ui.runIds.flaky.length);
    await page.screenshot({ path: join(ARTIFACTS, "ui-grid.png"), fullPage: true });
    // A square opens that attempt: the run page for its cell, its row marked and its log that cell's alone.
    await page.click(`tbody tr:nth-child(2) a.sq[href^="/runs/${ui.runIds.flaky[3]}"]`);
    await page.waitForURL(`**/runs/${ui.runIds.flaky[3]}?cell=check`);
    expect(await page.locator("tr.picked").getAttribute("data-cell")).toBe("check");
    expect(await page.locator("form.logfilter select[name=cell]").inputValue()).toBe("check");
    expect(new Set(await page.locator("td.lcell").allTextContents())).toEqual(new Set(["check#1"]));
    await page.screenshot({ path: join(ARTIFACTS, "ui-grid-square.png"), fullPage: true });

    expect(dialogs).toEqual([]);
    expect(errors).toEqual([]);
  }, 30_000);

  // One cell on cached upstreams is the flow in ui-flow.test.ts, which runs this pipeline there too.
  it("runs the pipeline from its notebook with changed params and turns every cell green live, then runs from a cell", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on("pageerror", (err) => errors.push(err.message));
    // A CSP violation shows as a console error.
    page.on("console", (msg) => void (msg.type() === "error" && errors.push(msg.text())));
    const cells = ui.slow.cells.map((c) => c.name);
    const badge = (cell: string) => page.locator(`#cell-${cell} [data-cell-badge]`);
    const streams: string[] = [];
    page.on("request", (req) => void (req.url().includes("/api/v1/events") && streams.push(req.url())));

    await page.goto(ui.base + "/pipelines/slow");
    // Never run: nothing to follow, so no stream is opened.
    await expect(page.locator("[data-live-run]").count()).resolves.toBe(0);
    await expect(page.locator('input[name="n"]').inputValue()).resolves.toBe("2");
    await page.fill('input[name="n"]', "5");
    await page.click("form.runform button");
    await page.waitForURL(/\/pipelines\/slow\?run=\d+$/);
    const runId = Number(new URL(page.url()).searchParams.get("run"));
    // The form now shows the params this run used, not the defaults.
    await expect(page.locator('input[name="n"]').inputValue()).resolves.toBe("5");
    // A marker set now must survive until every cell is green: the page is updated in place, not reloaded.
    await page.evaluate(() => Object.assign(window, { liveMarker: "kept" }));
    let navigations = 0;
    page.on("framenavigated", () => navigations++);
    await badge("start").locator("xpath=self::*[contains(@class, 'state-running') or contains(@class, 'state-success')]").waitFor({ timeout: 5_000 });
    await page.screenshot({ path: join(ARTIFACTS, "ui-live-running.png"), fullPage: true });
    for (const cell of cells) await badge(cell).and(page.locator(".state-success")).waitFor({ timeout: 10_000 });
    await page.locator("[data-live-status]", { hasText: "the run ended: success" }).waitFor({ timeout: 5_000 });
    await expect(page.evaluate(() => (window as unknown as { liveMarker?: string }).liveMarker)).resolves.toBe("kept");
    expect(navigations).toBe(0);
    await expect(page.locator("#cell-report [data-cell-tries]").textContent()).resolves.toBe("1 try");
    // At the end, each cell's output preview as the server renders it (n was 5: 5 × 2).
    await page.locator("#cell-report pre.output", { hasText: '"demo: 10"' }).waitFor({ timeout: 5_000 });
    await page.screenshot({ path: join(ARTIFACTS, "ui-live-done.png"), fullPage: true });
    const detail = await (await fetch(`${ui.base}/api/v1/runs/${runId}`)).json() as { run: { params: Record<string, unknown> } };
    expect(detail.run.params).toMatchObject({ n: 5 });

    // Run from here, followed on the run page: rows for cells that start later appear and turn green in place.
    await page.click(`#cell-double button[data-from="double"]`);
    await page.waitForURL((url) => url.searchParams.get("run") !== String(runId));
    const fromRun = new URL(page.url()).searchParams.get("run");
    await page.goto(`${ui.base}/runs/${fromRun}`);
    for (const cell of ["double", "report"]) await page.locator(`tr[data-cell="${cell}"] [data-cell-badge].state-success`).waitFor({ timeout: 10_000 });
    // The run takes the form's default n=2, and start's checkpoint was made with n=5: recomputed, not cached.
    await expect(page.locator('tr[data-cell="start"] [data-cell-badge]').getAttribute("class")).resolves.toBe("badge state-success");
    await page.locator("h1 [data-live-status]", { hasText: "the run ended: success" }).waitFor({ timeout: 5_000 });
    await page.screenshot({ path: join(ARTIFACTS, "ui-live-run-page.png"), fullPage: true });
    expect(streams.length).toBeGreaterThanOrEqual(2);
    expect(errors).toEqual([]);
  }, 30_000);

  // The page asks the API for the run when its stream opens; on a loaded host the answer can come after the
  // stream's newer events (CI saw start's badge set back to running by it, the run page then wrong until
  // the run ended). Here that answer, taken while start ran, is held until the stream has turned start green.
  it("keeps a cell's state from the stream when the run's snapshot answers after it", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 600 } });
    const errors: string[] = [];
    page.on("pageerror", (err) => errors.push(err.message));
    const start = page.locator('tr[data-cell="start"] [data-cell-badge]');
    type Detail = { cells: { cell: string; state: string }[] };
    // start takes 300 ms: a page drawn late (a loaded host) may see it done already, so a few runs are tried.
    let snapshotStart: string | undefined;
    for (let tries = 0; tries < 5 && snapshotStart !== "running"; tries++) {
      const trigger = await fetch(`${ui.base}/api/v1/pipelines/slow/runs`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ params: { n: 3 }, new: true, cache: false }),
      });
      const { id } = await trigger.json() as { id: number };
      let answered!: () => void;
      const held = new Promise<void>((resolve) => answered = resolve);
      let first = true;
      await page.route(`${ui.base}/api/v1/runs/${id}`, async (route) => {
        if (!first) return route.continue();
        first = false;
        const response = await route.fetch();
        const detail = await response.json() as Detail;
        snapshotStart = detail.cells.find((c) => c.cell === "start")?.state;
        if (snapshotStart === "running") await start.and(page.locator(".state-success")).waitFor({ timeout: 10_000 });
        await route.fulfill({ response, json: detail });
        answered();
      });
      await page.goto(`${ui.base}/runs/${id}`);
      await held;
      // The answer's JSON parsed and its cells applied, before the run's end asks again.
      await page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 100)));
      if (snapshotStart === "running") expect(await start.getAttribute("class")).toBe("badge state-success");
      await page.locator("h1 [data-live-status]", { hasText: "the run ended: success" }).waitFor({ timeout: 10_000 });
    }
    expect(snapshotStart, "no page was drawn while start ran").toBe("running");
    expect(errors).toEqual([]);
  }, 60_000);

  it("shows a refused request's one-line error as text on the page", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 600 } });
    await page.goto(ui.base + "/pipelines/notes");
    // A param the pipeline does not declare is refused by the kernel, whose message names it.
    await page.evaluate(() => {
      const input = document.createElement("input");
      input.name = "<b>nope</b>";
      input.value = "1";
      document.querySelector("form.runform")!.prepend(input);
    });
    await page.click("form.runform button");
    const error = page.locator("[data-action-error]");
    await error.waitFor({ state: "visible", timeout: 5_000 });
    expect(await error.textContent()).toMatch(/\S/);
    expect(await error.locator("b").count()).toBe(0);
    expect(new URL(page.url()).search).toBe("");
    await page.screenshot({ path: join(ARTIFACTS, "ui-action-error.png") });
  }, 15_000);
});

describe("a running run's logs and ctx.map chunks in Chromium", () => {
  it("tails new log lines that match the page's filter, and shows the chunks done and retried, without a reload", async () => {
    // A cell held at gates the test opens, so each line and chunk is known to come after the pages were drawn.
    const opened: Array<() => void> = [];
    const gates = [0, 1, 2].map(() => new Promise<void>((resolve) => opened.push(resolve)));
    let failed = false;
    const chatty = pipeline({ id: "chatty" }).cell("spin", async (ctx) => {
      await gates[0];
      const doubled = await ctx.map(Array.from({ length: 8 }, (_, i) => i), async (chunk) => {
        await new Promise((r) => setTimeout(r, 20));
        if (chunk[0] === 2 && !failed) {
          failed = true;
          throw new Error("chunk 2 fails once");
        }
        return chunk.map((x) => x * 2);
      }, { batchSize: 1, concurrency: 4 });
      ctx.log.info(`mapped ${doubled.length}`);
      await gates[1];
      ctx.log.warn("after the gate <b>bold</b>");
      await gates[2];
      return doubled.length;
    });
    // Served from here on (the fixture's registry is this array); the tests above have run by now.
    ui.pipelines.push(chatty);
    const started = await fetch(`${ui.base}/api/v1/pipelines/chatty/runs`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    const { id } = await started.json() as { id: number };
    const open = async (path: string) => {
      const page = await browser.newPage({ viewport: { width: 1280, height: 760 } });
      const errors: string[] = [];
      page.on("pageerror", (err) => errors.push(err.message));
      // Any console error counts, a 404 for the page's icon included (the layout links to one the server has).
      page.on("console", (msg) => void (msg.type() === "error" && errors.push(msg.text())));
      // live.js reads the run from the API once its stream is open: from then on every event reaches the page.
      const caughtUp = page.waitForResponse((res) => res.url().endsWith(`/api/v1/runs/${id}`));
      await page.goto(ui.base + path);
      await caughtUp;
      await page.evaluate(() => Object.assign(window, { liveMarker: "kept" }));
      let navigations = 0;
      page.on("framenavigated", () => navigations++);
      return { page, errors, navigations: () => navigations };
    };
    const all = await open(`/runs/${id}`);
    const warned = await open(`/runs/${id}?level=warn`);
    const notebook = await open(`/pipelines/chatty?run=${id}`);
    const msgs = (p: typeof all) => p.page.locator("[data-log-lines] td.msg").allTextContents();

    opened[0]();
    await all.page.locator('tr[data-cell="spin"] [data-cell-chunks]', { hasText: "8/8 chunks · 1 retried" }).waitFor({ timeout: 5_000 });
    await notebook.page.locator("#cell-spin [data-cell-chunks]", { hasText: "8/8 chunks · 1 retried" }).waitFor({ timeout: 5_000 });
    await all.page.locator("[data-log-lines] td.msg", { hasText: "mapped 8" }).waitFor({ timeout: 5_000 });
    // The notebook's cell shows its log's tail live too, from the one stream it keeps for its pipeline.
    const inline = notebook.page.locator("#cell-spin [data-cell-log-lines] td.msg");
    await inline.filter({ hasText: "mapped 8" }).waitFor({ timeout: 5_000 });
    opened[1]();
    for (const p of [all, warned]) await p.page.locator("[data-log-lines] td.msg", { hasText: "after the gate" }).waitFor({ timeout: 5_000 });
    await inline.filter({ hasText: "after the gate" }).waitFor({ timeout: 5_000 });
    expect(await inline.allTextContents()).toEqual(["mapped 8", "after the gate <b>bold</b>"]);
    expect(await notebook.page.locator("#cell-spin [data-cell-log] b").count()).toBe(0);
    await expect(notebook.page.locator("#cell-spin [data-cell-log-count]").textContent()).resolves.toBe("log · try 1 · 2 lines · live");
    await expect(notebook.page.locator("#cell-spin [data-cell-log-all]").getAttribute("href")).resolves.toBe(`/runs/${id}?cell=spin#logs`);
    // Still running: the lines came over the stream, not with the page the run's end fetches.
    expect(await all.page.locator("h1[data-live-run]").getAttribute("data-run-state")).toBe("running");
    expect(await msgs(all)).toEqual(["mapped 8", "after the gate <b>bold</b>"]);
    expect(await msgs(warned)).toEqual(["after the gate <b>bold</b>"]);
    expect(await all.page.locator("[data-log-lines] b").count()).toBe(0);
    await all.page.screenshot({ path: join(ARTIFACTS, "ui-run-logs-live.png"), fullPage: true });
    await warned.page.screenshot({ path: join(ARTIFACTS, "ui-run-logs-live-filtered.png"), fullPage: true });
    await notebook.page.screenshot({ path: join(ARTIFACTS, "ui-notebook-chunks.png"), fullPage: true });

    opened[2]();
    await all.page.locator("[data-live-status]", { hasText: "the run ended: success" }).waitFor({ timeout: 5_000 });
    for (const p of [all, warned, notebook]) {
      expect(p.navigations()).toBe(0);
      await expect(p.page.evaluate(() => (window as unknown as { liveMarker?: string }).liveMarker)).resolves.toBe("kept");
      expect(p.errors).toEqual([]);
    }
    // After the end the page is the server's, filter and all.
    expect(await msgs(warned)).toEqual(["after the gate <b>bold</b>"]);

    // A finished run's log, filtered through the form, without JS doing anything but the page.
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${ui.base}/runs/${ui.runIds.flaky[3]}`);
    await page.selectOption('form.logfilter select[name="level"]', "warn");
    await Promise.all([page.waitForURL(/level=warn/), page.click("form.logfilter button")]);
    expect(await page.locator("[data-log-lines] td.level").allTextContents()).toEqual(["warn", "error"]);
    await page.screenshot({ path: join(ARTIFACTS, "ui-run-logs-filtered.png"), fullPage: true });
    await page.goto(`${ui.base}/runs/${ui.runIds.flaky[3]}?cell=load`);
    await page.screenshot({ path: join(ARTIFACTS, "ui-run-logs-paged.png") });
  }, 30_000);

  it("shows a failed try's error line in the notebook's log tail and the run page's log as the try fails", async () => {
    // Try 1 fails at the first gate; try 2 waits at the second, so the run is still going when the line shows.
    const opened: Array<() => void> = [];
    const gates = [0, 1].map(() => new Promise<void>((resolve) => opened.push(resolve)));
    const wobbly = pipeline({ id: "wobbly" }).cell("wobble", { retries: 1, retryDelay: "10ms" }, async (ctx) => {
      await gates[ctx.tryNumber - 1];
      if (ctx.tryNumber === 1) throw new Error("wobble: try 1 fails <i>once</i>");
      return ctx.tryNumber;
    });
    ui.pipelines.push(wobbly);
    const started = await fetch(`${ui.base}/api/v1/pipelines/wobbly/runs`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    const { id } = await started.json() as { id: number };
    const open = async (path: string) => {
      const page = await browser.newPage({ viewport: { width: 1280, height: 700 } });
      // Followed from here: live.js reads the run once its stream is open.
      const caughtUp = page.waitForResponse((res) => res.url().endsWith(`/api/v1/runs/${id}`));
      await page.goto(ui.base + path);
      await caughtUp;
      return page;
    };
    const run = await open(`/runs/${id}`);
    const notebook = await open(`/pipelines/wobbly?run=${id}`);
    const requests: string[] = [];
    for (const p of [run, notebook]) p.on("request", (req) => void requests.push(req.url()));
    opened[0]();
    const line = "wobble: try 1 fails <i>once</i>";
    await run.locator("[data-log-lines] td.msg", { hasText: line }).waitFor({ timeout: 5_000 });
    await notebook.locator("#cell-wobble [data-cell-log-lines] td.msg", { hasText: line }).waitFor({ timeout: 5_000 });
    // Over the stream, with the run still going and nothing fetched for it.
    expect(await run.locator("h1[data-live-run]").getAttribute("data-run-state")).toBe("running");
    expect(requests).toEqual([]);
    await expect(notebook.locator("#cell-wobble [data-cell-log-count]").textContent()).resolves.toBe("log · try 1 · 1 line · live");
    expect(await run.locator("[data-log-lines] i").count()).toBe(0);
    await notebook.screenshot({ path: join(ARTIFACTS, "ui-notebook-try-failed-live.png"), fullPage: true });
    opened[1]();
    await run.locator("[data-live-status]", { hasText: "the run ended: success" }).waitFor({ timeout: 5_000 });
  }, 15_000);
});
