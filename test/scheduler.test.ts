// The scheduler against real DuckDB files: Airflow's data-interval semantics,
// catchup, restarts, two schedulers on one database, DST, maxActiveRuns,
// resuming interrupted runs, `cellar backfill` and `cellar schedule`, and the
// forever loop's sleeping and stopping.
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { pipeline, type Pipeline, type PipelineOptions } from "../kernel/mod.ts";
import { metrics } from "../kernel/prometheus.ts";
import { Runner, type RunEvent, type RunResult } from "../kernel/runner.ts";
import { createScheduledRuns, listRuns, markInterrupted, type RunRecord } from "../kernel/run-records.ts";
import { Scheduler } from "../kernel/scheduler.ts";
import { Store } from "../kernel/store/store.ts";
import { cli, ROOT, storesClosedAfterEach, tempDir, TSX } from "./helpers.ts";

const FIXTURE = join(ROOT, "test/fixtures/scheduled.ts");
const HOUR = 3_600_000;

const store = storesClosedAfterEach();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const iso = (date: Date) => date.toISOString();

/** A clock the test moves by hand. */
function fakeClock(start: string) {
  const clock = { now: new Date(start), fn: () => new Date(clock.now) };
  return clock;
}

/** Runs oldest first, as [logical date, interval start, interval end, state]. */
async function runsOf(s: Store, id: string): Promise<Array<[string, string, string, string]>> {
  return (await listRuns(s, id)).reverse().map((r) => [iso(r.logicalDate), iso(r.interval.start), iso(r.interval.end), r.state]);
}

async function runCount(s: Store): Promise<number> {
  return Number((await s.query("SELECT count(*) AS n FROM runs"))[0].n);
}

function expectContiguous(runs: RunRecord[]): void {
  const sorted = [...runs].sort((a, b) => +a.logicalDate - +b.logicalDate);
  for (const run of sorted) expect(+run.logicalDate).toBe(+run.interval.start);
  for (let i = 1; i < sorted.length; i++) expect(+sorted[i].interval.start).toBe(+sorted[i - 1].interval.end);
}

/** A one-cell daily pipeline that counts its executions per logical date. */
function counting(id: string, options: Partial<PipelineOptions> = {}, work?: () => Promise<void>) {
  const executions = new Map<string, number>();
  const p = pipeline({ id, schedule: "@daily", startDate: "2026-05-01", catchup: true, ...options })
    .cell("work", async (ctx) => {
      const day = iso(ctx.logicalDate);
      executions.set(day, (executions.get(day) ?? 0) + 1);
      await work?.();
      return day;
    });
  return { p, executions };
}

