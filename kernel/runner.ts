/**
 * Executes one run: cells in dependency order, independent branches in
 * parallel, each try checkpointed; retries with backoff, timeouts through the
 * cell's AbortSignal, cancellation that leaves the run resumable.
 *
 * This module dispatches cells and resumes runs; one try of a cell is
 * attempt.ts, the cache is cache.ts, and a try's `ctx` is built in context.ts.
 *
 * @example
 * ```ts
 * import type { Pipeline } from "./pipeline.ts";
 * import { Runner } from "./runner.ts";
 * import type { RunRecord } from "./run-records.ts";
 * import type { Store } from "./store/store.ts";
 * declare const store: Store;
 * declare const pipeline: Pipeline;
 * declare const run: RunRecord;
 *
 * const runner = new Runner(store);
 * const result = await runner.execute(pipeline, run);
 * ```
 */
import { sendAlert } from "./alert.ts";
import { Attempt, CancelledError } from "./attempt.ts";
import { CellCache, keyOf, reasonRecord, type RunCheckpoint } from "./cache.ts";
import { CacheReason, type CellReason, type KeyParts } from "./cache-reason.ts";
import { type Compute, compute } from "./compute/devices.ts";
import type { RemoteHost } from "./compute/map.ts";
import { CellarError } from "./errors.ts";
import type { CellDef, Pipeline, RunFailure } from "./pipeline.ts";
import { retryDelayMs } from "./retry-delay.ts";
import type { RunRecord } from "./run-records.ts";
import { runtime } from "./runtime/mod.ts";
import {
  assertTransition,
  AttemptState,
  CELL_TRANSITIONS,
  CellState,
  ENDED_CELL_STATES,
  FAILED_CELL_STATES,
  isOneOf,
  RUN_TRANSITIONS,
  RunState,
  SETTLED_CELL_STATES,
  SUCCEEDED_CELL_STATES,
  UNFINISHED_CELL_STATES,
} from "./state.ts";
import type { Store } from "./store/store.ts";
import { sleep } from "./async.ts";
import { repairViews } from "./view-repair.ts";

// Part of the runner's API since before the split: callers may test a cell's abort reason for it.
export { CancelledError };

/** What the runner tells its listeners (the CLI's progress display, the server's live updates). */
export type RunEvent =
  | { type: "run"; runId: number; pipeline: string; state: RunState }
  /** `details`: on a cell failed by its check, what it measured (CheckFailed's details, as stored). */
  | { type: "cell"; runId: number; cell: string; state: CellState; tryNumber: number; error?: string; ms?: number; retryInMs?: number; details?: unknown }
  | { type: "progress"; runId: number; cell: string; done: number; total?: number }
  /** A ctx.map's chunks so far (`total` when its items are an array); sent as they change, at most every 100 ms and at the end. */
  | { type: "chunks"; runId: number; cell: string; done: number; failed: number; retried: number; total?: number }
  /** `seq`: the line's place among the store's log lines (run-logs.ts's cursor); absent for a notice not stored. */
  // `failure`: the failed try's own error line, which its cell event also carries (a CLI prints it once).
  | { type: "log"; runId: number; cell: string; level: string; message: string; tryNumber?: number; seq?: number; ts?: Date; failure?: boolean };

export interface RunResult {
  runId: number;
  state: RunState;
  cells: Map<string, CellState>;
  /** Outputs as a later run would read them back (JSON round trip). */
  outputs: Map<string, unknown>;
}

export interface RunnerOptions {
  /** How long a cell may ignore its aborted signal before it is abandoned. Default 5 s. */
  abandonAfterMs?: number;
  /** Devices and CPU workers for ctx.map. Default: the process's, from CELLAR_DEVICES. */
  compute?: Compute;
  /** Remote kernels for ctx.map's `placement: "remote" | "auto"` (kernel/remote/remote-placement.ts). Default: none. */
  remote?: RemoteHost;
}

export class Runner {
  readonly #listeners = new Set<(event: RunEvent) => void>();
  readonly #cancel = new AbortController();
  readonly #abandonAfterMs: number;
  readonly compute: Compute;
  readonly remote: RemoteHost | undefined;

  constructor(private readonly store: Store, options: RunnerOptions = {}) {
    this.#abandonAfterMs = options.abandonAfterMs ?? 5_000;
    this.compute = options.compute ?? compute();
    this.remote = options.remote;
  }

  /** Subscribes to run events; returns the unsubscribe function. */
  on(listener: (event: RunEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Aborts every running attempt and starts nothing new; the runs stay resumable. The default reason names the cells' state. */
  cancel(reason: string = CellState.Cancelled): void {
    this.#cancel.abort(new CancelledError(reason));
  }

  get cancelled(): boolean {
    return this.#cancel.signal.aborted;
  }

  emit(event: RunEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // A broken display must not break a run.
      }
    }
  }

