// Pipeline triggers against real DuckDB files, a real Runner and Scheduler:
// a run of one pipeline ending starts a run of another when its `when` holds,
// exactly once per ending run — across restarts and two schedulers of one
// store — and never for `cellar cell`'s test runs or for history from before
// the trigger existed.
import { describe, expect, it } from "vitest";
import { CheckFailed, pipeline, type Pipeline, type PipelineOptions, type RunOutcome } from "../kernel/mod.ts";
import { Runner, type RunEvent } from "../kernel/runner.ts";
import { createManualRun, getRun, listRuns, type RunKind, type RunRecord } from "../kernel/run-records.ts";
import { Scheduler } from "../kernel/scheduler.ts";
import type { Store } from "../kernel/store/store.ts";
import { storesClosedAfterEach } from "./helpers.ts";

const store = storesClosedAfterEach();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const iso = (date: Date) => date.toISOString();
/** A fixed clock: the pipelines here that have a schedule are due up to it, the others ignore it. */
const at = (time: string) => () => new Date(time);
const DAY = { start: new Date("2026-05-03T00:00:00Z"), end: new Date("2026-05-04T00:00:00Z") };

/** Runs `p` once now, as `cellar run` (manual) or `cellar cell` (cell) would, with no scheduler involved. */
async function runNow(s: Store, runner: Runner, p: Pipeline, kind: "manual" | "cell" = "manual"): Promise<RunRecord> {
  const run = await createManualRun(s, p.id, kind, DAY.start, DAY, p.resolveParams({}), {});
  await runner.execute(p, run);
  return await getRun(s, run.runId);
}

/** A triggered pipeline that notes the logical date and params each of its runs saw. */
function retrain(triggers: PipelineOptions["triggers"], options: Partial<PipelineOptions> = {}) {
  const runs: Array<{ runId: number; logicalDate: string; interval: string; reason: unknown }> = [];
  const p = pipeline({ id: "retrain", params: { reason: "none" }, triggers, ...options })
    .cell("fit", { cache: false }, (ctx) => {
      runs.push({
        runId: ctx.runId, logicalDate: iso(ctx.logicalDate),
        interval: `${iso(ctx.dataInterval.start)}/${iso(ctx.dataInterval.end)}`, reason: ctx.params.reason,
      });
      return "fitted";
    });
  return { p, runs };
}

const evalOk = pipeline({ id: "eval" }).cell("score", { cache: false }, () => ({ recall: 0.9 }));

async function runsOf(s: Store, id: string, kinds?: RunKind[]): Promise<RunRecord[]> {
  return (await listRuns(s, id, { kinds })).reverse();
}

async function evaluations(s: Store) {
  return (await s.query(
    `SELECT pipeline, after_run_id::INT AS after, result, fired_run_id::INT AS fired, error FROM cellar_triggers.evaluations ORDER BY evaluated_at`,
  ));
}