describe("Scheduler: Airflow's data intervals", () => {
  it("creates the @weekly example's one run when its interval ends, and its cell sees that interval", async () => {
    const s = await store();
    const seen: Array<{ logicalDate: string; start: string; end: string }> = [];
    const p = pipeline({ id: "weekly", schedule: "@weekly", startDate: "2026-05-01", catchup: true }) // a Friday
      .cell("see", (ctx) => {
        seen.push({ logicalDate: iso(ctx.logicalDate), start: iso(ctx.dataInterval.start), end: iso(ctx.dataInterval.end) });
        return iso(ctx.logicalDate);
      });
    const clock = fakeClock("2026-05-09T23:59:00Z");
    const scheduler = new Scheduler(s, new Runner(s), [p], clock.fn);
    expect(await scheduler.createDueRuns()).toBe(0);
    clock.now = new Date("2026-05-09T23:59:59.999Z");
    await scheduler.runOnce();
    expect(await runCount(s)).toBe(0);
    expect(seen).toEqual([]);

    clock.now = new Date("2026-05-10T00:00:01Z");
    await scheduler.runOnce();
    expect(await runsOf(s, "weekly")).toEqual([
      ["2026-05-03T00:00:00.000Z", "2026-05-03T00:00:00.000Z", "2026-05-10T00:00:00.000Z", "success"],
    ]);
    expect((await listRuns(s, "weekly"))[0]).toMatchObject({ kind: "scheduled", runKey: "scheduled__2026-05-03T00:00:00.000Z" });
    expect(seen).toEqual([
      { logicalDate: "2026-05-03T00:00:00.000Z", start: "2026-05-03T00:00:00.000Z", end: "2026-05-10T00:00:00.000Z" },
    ]);
  });

  it("catches up every missed interval since startDate, and since the last run after a restart", async () => {
    const s = await store();
    const { p, executions } = counting("catchup");
    const clock = fakeClock("2026-05-08T12:00:00Z");
    await new Scheduler(s, new Runner(s), [p], clock.fn).runOnce();
    const first = await listRuns(s, "catchup");
    expect(first.map((r) => iso(r.logicalDate)).reverse()).toEqual([1, 2, 3, 4, 5, 6, 7].map((d) => `2026-05-0${d}T00:00:00.000Z`));
    expectContiguous(first);
    expect(first.every((r) => r.state === "success" && +r.interval.end - +r.interval.start === 24 * HOUR)).toBe(true);

    // Three days later a new scheduler (a restart) creates only the three new intervals.
    clock.now = new Date("2026-05-11T00:00:00Z");
    const restarted = new Scheduler(s, new Runner(s), [p], clock.fn);
    expect(await restarted.createDueRuns()).toBe(3);
    await restarted.runOnce();
    const all = await listRuns(s, "catchup");
    expect(all).toHaveLength(10);
    expect(iso(all[0].logicalDate)).toBe("2026-05-10T00:00:00.000Z");
    expectContiguous(all);
    expect([...executions.values()]).toEqual(Array(10).fill(1));
  });

  it("catches up from the latest run, not from startDate, when a backfill went further", async () => {
    const s = await store();
    const { p } = counting("after_backfill");
    const may5 = { start: new Date("2026-05-05T00:00:00Z"), end: new Date("2026-05-06T00:00:00Z") };
    expect(await createScheduledRuns(s, p.id, [may5], {}, "backfill")).toBe(1);
    expect(await new Scheduler(s, new Runner(s), [p], fakeClock("2026-05-08T00:00:00Z").fn).createDueRuns()).toBe(2);
    expect((await runsOf(s, p.id)).map((r) => [r[0].slice(0, 10), r[3]])).toEqual([
      ["2026-05-05", "queued"], ["2026-05-06", "queued"], ["2026-05-07", "queued"],
    ]);
  });

  it("without catchup creates only the latest interval, then only the latest again", async () => {
    const s = await store();
    const { p, executions } = counting("latest", { catchup: false });
    const clock = fakeClock("2026-05-08T12:00:00Z");
    await new Scheduler(s, new Runner(s), [p], clock.fn).runOnce();
    expect(await runsOf(s, "latest")).toEqual([
      ["2026-05-07T00:00:00.000Z", "2026-05-07T00:00:00.000Z", "2026-05-08T00:00:00.000Z", "success"],
    ]);
    clock.now = new Date("2026-05-11T12:00:00Z");
    await new Scheduler(s, new Runner(s), [p], clock.fn).runOnce();
    expect((await runsOf(s, "latest")).map((r) => r[0])).toEqual(["2026-05-07T00:00:00.000Z", "2026-05-10T00:00:00.000Z"]);
    expect([...executions.keys()]).toEqual(["2026-05-07T00:00:00.000Z", "2026-05-10T00:00:00.000Z"]);
  });

  it("never creates or executes a run twice across restarts", async () => {
    const s = await store();
    const { p, executions } = counting("restart");
    const clock = fakeClock("2026-05-06T00:00:00Z");
    expect(await new Scheduler(s, new Runner(s), [p], clock.fn).createDueRuns()).toBe(5);
    expect(await runCount(s)).toBe(5);
    const again = new Scheduler(s, new Runner(s), [p], clock.fn);
    expect(await again.createDueRuns()).toBe(0);
    expect(await runCount(s)).toBe(5);
    await again.runOnce();
    expect(await runCount(s)).toBe(5);
    await new Scheduler(s, new Runner(s), [p], clock.fn).runOnce();
    expect(await runCount(s)).toBe(5);
    expect(executions.size).toBe(5);
    expect([...executions.values()]).toEqual(Array(5).fill(1));
    const keys = await s.query("SELECT run_key, count(*) AS n FROM runs GROUP BY run_key HAVING count(*) > 1");
    expect(keys).toEqual([]);
  });

  it("stops at endDate: no run has a logical date after it", async () => {
    const s = await store();
    const clock = fakeClock("2026-05-20T00:00:00Z");
    const withCatchup = counting("ended", { endDate: "2026-05-04" });
    const latestOnly = counting("ended_latest", { endDate: "2026-05-04T12:00:00Z", catchup: false });
    const scheduler = new Scheduler(s, new Runner(s), [withCatchup.p, latestOnly.p], clock.fn);
    await scheduler.runOnce();
    expect((await runsOf(s, "ended")).map((r) => r[0])).toEqual([1, 2, 3, 4].map((d) => `2026-05-0${d}T00:00:00.000Z`));
    expect((await runsOf(s, "ended_latest")).map((r) => r[0])).toEqual(["2026-05-04T00:00:00.000Z"]);
    clock.now = new Date("2026-06-20T00:00:00Z");
    expect(await new Scheduler(s, new Runner(s), [withCatchup.p, latestOnly.p], clock.fn).createDueRuns()).toBe(0);
    expect(await runCount(s)).toBe(5);
  });

  it("schedules @daily in America/New_York across the spring-forward change at local midnights", async () => {
    const s = await store();
    const { p } = counting("dst", { timezone: "America/New_York", startDate: "2026-03-06T00:00:00-05:00" });
    // The interval of 2026-03-10 (local) ends at 2026-03-11 00:00 EDT = 04:00Z.
    await new Scheduler(s, new Runner(s), [p], fakeClock("2026-03-11T04:00:00Z").fn).runOnce();
    const runs = (await listRuns(s, "dst")).reverse();
    expect(runs.map((r) => iso(r.logicalDate))).toEqual([
      "2026-03-06T05:00:00.000Z", "2026-03-07T05:00:00.000Z", "2026-03-08T05:00:00.000Z",
      "2026-03-09T04:00:00.000Z", "2026-03-10T04:00:00.000Z",
    ]);
    expect(runs.map((r) => (+r.interval.end - +r.interval.start) / HOUR)).toEqual([24, 24, 23, 24, 24]);
    expectContiguous(runs);
    expect(runs.every((r) => r.state === "success")).toBe(true);
  });

  it("without catchup, across both DST changes, each look at the clock creates just the latest local day and leaves the next one in the future", async () => {
    const s = await store();
    const daily = pipeline({ id: "ny_daily", schedule: "@daily", timezone: "America/New_York", startDate: "2026-03-01" }).cell("x", () => 1);
    // 02:30 does not exist on 2026-03-08 in New York: that day's tick is at the jump, 03:00 EDT.
    const gap = pipeline({ id: "ny_0230", schedule: "30 2 * * *", timezone: "America/New_York", startDate: "2026-03-01" }).cell("x", () => 1);
    const clock = { now: new Date(0) };
    const scheduler = new Scheduler(s, new Runner(s), [daily, gap], () => clock.now);
    for (const [from, to] of [["2026-03-07T00:00:00Z", "2026-03-10T00:00:00Z"], ["2026-10-31T00:00:00Z", "2026-11-03T00:00:00Z"]]) {
      for (let t = Date.parse(from); t <= Date.parse(to); t += HOUR) {
        clock.now = new Date(t);
        await scheduler.createDueRuns();
        for (const p of [daily, gap]) {
          const [last] = await listRuns(s, p.id, { limit: 1 });
          // The latest run's interval has ended; the next one has not (else the forever loop would spin).
          expect(+last.interval.end).toBeLessThanOrEqual(t);
          expect(+p.timetable!.nextFireTime(last.logicalDate)!).toBeGreaterThan(t);
        }
      }
    }
    const runs = async (id: string) => (await listRuns(s, id)).reverse();
    const nyDaily = await runs("ny_daily");
    expect(nyDaily.map((r) => iso(r.logicalDate))).toEqual([
      "2026-03-05T05:00:00.000Z", "2026-03-06T05:00:00.000Z", "2026-03-07T05:00:00.000Z", "2026-03-08T05:00:00.000Z",
      "2026-10-29T04:00:00.000Z", "2026-10-30T04:00:00.000Z", "2026-10-31T04:00:00.000Z", "2026-11-01T04:00:00.000Z",
    ]);
    expect(nyDaily.map((r) => (+r.interval.end - +r.interval.start) / HOUR)).toEqual([24, 24, 24, 23, 24, 24, 24, 25]);
    expect((await runs("ny_0230")).slice(0, 4).map((r) => iso(r.logicalDate))).toEqual([
      "2026-03-05T07:30:00.000Z", "2026-03-06T07:30:00.000Z", "2026-03-07T07:30:00.000Z", "2026-03-08T07:00:00.000Z",
    ]);
  });
});

