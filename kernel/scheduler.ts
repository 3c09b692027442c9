/**
 * The scheduler: turns each pipeline's timetable into runs and executes them.
 *
 * Every due data interval becomes a run keyed by (pipeline, logical date), so
 * a restarted or second scheduler finds the run already there. With
 * `catchup: true` every missed interval since the last run (or startDate) is
 * created; otherwise only the latest. Queued runs start oldest first, at most
 * `maxActiveRuns` per pipeline at once.
 *
 * @example
 * const scheduler = new Scheduler(store, runner, [ingest, evalPipeline]);
 * await scheduler.run(signal); // until signal aborts
 */
import type { Pipeline } from "./pipeline.ts";
import type { Runner } from "./runner.ts";
import { createScheduledRuns, lastScheduledDate, listRuns, type RunRecord } from "./runs.ts";
import type { Store } from "./store/store.ts";
import type { DataInterval } from "./timetable.ts";

/** The longest the scheduler sleeps between looks at the clock. */
const MAX_SLEEP_MS = 60_000;

export class Scheduler {
  readonly #active = new Map<number, Promise<void>>();
  readonly #activeByPipeline = new Map<string, number>();
  #wake: (() => void) | undefined;

  constructor(
    private readonly store: Store,
    private readonly runner: Runner,
    private readonly pipelines: Pipeline[],
    private readonly clock: () => Date = () => new Date(),
  ) {}

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
      const active = this.#activeByPipeline.get(pipeline.id) ?? 0;
      const room = pipeline.maxActiveRuns - active;
      if (room <= 0 || this.runner.cancelled) continue;
      const waiting = (await listRuns(this.store, pipeline.id, { states: ["queued", "interrupted"], kinds: ["scheduled", "backfill"] }))
        .filter((run) => !this.#active.has(run.runId))
        .reverse() // oldest logical date first
        .slice(0, room);
      for (const run of waiting) {
        if (!(await this.claim(run))) continue;
        this.#activeByPipeline.set(pipeline.id, (this.#activeByPipeline.get(pipeline.id) ?? 0) + 1);
        const task = this.runner.execute(pipeline, run).then(() => {}, () => {}).finally(() => {
          this.#active.delete(run.runId);
          this.#activeByPipeline.set(pipeline.id, this.#activeByPipeline.get(pipeline.id)! - 1);
          this.#wake?.();
        });
        this.#active.set(run.runId, task);
      }
    }
  }

  /** Creates due runs and runs everything queued until nothing is left; for backfill, tests and `--once`. */
  async runOnce(): Promise<void> {
    await this.createDueRuns();
    do {
      await this.startQueuedRuns();
      if (this.#active.size === 0) break;
      await Promise.race(this.#active.values());
    } while (!this.runner.cancelled || this.#active.size > 0);
  }

  /** Schedules until `signal` aborts, then waits for active runs to stop. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.createDueRuns();
      await this.startQueuedRuns();
      await this.#sleep(await this.#msUntilNextFire(), signal);
    }
    await Promise.all(this.#active.values());
  }

  /** Marks a run as taken by this scheduler; false if another got it first. */
  async claim(run: RunRecord): Promise<boolean> {
    const rows = await this.store.transaction(async (conn) => {
      const reader = await conn.runAndReadAll(
        `UPDATE runs SET state = 'running' WHERE run_id = ? AND state IN ('queued', 'interrupted') RETURNING run_id`,
        [run.runId],
      );
      return reader.currentRowCount;
    });
    return rows === 1;
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

  #sleep(ms: number, signal: AbortSignal): Promise<void> {
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