describe("triggers: declaring them", () => {
  const bad = (triggers: unknown, id = "retrain") => () =>
    pipeline({ id, triggers: triggers as PipelineOptions["triggers"] }).cell("x", () => 1);

  it("refuses a bad trigger with one line naming the pipeline and the trigger", () => {
    expect(bad({ after: "eval" })).toThrow(`pipeline "retrain" triggers: expected an array of { after, when?, params? }`);
    expect(bad([null])).toThrow(`pipeline "retrain" triggers[0]: expected an object { after, when?, params? }`);
    expect(bad([{ after: "eval" }, { after: "no such id!" }])).toThrow(
      `pipeline "retrain" triggers[1] after "no such id!": expected a pipeline id (letters, digits, "_" or "-")`,
    );
    expect(bad([{ when: () => true }])).toThrow(`pipeline "retrain" triggers[0] after undefined: expected a pipeline id`);
    expect(bad([{ after: "eval", when: true }])).toThrow(
      `pipeline "retrain" triggers[0] when: expected a function (outcome) => boolean, got boolean`,
    );
    expect(bad([{ after: "eval", params: { reason: "x" } }])).toThrow(
      `pipeline "retrain" triggers[0] params: expected a function (outcome) => params, got object`,
    );
    expect(bad([{ after: "eval", if: () => true }])).toThrow(`pipeline "retrain" triggers[0]: unknown option "if"; expected one of after, when, params`);
    expect(bad([{ after: "eval" }, { after: "eval", when: () => true }])).toThrow(
      `pipeline "retrain" triggers[1]: a second trigger after "eval"; combine their conditions in one when`,
    );
    expect(bad([{ after: "retrain" }])).toThrow(`pipeline "retrain" triggers[0]: after its own pipeline without a when would run "retrain" forever`);
    for (const triggers of [[{ after: "bad id" }], [{ after: "eval", when: 1 }]]) {
      try {
        bad(triggers)();
        expect.unreachable();
      } catch (err) {
        expect((err as Error).name).toBe("CellarError");
        expect((err as Error).message).not.toContain("\n");
      }
    }
  });

  it("keeps valid triggers, and a pipeline without any has none", () => {
    const when = () => true;
    expect(retrain([{ after: "eval", when }, { after: "ingest" }]).p.triggers).toEqual([
      { after: "eval", when, params: undefined },
      { after: "ingest", when: undefined, params: undefined },
    ]);
    expect(evalOk.triggers).toEqual([]);
  });
});

