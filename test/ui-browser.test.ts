// The notebook UI in a real browser: Debian's chromium driven by playwright-core (its own browser download
// cannot be reached here). Click from the pipelines page to a notebook and to a run; a `<script>` output
// must show as text and never run. Screenshots go to test/artifacts/ (gitignored) for a person to look at.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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
    // The output holding a <script> tag is text on the page, and no script element came of it.
    await expect(page.locator("#cell-headline pre.output").textContent()).resolves.toBe(JSON.stringify(SCRIPT_OUTPUT));
    expect(await page.locator("script").count()).toBe(0);
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

    expect(dialogs).toEqual([]);
    expect(errors).toEqual([]);
  }, 30_000);
});
