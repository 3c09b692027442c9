// The costs, devices and search pages in Chromium (Debian's, through playwright-core), under the server's CSP:
// the costs chart drawn by uPlot, the devices table following a claim live over the event stream, a
// crawled <script> title in the hits shown as text, a small JSON output as a tree. Screenshots:
// test/artifacts/costs.png, devices.png, search.png, preview-tree.png.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseClaim } from "../kernel/compute/claim.ts";
import { compute } from "../kernel/compute/devices.ts";
import { ROOT } from "./helpers.ts";
import { SCRIPT_OUTPUT, type UiFixture, uiFixture } from "./ui-fixture.ts";

const ARTIFACTS = join(ROOT, "test/artifacts");

let ui: UiFixture;
let browser: Browser;
beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  [ui, browser] = await Promise.all([
    uiFixture(),
    chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    }),
  ]);
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await ui?.close();
});

describe("costs, devices and search in Chromium", () => {
  it("draws the costs chart, follows a device claim live, shows search hits as text and a JSON output as a tree", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const problems: string[] = [];
    page.on("pageerror", (err) => problems.push(err.message));
    // A CSP violation shows as a console error.
    page.on("console", (msg) => void (msg.type() === "error" && !msg.location().url.endsWith("/favicon.ico") && problems.push(`${msg.text()} ${msg.location().url}`)));
    page.on("dialog", async (dialog) => {
      problems.push(`dialog: ${dialog.message()}`);
      await dialog.dismiss();
    });

    await page.goto(ui.base + "/costs");
    await page.locator(".cost-chart[data-drawn] canvas").waitFor({ timeout: 5_000 });
    await expect(page.locator(".cost-chart .u-legend").textContent()).resolves.toContain("flaky · publish");
    await page.screenshot({ path: join(ARTIFACTS, "costs.png"), fullPage: true });

    // The devices page, then a claim on the pool and a run: the page follows without a reload.
    await page.goto(ui.base + "/devices");
    const pool = await compute().gpu();
    const device = pool.live[0];
    expect(device, "a WebGPU adapter (lavapipe) for the devices page").toBeDefined();
    const row = page.locator(`tr[data-device="${device.id}"]`);
    await expect(row.locator("[data-device-claimed]").textContent()).resolves.toBe("0%");
    await page.locator("[data-devices-status]", { hasText: "live" }).waitFor({ timeout: 5_000 });
    const pageLoads: string[] = [];
    page.on("request", (req) => void (new URL(req.url()).pathname === "/devices" && pageLoads.push(req.url())));
    const lease = await pool.acquire(parseClaim({ gpu: 0.25, gpuMemory: 2 ** 30 }, "test"));
    try {
      const res = await fetch(`${ui.base}/api/v1/pipelines/flaky/runs`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
      expect(res.status).toBe(202);
      await row.locator("[data-device-claimed]", { hasText: "25%" }).waitFor({ timeout: 5_000 });
      await expect(row.locator("[data-device-leases]").textContent()).resolves.toBe("1");
      await expect(row.textContent()).resolves.toContain("1 GiB of");
      await page.screenshot({ path: join(ARTIFACTS, "devices.png"), fullPage: true });
    } finally {
      lease.release();
    }
    // Nothing runs now: the page asks for nothing more.
    const settled = pageLoads.length;
    await page.waitForTimeout(700);
    expect(pageLoads.length).toBe(settled);

    await page.goto(ui.base + "/search");
    await page.selectOption("select[name=pipeline]", "notes");
    await page.selectOption("select[name=mode]", "lexical+rm3");
    await page.fill("input[name=q]", "wing");
    await page.click("form.searchform button");
    await page.waitForURL(/\/search\?q=wing/);
    await expect(page.locator(".hit-title").first().textContent()).resolves.toBe(SCRIPT_OUTPUT);
    await expect(page.locator(".hit-title").nth(1).textContent()).resolves.toBe("wing page 2 by lexical+rm3");
    await expect(page.locator("select[name=mode]").inputValue()).resolves.toBe("lexical+rm3");
    expect(await page.locator("table.hits tbody tr").count()).toBe(3);
    expect(await page.locator("script").evaluateAll((els) => els.map((el) => el.getAttribute("src")))).toEqual(["/ui/live.js"]);
    await page.screenshot({ path: join(ARTIFACTS, "search.png"), fullPage: true });

    // A small JSON output as a tree to fold: its <script> title is text too.
    await page.goto(`${ui.base}/pipelines/notes?run=${ui.runIds.notes[0]}`);
    const tree = page.locator("#cell-fetch_notes .json-tree");
    await expect(tree.locator("details").count()).resolves.toBe(4);
    await expect(tree.locator(".j-string").first().textContent()).resolves.toBe(JSON.stringify(SCRIPT_OUTPUT));
    await page.locator("#cell-fetch_notes").screenshot({ path: join(ARTIFACTS, "preview-tree.png") });

    expect(problems).toEqual([]);
  }, 30_000);
});