describe("Scheduler: executing runs", () => {
  it("measures a scheduled run's delay on its own clock, not the machine's", async () => {
    // Seen while writing the soak: on an injected clock years ahead, every delay was recorded as 0 (Date.now() - a future interval end).
    const s = await store();
    const { p } = counting("delay", { startDate: "2030-05-01" });
    const sum = async () =>
      (await metrics.scheduleDelay.get()).values.find((v) => v.metricName === "cellar_schedule_delay_seconds_sum" && v.labels.pipeline === "delay")?.value ?? 0;
    const before = await sum();
    await new Scheduler(s, new Runner(s), [p], fakeClock("2030-05-02T00:01:30Z").fn).runOnce();
    expect(await sum() - before).toBe(90);
  });

  it("runs at most maxActiveRuns at once, oldest logical date first, and finishes them all", async () => {
    const s = await store();
    let active = 0;
    let peak = 0;
    const starts: string[] = [];
    const p = pipeline({ id: "bounded", schedule: "@daily", startDate: "2026-05-01", catchup: true, maxActiveRuns: 2 })
      .cell("work", async (ctx) => {
        starts.push(iso(ctx.logicalDate));
        peak = Math.max(peak, ++active);
        await sleep(100);
        active--;
        return null;
      });
    const t0 = performance.now();
    await new Scheduler(s, new Runner(s), [p], fakeClock("2026-05-07T00:00:00Z").fn).runOnce();
    const elapsed = performance.now() - t0;
    expect(peak).toBe(2);
    expect(elapsed).toBeGreaterThan(290); // three waves of two
    const days = [1, 2, 3, 4, 5, 6].map((d) => `2026-05-0${d}T00:00:00.000Z`);
    // Each wave of two starts before the next; within a wave the order of the two is the runner's.
    expect(starts.slice(0, 2).sort()).toEqual(days.slice(0, 2));
    expect(starts.slice(2, 4).sort()).toEqual(days.slice(2, 4));
    expect(starts.slice(4).sort()).toEqual(days.slice(4));
    expect((await runsOf(s, "bounded")).map((r) => [r[0], r[3]])).toEqual(days.map((d) => [d, "success"]));
    const started = await s.query("SELECT logical_date FROM runs ORDER BY started_at, logical_date");
    expect(started.map((r) => iso(new Date(r.logical_date as Date)))).toEqual(days);
  });

  it("finishes an interrupted scheduled run without re-executing cells that had outputs", async () => {
    const s = await store();
    const executed: string[] = [];
    let release = false;
    const p = pipeline({ id: "resumable", schedule: "@daily", startDate: "2026-05-01", catchup: true })
      .cell("first", (ctx) => {
        executed.push(`first ${iso(ctx.logicalDate).slice(0, 10)}`);
        return 1;
      })
      .cell("second", async (ctx) => {
        executed.push(`second ${iso(ctx.logicalDate).slice(0, 10)}`);
        while (!release) {
          if (ctx.signal.aborted) throw ctx.signal.reason;
          await sleep(10);
        }
        return 2;
      });
    const clock = fakeClock("2026-05-02T00:00:01Z");
    const runner = new Runner(s);
    runner.on((e: RunEvent) => {
      if (e.type === "cell" && e.cell === "second" && e.state === "running") setTimeout(() => runner.cancel(), 30);
    });
    await new Scheduler(s, runner, [p], clock.fn).runOnce();
    expect(await runsOf(s, "resumable")).toEqual([
      ["2026-05-01T00:00:00.000Z", "2026-05-01T00:00:00.000Z", "2026-05-02T00:00:00.000Z", "interrupted"],
    ]);
    expect(executed).toEqual(["first 2026-05-01", "second 2026-05-01"]);

    // A run of the next day, created and then marked interrupted by SQL before it ever ran.
    clock.now = new Date("2026-05-03T00:00:01Z");
    expect(await new Scheduler(s, new Runner(s), [p], clock.fn).createDueRuns()).toBe(1);
    await s.query(`UPDATE runs SET state = 'interrupted' WHERE logical_date = '2026-05-02T00:00:00Z'`);

    release = true;
    await new Scheduler(s, new Runner(s), [p], clock.fn).runOnce();
    expect((await runsOf(s, "resumable")).map((r) => r[3])).toEqual(["success", "success"]);
    // The two runs resume side by side (maxActiveRuns), so only each run's own order is fixed.
    const ofDay = (day: string) => executed.filter((e) => e.endsWith(day));
    expect(ofDay("2026-05-01")).toEqual(["first 2026-05-01", "second 2026-05-01", "second 2026-05-01"]);
    expect(ofDay("2026-05-02")).toEqual(["first 2026-05-02", "second 2026-05-02"]);
    const attempts = await s.query(
      `SELECT cell, try_number, attempts.state FROM attempts JOIN runs USING (run_id) WHERE logical_date = '2026-05-01T00:00:00Z' ORDER BY cell, try_number`,
    );
    expect(attempts.map((a) => `${a.cell}#${a.try_number}:${a.state}`)).toEqual(["first#1:success", "second#1:cancelled", "second#2:success"]);
  });

  it("resumes a run left 'running' by a process that died, once the store is reopened", async () => {
    const s = await store();
    const { p, executions } = counting("died");
    const clock = fakeClock("2026-05-03T00:00:00Z");
    await new Scheduler(s, new Runner(s), [p], clock.fn).createDueRuns();
    // The dead process had claimed the first run; opening the store marks it interrupted.
    await s.query(`UPDATE runs SET state = 'running' WHERE logical_date = '2026-05-01T00:00:00Z'`);
    await markInterrupted(s);
    await new Scheduler(s, new Runner(s), [p], clock.fn).runOnce();
    expect((await runsOf(s, "died")).map((r) => r[3])).toEqual(["success", "success"]);
    expect([...executions.values()]).toEqual([1, 1]);
  });

  it("two schedulers on one store execute each run exactly once, and share maxActiveRuns", async () => {
    const s = await store();
    let active = 0;
    let peak = 0;
    const { p, executions } = counting("shared", { maxActiveRuns: 2 }, async () => {
      peak = Math.max(peak, ++active);
      await sleep(250); // long beside a run's start on a loaded machine, so that two runs overlap
      active--;
    });
    const clock = fakeClock("2026-05-11T00:00:00Z");
    const a = new Scheduler(s, new Runner(s), [p], clock.fn);
    const b = new Scheduler(s, new Runner(s), [p], clock.fn);
    await Promise.all([a.runOnce(), b.runOnce(), a.runOnce(), b.runOnce()]);
    expect(peak).toBe(2);
    expect(await runCount(s)).toBe(10);
    expect(executions.size).toBe(10);
    expect([...executions.values()]).toEqual(Array(10).fill(1));
    expect((await runsOf(s, "shared")).every((r) => r[3] === "success")).toBe(true);
    const keys = await s.query("SELECT run_key FROM runs GROUP BY run_key HAVING count(*) > 1");
    expect(keys).toEqual([]);
  });
});

