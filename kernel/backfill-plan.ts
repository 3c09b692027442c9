/**
 * Which runs a backfill executes, by Airflow 3's reprocess behaviours: none runs only the dates that have
 * no run yet; failed (the default, what a backfill always did) also runs again the dates whose latest run
 * did not succeed (it failed, was interrupted, or still waits), resuming that run so its succeeded cells are
 * kept; all also runs every date that has a run, as a new run that recomputes every cell. A date whose latest
 * run is running is left to whoever runs it.
 *
 * @example
 * ```ts
 * import { planBackfill } from "./backfill-plan.ts";
 * import type { RunRecord } from "./run-records.ts";
 * import type { DataInterval } from "./timetable.ts";
 * declare const intervals: DataInterval[];
 * declare const existing: RunRecord[]; // the pipeline's scheduled and backfill runs
 *
 * const { missing, rerun, fresh } = planBackfill(intervals, existing, "all");
 * ```
 */
import { CellarError } from "./errors.ts";
import type { Pipeline } from "./pipeline.ts";
import { createManualRun, createScheduledRuns, listRuns, type RunKind, type RunRecord, scheduledRunKey } from "./run-records.ts";
import { CLAIMABLE_RUN_STATES, RunState } from "./state.ts";
import type { Store } from "./store/store.ts";
import type { DataInterval } from "./timetable.ts";

/** The reprocess behaviours; failed is spelt as the run state it selects. */
export const REPROCESS = ["none", RunState.Failed, "all"] as const;
export type Reprocess = (typeof REPROCESS)[number];

export interface BackfillPlan {
  /** Dates with no run: their runs are created (keyed by logical date) and executed. */
  missing: DataInterval[];
  /** Existing runs executed again (reprocess failed): each the latest run of its date, which did not succeed. */
  rerun: RunRecord[];
  /** Dates that get a new run recomputing every cell (reprocess all). */
  fresh: DataInterval[];
  /** Dates left as they are: their latest run succeeded (or, for reprocess none, exists), or is running. */
  skipped: number;
}

/** `value` as a reprocess behaviour, or one line naming what it accepts. */
export function parseReprocess(value: string | undefined, name = "--reprocess"): Reprocess {
  if (value === undefined) return RunState.Failed;
  if ((REPROCESS as readonly string[]).includes(value)) return value as Reprocess;
  throw new CellarError(`${name} ${value}: expected one of ${REPROCESS.join(", ")}`);
}

/** What a backfill over `intervals` does, given the pipeline's scheduled and backfill runs (any order). */
export function planBackfill(intervals: DataInterval[], existing: RunRecord[], reprocess: Reprocess): BackfillPlan {
  const latest = new Map<number, RunRecord>();
  for (const run of existing) {
    const date = +run.logicalDate;
    if (!latest.has(date) || latest.get(date)!.runId < run.runId) latest.set(date, run);
  }
  const plan: BackfillPlan = { missing: [], rerun: [], fresh: [], skipped: 0 };
  for (const interval of intervals) {
    const run = latest.get(+interval.start);
    if (!run) plan.missing.push(interval);
    else if (reprocess === "none" || run.state === RunState.Running) plan.skipped++;
    else if (reprocess === "all") plan.fresh.push(interval);
    else if (run.state === RunState.Success) plan.skipped++;
    else plan.rerun.push(run);
  }
  return plan;
}

/**
 * Creates the runs a backfill lacks (the missing dates' and, for `all`, the new ones) and answers the runs
 * it is to execute, oldest logical date first, with how many it created. A missing date's run that another
 * process created meanwhile is executed only while it waits (queued or interrupted).
 */
export async function prepareBackfill(
  store: Store,
  pipeline: Pipeline,
  intervals: DataInterval[],
  reprocess: Reprocess,
): Promise<{ runs: RunRecord[]; created: number }> {
  const kinds: RunKind[] = ["scheduled", "backfill"];
  const plan = planBackfill(intervals, await listRuns(store, pipeline.id, { kinds }), reprocess);
  const params = pipeline.resolveParams({});
  const keyed = await createScheduledRuns(store, pipeline.id, plan.missing, params, "backfill");
  const keys = new Set(plan.missing.map((i) => scheduledRunKey(i.start)));
  const made = keys.size === 0 ? [] : (await listRuns(store, pipeline.id, { kinds, states: CLAIMABLE_RUN_STATES })).filter((r) => keys.has(r.runKey));
  const fresh: RunRecord[] = [];
  for (const interval of plan.fresh) {
    fresh.push(await createManualRun(store, pipeline.id, "backfill", interval.start, interval, params, { noCache: true }));
  }
  const runs = [...made, ...plan.rerun, ...fresh].sort((a, b) => +a.logicalDate - +b.logicalDate || a.runId - b.runId);
  return { runs, created: keyed + fresh.length };
}
