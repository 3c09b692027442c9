// The notebook page reads its shown run's detail once (the costliest of its reads, and the page was the
// slowest route under the server-load bench): counted on the facade and on the store's queries.
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { openCellar, pipeline } from "../kernel/mod.ts";
import { notebookPage } from "../server/ui/notebook-page.tsx";
import { tempDir } from "./helpers.ts";

const cellar = openCellar({ db: join(tempDir(), "cellar.duckdb") });
afterAll(async () => await cellar.close());

const hello = pipeline({ id: "hello" }).cell("greet", () => "hi").cell("shout", (_ctx, s: string) => s.toUpperCase());

describe("notebook page", () => {
  it("reads the run it shows once, whether picked by ?run= or the latest", async () => {
    const { runId } = await cellar.run(hello, { date: "2026-05-03T00:00:00Z" });
    await cellar.run(hello, { date: "2026-05-04T00:00:00Z" });
    const store = await cellar.store();
    const show = vi.spyOn(cellar, "show");
    const query = vi.spyOn(store, "query");
    const picked = await notebookPage(cellar, hello, runId);
    expect(picked.status).toBe(200);
    expect(String(picked.page)).toContain(`showing run <a href="/runs/${runId}">#${runId}</a>`);
    expect(show).toHaveBeenCalledTimes(1);
    const pickedQueries = query.mock.calls.length;
    show.mockClear();
    query.mockClear();
    const latest = await notebookPage(cellar, hello, undefined);
    expect(show).toHaveBeenCalledTimes(1);
    // Picking a run costs no more reads than showing the latest.
    expect(pickedQueries).toBe(query.mock.calls.length);
    // Another pipeline's run, or none: the 404, from that one read.
    show.mockClear();
    expect((await notebookPage(cellar, pipeline({ id: "other" }).cell("x", () => 1), runId)).status).toBe(404);
    expect((await notebookPage(cellar, hello, 999)).status).toBe(404);
    expect(show).toHaveBeenCalledTimes(2);
    expect(String(latest.page)).toContain('class="selected"');
  });
});