describe("Scheduler: a run the runner cannot execute", () => {
  it("is marked failed, with an error event, instead of staying 'running'", async () => {
    const s = await store();
    class BrokenRunner extends Runner {
      override execute(): Promise<RunResult> {
        return Promise.reject(new Error("bookkeeping broke"));
      }
    }
    const runner = new BrokenRunner(s);
    const events: RunEvent[] = [];
    runner.on((e) => events.push(e));
    const { p } = counting("broken");
    await new Scheduler(s, runner, [p], fakeClock("2026-05-02T00:00:00Z").fn).runOnce();
    const [run] = await listRuns(s, "broken");
    expect(run.state).toBe("failed");
    expect(run.endedAt).not.toBeNull();
    expect(events).toEqual([
      { type: "log", runId: run.runId, cell: "", level: "error", message: `run ${run.runId} could not be executed: bookkeeping broke` },
    ]);
  });
});

/** Claims and "executes" a run at once, without cells: a run that ends while the scheduler is still busy. */
class InstantRunner extends Runner {
  readonly executed: number[] = [];
  constructor(private readonly s: Store) {
    super(s);
  }
  override async execute(_pipeline: Pipeline, run: RunRecord): Promise<RunResult> {
    this.executed.push(run.runId);
    await this.s.query(`UPDATE runs SET state = 'success' WHERE run_id = ?`, [run.runId]);
    return { runId: run.runId, state: "success", cells: new Map(), outputs: new Map() };
  }
}

