/**
 * The scheduler: turns each pipeline's timetable into runs and executes them.
 *
 * Every due data interval becomes a run keyed by (pipeline, logical date), so
 * a restarted or second scheduler finds the run already there. With
 * `catchup: true` every missed interval since the last run (or startDate) is
 * created; otherwise only the latest. Queued runs start oldest first, at most
 * `maxActiveRuns` per pipeline at once — counted over every Scheduler on the
 * same Store, which is every scheduler of the database, since one process
 * owns a DuckDB file.
 *
 * A pipeline's triggers are judged by the scheduler that holds the pipeline:
 * each time a run of the pipeline a trigger waits on ends (succeeded or
 * failed; any kind but `cellar cell`'s test runs), `when` is called once and,
 * if it holds, a run of kind "triggered" is queued with the ending run's
 * logical date and data interval, and started like a scheduled run. Each
 * judgement is recorded with the run it fired, in one transaction, so a
 * restart or a second scheduler neither judges nor fires it again; runs that
 * ended while no scheduler ran are judged at the next look. Runs that ended
 * before the trigger was first seen are history and fire nothing (as in
 * Airflow, dataset events count only once the DAG exists).
 *
 * @example
 * ```ts
 * import type { Pipeline } from "./pipeline.ts";
 * import type { Runner } from "./runner.ts";
 * import { Scheduler } from "./scheduler.ts";
 * import type { Store } from "./store/store.ts";
 * declare const store: Store;
 * declare const runner: Runner;
 * declare const ingest: Pipeline, evalPipeline: Pipeline, retrain: Pipeline;
 * declare const signal: AbortSignal;
 *
 * const scheduler = new Scheduler(store, runner, [ingest, evalPipeline, retrain]);
 * await scheduler.run(signal); // until signal aborts
 * ```
 */
import { formatDuration } from "./duration.ts";
import { CellarError, errorLine } from "./errors.ts";
import type { ParamValue, Pipeline, PipelineTrigger } from "./pipeline.ts";
import type { Runner } from "./runner.ts";
import {
  claimRun,
  createScheduledRuns,
  getRun,
  isJudged,
  lastScheduledDate,
  listRuns,
  recordTriggerEvaluation,
  registerTrigger,
  retryConflicts,
  type RunRecord,
  runOutcome,
  type TriggerCandidate,
  unjudgedRuns,
} from "./run-records.ts";
import { CLAIMABLE_RUN_STATES, ENDED_RUN_STATES, isOneOf, RunState, sqlState, TriggerResult } from "./state.ts";
import type { Store } from "./store/store.ts";
import type { DataInterval } from "./timetable.ts";
import { clearLongTimeout, type LongTimer, setLongTimeout } from "./timer.ts";
import { metrics, schedulerLoops } from "./prometheus.ts";
import { pausedPipelines } from "./pause.ts";

/** The longest the scheduler sleeps between looks at the clock. */
const MAX_SLEEP_MS = 60_000;

export interface SchedulerOptions {
  /** How long a trigger's `when` (and `params`) may take before its judgement counts as failed. Default 5 minutes. */
  triggerTimeoutMs?: number;
}

/** Runs executing per pipeline, per store: shared by the store's schedulers so that maxActiveRuns holds for them all. */
const activeRuns = new WeakMap<Store, Map<string, number>>();

/** Ends of runs being judged, per store: so that two schedulers of one store do not both call `when`. */
const judging = new WeakMap<Store, Set<string>>();

export class Scheduler {
  readonly #active = new Map<number, Promise<void>>();
  readonly #activeByPipeline: Map<string, number>;
  readonly #judging: Set<string>;
  readonly #triggerTimeoutMs: number;
  /** Pipelines some trigger waits on: a run of one ending wakes the loop. */
  readonly #awaited: Set<string>;
  #registered: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  /** A run ended since the loop last looked for queued runs: the next sleep must not wait. */
  #woken = false;