describe("triggers: firing", () => {
  it("fires once after a scheduled run succeeds, at that run's logical date and interval, and runs it", async () => {
    const s = await store();
    const daily = pipeline({ id: "eval", schedule: "@daily", startDate: "2026-05-03" }).cell("score", () => 1);
    const { p, runs } = retrain([{ after: "eval" }]);
    const scheduler = new Scheduler(s, new Runner(s), [daily, p], at("2026-05-04T00:00:01Z"));
    await scheduler.runOnce();
    const [source] = await runsOf(s, "eval");
    expect(source).toMatchObject({ kind: "scheduled", state: "success", triggeredBy: null });
    const fired = await runsOf(s, "retrain");
    expect(fired).toHaveLength(1);
    expect(fired[0]).toMatchObject({
      kind: "triggered", state: "success", runKey: `triggered__eval__${source.runId}`,
      triggeredBy: { pipeline: "eval", runId: source.runId }, options: { triggeredBy: { pipeline: "eval", runId: source.runId } },
      params: { reason: "none" },
    });
    expect(iso(fired[0].logicalDate)).toBe("2026-05-03T00:00:00.000Z");
    expect(runs).toEqual([
      { runId: fired[0].runId, logicalDate: "2026-05-03T00:00:00.000Z", interval: "2026-05-03T00:00:00.000Z/2026-05-04T00:00:00.000Z", reason: "none" },
    ]);
    expect(await evaluations(s)).toEqual([{ pipeline: "retrain", after: source.runId, result: "fired", fired: fired[0].runId, error: null }]);

    // Looking again finds nothing new to judge.
    await scheduler.runOnce();
    expect(await scheduler.fireTriggers()).toBe(0);
    expect(runs).toHaveLength(1);
  });

  it("does not fire when `when` is false, nor by default after a failed run", async () => {
    const s = await store();
    const runner = new Runner(s);
    const failing = pipeline({ id: "ingest" }).cell("crawl", () => {
      throw new Error("no seeds");
    });
    const calls: number[] = [];
    const { p, runs } = retrain([{ after: "eval", when: (o) => (calls.push(o.runId), false) }, { after: "ingest" }]);
    const scheduler = new Scheduler(s, runner, [p]);
    expect(await scheduler.fireTriggers()).toBe(0); // registers the triggers: what ends from now on counts
    const evalRun = await runNow(s, runner, evalOk);
    const ingestRun = await runNow(s, runner, failing);
    expect(ingestRun.state).toBe("failed");
    await scheduler.runOnce();
    expect(calls).toEqual([evalRun.runId]);
    expect(runs).toEqual([]);
    expect(await runsOf(s, "retrain")).toEqual([]);
    expect((await evaluations(s)).map((e) => [e.after, e.result])).toEqual([[evalRun.runId, "not_met"], [ingestRun.runId, "not_met"]]);
  });

  it("shows `when` the outputs and the failed cells, with check for a CheckFailed cell, and read-only SQL", async () => {
    const s = await store();
    const runner = new Runner(s);
    const gated = pipeline({ id: "eval" })
      .cell("score", () => ({ recall: 0.42 }))
      .cell("gate", (_ctx, score: { recall: number }) => {
        if (score.recall < 0.5) throw new CheckFailed(`recall ${score.recall} < 0.5`);
        return "ok";
      })
      .cell("report", () => "never")
      .cell("export", { needs: [], retries: 1, retryDelay: 0 }, () => {
        throw new TypeError("disk full");
      });
    let seen: RunOutcome | undefined;
    let rows: unknown;
    let refused: unknown;
    const { p, runs } = retrain([{
      after: "eval",
      when: async (outcome) => {
        seen = outcome;
        rows = await outcome.sql(`SELECT count(*)::INT AS n FROM outputs WHERE run_id = ?`, [outcome.runId]);
        refused = await outcome.sql(`DELETE FROM runs`).catch((err) => err);
        return outcome.failedCells.some((c) => c.check);
      },
      params: (outcome) => ({ reason: outcome.failedCells.filter((c) => c.check).map((c) => c.cell).join(",") }),
    }]);
    const scheduler = new Scheduler(s, runner, [p]);
    await scheduler.fireTriggers();
    const source = await runNow(s, runner, gated);
    expect(source.state).toBe("failed");
    await scheduler.runOnce();

    expect(seen).toMatchObject({
      pipeline: "eval", runId: source.runId, kind: "manual", state: "failed",
      logicalDate: DAY.start, dataInterval: DAY,
      outputs: { score: { recall: 0.42 } },
    });
    // Not report: it never ran (upstream_failed).
    expect([...seen!.failedCells].sort((a, b) => a.cell.localeCompare(b.cell))).toEqual([
      { cell: "export", error: "TypeError: disk full", check: false },
      { cell: "gate", error: "CheckFailed: recall 0.42 < 0.5", check: true },
    ]);
    expect(rows).toEqual([{ n: 1 }]);
    expect(refused).toBeInstanceOf(Error);
    expect((refused as Error).message).toBe(`outcome.sql("DELETE FROM runs"): expected a SELECT; a trigger reads the store, it does not write it`);
    expect((await listRuns(s, "eval")).length).toBe(1);
    expect(runs.map((r) => r.reason)).toEqual(["gate"]);
    expect((await runsOf(s, "retrain"))[0]).toMatchObject({ kind: "triggered", params: { reason: "gate" }, state: "success" });
  });

  it("never fires for `cellar cell` test runs, and fires for manual and triggered runs (a chain)", async () => {
    const s = await store();
    const runner = new Runner(s);
    const { p } = retrain([{ after: "eval" }]);
    const deploy = pipeline({ id: "deploy", triggers: [{ after: "retrain" }] }).cell("ship", () => "shipped");
    const scheduler = new Scheduler(s, runner, [p, deploy]);
    await scheduler.fireTriggers();
    await runNow(s, runner, evalOk, "cell");
    expect(await scheduler.fireTriggers()).toBe(0);
    expect(await evaluations(s)).toEqual([]);

    const manual = await runNow(s, runner, evalOk);
    await scheduler.runOnce();
    const [retrainRun] = await runsOf(s, "retrain");
    expect(retrainRun).toMatchObject({ triggeredBy: { pipeline: "eval", runId: manual.runId }, state: "success" });
    const [deployRun] = await runsOf(s, "deploy");
    expect(deployRun).toMatchObject({ kind: "triggered", triggeredBy: { pipeline: "retrain", runId: retrainRun.runId }, state: "success" });
    expect(iso(deployRun.logicalDate)).toBe(iso(DAY.start));
  });

  it("starts triggered runs like queued scheduled runs, at most maxActiveRuns at once", async () => {
    const s = await store();
    const runner = new Runner(s);
    let active = 0;
    let peak = 0;
    const p = pipeline({ id: "retrain", maxActiveRuns: 1, triggers: [{ after: "eval" }] }).cell("fit", { cache: false }, async () => {
      peak = Math.max(peak, ++active);
      await sleep(30);
      active--;
      return 1;
    });
    const scheduler = new Scheduler(s, runner, [p]);
    await scheduler.fireTriggers();
    for (let i = 0; i < 3; i++) await runNow(s, runner, evalOk);
    await scheduler.runOnce();
    expect((await runsOf(s, "retrain")).map((r) => r.state)).toEqual(["success", "success", "success"]);
    expect(peak).toBe(1);
  });
});

