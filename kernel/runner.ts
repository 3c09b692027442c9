/**
 * Executes one run: cells in dependency order, independent branches in
 * parallel, each try checkpointed; retries with backoff, timeouts through the
 * cell's AbortSignal, cancellation that leaves the run resumable.
 *
 * @example
 * const runner = new Runner(store);
 * const result = await runner.execute(pipeline, run);
 */
import type { DuckDBConnection } from "@duckdb/node-api";
import { sendAlert } from "./alert.ts";
import { type Compute, compute } from "./compute/devices.ts";
import { map } from "./compute/map.ts";
import type { Context, Logger } from "./context.ts";
import { formatDuration } from "./duration.ts";
import { CellarError, errorLine, isRetryable } from "./errors.ts";
import { codeVersion } from "./fingerprint.ts";
import { sha256 } from "./hash.ts";
import { encodeOutput } from "./output.ts";
import type { CellDef, ParamValue, Pipeline, RunFailure } from "./pipeline.ts";
import { retryDelayMs } from "./retry.ts";
import type { RunRecord } from "./runs.ts";
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
import type { AttemptRecord, CostRecord, LogRecord } from "./store/writer.ts";
import { type Columns, createTable, quoteIdent, type TableWriter } from "./tables.ts";
import { clearLongTimeout, type LongTimer, setLongTimeout, sleep } from "./timer.ts";

/** What the runner tells its listeners (the CLI's progress display, the server's live updates). */
export type RunEvent =
  | { type: "run"; runId: number; pipeline: string; state: RunState }
  | { type: "cell"; runId: number; cell: string; state: CellState; tryNumber: number; error?: string; ms?: number; retryInMs?: number }
  | { type: "progress"; runId: number; cell: string; done: number; total?: number }
  | { type: "log"; runId: number; cell: string; level: string; message: string };

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
}

/** What a cell read from its run, recorded with its checkpoint. */
interface Reads {
  params: Record<string, unknown>;
  interval?: string;
}

interface Checkpoint {
  output: unknown;
  hash: string;
}

/** Raised inside a cell's signal when the runner is cancelled (SIGINT, SIGTERM). */
export class CancelledError extends Error {
  override name = "CancelledError";
}

export class Runner {
  readonly #listeners = new Set<(event: RunEvent) => void>();
  readonly #cancel = new AbortController();
  readonly #abandonAfterMs: number;
  readonly compute: Compute;