/** Resolves to how long `promise` took, or to Infinity after `limitMs` (without waiting for it). */
async function timed(promise: Promise<unknown>, limitMs: number): Promise<number> {
  const t0 = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<number>((resolve) => (timer = setTimeout(() => resolve(Infinity), limitMs)));
  try {
    return await Promise.race([promise.then(() => performance.now() - t0), limit]);
  } finally {
    clearTimeout(timer);
  }
}

describe("Scheduler.run: the forever loop", () => {
  it("with a real clock and an every-second schedule, creates and executes each second's run, and stops at once on abort", async () => {
    const s = await store();
    const executed: string[] = [];
    // catchup from the current second, so that a loop slowed down by a busy machine still leaves no gaps.
    const startDate = new Date(Math.floor(Date.now() / 1_000) * 1_000);
    const p = pipeline({ id: "secondly", schedule: "* * * * * *", startDate, catchup: true }).cell("tick", (ctx) => {
      executed.push(iso(ctx.logicalDate));
      return null;
    });
    const stop = new AbortController();
    const loop = new Scheduler(s, new Runner(s), [p]).run(stop.signal);
    const t0 = performance.now();
    while (executed.length < 2 && performance.now() - t0 < 6_000) await sleep(20);
    expect(executed.length).toBeGreaterThanOrEqual(2);
    stop.abort();
    expect(await timed(loop, 3_000)).toBeLessThan(1_000);
    const runs = (await listRuns(s, "secondly")).reverse();
    expect(runs.length).toBeGreaterThanOrEqual(2);
    expect(iso(runs[0].logicalDate)).toBe(iso(startDate));
    expect(runs.every((r) => r.state === "success")).toBe(true);
    expectContiguous(runs);
    for (const run of runs) {
      expect(+run.interval.end - +run.interval.start).toBe(1_000);
      // Created once its interval had ended, never before; and soon after (the loop slept until then, not 60 s).
      expect(+run.createdAt - +run.interval.end).toBeGreaterThanOrEqual(-2);
      expect(+run.createdAt - +run.interval.end).toBeLessThan(2_000);
    }
  });

  it("sleeps until the next interval ends, without spinning", async () => {
    const s = await store();
    // The clock runs in real time but reads 600 ms before 2026-05-10T00:00Z, when May 9's interval ends.
    const offset = +new Date("2026-05-10T00:00:00Z") - 600 - Date.now();
    let reads = 0;
    const clock = () => (reads++, new Date(Date.now() + offset));
    const { p, executions } = counting("waking", { startDate: "2026-05-08" });
    const stop = new AbortController();
    const t0 = performance.now();
    const loop = new Scheduler(s, new Runner(s), [p], clock).run(stop.signal);
    while (!executions.has("2026-05-09T00:00:00.000Z") && performance.now() - t0 < 3_000) await sleep(5);
    const waited = performance.now() - t0;
    expect([...executions.keys()]).toEqual(["2026-05-08T00:00:00.000Z", "2026-05-09T00:00:00.000Z"]);
    expect(waited).toBeGreaterThanOrEqual(550);
    expect(waited).toBeLessThan(3_000);
    expect(reads).toBeLessThan(20);
    stop.abort();
    expect(await timed(loop, 3_000)).toBeLessThan(1_000);
  });

  it("stops promptly when aborted while busy rather than asleep", async () => {
    const s = await store();
    const stop = new AbortController();
    // The abort lands while the loop looks at the clock; nothing is due for 12 h, so the next sleep would be 60 s.
    const clock = () => (stop.abort(), new Date("2026-05-08T12:00:00Z"));
    const { p } = counting("aborting", { startDate: "2026-05-08" });
    const took = await timed(new Scheduler(s, new Runner(s), [p], clock).run(stop.signal), 5_000);
    expect(took).toBeLessThan(1_000);
    expect(await runCount(s)).toBe(0);
  });

  it("starts the next queued run as soon as one ends, even when it ends while the loop is busy", async () => {
    const s = await store();
    const { p } = counting("serial", { maxActiveRuns: 1 });
    const runner = new InstantRunner(s);
    const stop = new AbortController();
    const loop = new Scheduler(s, runner, [p], fakeClock("2026-05-04T00:00:00Z").fn).run(stop.signal);
    const t0 = performance.now();
    while (runner.executed.length < 3 && performance.now() - t0 < 3_000) await sleep(5);
    expect(runner.executed).toHaveLength(3);
    stop.abort();
    expect(await timed(loop, 3_000)).toBeLessThan(1_000);
  });
});

