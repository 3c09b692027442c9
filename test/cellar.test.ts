// The facade, openCellar({ db }), against real DuckDB files: what the CLI's commands do, as methods, and the
// event stream the CLI's progress display and the server's live updates read.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type Cellar, type CellarEvent, CellarError, CheckFailed, isCellarError, openCellar, pipeline } from "../kernel/mod.ts";
import { CellState, RunState } from "../kernel/state.ts";
import { tempDir, writePipeline } from "./helpers.ts";

const DATE = "2026-05-03T00:00:00Z";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const opened: Cellar[] = [];
afterEach(async () => {
  for (const cellar of opened.splice(0)) await cellar.close();
});

/** A facade over a new store file in a temp dir, closed after the test. */
function cellarIn(dir = tempDir()): { cellar: Cellar; db: string; dir: string } {
  const db = join(dir, "cellar.duckdb");
  const cellar = openCellar({ db });
  opened.push(cellar);
  return { cellar, db, dir };
}

function chain(calls: string[] = []) {
  return pipeline({ id: "chain", params: { base: 2 } })
    .cell("a", (ctx) => (calls.push("a"), ctx.params.base as number))
    .cell("b", (_ctx, x: number) => (calls.push("b"), x * 10));
}

describe("openCellar", () => {
  it("runs a pipeline, lists its runs and shows a run", async () => {
    const { cellar } = cellarIn();
    const result = await cellar.run(chain(), { params: { base: "3" }, date: DATE });
    expect(result.state).toBe(RunState.Success);
    expect(result.outputs.get("b")).toBe(30);

    const [listed, ...others] = await cellar.runs("chain");
    expect(others).toEqual([]);
    expect(listed).toMatchObject({ runId: result.runId, kind: "manual", state: RunState.Success, params: { base: 3 } });
    expect(listed.logicalDate.toISOString()).toBe("2026-05-03T00:00:00.000Z");

    const shown = await cellar.show(result.runId);
    expect(shown.run.runId).toBe(result.runId);
    expect(shown.cells.map((c) => `${c.cell}:${c.state}:${c.tries}`)).toEqual(["a:success:1", "b:success:1"]);
    expect(shown).not.toHaveProperty("logs");
    expect(await cellar.show(String(result.runId), { logs: true })).toHaveProperty("logs", []);
    await expect(cellar.show(99)).rejects.toThrow(/^run 99: no such run in /);
    await expect(cellar.show("12abc")).rejects.toThrow(/^run id 12abc: expected a positive whole number$/);
    await expect(cellar.runs("chain", { limit: 0 })).rejects.toThrow("--limit 0: expected a whole number ≥ 1");
  });

  it("starts a run and answers its id at once, while the run goes on; refuses a bad request before any run exists", async () => {
    const { cellar } = cellarIn();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow = pipeline({ id: "slow" }).cell("wait", async () => (await gate, "done"));
    const { runId, done } = await cellar.start(slow, { date: DATE });
    // Answered as soon as the run exists: it has not ended (the cell waits on the gate).
    expect([RunState.Queued, RunState.Running]).toContain((await cellar.show(runId)).run.state);
    release();
    const result = await done;
    expect(result).toMatchObject({ runId, state: RunState.Success });
    expect(result.outputs.get("wait")).toBe("done");
    await expect(cellar.start(slow, { from: "nope" })).rejects.toThrow(/nope/);
    expect((await cellar.runs("slow")).length).toBe(1);
    const cell = await cellar.startCell(chain(), "b", { date: DATE }).catch((err) => err);
    expect(cell.message).toMatch(/needs the output of "a", which has no checkpoint/);
    await cellar.run(chain(), { date: DATE });
    const one = await cellar.startCell(chain(), "b", { date: DATE });
    expect(await one.done).toMatchObject({ runId: one.runId, state: RunState.Success, checkFailed: false });
  });

  it("pages runs across pipelines by id, filtered by pipeline and state, and pages a run's logs", async () => {
    const { cellar } = cellarIn();
    const logs = pipeline({ id: "logs" }).cell("say", (ctx) => {
      for (let i = 0; i < 5; i++) ctx.log.info(`line ${i}`);
    });
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await cellar.run(chain(), { date: DATE, new: true })).runId);
    const logged = (await cellar.run(logs, { date: DATE })).runId;
    const first = await cellar.runPage({ limit: 2 });
    expect(first.runs.map((r) => r.runId)).toEqual([logged, ids[2]]);
    expect(first.next).toBe(ids[2]);
    const second = await cellar.runPage({ limit: 2, before: first.next! });
    expect(second).toMatchObject({ runs: [{ runId: ids[1] }, { runId: ids[0] }], next: null });
    expect((await cellar.runPage({ pipeline: "logs" })).runs.map((r) => r.runId)).toEqual([logged]);
    expect((await cellar.runPage({ states: [RunState.Failed] })).runs).toEqual([]);
    await expect(cellar.runPage({ limit: 0 })).rejects.toThrow("limit 0: expected a whole number ≥ 1");
    const first2 = await cellar.logs(logged, { limit: 2 });
    const page = await cellar.logs(logged, { after: first2.later!, limit: 2 });
    expect(page.lines.map((l) => l.message)).toEqual(["line 2", "line 3"]);
  });

  it("reports its metrics in Prometheus text format: tries by outcome, durations, running cells, last success", async () => {
    const { cellar } = cellarIn();
    let tries = 0;
    const metered = pipeline({ id: "metered" })
      .cell("flaky", { retries: 1, retryDelay: "1ms" }, () => {
        if (tries++ === 0) throw new Error("once");
        return 1;
      })
      .cell("after", (_ctx, x: number) => x + 1);
    await cellar.run(metered, { date: DATE });
    const { contentType, text } = await cellar.metrics();
    expect(contentType).toMatch(/^text\/plain/);
    expect(text).toMatch(/^# HELP cellar_/m);
    expect(text).toContain('cellar_cell_tries_total{pipeline="metered",cell="flaky",outcome="up_for_retry"} 1');
    expect(text).toContain('cellar_cell_tries_total{pipeline="metered",cell="flaky",outcome="success"} 1');
    expect(text).toContain('cellar_cell_tries_total{pipeline="metered",cell="after",outcome="success"} 1');
    expect(text).toContain('cellar_cell_duration_seconds_count{pipeline="metered",cell="flaky"} 2');
    expect(text).toContain('cellar_run_duration_seconds_count{pipeline="metered",state="success"} 1');
    expect(text).toContain('cellar_cells_running{pipeline="metered"} 0');
    expect(text).toMatch(/^cellar_pipeline_last_success_timestamp_seconds\{pipeline="metered"\} \d+/m);
    expect(text).toContain('cellar_cell_duration_seconds_bucket{le="14400",pipeline="metered",cell="flaky"} 2');
  });

  it("serves unchanged cells from their checkpoints on a second run, and recomputes with cache: false or from", async () => {
    const calls: string[] = [];
    const { cellar } = cellarIn();
    await cellar.run(chain(calls), { date: DATE });
    const cached = await cellar.run(chain(calls), { date: DATE });
    expect([...cached.cells.values()]).toEqual([CellState.Cached, CellState.Cached]);
    await cellar.run(chain(calls), { date: DATE, from: "b" });
    await cellar.run(chain(calls), { date: DATE, cache: false });
    expect(calls).toEqual(["a", "b", "b", "a", "b"]);
    await expect(cellar.run(chain(), { from: "nope" })).rejects.toThrow(/nope/);
    // A string param is parsed as `--param base=x` is (the wording is kernel/params.ts's).
    await expect(cellar.run(chain(), { params: { base: "x" } })).rejects.toSatisfy((err) => isCellarError(err) && /\bbase\b.*\bx\b/.test(String(err)));
  });

  it("resumes a failed run from a pipeline file: the cell that succeeded is kept, the failed one runs again", async () => {
    const { cellar, dir } = cellarIn();
    const marker = join(dir, "fixed");
    const counter = join(dir, "a-calls");
    const file = writePipeline(dir, "flaky.ts", `
import { appendFileSync, existsSync } from "node:fs";
export default pipeline({ id: "flaky" })
  .cell("a", () => (appendFileSync(${JSON.stringify(counter)}, "a"), 1))
  .cell("b", (_ctx, x: number) => {
    if (!existsSync(${JSON.stringify(marker)})) throw new Error("not fixed yet");
    return x + 1;
  });`);
    const failed = await cellar.run(file, { date: DATE });
    expect(failed.state).toBe(RunState.Failed);
    expect(failed.cells.get("b")).toBe(CellState.Failed);
    expect((await cellar.show(failed.runId)).cells.find((c) => c.cell === "b")?.error).toMatch(/not fixed yet/);

    writeFileSync(marker, "");
    // By id as a string, as `cellar resume 1` passes it; the pipeline is loaded from the file the run was started from.
    const resumed = await cellar.resume(String(failed.runId));
    expect(resumed).toMatchObject({ runId: failed.runId, state: RunState.Success });
    expect(resumed.outputs.get("b")).toBe(2);
    expect(readFileSync(counter, "utf8")).toBe("a");
    await expect(cellar.resume(failed.runId)).rejects.toThrow(`run ${failed.runId}: already succeeded; nothing to resume`);
  });

  it("runs one cell from the latest upstream checkpoints, refuses without one, and tells a failed check from an error", async () => {
    const { cellar } = cellarIn();
    const p = pipeline({ id: "gated" })
      .cell("score", () => 0.5)
      .cell("gate", (_ctx, score: number) => {
        if (score < 0.9) throw new CheckFailed(`score ${score} is below 0.9`);
        return score;
      })
      .cell("boom", { needs: ["score"] }, () => {
        throw new Error("boom");
      });
    await expect(cellar.cell(p, "gate")).rejects.toThrow(
      /^cell "gate" needs the output of "score", which has no checkpoint in .*; run pipeline "gated" first$/,
    );
    expect(await cellar.runs("gated")).toEqual([]);

    expect((await cellar.cell(p, "score", { date: DATE })).outputs.get("score")).toBe(0.5);
    const gate = await cellar.cell(p, "gate", { date: DATE });
    expect(gate).toMatchObject({ state: RunState.Failed, checkFailed: true });
    expect([...gate.cells.keys()]).toEqual(["gate"]);
    expect(await cellar.cell(p, "boom", { date: DATE })).toMatchObject({ state: RunState.Failed, checkFailed: false });
    expect((await cellar.runs("gated")).map((r) => r.kind)).toEqual(["cell", "cell", "cell"]);
  });

  it("backfills a date range once: the runs of each day, and nothing again the second time", async () => {
    const { cellar } = cellarIn();
    const days: string[] = [];
    const p = pipeline({ id: "daily", schedule: "@daily", startDate: "2026-04-01", maxActiveRuns: 2 })
      .cell("day", (ctx) => (days.push(ctx.logicalDate.toISOString().slice(0, 10)), days.length));
    const notices: CellarEvent[] = [];
    cellar.on((e) => (e.type === "backfill" || e.type === "backfill-created") && notices.push(e));

    const ended: number[] = [];
    const first = await cellar.backfill(p, { from: "2026-05-01", to: "2026-05-03", onResult: (r) => ended.push(r.runId) });
    expect(ended).toEqual(first.results.map((r) => r.runId));
    expect(first.intervals.map((i) => i.start.toISOString().slice(0, 10))).toEqual(["2026-05-01", "2026-05-02", "2026-05-03"]);
    expect(first.created).toBe(3);
    expect(first.cancelled).toBe(false);
    expect(first.results.map((r) => r.state)).toEqual([RunState.Success, RunState.Success, RunState.Success]);
    expect(days.sort()).toEqual(["2026-05-01", "2026-05-02", "2026-05-03"]);
    expect((await cellar.runs("daily")).map((r) => `${r.kind} ${r.logicalDate.toISOString().slice(0, 10)}`))
      .toEqual(["backfill 2026-05-03", "backfill 2026-05-02", "backfill 2026-05-01"]);

    const again = await cellar.backfill(p, { from: "2026-05-01", to: "2026-05-03" });
    expect(again).toMatchObject({ created: 0, results: [], cancelled: false });
    expect(notices).toEqual([
      { type: "backfill", pipeline: "daily", intervals: 3, notEnded: 0 },
      { type: "backfill-created", pipeline: "daily", intervals: 3, created: 3 },
      { type: "backfill", pipeline: "daily", intervals: 3, notEnded: 0 },
      { type: "backfill-created", pipeline: "daily", intervals: 3, created: 0 },
    ]);
    await expect(cellar.backfill(p, { from: "2026-05-03", to: "2026-05-01" })).rejects.toThrow("--from 2026-05-03 is after --to 2026-05-01");
    await expect(cellar.backfill(chain(), { from: "2026-05-01", to: "2026-05-03" })).rejects.toThrow('pipeline "chain" has no schedule; backfill needs one');
  });

  it("backfill's reprocess choices (Airflow 3's): none skips dated runs, failed reruns the failed date's run, all runs every date anew", async () => {
    const { cellar } = cellarIn();
    let failing = "2026-05-02";
    const computed: string[] = [];
    const p = pipeline({ id: "redo", schedule: "@daily", startDate: "2026-04-01" }).cell("day", (ctx) => {
      const day = ctx.logicalDate.toISOString().slice(0, 10);
      if (day === failing) throw new CellarError(`day ${day} fails`);
      computed.push(day);
      return day;
    });
    const range = { from: "2026-05-01", to: "2026-05-03" };
    const days = (runs: { logicalDate: Date }[]) => runs.map((r) => r.logicalDate.toISOString().slice(0, 10));
    const first = await cellar.backfill(p, range); // the default, "failed", as before
    const byId = first.results.sort((a, b) => a.runId - b.runId);
    expect(byId.map((r) => r.state)).toEqual([RunState.Success, RunState.Failed, RunState.Success]);
    const failedRun = byId[1].runId;
    failing = "";

    const planned: string[][] = [];
    const none = await cellar.backfill(p, { ...range, reprocess: "none", onPlanned: (plan) => planned.push(days(plan.runs)) });
    expect(none).toMatchObject({ created: 0, results: [] });
    const failed = await cellar.backfill(p, { ...range, reprocess: "failed", onPlanned: (plan) => planned.push(days(plan.runs)) });
    expect(failed.created).toBe(0);
    expect(failed.results.map((r) => [r.runId, r.state])).toEqual([[failedRun, RunState.Success]]);
    computed.length = 0;
    const all = await cellar.backfill(p, { ...range, reprocess: "all", onPlanned: (plan) => planned.push(days(plan.runs)) });
    expect(all.created).toBe(3);
    expect(all.results.every((r) => r.state === RunState.Success && r.runId > failedRun)).toBe(true);
    expect(computed.sort()).toEqual(["2026-05-01", "2026-05-02", "2026-05-03"]); // recomputed, not served from cache
    expect(planned).toEqual([[], ["2026-05-02"], ["2026-05-01", "2026-05-02", "2026-05-03"]]);
    await expect(cellar.backfill(p, { ...range, reprocess: "sometimes" })).rejects.toThrow("--reprocess sometimes: expected one of none, failed, all");
  });

  it("cancels a running run, which stays resumable, and a later run() with the same params resumes it", async () => {
    const { cellar } = cellarIn();
    let release = false;
    const executed: string[] = [];
    const p = pipeline({ id: "slow" })
      .cell("first", () => (executed.push("first"), 1))
      .cell("second", async (ctx) => {
        executed.push("second");
        while (!release) {
          if (ctx.signal.aborted) throw ctx.signal.reason;
          await sleep(10);
        }
        return 2;
      });
    let cancelled: boolean | undefined;
    const off = cellar.on((e) => {
      if (e.type === "cell" && e.cell === "second" && e.state === CellState.Running) setTimeout(() => (cancelled = cellar.cancel(e.runId)), 50);
    });
    const first = await cellar.run(p, { date: DATE });
    off();
    expect(cancelled).toBe(true);
    expect(first.state).toBe(RunState.Interrupted);
    expect(first.cells.get("second")).toBe(CellState.Cancelled);
    expect((await cellar.runs("slow"))[0].state).toBe(RunState.Interrupted);
    expect(cellar.cancel(first.runId)).toBe(false);

    release = true;
    const resuming: CellarEvent[] = [];
    cellar.on((e) => e.type === "resuming" && resuming.push(e));
    const again = await cellar.run(p, { date: DATE });
    expect(again).toMatchObject({ runId: first.runId, state: RunState.Success });
    expect(resuming).toEqual([{ type: "resuming", runId: first.runId, pipeline: "slow", state: RunState.Interrupted }]);
    expect(executed).toEqual(["first", "second", "second"]);
    const fresh = await cellar.run(p, { date: DATE, new: true });
    expect(fresh.runId).not.toBe(first.runId);
  });

  it("streams a run's events in order: run, cells with their logs and progress, run", async () => {
    const { cellar } = cellarIn();
    const p = pipeline({ id: "events" })
      .cell("a", (ctx) => {
        ctx.log.info("hello");
        ctx.progress(1, 2);
        ctx.progress(2, 2);
        return 1;
      })
      .cell("b", (_ctx, x: number) => x + 1);
    const events = cellar.events();
    const result = await cellar.run(p, { date: DATE });
    await cellar.close();
    const seen: string[] = [];
    for await (const e of events) {
      if (e.type === "run") seen.push(`run ${e.runId} ${e.state}`);
      else if (e.type === "cell") seen.push(`${e.cell} ${e.state}`);
      else if (e.type === "log") seen.push(`${e.cell} log ${e.level} ${e.message}`);
      else if (e.type === "progress") seen.push(`${e.cell} ${e.done}/${e.total}`);
      else seen.push(e.type);
    }
    // The run frames its cells; each cell's events come in order. (Whether b's start is told before a's end is
    // the runner's business: a's end is what starts b.)
    expect(seen[0]).toBe(`run ${result.runId} ${RunState.Running}`);
    expect(seen.at(-1)).toBe(`run ${result.runId} ${RunState.Success}`);
    expect(seen.filter((line) => line.startsWith("a "))).toEqual([
      `a ${CellState.Running}`,
      "a log info hello",
      "a 1/2",
      "a 2/2",
      `a ${CellState.Success}`,
    ]);
    expect(seen.filter((line) => line.startsWith("b "))).toEqual([`b ${CellState.Running}`, `b ${CellState.Success}`]);
    expect(seen.indexOf(`b ${CellState.Running}`)).toBeGreaterThan(seen.indexOf("a 2/2"));
    expect(seen).toHaveLength(9);
  });

  it("opens its store at first use, refuses a missing one with create: false, and releases the file on close", async () => {
    const dir = tempDir();
    const db = join(dir, "cellar.duckdb");
    const reader = openCellar({ db, create: false });
    opened.push(reader);
    expect(existsSync(db)).toBe(false);
    await expect(reader.runs("chain")).rejects.toThrow(`database ${db} does not exist; pass an existing store with --db (a run creates one)`);
    expect(existsSync(db)).toBe(false);

    const writer = openCellar({ db });
    await writer.run(chain(), { date: DATE });
    await writer.close();
    await expect(writer.runs("chain")).rejects.toSatisfy(isCellarError);
    // The file lock went with close(): a second facade opens the same store.
    const again = openCellar({ db, create: false });
    opened.push(again);
    expect((await again.runs("chain")).map((r) => r.state)).toEqual([RunState.Success]);
  });
});