describe("triggers: exactly once", () => {
  it("a restarted scheduler neither judges nor fires a run again; two schedulers of one store judge it once", async () => {
    const s = await store();
    const calls: number[] = [];
    const when = (o: RunOutcome) => (calls.push(o.runId), true);
    const { p, runs } = retrain([{ after: "eval", when }]);
    const runner = new Runner(s);
    await new Scheduler(s, runner, [p]).fireTriggers();
    const first = await runNow(s, runner, evalOk);
    await new Scheduler(s, runner, [p]).runOnce();
    expect(calls).toEqual([first.runId]);
    expect(runs).toHaveLength(1);

    // A restart: new runner, new scheduler, same store.
    const again = new Scheduler(s, new Runner(s), [p]);
    await again.runOnce();
    expect(await again.fireTriggers()).toBe(0);
    expect(calls).toEqual([first.runId]);
    expect(runs).toHaveLength(1);

    // Two schedulers of the store look at the same ended run at the same time.
    const second = await runNow(s, runner, evalOk);
    const both = await Promise.all([new Scheduler(s, runner, [p]).fireTriggers(), new Scheduler(s, runner, [p]).fireTriggers()]);
    expect(both.sort()).toEqual([0, 1]);
    expect(calls).toEqual([first.runId, second.runId]);
    expect((await runsOf(s, "retrain")).map((r) => r.triggeredBy!.runId)).toEqual([first.runId, second.runId]);
    const keys = await s.query(`SELECT run_key FROM runs GROUP BY run_key HAVING count(*) > 1`);
    expect(keys).toEqual([]);
  });

  it("judges runs that ended while no scheduler ran, but not runs from before the trigger was first seen", async () => {
    const s = await store();
    const runner = new Runner(s);
    const history = await runNow(s, runner, evalOk); // before retrain's trigger was ever deployed
    const { p, runs } = retrain([{ after: "eval" }]);
    const firstStart = new Scheduler(s, runner, [p]);
    await firstStart.runOnce();
    expect(runs).toEqual([]);

    const whileDown = await runNow(s, runner, evalOk); // `cellar run eval` while the scheduler was stopped
    await new Scheduler(s, new Runner(s), [p]).runOnce();
    expect((await runsOf(s, "retrain")).map((r) => r.triggeredBy!.runId)).toEqual([whileDown.runId]);
    expect((await evaluations(s)).map((e) => e.after)).toEqual([whileDown.runId]);
    expect(history.runId).toBeLessThan(whileDown.runId);
  });

  it("judges a resumed run again when it ends again, and still fires at most one run for it", async () => {
    const s = await store();
    const runner = new Runner(s);
    let broken = true;
    const flaky = pipeline({ id: "ingest" }).cell("crawl", { cache: false }, () => {
      if (broken) throw new Error("host down");
      return 3;
    });
    const { p, runs } = retrain([{ after: "ingest" }]);
    const scheduler = new Scheduler(s, runner, [p]);
    await scheduler.fireTriggers();
    const run = await runNow(s, runner, flaky);
    expect(run.state).toBe("failed");
    await scheduler.runOnce();
    expect(runs).toEqual([]);

    await sleep(2); // a later end, to the millisecond
    broken = false;
    await runner.execute(flaky, run); // `cellar resume`
    await scheduler.runOnce();
    expect(runs).toHaveLength(1);
    expect((await evaluations(s)).map((e) => e.result)).toEqual(["not_met", "fired"]);
  });
});

