// Scheduler soak (issue 14, item 4): @hourly and @daily in Europe/Berlin and America/New_York
// across DST changes, on an injected clock, against a real DuckDB file, with two Schedulers on
// the one Store ticking concurrently in random order, schedulers dropped and replaced at random
// (half of them while their tick is still in flight, so that their look and inserts race the
// new one's), and the store closed and reopened as a process restart would, sometimes with
// runs left claimed by the "dead" process. Afterwards each pipeline's runs must be exactly the
// intervals of the calendar (computed here with Intl, not croner): contiguous, unique, none
// missing, each succeeded and executed once.
//
// The Scheduler creates runs and also executes them (startQueuedRuns → Runner.execute), so
// the soak executes them: the @daily ones through the real Runner (one trivial cell). A real
// run costs ~20 ms of DuckDB writes, so the @hourly ones go through QuickRunner: it counts the
// call and marks the run succeeded, as the Runner ends — the scheduler's claim path is the same.
//
// Quick form (the normal suite): Oct 2026 .. Mar 2027, @daily whole, @hourly in the weeks of
// each DST change. Long form (`npm run test:soak`, SOAK=long): 5 years of both, 2026..2030.
// SOAK_SEED=<n> replays a seed.
import { rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { pipeline, type Pipeline } from "../../kernel/mod.ts";
import { claimRun, markInterrupted, retryConflicts, type RunRecord } from "../../kernel/run-records.ts";
import { Runner, type RunResult } from "../../kernel/runner.ts";
import { Scheduler } from "../../kernel/scheduler.ts";
import { CellState, RunState, sqlState } from "../../kernel/state.ts";
import { Store } from "../../kernel/store/store.ts";
import { tempDir } from "../helpers.ts";
import { rng } from "../random.ts";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const LONG = process.env.SOAK === "long";
const SEED = process.env.SOAK_SEED !== undefined ? Number(process.env.SOAK_SEED) : Math.floor(Math.random() * 2 ** 31);

interface Plan {
  schedule: "@hourly" | "@daily";
  zone: "Europe/Berlin" | "America/New_York";
  /** First and last local day (inclusive). */
  from: string;
  to: string;
}

/** Executions per logical date (ms), per pipeline id: counted by the cell, or by QuickRunner. */
const executions = new Map<string, Map<number, number>>();

function countExecution(id: string, logicalDate: Date): void {
  const counts = executions.get(id)!;
  counts.set(+logicalDate, (counts.get(+logicalDate) ?? 0) + 1);
}

/** The real Runner for @daily; for @hourly, the end the Runner comes to with one cell that succeeds, without its ~20 ms of writes. */
class QuickRunner extends Runner {
  constructor(private readonly db: Store) {
    super(db);
  }

  override async execute(p: Pipeline, run: RunRecord): Promise<RunResult> {
    if (p.timetable?.schedule !== "@hourly") return await super.execute(p, run);
    countExecution(p.id, run.logicalDate);
    await retryConflicts(() =>
      this.db.transaction((conn) =>
        conn.run(
          `UPDATE runs SET state = ${sqlState(RunState.Success)}, started_at = now(), ended_at = now() WHERE run_id = ? AND state = ${sqlState(RunState.Running)}`,
          [run.runId],
        )
      )
    );
    return { runId: run.runId, state: RunState.Success, cells: new Map([["tick", CellState.Success]]), outputs: new Map([["tick", +run.logicalDate]]) };
  }
}

/** The UTC instant of local midnight starting `day` (YYYY-MM-DD) in `zone`; neither zone changes its clocks at midnight. */
function localMidnight(day: string, zone: string): number {
  const guess = Date.parse(`${day}T00:00:00Z`);
  const offset = (t: number) => {
    const p = Object.fromEntries(
      new Intl.DateTimeFormat("en-CA", {
        timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
      }).formatToParts(new Date(t)).map((x) => [x.type, x.value]),
    );
    return Date.parse(`${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}:00Z`) - t;
  };
  const t = guess - offset(guess);
  return guess - offset(t);
}

const nextDay = (day: string) => new Date(Date.parse(`${day}T00:00:00Z`) + DAY).toISOString().slice(0, 10);

/** The intervals' starts and the last end, from the calendar: local midnights for @daily, every real hour for @hourly. */
function expectedStarts(plan: Plan): { starts: number[]; end: number } {
  const end = localMidnight(nextDay(plan.to), plan.zone);
  const starts: number[] = [];
  if (plan.schedule === "@hourly") {
    for (let t = localMidnight(plan.from, plan.zone); t < end; t += HOUR) starts.push(t);
  } else {
    for (let day = plan.from; day <= plan.to; day = nextDay(day)) starts.push(localMidnight(day, plan.zone));
  }
  return { starts, end };
}

function soakPipeline(plan: Plan, index: number): Pipeline {
  const id = `${plan.schedule.slice(1)}_${plan.zone.split("/")[1].toLowerCase()}_${index}`;
  executions.set(id, new Map());
  return pipeline({
    id, schedule: plan.schedule, timezone: plan.zone, catchup: true, maxActiveRuns: 4,
    startDate: new Date(localMidnight(plan.from, plan.zone)).toISOString(),
    endDate: new Date(localMidnight(nextDay(plan.to), plan.zone) - 1).toISOString(),
  }).cell("tick", (ctx) => {
    countExecution(id, ctx.logicalDate);
    return +ctx.logicalDate;
  });
}

/** How far the clock moves between two looks: mostly minutes or hours, sometimes days (every scheduler was down). */
function step(random: () => number, now: number): number {
  const r = random();
  if (!LONG) return Math.floor(longStep(random, now, r) / 2); // more looks per simulated day in the short quick form
  return longStep(random, now, r);
}

function longStep(random: () => number, now: number, r: number): number {
  if (r < 0.05) return 0; // two looks at the same instant
  if (r < 0.15) return Math.ceil((now + 1) / HOUR) * HOUR - now; // exactly when an interval ends
  if (r < 0.6) return Math.floor(random() * 90 * MINUTE);
  if (r < 0.95) return Math.floor(random() * DAY);
  return Math.floor(random() * 6 * DAY);
}

interface Figures {
  ticks: number;
  restarts: number;
  inFlightRestarts: number;
  reopens: number;
  leftClaimed: number;
}

/**
 * A process dying just after its last look at the clock, holding some of the runs it created there as
 * claimed (before their cells ran): they stay running until the store is next opened.
 */
async function dieHoldingRuns(store: Store, dying: Scheduler, random: () => number): Promise<number> {
  if ((await dying.createDueRuns()) === 0) return 0;
  const queued = await store.query(`SELECT run_id FROM runs WHERE state = ${sqlState(RunState.Queued)} ORDER BY run_id`);
  const taken = queued.filter(() => random() < 0.7).slice(0, 6).map((r) => Number(r.run_id));
  for (const id of taken) await claimRun(store, id);
  return taken.length;
}

async function soak(plans: Plan[], random: () => number): Promise<{ store: Store; pipelines: Pipeline[]; figures: Figures }> {
  const pipelines = plans.map(soakPipeline);
  const path = join(tempDir("cellar-soak-"), "cellar.duckdb");
  onTestFinished(() => rmSync(dirname(path), { recursive: true, force: true }));
  let store = await Store.open(path);
  let now = Math.min(...plans.map((p) => localMidnight(p.from, p.zone))) - 3 * HOUR;
  const end = Math.max(...plans.map((p) => expectedStarts(p).end)) + DAY;
  const make = () => new Scheduler(store, new QuickRunner(store), pipelines, () => new Date(now));
  let schedulers = [make(), make()];
  /** Ticks of dropped schedulers, still going: a dead process's last transaction may still land. */
  const orphans: Promise<void>[] = [];
  const figures: Figures = { ticks: 0, restarts: 0, inFlightRestarts: 0, reopens: 0, leftClaimed: 0 };
  while (now < end) {
    now += step(random, now);
    const r = random();
    if (r < 0.02) {
      await Promise.all(orphans.splice(0));
      if (random() < 0.6) {
        now += Math.floor(random() * 6 * HOUR); // how long the dying process lived past its last full tick
        figures.leftClaimed += await dieHoldingRuns(store, schedulers[0], random);
      }
      await store.close();
      store = await Store.open(path);
      await markInterrupted(store); // what Cellar does on opening a store
      schedulers = [make(), make()];
      figures.reopens++;
    } else if (r < 0.1) {
      const i = random() < 0.5 ? 0 : 1;
      if (random() < 0.5) {
        orphans.push(schedulers[i].runOnce());
        figures.inFlightRestarts++;
      }
      schedulers[i] = make();
      figures.restarts++;
    }
    const order = random() < 0.5 ? [schedulers[0], schedulers[1]] : [schedulers[1], schedulers[0]];
    await Promise.all((random() < 0.7 ? order : order.slice(0, 1)).map((s) => s.runOnce()));
    figures.ticks++;
  }
  await Promise.all(orphans);
  await make().runOnce(); // a last look, after every orphan has landed
  return { store, pipelines, figures };
}

/** What is wrong with one pipeline's runs, against the calendar: an empty list when nothing is. */
async function check(store: Store, id: string, plan: Plan): Promise<string[]> {
  const rows = await store.query(
    `SELECT epoch_ms(logical_date) AS l, epoch_ms(interval_start) AS s, epoch_ms(interval_end) AS e, state, kind
     FROM runs WHERE pipeline = ? ORDER BY interval_start, run_id`,
    [id],
  );
  const runs = rows.map((r) => ({ l: Number(r.l), s: Number(r.s), e: Number(r.e), state: String(r.state), kind: String(r.kind) }));
  const { starts, end } = expectedStarts(plan);
  const problems: string[] = [];
  const say = (what: string) => problems.length < 20 && problems.push(`${id}: ${what}`);
  const at = (t: number) => new Date(t).toISOString();
  const got = new Set(runs.map((r) => r.s));
  for (const s of starts) if (!got.has(s)) say(`missing ${at(s)}`);
  const expected = new Set(starts);
  for (const [i, run] of runs.entries()) {
    if (!expected.has(run.s)) say(`${at(run.s)}: no such interval`);
    if (i > 0 && run.s === runs[i - 1].s) say(`${at(run.s)}: doubled`);
    const next = starts[starts.indexOf(run.s) + 1] ?? end;
    if (run.e !== next) say(`${at(run.s)}: ends ${at(run.e)}, not ${at(next)}`);
    if (run.l !== run.s || run.kind !== "scheduled") say(`${at(run.s)}: logical date ${at(run.l)}, kind ${run.kind}`);
    if (run.state !== RunState.Success) say(`${at(run.s)}: ${run.state}`);
    const times = executions.get(id)!.get(run.l) ?? 0;
    if (times !== 1) say(`${at(run.s)}: executed ${times} times`);
  }
  const stray = [...executions.get(id)!.keys()].filter((l) => !expected.has(l));
  if (stray.length) say(`${stray.length} executions of no interval`);
  return problems;
}

/** The DST changes a plan crosses: its local days that are not 24 hours long. */
function dstDays(plan: Plan): number {
  const { starts, end } = expectedStarts(plan);
  let changes = 0;
  for (let day = plan.from; day <= plan.to; day = nextDay(day)) {
    if (localMidnight(nextDay(day), plan.zone) - localMidnight(day, plan.zone) !== DAY) changes++;
  }
  return starts.length && end ? changes : 0;
}

const ZONES = ["Europe/Berlin", "America/New_York"] as const;
/**
 * The quick form: a fortnight or so around each season's changes (Berlin Oct 25 and Mar 28, New York Nov 1
 * and Mar 14), @daily across it and @hourly in the days around each zone's own change.
 */
const QUICK: Record<string, Plan[]> = {
  autumn: [
    { schedule: "@daily", zone: "Europe/Berlin", from: "2026-10-22", to: "2026-11-03" },
    { schedule: "@daily", zone: "America/New_York", from: "2026-10-22", to: "2026-11-03" },
    { schedule: "@hourly", zone: "Europe/Berlin", from: "2026-10-23", to: "2026-10-27" },
    { schedule: "@hourly", zone: "America/New_York", from: "2026-10-30", to: "2026-11-03" },
  ],
  spring: [
    { schedule: "@daily", zone: "Europe/Berlin", from: "2027-03-11", to: "2027-03-30" },
    { schedule: "@daily", zone: "America/New_York", from: "2027-03-11", to: "2027-03-30" },
    { schedule: "@hourly", zone: "America/New_York", from: "2027-03-12", to: "2027-03-16" },
    { schedule: "@hourly", zone: "Europe/Berlin", from: "2027-03-26", to: "2027-03-30" },
  ],
};
const LONG_PLANS: Record<string, Plan[]> = {
  "5 years": ZONES.flatMap((zone) => [
    { schedule: "@daily" as const, zone, from: "2026-01-01", to: "2030-12-31" },
    { schedule: "@hourly" as const, zone, from: "2026-01-01", to: "2030-12-31" },
  ]),
};

describe("scheduler soak: two schedulers on one store, restarted at random, across DST in Berlin and New York", () => {
  console.log(`scheduler soak: seed ${SEED} (SOAK_SEED=${SEED} replays)${LONG ? ", long form" : ""}`);
  for (const [name, plans] of Object.entries(LONG ? LONG_PLANS : QUICK)) {
    it(`${name} of @hourly and @daily: exactly one run per interval, executed once (seed ${SEED})`, async () => {
      const t0 = performance.now();
      const { store, pipelines, figures } = await soak(plans, rng(SEED));
      try {
        const problems: string[] = [];
        for (const [i, p] of pipelines.entries()) problems.push(...await check(store, p.id, plans[i]));
        const intervals = plans.reduce((n, p) => n + expectedStarts(p).starts.length, 0);
        const dst = plans.map(dstDays);
        console.log(JSON.stringify({
          soak: "scheduler", form: LONG ? "long" : "quick", name, seed: SEED, intervals, ...figures,
          dstChanges: dst.reduce((n, d) => n + d, 0), seconds: Math.round(performance.now() - t0) / 1000,
        }));
        expect(problems).toEqual([]);
        // The soak must cross DST changes and restart schedulers, or it proves nothing.
        expect(dst.every((d) => d > 0)).toBe(true);
        expect(figures.restarts).toBeGreaterThan(0);
      } finally {
        await store.close();
      }
    }, LONG ? 7_200_000 : 120_000);
  }
});
