// Why each cell of a run was served from cache or recomputed, as the runner records it and `show` reads it
// back: one run of a small pipeline per reason, against a real DuckDB file.
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type Cellar, openCellar, pipeline } from "../kernel/mod.ts";
import { CacheReason, reasonText } from "../kernel/cache-reason.ts";
import { tempDir } from "./helpers.ts";

const D1 = "2026-05-03T00:00:00Z";
const D2 = "2026-05-04T00:00:00Z";

const opened: Cellar[] = [];
afterEach(async () => {
  for (const cellar of opened.splice(0)) await cellar.close();
});

// Two versions of one pipeline: `plus` differs in its code, the other cells are the same text.
const v1 = pipeline({ id: "why", params: { n: 1, unused: 0 } })
  .cell("base", (ctx) => ctx.params.n as number)
  .cell("plus", (_ctx, x: number) => x + 1)
  .cell("day", { needs: [] }, (ctx) => ctx.logicalDate.toISOString().slice(0, 10))
  .cell("off", { needs: [], cache: false }, () => 1);
const v2 = pipeline({ id: "why", params: { n: 1, unused: 0 } })
  .cell("base", (ctx) => ctx.params.n as number)
  .cell("plus", (_ctx, x: number) => x + 2)
  .cell("day", { needs: [] }, (ctx) => ctx.logicalDate.toISOString().slice(0, 10))
  .cell("off", { needs: [], cache: false }, () => 1);

describe("cache reasons", () => {
  it("records per cell why it was served from cache or recomputed", async () => {
    const cellar = openCellar({ db: join(tempDir(), "cellar.duckdb") });
    opened.push(cellar);
    const reasons = async (runId: number) =>
      Object.fromEntries((await cellar.show(runId)).cells.map((c) => [c.cell, c.cacheReason && [c.cacheReason.reason, c.cacheReason.detail]]));

    const first = await cellar.run(v1, { date: D1 });
    expect(await reasons(first.runId)).toEqual({
      base: [CacheReason.NoCheckpoint, null], plus: [CacheReason.NoCheckpoint, null],
      day: [CacheReason.NoCheckpoint, null], off: [CacheReason.CacheOff, null],
    });

    // Same code, params, upstream and interval: served. A param no cell read (unused) changes nothing.
    const same = await cellar.run(v1, { date: D1, params: { unused: 5 } });
    expect(await reasons(same.runId)).toEqual({
      base: [CacheReason.Hit, null], plus: [CacheReason.Hit, null], day: [CacheReason.Hit, null], off: [CacheReason.CacheOff, null],
    });

    // A param base read, so plus's upstream output; and day read the logical date.
    const other = await cellar.run(v1, { date: D2, params: { n: 2 } });
    expect(await reasons(other.runId)).toEqual({
      base: [CacheReason.ParamsChanged, "n"], plus: [CacheReason.UpstreamChanged, "base"],
      day: [CacheReason.IntervalChanged, "2026-05-03T00:00:00.000Z/2026-05-03T00:00:00.000Z → 2026-05-04T00:00:00.000Z/2026-05-04T00:00:00.000Z"],
      off: [CacheReason.CacheOff, null],
    });

    const edited = await cellar.run(v2, { date: D2, params: { n: 2 } });
    expect(await reasons(edited.runId)).toMatchObject({ base: [CacheReason.Hit, null], plus: [CacheReason.CodeChanged, `since run #${other.runId}`] });

    const noCache = await cellar.run(v2, { date: D2, params: { n: 2 }, cache: false });
    expect(await reasons(noCache.runId)).toEqual({
      base: [CacheReason.NoCache, null], plus: [CacheReason.NoCache, null], day: [CacheReason.NoCache, null], off: [CacheReason.CacheOff, null],
    });

    const from = await cellar.run(v2, { date: D2, params: { n: 2 }, from: "base" });
    expect(await reasons(from.runId)).toMatchObject({ base: [CacheReason.Forced, "run from here"], plus: [CacheReason.Forced, "run from base"], day: [CacheReason.Hit, null] });
    const alone = await cellar.cell(v2, "plus", { date: D2, params: { n: 2 } });
    expect(await reasons(alone.runId)).toEqual({ plus: [CacheReason.Forced, "run alone"] });

    // Checkpoints from before reasons were recorded: no reason shown, and a miss against one cannot say which part changed.
    const store = await cellar.store();
    await store.query(`DELETE FROM cell_reasons`);
    expect((await cellar.show(first.runId)).cells.every((c) => c.cacheReason === null)).toBe(true);
    const afterOld = await cellar.run(v1, { date: D2, params: { n: 3 } });
    expect(await reasons(afterOld.runId)).toMatchObject({ plus: [CacheReason.KeyChanged, `since run #${alone.runId}`] });
    expect(reasonText({ reason: CacheReason.ParamsChanged, detail: "n" })).toBe("recomputed: params changed (n)");
  });
});