  async execute(pipeline: Pipeline, run: RunRecord): Promise<RunResult> {
    const execution = new Execution(this, this.store, pipeline, run, this.#cancel.signal, this.#abandonAfterMs);
    return await execution.execute();
  }
}

/** The state of one run while it executes. */
class Execution {
  readonly states = new Map<string, CellState>();
  readonly checkpoints = new Map<string, RunCheckpoint>();
  readonly tries = new Map<string, number>();
  readonly forced = new Set<string>();
  readonly errors = new Map<string, string>();
  readonly order: CellDef[];
  readonly selected: Set<string>;
  /** Cells started and not yet settled: what maxActiveCells counts. */
  readonly active = new Set<string>();
  /** Cells whose upstreams have all settled, in the order they became ready. */
  readonly ready: CellDef[] = [];
  readonly queued = new Set<string>();
  readonly dependents = new Map<string, CellDef[]>();
  /** Each table name of this run (lower-cased, as DuckDB compares names) and the cell and spelling that claimed it. */
  readonly tableOwners = new Map<string, { cell: string; name: string }>();
  readonly cache = new CellCache(this);
  #wake: () => void = () => {};

  constructor(
    readonly runner: Runner,
    readonly store: Store,
    readonly pipeline: Pipeline,
    readonly run: RunRecord,
    readonly cancelSignal: AbortSignal,
    readonly abandonAfterMs: number,
  ) {
    this.order = pipeline.validate();
    for (const cell of this.order) {
      for (const need of cell.needs) this.dependents.set(need, [...(this.dependents.get(need) ?? []), cell]);
    }
    const only = run.options.only;
    for (const name of only ?? []) pipeline.getCell(name);
    this.selected = new Set(only ?? this.order.map((c) => c.name));
    if (run.options.from !== undefined) {
      pipeline.getCell(run.options.from);
      this.forced = downstreamOf(this.order, run.options.from);
    }
    if (only) for (const name of only) this.forced.add(name);
    if (run.options.noCache) for (const cell of this.order) this.forced.add(cell.name);
  }

  get compute(): Compute {
    return this.runner.compute;
  }

  get remote(): RemoteHost | undefined {
    return this.runner.remote;
  }

  emit(event: RunEvent): void {
    this.runner.emit(event);
  }

  async execute(): Promise<RunResult> {
    const { runId } = this.run;
    await this.loadCheckpoints();
    const startedAt = this.run.startedAt ?? new Date();
    await this.store.writer.write({ runStates: [[runId, { state: RunState.Running, startedAt, endedAt: null }]] });
    this.emit({ type: "run", runId, pipeline: this.pipeline.id, state: RunState.Running });

    await this.schedule();

    const cancelled = this.cancelSignal.aborted && [...this.states.values()].some((s) => isOneOf(UNFINISHED_CELL_STATES, s));
    const failed = [...this.states.entries()].filter(([, s]) => isOneOf(FAILED_CELL_STATES, s));
    const state: RunState = cancelled ? RunState.Interrupted : failed.length > 0 ? RunState.Failed : RunState.Success;
    assertTransition(RUN_TRANSITIONS, RunState.Running, state, `run ${runId}`);
    await this.store.writer.write({
      runStates: [[runId, { state, endedAt: state === RunState.Interrupted ? null : new Date() }]],
    });
    this.emit({ type: "run", runId, pipeline: this.pipeline.id, state });
    // A one-cell test run (`cellar cell`, what CI calls) reports through its exit code, not by paging people.
    if (state === RunState.Failed && this.run.kind !== "cell") await this.alert();

    const outputs = new Map<string, unknown>();
    for (const [name, checkpoint] of this.checkpoints) if (this.selected.has(name)) outputs.set(name, checkpoint.output);
    const cells = new Map([...this.states].filter(([name]) => this.selected.has(name)));
    return { runId, state, cells, outputs };
  }