/** `cellar schedule` as a long-running child: `waitFor` polls its stderr, `closed` resolves when it exits. */
function startSchedule(args: string[], env: Record<string, string>) {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, ["--import", TSX, join(ROOT, "kernel/cli.ts"), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
  });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  child.stdout.resume();
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal }))
  );
  const waitFor = async (until: (stderr: string) => boolean, limitMs = 15_000) => {
    const t0 = performance.now();
    while (!until(stderr) && performance.now() - t0 < limitMs && child.exitCode === null) await sleep(25);
    if (!until(stderr)) throw new Error(`cellar schedule never got there; stderr:\n${stderr}`);
  };
  return { child, closed, waitFor, stderr: () => stderr };
}

/** "YYYY-MM-DD" of `days` days before today (UTC). */
const daysAgo = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString().slice(0, 10);

const logLines = (file: string) => readFileSync(file, "utf8").split("\n").filter(Boolean);

async function withStoreAt<T>(db: string, body: (s: Store) => Promise<T>): Promise<T> {
  const s = await Store.open(db);
  try {
    return await body(s);
  } finally {
    await s.close();
  }
}

describe("cellar backfill and cellar schedule", () => {
  it("backfills May 1..7 once, re-runs nothing the second time, and lists the runs", async () => {
    const dir = tempDir();
    const db = join(dir, "db.duckdb");
    const log = join(dir, "log");
    writeFileSync(log, "");
    const env = { SCHEDULED_LOG: log };
    const first = await cli(["--db", db, "backfill", FIXTURE, "--from", "2026-05-01", "--to", "2026-05-07"], { env });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain("backfill scheduled: 7 intervals, 7 new runs");
    const days = [1, 2, 3, 4, 5, 6, 7].map((d) => `2026-05-0${d}`);
    expect(logLines(log).sort()).toEqual(["extract", "load", "report"].flatMap((c) => days.map((d) => `${c} ${d}`)).sort());

    const again = await cli(["--db", db, "backfill", FIXTURE, "--from", "2026-05-01", "--to", "2026-05-07"], { env });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain("backfill scheduled: 7 intervals, 0 new runs");
    expect(logLines(log)).toHaveLength(21);

    const listed = await cli(["--db", db, "runs", "scheduled", "--json"]);
    expect(listed.code, listed.stderr).toBe(0);
    const runs = JSON.parse(listed.stdout) as Array<Record<string, any>>;
    expect(runs.map((r) => [r.kind, r.logicalDate, r.interval.start, r.interval.end, r.state])).toEqual(
      [...days].reverse().map((d) => {
        const next = new Date(Date.parse(`${d}T00:00:00Z`) + 86_400_000).toISOString();
        return ["backfill", `${d}T00:00:00.000Z`, `${d}T00:00:00.000Z`, next, "success"];
      }),
    );
    expect(new Set(runs.map((r) => r.runId)).size).toBe(7);
  });

  it("re-runs only the failed cells of a failed run in the range, and refuses bad input", async () => {
    const dir = tempDir();
    const db = join(dir, "db.duckdb");
    const log = join(dir, "log");
    writeFileSync(log, "");
    const backfill = (to: string, env: Record<string, string> = {}) =>
      cli(["--db", db, "backfill", FIXTURE, "--from", "2026-05-01", "--to", to], { env: { SCHEDULED_LOG: log, ...env } });
    const [failed, reversed, unscheduled] = await Promise.all([
      backfill("2026-05-04", { SCHEDULED_FAIL: "2026-05-03" }),
      cli(["--db", join(dir, "other.duckdb"), "backfill", FIXTURE, "--from", "2026-05-07", "--to", "2026-05-01"]),
      cli(["--db", join(dir, "other2.duckdb"), "backfill", join(ROOT, "test/fixtures/basic.ts"), "--from", "2026-05-01", "--to", "2026-05-07"]),
    ]);
    // A failed run makes the backfill exit 1. (Soft, so the rest still runs: cli.ts's runPool loses the
    // failure when another run that started earlier finishes later; see the report for the patch.)
    expect.soft(failed.code, failed.stderr).toBe(1);
    expect(failed.stderr).toMatch(/load: failed after 1 try.*load failed on 2026-05-03/);
    expect(logLines(log).filter((l) => l.endsWith("2026-05-03"))).toEqual(["extract 2026-05-03", "load 2026-05-03"]);
    expect(logLines(log)).toHaveLength(4 + 4 + 3);

    expect(reversed.code).toBe(2);
    expect(reversed.stderr).toBe("cellar: --from 2026-05-07 is after --to 2026-05-01\n");
    expect(unscheduled.code).toBe(2);
    expect(unscheduled.stderr).toBe(`cellar: pipeline "basic" has no schedule; backfill needs one\n`);

    // The same range and one more day: the failed run re-runs load and report only, the new day everything.
    writeFileSync(log, "");
    const fixed = await backfill("2026-05-05");
    expect(fixed.code, fixed.stderr).toBe(0);
    expect(fixed.stderr).toContain("backfill scheduled: 5 intervals, 1 new runs");
    expect(logLines(log).sort()).toEqual(["extract 2026-05-05", "load 2026-05-03", "load 2026-05-05", "report 2026-05-03", "report 2026-05-05"]);
    await withStoreAt(db, async (s) => {
      expect((await runsOf(s, "scheduled")).map((r) => [r[0].slice(0, 10), r[3]])).toEqual(
        ["2026-05-01", "2026-05-02", "2026-05-03", "2026-05-04", "2026-05-05"].map((d) => [d, "success"]),
      );
      const attempts = await s.query(
        `SELECT cell, try_number, attempts.state FROM attempts JOIN runs USING (run_id)
         WHERE logical_date = '2026-05-03T00:00:00Z' ORDER BY cell, try_number`,
      );
      expect(attempts.map((a) => `${a.cell}#${a.try_number}:${a.state}`)).toEqual([
        "extract#1:success", "load#1:failed", "load#2:success", "report#0:upstream_failed", "report#1:success",
      ]);
    });
  });

  it("a second `cellar schedule` on the same database is refused; the first stops cleanly on SIGINT", async () => {
    const dir = tempDir();
    const db = join(dir, "db.duckdb");
    const log = join(dir, "log");
    writeFileSync(log, "");
    // Catchup from three days ago: three runs are due at once.
    const days = [3, 2, 1].map(daysAgo);
    const env = { SCHEDULED_LOG: log, SCHEDULED_START: days[0] };
    const first = startSchedule(["--db", db, "schedule", FIXTURE], env);
    try {
      await first.waitFor((err) => (err.match(/run \d+ scheduled: success/g) ?? []).length === 3);
      expect(first.stderr()).toContain(`scheduling scheduled on ${db}`);

      const second = await cli(["--db", db, "schedule", FIXTURE], { env });
      expect(second.code).toBe(2);
      const lines = second.stderr.split("\n").filter(Boolean);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(db);
      expect(lines[0]).toContain(`PID ${first.child.pid}`);
      expect(lines[0]).toMatch(/^cellar: database .* is held for writing by another process/);

      first.child.kill("SIGINT");
      const exit = await first.closed;
      expect(exit).toEqual({ code: 0, signal: null });
    } finally {
      first.child.kill("SIGKILL");
    }
    expect(logLines(log)).toHaveLength(9);
    await withStoreAt(db, async (s) => {
      const runs = await runsOf(s, "scheduled");
      expect(runs.map((r) => [r[0].slice(0, 10), r[3]])).toEqual(days.map((d) => [d, "success"]));
      expect(await s.query("SELECT run_key FROM runs GROUP BY run_key HAVING count(*) > 1")).toEqual([]);
    });
  });
});
