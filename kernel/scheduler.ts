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
 * @example
 * const scheduler = new Scheduler(store, runner, [ingest, evalPipeline]);
 * await scheduler.run(signal); // until signal aborts
 */
import { errorLine } from "./errors.ts";
import type { Pipeline } from "./pipeline.ts";
import type { Runner } from "./runner.ts";
import { claimRun, createScheduledRuns, lastScheduledDate, listRuns, retryConflicts, type RunRecord } from "./runs.ts";
import type { Store } from "./store/store.ts";
import type { DataInterval } from "./timetable.ts";

/** The longest the scheduler sleeps between looks at the clock. */
const MAX_SLEEP_MS = 60_000;

/** Runs executing per pipeline, per store: shared by the store's schedulers so that maxActiveRuns holds for them all. */
const activeRuns = new WeakMap<Store, Map<string, number>>();

export class Scheduler {
  readonly #active = new Map<number, Promise<void>>();
  readonly #activeByPipeline: Map<string, number>;
  #wake: (() => void) | undefined;
  /** A run ended since the loop last looked for queued runs: the next sleep must not wait. */
  #woken = false;

  constructor(
    private readonly store: Store,
    private readonly runner: Runner,
    private readonly pipelines: Pipeline[],
    private readonly clock: () => Date = () => new Date(),
  ) {
    let counts = activeRuns.get(store);
    if (!counts) activeRuns.set(store, counts = new Map());
    this.#activeByPipeline = counts;
  }

  /** Creates the runs that are due now; returns how many were new. */
  async createDueRuns(): Promise<number> {
    let created = 0;
    const now = this.clock();
    for (const pipeline of this.pipelines) {
      if (!pipeline.timetable) continue;
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

  /** Starts queued (or interrupted) scheduled runs up to each pipeline's maxActiveRuns. */
  async startQueuedRuns(): Promise<void> {
    for (const pipeline of this.pipelines) {
      if (this.runner.cancelled) return;
      if (this.#activeCount(pipeline) >= pipeline.maxActiveRuns) continue;
      const waiting = (await listRuns(this.store, pipeline.id, { states: ["queued", "interrupted"], kinds: ["scheduled", "backfill"] }))
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
    try {
      while (!signal.aborted) {
        this.#woken = false;
        await this.createDueRuns();
        await this.startQueuedRuns();
        await this.#sleep(await this.#msUntilNextFire(), signal);
      }
    } finally {
      await Promise.all(this.#active.values());
    }
  }

  /** Marks a run as taken by this scheduler; false if another got it first. */
  claim(run: RunRecord): Promise<boolean> {
    return claimRun(this.store, run.runId);
  }

  #activeCount(pipeline: Pipeline): number {
    return this.#activeByPipeline.get(pipeline.id) ?? 0;
  }

  #countActive(pipeline: Pipeline, delta: number): void {
    this.#activeByPipeline.set(pipeline.id, this.#activeCount(pipeline) + delta);
  }

  /**
   * The runner could not execute the run at all (its bookkeeping failed, not a
   * cell): without this the run would stay 'running' until the next restart,
   * shown as running while nothing runs it.
   */
  async #executeFailed(run: RunRecord, err: unknown): Promise<void> {
    this.runner.emit({ type: "log", runId: run.runId, cell: "", level: "error", message: `run ${run.runId} could not be executed: ${errorLine(err)}` });
    await retryConflicts(() =>
      this.store.transaction((conn) =>
        conn.run(`UPDATE runs SET state = 'failed', ended_at = now() WHERE run_id = ? AND state = 'running'`, [run.runId])
      )
    ).catch(() => {});
  }

  /** Until the next interval of any pipeline becomes due (it ends), at most MAX_SLEEP_MS. */
  async #msUntilNextFire(): Promise<number> {
    const now = this.clock().getTime();
    let next = now + MAX_SLEEP_MS;
    for (const pipeline of this.pipelines) {
      if (!pipeline.timetable) continue;
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
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done, { once: true });
      this.#wake = done;
    });
  }
}
