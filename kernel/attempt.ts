/**
 * One try of one cell: its `ctx`, its transaction (the cell's tables and its
 * checkpoint commit together), its timeout and abandonment timers, and the
 * live check that refuses an abandoned cell's late calls. The runner
 * (runner.ts) decides whether to try again.
 *
 * @example
 * ```ts
 * import { Attempt, type AttemptRun } from "./attempt.ts";
 * import type { CellDef } from "./pipeline.ts";
 * declare const execution: AttemptRun;
 * declare const cell: CellDef;
 * declare const tryNumber: number;
 * declare const cacheKey: string;
 *
 * const outcome = await new Attempt(execution, cell, tryNumber, cacheKey).run();
 * if (!outcome.ok && outcome.retryable) {
 *   // sleep out the retry delay, then try again
 * }
 * ```
 */
import type { DuckDBConnection } from "@duckdb/node-api";
import { ReadTracker, type RunCheckpoint } from "./cache.ts";
import { type ContextRun, createContext } from "./context.ts";
import { formatDuration } from "./duration.ts";
import { encodeCheckDetails } from "./check-details.ts";
import { CellarError, errorLine, isRetryable } from "./errors.ts";
import { sha256 } from "./hash.ts";
import { encodeOutput } from "./output.ts";
import type { CellDef } from "./pipeline.ts";
import { metrics } from "./prometheus.ts";
import { runtime } from "./runtime/mod.ts";
import { AttemptState, CellState } from "./state.ts";
import { type AttemptRecord, changeStatements, type CostRecord, type LogRecord } from "./store/group-commit.ts";
import { quoteIdent, type TableWriter } from "./tables.ts";
import { clearLongTimeout, type LongTimer, setLongTimeout } from "./timer.ts";

/** Raised inside a cell's signal when the runner is cancelled (SIGINT, SIGTERM). */
export class CancelledError extends Error {
  override name = "CancelledError";
}

/** A cell that did not stop after its signal fired; still retried like any failure. */
class AbandonedError extends CellarError {
  constructor(message: string) {
    super(message, { retryable: true });
  }
}

/** What a try needs of its run (runner.ts's Execution). */
export interface AttemptRun extends ContextRun {
  readonly checkpoints: Map<string, RunCheckpoint>;
  /** The runner's cancellation: aborts every try. */
  readonly cancelSignal: AbortSignal;
  /** How long a cell may ignore its aborted signal before it is abandoned. */
  readonly abandonAfterMs: number;
  /** Sets a cell's state; a final state lets its dependents start. */
  settle(cell: string, state: CellState): void;
  /** Tells the runner's listeners a cell's state. */
  report(cell: string, state: CellState, extra?: { tryNumber?: number; ms?: number }): void;
  /** `settle`, then `report`. */
  setState(cell: string, state: CellState, extra?: { tryNumber?: number }): void;
}

/** `details`: a failed check's details as stored (their JSON round trip), for the cell's failed event. */
export type Outcome = { ok: true } | { ok: false; error: string; retryable: boolean; cancelled: boolean; ms: number; details?: unknown };

/** One try of one cell: its context, its transaction, its timers. */
export class Attempt {
  readonly controller = new AbortController();
  readonly costs = new Map<string, number>();
  readonly startedAt = new Date();
  conn: DuckDBConnection | undefined;
  tables: TableWriter[] = [];
  /** False once the attempt is over; an abandoned cell's late calls then fail instead of writing. */
  live = true;
  /** Which params and whether the data interval the cell read: recorded with its checkpoint for cache matching. */
  readonly reads = new ReadTracker();
  committed: { durable: Promise<void>; wallMs: number } | undefined;
  /** Settles once the try's running row is durable. */
  started: Promise<void> | undefined;
  #connecting: Promise<DuckDBConnection> | undefined;

  constructor(
    readonly exec: AttemptRun,
    readonly cell: CellDef,
    readonly tryNumber: number,
    readonly cacheKey: string,
  ) {}

  get record(): Pick<AttemptRecord, "runId" | "cell" | "tryNumber"> {
    return { runId: this.exec.run.runId, cell: this.cell.name, tryNumber: this.tryNumber };
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  async run(): Promise<Outcome> {
    const { exec, cell, controller } = this;
    const started = exec.store.writer.write({ attempts: [{ ...this.record, state: AttemptState.Running, startedAt: this.startedAt }] });
    this.started = started;
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
      const value = await this.settleOrAbandon(Promise.resolve().then(() => cell.fn(createContext(this), input)));
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
      reads: this.reads.encode(exec.run),
    };
    const attempt: AttemptRecord = {
      ...this.record, state: AttemptState.Success, startedAt: this.startedAt, endedAt: new Date(), wallMs, cpuMs,
    };
    let durable: Promise<void>;
    if (this.conn) {
      // A checkpoint must never be durable before its upstreams' checkpoints are.
      await exec.store.writer.drain();
      // The cell's tables, its checkpoint and its try's end commit together or not at all.
      for (const [sql, values] of changeStatements({ outputs: [output], attempts: [attempt], costs: this.costRecords() })) {
        await this.conn.run(sql, values);
      }
      await this.conn.run("COMMIT");
      await this.pointViewsAtNewTables();
      durable = Promise.resolve();
    } else {
      durable = exec.store.writer.write({ outputs: [output], attempts: [attempt], costs: this.costRecords() });
    }
    exec.checkpoints.set(cell.name, { output: JSON.parse(encoded.json), hash: outputHash });
    this.live = false;
    this.committed = { durable, wallMs };
    exec.settle(cell.name, CellState.Success);
  }