  constructor(private readonly store: Store, options: RunnerOptions = {}) {
    this.#abandonAfterMs = options.abandonAfterMs ?? 5_000;
    this.compute = options.compute ?? compute();
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
  readonly checkpoints = new Map<string, Checkpoint>();
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
  #wake: () => void = () => {};
  #cacheIndex: Promise<Map<string, Array<{ runId: number; reads: Reads }>>> | undefined;

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

  async execute(): Promise<RunResult> {
    const { runId } = this.run;
    await this.loadCheckpoints();
    const startedAt = this.run.startedAt ?? new Date();
    await this.store.writer.write({ runStates: [[runId, { state: RunState.Running, startedAt, endedAt: null }]] });
    this.runner.emit({ type: "run", runId, pipeline: this.pipeline.id, state: RunState.Running });

    await this.schedule();

    const cancelled = this.cancelSignal.aborted && [...this.states.values()].some((s) => isOneOf(UNFINISHED_CELL_STATES, s));
    const failed = [...this.states.entries()].filter(([, s]) => isOneOf(FAILED_CELL_STATES, s));
    const state: RunState = cancelled ? RunState.Interrupted : failed.length > 0 ? RunState.Failed : RunState.Success;
    assertTransition(RUN_TRANSITIONS, RunState.Running, state, `run ${runId}`);
    await this.store.writer.write({
      runStates: [[runId, { state, endedAt: state === RunState.Interrupted ? null : new Date() }]],
    });
    this.runner.emit({ type: "run", runId, pipeline: this.pipeline.id, state });
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
    const tries = await this.store.query(
      `SELECT cell, max(try_number) AS n FROM attempts WHERE run_id = ? GROUP BY cell`,
      [this.run.runId],
    );
    for (const row of tries) this.tries.set(String(row.cell), Number(row.n));
    // Initial states (INITIAL_CELL_STATES), not transitions.
    for (const cell of this.order) {
      if (this.checkpoints.has(cell.name) && !this.forced.has(cell.name)) this.states.set(cell.name, CellState.Success);
      else this.states.set(cell.name, CellState.Waiting);
    }
    if (!this.run.options.only) return;
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

  report(cell: string, state: CellState, extra: { tryNumber?: number; error?: string; ms?: number; retryInMs?: number } = {}): void {
    if (extra.error) this.errors.set(cell, extra.error);
    this.runner.emit({ type: "cell", runId: this.run.runId, cell, state, tryNumber: extra.tryNumber ?? 0, ...extra });
  }

  setState(cell: string, state: CellState, extra: { tryNumber?: number; error?: string; ms?: number; retryInMs?: number } = {}): void {
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
    const cacheKey = await this.cacheKey(cell);
    if (cell.cache && !this.forced.has(cell.name) && await this.serveFromCache(cell, cacheKey)) return;

    const firstTry = (this.tries.get(cell.name) ?? 0) + 1;
    const lastTry = firstTry + cell.retries;
    for (let tryNumber = firstTry; tryNumber <= lastTry; tryNumber++) {
      this.tries.set(cell.name, tryNumber);
      const outcome = await new Attempt(this, cell, tryNumber, cacheKey).run();
      if (outcome.ok) return;
      if (outcome.cancelled) return this.setState(cell.name, CellState.Cancelled, { tryNumber, error: outcome.error });
      if (tryNumber === lastTry || !outcome.retryable) {
        return this.setState(cell.name, CellState.Failed, { tryNumber, error: outcome.error, ms: outcome.ms });
      }
      const delay = retryDelayMs(cell, tryNumber - firstTry + 1);
      this.setState(cell.name, CellState.UpForRetry, { tryNumber, error: outcome.error, ms: outcome.ms, retryInMs: delay });
      if (!(await sleep(delay, this.cancelSignal))) return this.setState(cell.name, CellState.Cancelled, { tryNumber });
    }
  }

  /**
   * The identity of a cell's computation: its code as written and the hashes
   * of its upstream outputs. The params and interval it reads are matched
   * against each checkpoint's recorded reads (see `serveFromCache`).
   */
  async cacheKey(cell: CellDef): Promise<string> {
    const upstream = cell.needs.map((n) => [n, this.checkpoints.get(n)?.hash ?? null]);
    return sha256(JSON.stringify([cell.name, await codeVersion(cell), upstream]));
  }

  get intervalKey(): string {
    return `${this.run.interval.start.toISOString()}/${this.run.interval.end.toISOString()}`;
  }

  /**
   * Serves the newest checkpoint with the same key whose recorded reads match
   * this run: the same value for every param it read, the same data interval
   * if it read that. A param only one cell reads then invalidates only that cell.
   */
  async serveFromCache(cell: CellDef, cacheKey: string): Promise<boolean> {
    const candidates = (await this.cacheIndex).get(`${cell.name}\u0000${cacheKey}`) ?? [];
    const match = candidates.find((c) => this.sameReads(c.reads));
    if (!match) return false;
    const [hit] = await this.store.query(
      `SELECT run_id, output, output_hash, reads FROM outputs WHERE run_id = ? AND cell = ?`,
      [match.runId, cell.name],
    );
    const { runId } = this.run;
    // A new attempt row: on resume the cell may have earlier tries whose errors and times must stay.
    const prior = this.tries.get(cell.name);
    const tryNumber = prior === undefined ? 0 : prior + 1;
    const durable = this.store.writer.write({
      outputs: [{
        runId, cell: cell.name, pipeline: this.pipeline.id, tryNumber, cacheKey,
        output: String(hit.output), outputHash: String(hit.output_hash),
        reads: String(hit.reads),
        cachedFrom: Number(hit.run_id),
      }],
      attempts: [{ runId, cell: cell.name, tryNumber, state: AttemptState.Cached, startedAt: new Date(), endedAt: new Date() }],
    });
    this.checkpoints.set(cell.name, { output: JSON.parse(String(hit.output)), hash: String(hit.output_hash) });
    this.settle(cell.name, CellState.Cached);
    await durable;
    this.report(cell.name, CellState.Cached, { tryNumber });
    return true;
  }

  /**
   * The pipeline's checkpoints by (cell, cache key), newest first, read once per
   * run: one query instead of one per cell, which matters for long pipelines.
   */
  get cacheIndex(): Promise<Map<string, Array<{ runId: number; reads: Reads }>>> {
    this.#cacheIndex ??= this.store.query(
      `SELECT cell, cache_key, run_id, reads FROM outputs WHERE pipeline = ?
       QUALIFY row_number() OVER (PARTITION BY cell, cache_key ORDER BY created_at DESC) <= 20
       ORDER BY created_at DESC`,
      [this.pipeline.id],
    ).then((rows) => {
      const index = new Map<string, Array<{ runId: number; reads: Reads }>>();
      for (const row of rows) {
        const key = `${row.cell}\u0000${row.cache_key}`;
        if (!index.has(key)) index.set(key, []);
        index.get(key)!.push({ runId: Number(row.run_id), reads: JSON.parse(String(row.reads)) });
      }
      return index;
    });
    return this.#cacheIndex;
  }

  sameReads(reads: Reads): boolean {
    if (reads.interval !== undefined && reads.interval !== this.intervalKey) return false;
    return Object.entries(reads.params).every(([name, value]) =>
      name in this.run.params && encodeOutput("params", this.run.params[name]).json === encodeOutput("params", value).json
    );
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
      this.runner.emit({ type: "log", runId: this.run.runId, cell: "", level: "error", message: `alert: ${problem}` });
    }
  }
}