  /** Outputs committed by an earlier process for this run (resume), and the upstream inputs of `only` runs. */
  async loadCheckpoints(): Promise<void> {
    const rows = await this.store.query(`SELECT cell, output, output_hash FROM outputs WHERE run_id = ?`, [this.run.runId]);
    for (const row of rows) {
      this.checkpoints.set(String(row.cell), { output: JSON.parse(String(row.output)), hash: String(row.output_hash) });
    }
    // A resumed run: a kill between a checkpoint's commit and its views left them behind (view-repair.ts).
    if (rows.length > 0) await repairViews(this.store, this.pipeline.id, this.run.runId);
    const tries = await this.store.query(
      `SELECT cell, max(try_number) AS n FROM attempts WHERE run_id = ? GROUP BY cell`,
      [this.run.runId],
    );
    for (const row of tries) this.tries.set(String(row.cell), Number(row.n));
    // Initial states (INITIAL_CELL_STATES), not transitions. A checkpoint of this run is kept even for a cell the
    // run forces (`from`, `only`, no-cache): forcing refuses another run's output, and this one was computed here.
    for (const cell of this.order) {
      if (this.checkpoints.has(cell.name)) this.states.set(cell.name, CellState.Success);
      else this.states.set(cell.name, CellState.Waiting);
    }
    if (this.run.options.only) await this.loadUnselectedCheckpoints();
  }

  /** For an `only` run: each unselected cell's latest checkpoint in the pipeline, which the selected cells read. */
  async loadUnselectedCheckpoints(): Promise<void> {
    for (const cell of this.order) {
      if (this.selected.has(cell.name)) continue;
      const latest = await this.store.query(
        `SELECT output, output_hash FROM outputs WHERE pipeline = ? AND cell = ? ORDER BY created_at DESC LIMIT 1`,
        [this.pipeline.id, cell.name],
      );
      if (latest.length > 0) {
        this.checkpoints.set(cell.name, { output: JSON.parse(String(latest[0].output)), hash: String(latest[0].output_hash) });
        this.states.set(cell.name, CellState.Success); // still its initial state: not selected, it never runs
      }
    }
    for (const name of this.selected) {
      for (const need of this.pipeline.getCell(name).needs) {
        if (!this.selected.has(need) && !this.checkpoints.has(need)) {
          throw new CellarError(
            `cell "${name}" needs the output of "${need}", which has no checkpoint in ${this.store.path}; run pipeline "${this.pipeline.id}" first`,
          );
        }
      }
    }
  }

