// A CheckFailed's details (kernel/check-details.ts): stored with the failed try, never a checkpoint (the next
// run computes the cell again, its dependent never runs), carried by the cell's failed event, and read back with
// the checkpoints of the passing runs by the facade's cellResults (kernel/cell-results.ts); too large, refused.
import { describe, expect, it } from "vitest";
import { type CellarEvent, CellState, CheckFailed, MAX_CHECK_DETAILS_BYTES, openCellar, pipeline } from "../kernel/mod.ts";
import { storesClosedAfterEach } from "./helpers.ts";

const openStore = storesClosedAfterEach();

describe("a failed check's details", () => {
  it("are kept with the failed try, not served from cache nor passed on, and read back beside the outputs", async () => {
    const store = await openStore();
    const cellar = openCellar({ db: store });
    const events: CellarEvent[] = [];
    cellar.on((e) => events.push(e));
    let measured = 0;
    const gated = pipeline({ id: "gated", params: { score: 0.5 } })
      .cell("measure", (ctx) => {
        measured++;
        const score = ctx.params.score as number;
        if (score < 0.4) throw new CheckFailed(`score ${score} under 0.4`, { details: { score, worst: ["q1"] } });
        return { score };
      })
      .cell("report", (_ctx, m: { score: number }) => `score ${m.score}`);

    const low = await cellar.run(gated, { params: { score: 0.3 }, date: "2026-05-01", new: true });
    const again = await cellar.run(gated, { params: { score: 0.3 }, date: "2026-05-02", new: true });
    // Same params, same code: had the details been a checkpoint, the second run would have served them.
    expect(measured).toBe(2);
    expect([again.cells.get("measure"), again.cells.get("report")]).toEqual([CellState.Failed, CellState.UpstreamFailed]);
    const failed = events.find((e) => e.type === "cell" && e.runId === low.runId && e.state === CellState.Failed);
    expect(failed).toMatchObject({ details: { score: 0.3, worst: ["q1"] }, error: "CheckFailed: score 0.3 under 0.4" });
    const passed = await cellar.run(gated, { params: { score: 0.9 }, date: "2026-05-03", new: true });

    const results = await cellar.cellResults({ pipeline: "gated", cell: "measure" });
    expect(results.map((r) => [r.run.id, r.run.state, r.source])).toEqual([
      [passed.runId, "success", "output"],
      [again.runId, "failed", "check"],
      [low.runId, "failed", "check"],
    ]);
    expect(results[0]).toMatchObject({ output: { score: 0.9 }, run: { pipeline: "gated", kind: "manual", logicalDate: new Date("2026-05-03T00:00:00Z") } });
    expect(results[1]).toMatchObject({ details: { score: 0.3, worst: ["q1"] }, error: "CheckFailed: score 0.3 under 0.4" });
    expect(results[1].run.finishedAt).toBeInstanceOf(Date);
    expect((await cellar.cellResults({ pipeline: "gated", cell: "measure", limit: 1 })).map((r) => r.run.id)).toEqual([passed.runId]);
    expect((await cellar.cellResults({ pipeline: "gated", cell: "measure", runId: low.runId })).map((r) => r.run.id)).toEqual([low.runId]);
    // The dependent ran only where its upstream passed: the refused runs left it nothing. A bad limit is one line.
    expect((await cellar.cellResults({ pipeline: "gated", cell: "report" })).map((r) => [r.run.id, r.source])).toEqual([[passed.runId, "output"]]);
    await expect(cellar.cellResults({ pipeline: "gated", cell: "measure", limit: 0 })).rejects.toThrow(/^limit 0: expected a whole number ≥ 1$/);
  });

  it("over the size limit are refused with one line naming the cell; the try fails with its own message", async () => {
    const store = await openStore();
    const cellar = openCellar({ db: store });
    const events: CellarEvent[] = [];
    cellar.on((e) => events.push(e));
    const big = pipeline({ id: "big" }).cell("measure", () => {
      throw new CheckFailed("too low", { details: { blob: "x".repeat(MAX_CHECK_DETAILS_BYTES) } });
    });
    const run = await cellar.run(big, { new: true });
    expect(run.state).toBe("failed");
    expect(await cellar.cellResults({ pipeline: "big", cell: "measure" })).toEqual([]);
    const lines = await store.query(`SELECT message FROM logs WHERE run_id = ? AND level = 'error' ORDER BY seq`, [run.runId]);
    expect(lines.map((l) => l.message)).toEqual([
      "CheckFailed: too low",
      `cell measure: CheckFailed details are ${MAX_CHECK_DETAILS_BYTES + 11} bytes of JSON, over the 64 KB limit; not stored (expected a summary of what the check refused)`,
    ]);
    const failed = events.find((e) => e.type === "cell" && e.state === CellState.Failed);
    expect(failed && "details" in failed).toBe(false);
  });
});