  constructor(
    private readonly store: Store,
    private readonly runner: Runner,
    private readonly pipelines: Pipeline[],
    private readonly clock: () => Date = () => new Date(),
    options: SchedulerOptions = {},
  ) {
    let counts = activeRuns.get(store);
    if (!counts) activeRuns.set(store, counts = new Map());
    this.#activeByPipeline = counts;
    let keys = judging.get(store);
    if (!keys) judging.set(store, keys = new Set());
    this.#judging = keys;
    this.#triggerTimeoutMs = options.triggerTimeoutMs ?? 5 * 60_000;
    this.#awaited = new Set(pipelines.flatMap((p) => p.triggers.map((t) => t.after)));
  }

  /** Wakes a sleeping loop at once: a pipeline was unpaused, and its missed intervals are due now. */
  wake(): void {
    this.#woken = true;
    this.#wake?.();
  }

  /** The paused ones among this scheduler's pipelines (pause.ts), read at each look, and reported as cellar_pipeline_paused. */
  async #paused(): Promise<Set<string>> {
    return new Set((await pausedPipelines(this.store, this.pipelines.map((p) => p.id))).keys());
  }

  /**
   * Creates the runs that are due now; returns how many were new. A paused pipeline gets none: its last
   * scheduled date stays, so once unpaused, catchup creates every interval missed meanwhile.
   */
  async createDueRuns(): Promise<number> {
    let created = 0;
    const now = this.clock();
    const paused = await this.#paused();
    for (const pipeline of this.pipelines) {
      if (!pipeline.timetable || paused.has(pipeline.id)) continue;
      const after = await lastScheduledDate(this.store, pipeline.id);
      let intervals: DataInterval[];
      if (pipeline.catchup) intervals = pipeline.timetable.dueIntervals(after, now);
      else {
        const latest = pipeline.timetable.latestDueInterval(after, now);
        intervals = latest ? [latest] : [];
      }
      created += await createScheduledRuns(this.store, pipeline.id, intervals, pipeline.resolveParams({}), "scheduled");
    }
    return created;
  }

  /**
   * Judges the ends of runs that this scheduler's pipelines' triggers wait on
   * and that no scheduler has judged yet; returns how many runs it fired.
   */
  async fireTriggers(): Promise<number> {
    this.#registered ??= this.#register();
    await this.#registered;
    let fired = 0;
    for (const pipeline of this.pipelines) {
      for (const [index, trigger] of pipeline.triggers.entries()) {
        for (const candidate of await unjudgedRuns(this.store, pipeline.id, trigger.after)) {
          if (this.runner.cancelled) return fired; // stopping: the rest are judged at the next start
          if (await this.#judge(pipeline, index, trigger, candidate)) fired++;
        }
      }
    }
    return fired;
  }

  /** Starts queued (or interrupted) scheduled, backfill and triggered runs up to each pipeline's maxActiveRuns; none of a paused pipeline. */
  async startQueuedRuns(): Promise<void> {
    const paused = await this.#paused();
    for (const pipeline of this.pipelines) {
      if (this.runner.cancelled) return;
      if (paused.has(pipeline.id)) continue;
      if (this.#activeCount(pipeline) >= pipeline.maxActiveRuns) continue;
      const waiting = (await listRuns(this.store, pipeline.id, { states: CLAIMABLE_RUN_STATES, kinds: ["scheduled", "backfill", "triggered"] }))
        .filter((run) => !this.#active.has(run.runId))
        .reverse(); // oldest logical date first
      for (const run of waiting) {
        if (this.runner.cancelled || this.#activeCount(pipeline) >= pipeline.maxActiveRuns) break;
        // Take the slot before claiming, so that another scheduler of this store cannot take it meanwhile.
        this.#countActive(pipeline, +1);
        if (!(await this.claim(run))) {
          this.#countActive(pipeline, -1);
          continue;
        }
        if (run.kind === "scheduled") metrics.scheduleDelay.observe({ pipeline: pipeline.id }, Math.max(0, this.clock().getTime() - run.interval.end.getTime()) / 1000);
        const task = this.runner.execute(pipeline, run).then(() => {}, (err) => this.#executeFailed(run, err)).finally(() => {
          this.#active.delete(run.runId);
          this.#countActive(pipeline, -1);
          this.#woken = true;
          this.#wake?.();
        });
        this.#active.set(run.runId, task);
      }
    }
  }

  /** Creates due runs and runs everything queued until nothing is left; for backfill, tests and `--once`. */
  async runOnce(): Promise<void> {
    try {
      await this.createDueRuns();
      do {
        // Also after each run ends: what it triggers belongs to this pass.
        await this.fireTriggers();
        await this.startQueuedRuns();
        if (this.#active.size === 0) break;
        await Promise.race(this.#active.values());
      } while (!this.runner.cancelled || this.#active.size > 0);
    } finally {
      // Also after an error: the store must outlive the runs still using it.
      await Promise.all(this.#active.values());
    }
  }

  /** Schedules until `signal` aborts, then waits for active runs to stop. */
  async run(signal: AbortSignal): Promise<void> {
    // A run a trigger waits on that ends in this process (whoever started it) is judged at once, not at the next tick.
    const unlisten = this.runner.on((event) => {
      if (event.type === "run" && isOneOf(ENDED_RUN_STATES, event.state) && this.#awaited.has(event.pipeline)) {
        this.#woken = true;
        this.#wake?.();
      }
    });
    try {
      while (!signal.aborted) {
        this.#woken = false;
        const tick = performance.now();
        metrics.schedulerHeartbeat.set(Date.now() / 1000);
        await this.createDueRuns();
        await this.fireTriggers();
        await this.startQueuedRuns();
        const sleepMs = await this.#msUntilNextFire();
        metrics.schedulerLoop.observe((performance.now() - tick) / 1000);
        schedulerLoops.sleeping++;
        try {
          await this.#sleep(sleepMs, signal);
        } finally {
          schedulerLoops.sleeping--;
        }
      }
    } finally {
      unlisten();
      await Promise.all(this.#active.values());
    }
  }

  /** Marks a run as taken by this scheduler; false if another got it first. */
  claim(run: RunRecord): Promise<boolean> {
    return claimRun(this.store, run.runId);
  }

  /** Notes every trigger as seen, once per scheduler: only runs ending from the first sighting on are judged. */
  async #register(): Promise<void> {
    for (const pipeline of this.pipelines) {
      for (const trigger of pipeline.triggers) await registerTrigger(this.store, pipeline.id, trigger.after);
    }
  }

  /**
   * Calls the trigger's `when` on one ended run and records the judgement,
   * with the run it fires; true when it fired one. A `when` or `params` that
   * throws (or hangs) is reported and recorded as failed, and fires nothing.
   */
  async #judge(pipeline: Pipeline, index: number, trigger: PipelineTrigger, candidate: TriggerCandidate): Promise<boolean> {
    const key = `${pipeline.id}\u0000${candidate.runId}\u0000${candidate.endedMs}`;
    if (this.#judging.has(key)) return false;
    this.#judging.add(key);
    try {
      // Another scheduler of this store may have judged it between our listing and now.
      if (await isJudged(this.store, pipeline.id, candidate)) return false;
      const source = await getRun(this.store, candidate.runId);
      if (!isOneOf(ENDED_RUN_STATES, source.state)) return false; // resumed meanwhile; judged when it ends again
      const what = `pipeline "${pipeline.id}" triggers[${index}] (after ${source.pipeline} run ${source.runId})`;
      let judgement: Parameters<typeof recordTriggerEvaluation>[4];
      try {
        const outcome = await runOutcome(this.store, source);
        const met = trigger.when ? await this.#bounded(trigger.when(outcome), "when") : outcome.state === RunState.Success;
        if (typeof met !== "boolean") throw new CellarError(`when returned ${typeof met}; expected a boolean`);
        if (met) {
          const overrides: Record<string, ParamValue> = trigger.params ? await this.#bounded(trigger.params(outcome), "params") : {};
          if (typeof overrides !== "object" || overrides === null || Array.isArray(overrides)) {
            throw new CellarError(`params returned ${JSON.stringify(overrides)}; expected an object of params`);
          }
          const unknown = Object.keys(overrides).find((name) => !(name in pipeline.params));
          if (unknown !== undefined) {
            const known = Object.keys(pipeline.params);
            throw new CellarError(
              `params returned "${unknown}", not a param of "${pipeline.id}" (${known.length ? `it has ${known.join(", ")}` : "it takes none"})`,
            );
          }
          judgement = { result: TriggerResult.Fired, params: pipeline.resolveParams(overrides) };
        } else {
          judgement = { result: TriggerResult.NotMet };
        }
      } catch (err) {
        const error = errorLine(err);
        this.runner.emit({ type: "log", runId: source.runId, cell: "", level: "error", message: `${what} failed: ${error}` });
        judgement = { result: TriggerResult.Failed, error };
      }
      const created = await recordTriggerEvaluation(this.store, pipeline.id, source, candidate, judgement);
      if (created) {
        this.runner.emit({
          type: "log", runId: source.runId, cell: "", level: "info",
          message: `triggered run ${created.runId} of ${pipeline.id} (${what})`,
        });
      }
      return created !== undefined;
    } finally {
      this.#judging.delete(key);
    }
  }

  /** `work`, or a failure once it has taken longer than the trigger timeout: a hung `when` must not stop the scheduler. */
  async #bounded<T>(work: T | Promise<T>, what: string): Promise<T> {
    let timer: LongTimer | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setLongTimeout(
        () => reject(new CellarError(`${what} did not settle within ${formatDuration(this.#triggerTimeoutMs)}`)),
        this.#triggerTimeoutMs,
      );
    });
    try {
      return await Promise.race([Promise.resolve(work), timeout]);
    } finally {
      clearLongTimeout(timer);
    }
  }

  #activeCount(pipeline: Pipeline): number {
    return this.#activeByPipeline.get(pipeline.id) ?? 0;
  }

  #countActive(pipeline: Pipeline, delta: number): void {
    this.#activeByPipeline.set(pipeline.id, this.#activeCount(pipeline) + delta);
  }

  /**
   * The runner could not execute the run at all (its bookkeeping failed, not a
   * cell): without this the run would stay running until the next restart,
   * shown as running while nothing runs it.
   */
  async #executeFailed(run: RunRecord, err: unknown): Promise<void> {
    this.runner.emit({ type: "log", runId: run.runId, cell: "", level: "error", message: `run ${run.runId} could not be executed: ${errorLine(err)}` });
    await retryConflicts(() =>
      this.store.transaction((conn) =>
        conn.run(
          `UPDATE runs SET state = ${sqlState(RunState.Failed)}, ended_at = now() WHERE run_id = ? AND state = ${sqlState(RunState.Running)}`,
          [run.runId],
        )
      )
    ).catch(() => {});
  }

  /** Until the next interval of any pipeline becomes due (it ends), at most MAX_SLEEP_MS. */
  async #msUntilNextFire(): Promise<number> {
    const now = this.clock().getTime();
    let next = now + MAX_SLEEP_MS;
    const paused = await this.#paused();
    for (const pipeline of this.pipelines) {
      if (!pipeline.timetable || paused.has(pipeline.id)) continue;
      const fire = pipeline.timetable.nextFireTime(await lastScheduledDate(this.store, pipeline.id));
      if (fire) next = Math.min(next, fire.getTime());
    }
    return Math.max(0, next - now);
  }

  /** Resolves after `ms`, when a run ends, or when `signal` aborts — at once if either happened while the loop was busy. */
  #sleep(ms: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted || this.#woken) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearLongTimeout(timer);
        signal.removeEventListener("abort", done);
        this.#wake = undefined;
        resolve();
      };
      const timer = setLongTimeout(done, ms);
      signal.addEventListener("abort", done, { once: true });
      this.#wake = done;
    });
  }
}