  /**
   * Starts every cell whose upstreams are settled, at most maxActiveCells at a
   * time, until none can start. A cell's dependents start as soon as its output
   * is known; its checkpoint becomes durable in the background (group commit),
   * and the run ends only when every checkpoint is.
   */
  async schedule(): Promise<void> {
    const tasks: Promise<void>[] = [];
    let failure: unknown;
    for (const cell of this.order) this.enqueueIfReady(cell);
    for (;;) {
      while (!this.cancelSignal.aborted && this.ready.length > 0 && this.active.size < this.pipeline.maxActiveCells) {
        const cell = this.ready.shift()!;
        this.active.add(cell.name);
        tasks.push(this.runCell(cell).catch((err) => {
          failure ??= err;
          // The runner's own bookkeeping failed (not the cell): the run throws below, and this cell, in whatever
          // state it got to, is failed without consulting the transition table.
          this.settle(cell.name, CellState.Failed, { unchecked: true });
        }));
      }
      if (this.active.size === 0) break;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
    await Promise.all(tasks);
    if (failure) throw failure;
    for (const [name, state] of this.states) {
      if (this.selected.has(name) && state === CellState.Waiting && this.cancelSignal.aborted) this.move(name, CellState.Cancelled);
    }
  }

  /** Queues a waiting cell once every upstream has settled. */
  enqueueIfReady(cell: CellDef): void {
    if (!this.selected.has(cell.name) || this.states.get(cell.name) !== CellState.Waiting || this.queued.has(cell.name)) return;
    if (cell.needs.some((n) => !isSettled(this.states.get(n)!))) return;
    this.queued.add(cell.name);
    this.ready.push(cell);
  }

  /** Moves a cell to `state`, as CELL_TRANSITIONS allows. */
  move(cell: string, state: CellState): void {
    assertTransition(CELL_TRANSITIONS, this.states.get(cell)!, state, `cell "${cell}" of run ${this.run.runId}`);
    this.states.set(cell, state);
  }

  /** Sets a cell's state; a final state frees its slot and lets its dependents start. */
  settle(cell: string, state: CellState, options: { unchecked?: boolean } = {}): void {
    if (options.unchecked) this.states.set(cell, state);
    else this.move(cell, state);
    if (isOneOf(ENDED_CELL_STATES, state)) {
      this.active.delete(cell);
      for (const dependent of this.dependents.get(cell) ?? []) this.enqueueIfReady(dependent);
      this.#wake();
    }
  }

  report(cell: string, state: CellState, extra: { tryNumber?: number; error?: string; ms?: number; retryInMs?: number; details?: unknown } = {}): void {
    if (extra.error) this.errors.set(cell, extra.error);
    this.emit({ type: "cell", runId: this.run.runId, cell, state, tryNumber: extra.tryNumber ?? 0, ...extra });
  }

  setState(cell: string, state: CellState, extra: { tryNumber?: number; error?: string; ms?: number; retryInMs?: number; details?: unknown } = {}): void {
    this.settle(cell, state);
    this.report(cell, state, extra);
  }

  async runCell(cell: CellDef): Promise<void> {
    const { runId } = this.run;
    const upstreamStates = cell.needs.map((n) => this.states.get(n)!);
    if (cell.triggerRule === "all_success" && upstreamStates.some((s) => !isOneOf(SUCCEEDED_CELL_STATES, s))) {
      const durable = this.store.writer.write({
        attempts: [{ runId, cell: cell.name, tryNumber: 0, state: AttemptState.UpstreamFailed }],
      });
      this.settle(cell.name, CellState.UpstreamFailed);
      await durable;
      this.report(cell.name, CellState.UpstreamFailed);
      return;
    }
    const parts = await this.cache.parts(cell);
    const cacheKey = keyOf(cell, parts);
    if (cell.cache && !this.forced.has(cell.name) && await this.cache.serve(cell, cacheKey, parts)) return;
    // Durable with the cell's first try at the latest; awaited once the tries are over.
    const noted = this.store.writer.write({ reasons: [reasonRecord(runId, cell.name, await this.recomputeReason(cell, cacheKey, parts), parts)] });
    try {
      await this.tryCell(cell, cacheKey);
    } finally {
      await noted;
    }
  }

  /** Why the cell is computed rather than served from a checkpoint. */
  async recomputeReason(cell: CellDef, cacheKey: string, parts: KeyParts): Promise<CellReason> {
    if (!cell.cache) return { reason: CacheReason.CacheOff, detail: null };
    if (this.run.options.noCache) return { reason: CacheReason.NoCache, detail: null };
    const { from, only } = this.run.options;
    if (this.forced.has(cell.name)) {
      return { reason: CacheReason.Forced, detail: only?.includes(cell.name) ? "run alone" : from === cell.name ? "run from here" : `run from ${from}` };
    }
    return await this.cache.missReason(cell, cacheKey, parts);
  }

  /** The cell's tries, with retries and their delays, until one succeeds or none is left. */
  async tryCell(cell: CellDef, cacheKey: string): Promise<void> {
    const firstTry = (this.tries.get(cell.name) ?? 0) + 1;
    const lastTry = firstTry + cell.retries;
    for (let tryNumber = firstTry; tryNumber <= lastTry; tryNumber++) {
      this.tries.set(cell.name, tryNumber);
      const outcome = await new Attempt(this, cell, tryNumber, cacheKey).run();
      if (outcome.ok) return;
      if (outcome.cancelled) return this.setState(cell.name, CellState.Cancelled, { tryNumber, error: outcome.error });
      if (tryNumber === lastTry || !outcome.retryable) {
        const details = outcome.details === undefined ? {} : { details: outcome.details };
        return this.setState(cell.name, CellState.Failed, { tryNumber, error: outcome.error, ms: outcome.ms, ...details });
      }
      const delay = retryDelayMs(cell, tryNumber - firstTry + 1);
      this.setState(cell.name, CellState.UpForRetry, { tryNumber, error: outcome.error, ms: outcome.ms, retryInMs: delay });
      if (!(await sleep(delay, this.cancelSignal))) return this.setState(cell.name, CellState.Cancelled, { tryNumber });
    }
  }

  async alert(): Promise<void> {
    // A pipeline without its own hook alerts the deployment's webhook, if it has one.
    const alert = this.pipeline.alert ?? runtime.env("CELLAR_ALERT_WEBHOOK");
    if (!alert) return;
    const failure: RunFailure = {
      pipeline: this.pipeline.id,
      runId: this.run.runId,
      logicalDate: this.run.logicalDate.toISOString(),
      failedCells: [...this.states].filter(([, s]) => s === CellState.Failed).map(([cell]) => ({
        cell,
        tries: this.tries.get(cell) ?? 0,
        error: this.errors.get(cell) ?? "",
      })),
    };
    const problem = await sendAlert(alert, failure);
    if (problem) {
      this.emit({ type: "log", runId: this.run.runId, cell: "", level: "error", message: `alert: ${problem}` });
    }
  }
}

function isSettled(state: CellState): boolean {
  return isOneOf(SETTLED_CELL_STATES, state);
}

/** `from` and every cell that depends on it, directly or not: what a `from` run recomputes. */
function downstreamOf(order: CellDef[], from: string): Set<string> {
  const result = new Set([from]);
  for (const cell of order) if (cell.needs.some((n) => result.has(n))) result.add(cell.name);
  return result;
}