type Outcome = { ok: true } | { ok: false; error: string; retryable: boolean; cancelled: boolean; ms: number };

/** One try of one cell: its context, its transaction, its timers. */
class Attempt {
  readonly controller = new AbortController();
  readonly costs = new Map<string, number>();
  readonly startedAt = new Date();
  conn: DuckDBConnection | undefined;
  tables: TableWriter[] = [];
  /** False once the attempt is over; an abandoned cell's late calls then fail instead of writing. */
  live = true;
  /** Which params and whether the data interval the cell read: recorded with its checkpoint for cache matching. */
  readonly readParams = new Set<string>();
  readInterval = false;
  committed: { durable: Promise<void>; wallMs: number } | undefined;

  constructor(
    readonly exec: Execution,
    readonly cell: CellDef,
    readonly tryNumber: number,
    readonly cacheKey: string,
  ) {}

  get record(): Pick<AttemptRecord, "runId" | "cell" | "tryNumber"> {
    return { runId: this.exec.run.runId, cell: this.cell.name, tryNumber: this.tryNumber };
  }

  async run(): Promise<Outcome> {
    const { exec, cell, controller } = this;
    const started = exec.store.writer.write({ attempts: [{ ...this.record, state: AttemptState.Running, startedAt: this.startedAt }] });
    exec.setState(cell.name, CellState.Running, { tryNumber: this.tryNumber });

    const onCancel = () => controller.abort(exec.cancelSignal.reason);
    exec.cancelSignal.addEventListener("abort", onCancel, { once: true });
    if (exec.cancelSignal.aborted) onCancel();
    const timedOut = () => controller.abort(new DOMException(`timed out after ${formatDuration(cell.timeoutMs!)}`, "TimeoutError"));
    const timer = cell.timeoutMs === undefined ? undefined : setLongTimeout(timedOut, cell.timeoutMs);

    const t0 = performance.now();
    const cpu0 = runtime.cpuTimeMs();
    let outcome: Outcome;
    try {
      const input = cell.needs.length > 0 ? exec.checkpoints.get(cell.needs[0])?.output : undefined;
      const value = await this.settleOrAbandon(Promise.resolve().then(() => cell.fn(this.context(), input)));
      // A cell that blocked the thread past its timeout (a busy loop) kept the timer from firing: it still timed out.
      if (cell.timeoutMs !== undefined && !controller.signal.aborted && performance.now() - t0 >= cell.timeoutMs) timedOut();
      await this.commit(value, performance.now() - t0, runtime.cpuTimeMs() - cpu0);
      outcome = { ok: true };
    } catch (err) {
      outcome = await this.fail(err, performance.now() - t0, runtime.cpuTimeMs() - cpu0);
    } finally {
      this.live = false;
      clearLongTimeout(timer);
      exec.cancelSignal.removeEventListener("abort", onCancel);
      this.conn?.closeSync();
    }
    await started;
    if (this.committed) {
      // Dependents are already running; the cell is reported done once its checkpoint is durable.
      await this.committed.durable;
      exec.report(cell.name, CellState.Success, { tryNumber: this.tryNumber, ms: this.committed.wallMs });
    }
    return outcome;
  }