describe("triggers: failures and promptness", () => {
  it("reports a throwing or hanging `when`, records it as failed, and keeps scheduling", async () => {
    const s = await store();
    const runner = new Runner(s);
    const errors: string[] = [];
    runner.on((e: RunEvent) => {
      if (e.type === "log" && e.level === "error") errors.push(e.message);
    });
    const calls: string[] = [];
    const broken = pipeline({
      id: "broken",
      triggers: [{ after: "eval", when: (o) => (calls.push("broken"), o.outputs.score as { missing: { x: number } }).missing.x > 1 }],
    }).cell("x", () => 1);
    const hanging = pipeline({ id: "hanging", triggers: [{ after: "eval", when: () => (calls.push("hanging"), new Promise<boolean>(() => {})) }] })
      .cell("x", () => 1);
    const badParams = pipeline({ id: "bad_params", params: { n: 1 }, triggers: [{ after: "eval", params: () => ({ m: 2 }) }] }).cell("x", () => 1);
    const { p, runs } = retrain([{ after: "eval" }]);
    const options = { triggerTimeoutMs: 50 };
    const scheduler = new Scheduler(s, runner, [broken, hanging, badParams, p], undefined, options);
    await scheduler.fireTriggers();
    const source = await runNow(s, runner, evalOk);
    await scheduler.runOnce();

    expect(runs).toHaveLength(1); // the healthy trigger still fired
    const failures = {
      broken: "TypeError: Cannot read properties of undefined (reading 'x')",
      hanging: "when did not settle within 50ms",
      bad_params: `params returned "m", not a param of "bad_params" (it has n)`,
    };
    expect(errors).toEqual(
      Object.entries(failures).map(([id, error]) => `pipeline "${id}" triggers[0] (after eval run ${source.runId}) failed: ${error}`),
    );
    const recorded = await s.query(`SELECT pipeline, result, fired_run_id, error FROM cellar_triggers.evaluations ORDER BY pipeline`);
    expect(recorded).toEqual([
      { pipeline: "bad_params", result: "failed", fired_run_id: null, error: failures.bad_params },
      { pipeline: "broken", result: "failed", fired_run_id: null, error: failures.broken },
      { pipeline: "hanging", result: "failed", fired_run_id: null, error: failures.hanging },
      { pipeline: "retrain", result: "fired", fired_run_id: BigInt(runs[0].runId), error: null },
    ]);
    for (const id of ["broken", "hanging", "bad_params"]) expect(await listRuns(s, id)).toEqual([]);

    // Failed judgements are final: a restart does not call `when` again.
    await new Scheduler(s, new Runner(s), [broken, hanging, badParams, p], undefined, options).runOnce();
    expect(calls).toEqual(["broken", "hanging"]);
  });

  it("the forever loop fires as soon as a run it waits on ends in its process, not at the next tick", async () => {
    const s = await store();
    const runner = new Runner(s);
    const { p, runs } = retrain([{ after: "eval" }]);
    // Nothing is scheduled: without a wake-up the loop would sleep for a minute.
    const stop = new AbortController();
    const loop = new Scheduler(s, runner, [p], at("2026-05-08T12:00:00Z")).run(stop.signal);
    try {
      // Once the loop has registered the trigger (what ends earlier is history), it has nothing to do but sleep.
      while ((await s.query(`SELECT 1 FROM cellar_triggers.registrations`)).length === 0) await sleep(5);
      await sleep(50);
      const t0 = performance.now();
      await runNow(s, runner, evalOk);
      while (runs.length === 0 && performance.now() - t0 < 5_000) await sleep(5);
      expect(runs).toHaveLength(1);
      expect(performance.now() - t0).toBeLessThan(2_000);
    } finally {
      stop.abort();
      await loop;
    }
    expect((await runsOf(s, "retrain"))[0].state).toBe("success");
  });
});