  async fail(thrown: unknown, wallMs: number, cpuMs: number): Promise<Outcome> {
    // A damaged store found by the cell's reads or its commit is said as the store says it, and is not retried.
    const err = this.exec.store.refusal(thrown);
    const reason = this.controller.signal.aborted ? this.controller.signal.reason : undefined;
    const cancelled = reason instanceof CancelledError;
    // When the signal fired, its reason says why (timeout, cancel) better than the cell's own AbortError.
    const error = reason !== undefined && !(err instanceof AbandonedError) ? errorLine(reason) : errorLine(err);
    if (this.conn) {
      this.conn.interrupt();
      await this.conn.run("ROLLBACK").catch(() => {});
    }
    // A failed check's details are kept with the try, in its commit: they are all a refused measurement leaves.
    const details = reason === undefined ? encodeCheckDetails(this.cell.name, err) : {};
    const logs = [this.logRecord("error", error), ...(details.refusal === undefined ? [] : [this.logRecord("error", details.refusal)])];
    await this.exec.store.writer.write({
      attempts: [{
        ...this.record, state: cancelled ? AttemptState.Cancelled : AttemptState.Failed, startedAt: this.startedAt, endedAt: new Date(),
        wallMs, cpuMs, error, ...(details.json === undefined ? {} : { checkDetails: details.json }),
      }],
      costs: this.costRecords(),
      logs,
    });
    // The error lines go out as ctx.log's lines do, once they are in the store: a page tailing the cell's log
    // shows them as the try fails, not only when it is drawn again after the run.
    for (const l of logs) {
      this.exec.emit({ type: "log", runId: l.runId, cell: l.cell, level: l.level, message: l.message, tryNumber: l.tryNumber, seq: l.seq, ts: l.ts, failure: true });
    }
    // Whether another try could help is the error's own data (errors.ts): a CellarError is bad input stated by the
    // cell or the kernel (bad seeds, an unstorable output, a shader that does not compile) unless it says
    // `retryable: true`, as a cell that hung and a ctx.map chunk that failed for a transient reason do.
    const retryable = isRetryable(err);
    return { ok: false, error, retryable, cancelled, ms: wallMs, ...(details.json === undefined ? {} : { details: JSON.parse(details.json) }) };
  }

  /** The try's costs as rows; also counted in cellar_cost_units_total, as a try's end (commit or fail) calls this once. */
  costRecords(): CostRecord[] {
    // A counter only goes up: a negative amount (a refund) is in the store's sums, not in the counter.
    for (const [unit, amount] of this.costs) if (amount > 0) metrics.costUnits.inc({ pipeline: this.exec.pipeline.id, unit }, amount);
    return [...this.costs].map(([resource, amount]) => ({ ...this.record, resource, amount }));
  }

  logRecord(level: string, message: string): LogRecord & { seq: number } {
    return { ...this.record, seq: this.exec.store.writer.nextLogSeq(), ts: new Date(), level, message };
  }

  checkLive(): void {
    if (!this.live) throw new CellarError(`cell "${this.cell.name}" try ${this.tryNumber} is over; its late call was refused`);
  }

  connection(): Promise<DuckDBConnection> {
    // One transaction however many tables and queries ask for it at once.
    this.#connecting ??= (async () => {
      // The try's row must be in the transaction's snapshot: its commit updates the row, and a row committed
      // after the transaction began would be a duplicate key to it.
      await this.started?.catch(() => {});
      const conn = await this.exec.store.connect();
      this.conn = conn;
      await conn.run("BEGIN TRANSACTION");
      return conn;
    })();
    return this.#connecting;
  }

  async pointViewsAtNewTables(): Promise<void> {
    for (const table of this.tables) {
      const view = `${quoteIdent(this.exec.pipeline.id)}.${quoteIdent(table.name)}`;
      await this.exec.store.query(`CREATE OR REPLACE VIEW ${view} AS SELECT * FROM ${table.sql}`).catch(() => {});
    }
  }
}