  /** The cell's result, or — once its signal is aborted and it has not stopped in time — an abandonment. */
  settleOrAbandon<T>(work: Promise<T>): Promise<T> {
    const { signal } = this.controller;
    return new Promise<T>((resolve, reject) => {
      let abandonTimer: LongTimer | undefined;
      const onAbort = () => {
        abandonTimer = setLongTimeout(() => {
          reject(new AbandonedError(`${errorLine(signal.reason)}; ignored its abort signal for ${formatDuration(this.exec.abandonAfterMs)} and was abandoned`));
        }, this.exec.abandonAfterMs);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      work.then(resolve, reject).finally(() => {
        clearLongTimeout(abandonTimer);
        signal.removeEventListener("abort", onAbort);
      });
    });
  }

  /** Stores the output (and the cell's tables) and lets dependents start; durability follows in `committed`. */
  async commit(value: unknown, wallMs: number, cpuMs: number): Promise<void> {
    const { exec, cell } = this;
    // A cell that returns after its signal fired has still timed out or been cancelled.
    this.controller.signal.throwIfAborted();
    for (const table of this.tables) await table.finish();
    const encoded = encodeOutput(cell.name, value);
    const outputHash = sha256(encoded.identity);
    const output = {
      ...this.record, pipeline: exec.pipeline.id, cacheKey: this.cacheKey, output: encoded.json, outputHash,
      reads: this.reads(),
    };
    const attempt: AttemptRecord = {
      ...this.record, state: AttemptState.Success, startedAt: this.startedAt, endedAt: new Date(), wallMs, cpuMs,
    };
    let durable: Promise<void>;
    if (this.conn) {
      // A checkpoint must never be durable before its upstreams' checkpoints are.
      await exec.store.writer.drain();
      // The cell's tables and its checkpoint commit together or not at all.
      await this.conn.run(
        `INSERT INTO outputs VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, now())`,
        [output.runId, output.cell, output.pipeline, output.tryNumber, output.cacheKey, output.output, output.outputHash, output.reads],
      );
      await this.conn.run("COMMIT");
      await this.pointViewsAtNewTables();
      durable = exec.store.writer.write({ attempts: [attempt], costs: this.costRecords() });
    } else {
      durable = exec.store.writer.write({ outputs: [output], attempts: [attempt], costs: this.costRecords() });
    }
    exec.checkpoints.set(cell.name, { output: JSON.parse(encoded.json), hash: outputHash });
    this.live = false;
    this.committed = { durable, wallMs };
    exec.settle(cell.name, CellState.Success);
  }

  async fail(err: unknown, wallMs: number, cpuMs: number): Promise<Outcome> {
    const { exec, cell } = this;
    const reason = this.controller.signal.aborted ? this.controller.signal.reason : undefined;
    const cancelled = reason instanceof CancelledError;
    // When the signal fired, its reason says why (timeout, cancel) better than the cell's own AbortError.
    const error = reason !== undefined && !(err instanceof AbandonedError) ? errorLine(reason) : errorLine(err);
    if (this.conn) {
      this.conn.interrupt();
      await this.conn.run("ROLLBACK").catch(() => {});
    }
    await exec.store.writer.write({
      attempts: [{
        ...this.record, state: cancelled ? AttemptState.Cancelled : AttemptState.Failed, startedAt: this.startedAt, endedAt: new Date(),
        wallMs, cpuMs, error,
      }],
      costs: this.costRecords(),
      logs: [this.logRecord("error", error)],
    });
    // Whether another try could help is the error's own data (errors.ts): a CellarError is bad input stated by the
    // cell or the kernel (bad seeds, an unstorable output, a shader that does not compile) unless it says
    // `retryable: true`, as a cell that hung and a ctx.map chunk that failed for a transient reason do.
    const retryable = isRetryable(err);
    return { ok: false, error, retryable, cancelled, ms: wallMs };
  }

  reads(): string {
    const { params } = this.exec.run;
    const read = Object.fromEntries([...this.readParams].filter((k) => k in params).map((k) => [k, params[k]]));
    return encodeOutput("reads", { params: read, interval: this.readInterval ? this.exec.intervalKey : undefined }).json;
  }

  costRecords(): CostRecord[] {
    return [...this.costs].map(([resource, amount]) => ({ ...this.record, resource, amount }));
  }

  logRecord(level: string, message: string): LogRecord {
    return { ...this.record, ts: new Date(), level, message };
  }

  checkLive(): void {
    if (!this.live) throw new CellarError(`cell "${this.cell.name}" try ${this.tryNumber} is over; its late call was refused`);
  }

  async connection(): Promise<DuckDBConnection> {
    if (!this.conn) {
      this.conn = await this.exec.store.connect();
      await this.conn.run("BEGIN TRANSACTION");
    }
    return this.conn;
  }

  async pointViewsAtNewTables(): Promise<void> {
    for (const table of this.tables) {
      const view = `${quoteIdent(this.exec.pipeline.id)}.${quoteIdent(table.name)}`;
      await this.exec.store.query(`CREATE OR REPLACE VIEW ${view} AS SELECT * FROM ${table.sql}`).catch(() => {});
    }
  }

  context(): Context {
    const attempt = this;
    const { exec, cell } = this;
    const log = (level: string) => (message: string) => {
      attempt.checkLive();
      const text = String(message);
      exec.runner.emit({ type: "log", runId: exec.run.runId, cell: cell.name, level, message: text });
      exec.store.writer.write({ logs: [attempt.logRecord(level, text)] }).catch(() => {});
    };
    const logger: Logger = { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") };
    const context: Context = {
      pipeline: exec.pipeline.id,
      runId: exec.run.runId,
      cell: cell.name,
      tryNumber: this.tryNumber,
      params: trackReads(exec.run.params, attempt.readParams),
      get logicalDate() {
        attempt.readInterval = true;
        return new Date(exec.run.logicalDate);
      },
      get dataInterval() {
        attempt.readInterval = true;
        return { start: new Date(exec.run.interval.start), end: new Date(exec.run.interval.end) };
      },
      signal: this.controller.signal,
      log: logger,
      progress(done: number, total?: number) {
        exec.runner.emit({ type: "progress", runId: exec.run.runId, cell: cell.name, done, total });
      },
      cost: {
        add(resource: string, amount: number) {
          attempt.checkLive();
          if (typeof resource !== "string" || resource === "" || !Number.isFinite(amount)) {
            throw new CellarError(`ctx.cost.add(${JSON.stringify(resource)}, ${amount}): expected a resource name and a finite number`);
          }
          attempt.costs.set(resource, (attempt.costs.get(resource) ?? 0) + amount);
        },
      },
      upstream<T>(name: string): T {
        if (!cell.needs.includes(name)) {
          throw new CellarError(`ctx.upstream("${name}"): cell "${cell.name}" does not need "${name}"; add it to needs`);
        }
        return exec.checkpoints.get(name)?.output as T;
      },
      async table(name: string, columns: Columns): Promise<TableWriter> {
        attempt.checkLive();
        // DuckDB's names are case-insensitive: "T" and "t" of one run are one physical table, which two cells
        // would both create (a write-write conflict). Claimed before any await, so parallel cells cannot both pass.
        const owner = exec.tableOwners.get(String(name).toLowerCase());
        if (owner && (owner.cell !== cell.name || owner.name !== name)) {
          throw new CellarError(
            `ctx.table(${JSON.stringify(name)}) in cell "${cell.name}": cell "${owner.cell}" of this run already writes table "${owner.name}"` +
              `${owner.name === name ? "" : ", the same table to DuckDB, whose names ignore case"}; give each table its own name`,
          );
        }
        if (typeof name === "string") exec.tableOwners.set(name.toLowerCase(), { cell: cell.name, name });
        await ensureSchema(exec.store, exec.pipeline.id);
        const conn = await attempt.connection();
        const writer = await createTable(conn, exec.pipeline.id, name, exec.run.runId, columns, () => attempt.checkLive());
        attempt.tables.push(writer);
        return writer;
      },
      map(items, fn, options = {}) {
        attempt.checkLive();
        const noticed = new Set<string>();
        return map({
          cell: cell.name,
          signal: attempt.controller.signal,
          gpu: () => exec.runner.compute.gpu(),
          cpu: () => exec.runner.compute.cpu(),
          progress: (done, total) => context.progress(done, total),
          cost: (resource, amount) => context.cost.add(resource, amount),
          notice: (message) => {
            if (!noticed.has(message)) noticed.add(message), logger.info(message);
          },
        }, items, fn, { ...cell.claim, ...options });
      },
      async sql(query: string, values: unknown[] = []) {
        attempt.checkLive();
        if (!attempt.conn) return await exec.store.query(query, values as never[]);
        const reader = await attempt.conn.runAndReadAll(query, values as never[]);
        return reader.getRowObjectsJS() as Record<string, unknown>[];
      },
    };
    return context;
  }
}

/** A read-only view of the params that notes each name read; listing them reads them all. */
function trackReads(params: Record<string, ParamValue>, read: Set<string>): Readonly<Record<string, ParamValue>> {
  const frozen = Object.freeze(structuredClone(params));
  return new Proxy(frozen, {
    get(target, key, receiver) {
      if (typeof key === "string") read.add(key);
      return Reflect.get(target, key, receiver);
    },
    has(target, key) {
      if (typeof key === "string") read.add(key);
      return Reflect.has(target, key);
    },
    ownKeys(target) {
      for (const key of Object.keys(target)) read.add(key);
      return Reflect.ownKeys(target);
    },
  });
}

/** A cell that did not stop after its signal fired; still retried like any failure. */
class AbandonedError extends CellarError {
  constructor(message: string) {
    super(message, { retryable: true });
  }
}

const schemas = new WeakMap<Store, Map<string, Promise<void>>>();

/** Creates a pipeline's data schema once per store, outside any cell's transaction (catalog writes would conflict). */
function ensureSchema(store: Store, schema: string): Promise<void> {
  let known = schemas.get(store);
  if (!known) schemas.set(store, known = new Map());
  let created = known.get(schema);
  if (!created) {
    created = store.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`).then(() => {});
    known.set(schema, created);
  }
  return created;
}

function isSettled(state: CellState): boolean {
  return isOneOf(SETTLED_CELL_STATES, state);
}

/** `from` and every cell that depends on it, directly or not. */
function downstreamOf(order: CellDef[], from: string): Set<string> {
  const result = new Set([from]);
  for (const cell of order) if (cell.needs.some((n) => result.has(n))) result.add(cell.name);
  return result;
}
