/**
 * `ctx`: what a cell sees of the kernel while it runs.
 *
 * @example
 * ```ts
 * import type { TableRef } from "./output.ts";
 * import { pipeline } from "./pipeline.ts";
 *
 * pipeline({ id: "stats" }).cell("count", async (ctx, input: { documents: TableRef }) => {
 *   ctx.log.info(`counting for ${ctx.dataInterval.start.toISOString()}`);
 *   const rows = await ctx.sql(`SELECT count(*) AS n FROM ${input.documents.sql}`);
 *   ctx.cost.add("rows_scanned", Number(rows[0].n));
 *   return { n: Number(rows[0].n) };
 * });
 * ```
 *
 * The runner builds one `ctx` per try with `createContext` (attempt.ts); a
 * cell only ever receives it.
 */
import type { DuckDBConnection } from "@duckdb/node-api";
import type { ReadTracker, RunCheckpoint } from "./cache.ts";
import type { Compute } from "./compute/devices.ts";
import { type ChunkFn, map, type MapOptions, type MapResult, type RemoteHost } from "./compute/map.ts";
import type { GpuDevice } from "./compute/gpu-device.ts";
import type { TaskHandle } from "./compute/task.ts";
import { CellarError } from "./errors.ts";
import type { DataInterval } from "./timetable.ts";
import type { CellDef, ParamValue, Pipeline } from "./pipeline.ts";
import type { RunEvent } from "./runner.ts";
import type { RunRecord } from "./run-records.ts";
import type { Store } from "./store/store.ts";
import type { LogRecord } from "./store/group-commit.ts";
import { type Columns, createTable, quoteIdent, type TableWriter } from "./tables.ts";

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface Context {
  readonly pipeline: string;
  readonly runId: number;
  readonly cell: string;
  /** 1 for the first try, 2 for the first retry, … */
  readonly tryNumber: number;
  readonly params: Readonly<Record<string, ParamValue>>;
  /** The start of the run's data interval (Airflow's logical date). */
  readonly logicalDate: Date;
  readonly dataInterval: DataInterval;
  /** Aborted on timeout and cancellation; pass it to fetch, models and loops. */
  readonly signal: AbortSignal;
  readonly log: Logger;
  /** Reports progress shown by the CLI and the UI: `ctx.progress(40, 100)`. */
  progress(done: number, total?: number): void;
  readonly cost: {
    /** Adds `amount` of a resource (tokens, API calls, bytes) to this attempt's cost. */
    add(resource: string, amount: number): void;
  };
  /** The output of an upstream cell named in `needs` (or the cell before this one). */
  upstream<T = unknown>(name: string): T;
  /** Creates a table for this run's output and returns a bulk writer for it. */
  table(name: string, columns: Columns): Promise<TableWriter>;
  /**
   * Fans `items` out in chunks: over device leases when the cell (or `options`)
   * claims a GPU share, over CPU workers for a `task()` handle, on this thread
   * for an inline function — or, with `placement: "remote" | "auto"`, a task
   * handle's chunks on remote kernels (kernel/remote/remote-placement.ts).
   * Await it for all results in input order, or iterate it to stream them.
   */
  map<T, R>(items: Iterable<T> | AsyncIterable<T>, fn: ChunkFn<T, R, GpuDevice> | TaskHandle, options?: MapOptions): MapResult<R>;
  /** Runs SQL against the store, seeing this cell's own uncommitted tables; rows as JS objects. */
  sql(query: string, values?: unknown[]): Promise<Record<string, unknown>[]>;
}

/** What a context needs of its run (runner.ts's Execution). */
export interface ContextRun {
  readonly store: Store;
  readonly pipeline: Pipeline;
  readonly run: RunRecord;
  readonly checkpoints: ReadonlyMap<string, RunCheckpoint>;
  /** Each table name of this run (lower-cased, as DuckDB compares names) and the cell and spelling that claimed it. */
  readonly tableOwners: Map<string, { cell: string; name: string }>;
  readonly compute: Compute;
  /** Remote kernels for `placement: "remote" | "auto"`, when the kernel was opened with a NATS connection. */
  readonly remote?: RemoteHost | undefined;
  emit(event: RunEvent): void;
}

/** What a context needs of its try (attempt.ts's Attempt). */
export interface ContextTry {
  readonly exec: ContextRun;
  readonly cell: CellDef;
  readonly tryNumber: number;
  /** Aborted on timeout and cancellation: the cell's `ctx.signal`. */
  readonly signal: AbortSignal;
  readonly reads: ReadTracker;
  readonly costs: Map<string, number>;
  /** The tables the cell created, finished and committed with its output. */
  readonly tables: TableWriter[];
  /** The try's own transaction, once the cell created a table. */
  readonly conn: DuckDBConnection | undefined;
  /** Throws once the try is over: an abandoned cell's late calls fail instead of writing. */
  checkLive(): void;
  /** The try's transaction, begun on first use. */
  connection(): Promise<DuckDBConnection>;
  logRecord(level: string, message: string): LogRecord & { seq: number };
}

/** The `ctx` of one try: everything it writes goes through `attempt`, refused once the try is over. */
export function createContext(attempt: ContextTry): Context {
  const { exec, cell } = attempt;
  const { run } = exec;
  const log = logger(attempt);
  const context: Context = {
    pipeline: exec.pipeline.id,
    runId: run.runId,
    cell: cell.name,
    tryNumber: attempt.tryNumber,
    params: attempt.reads.view(run.params),
    get logicalDate() {
      attempt.reads.interval = true;
      return new Date(run.logicalDate);
    },
    get dataInterval() {
      attempt.reads.interval = true;
      return { start: new Date(run.interval.start), end: new Date(run.interval.end) };
    },
    signal: attempt.signal,
    log,
    progress(done: number, total?: number) {
      exec.emit({ type: "progress", runId: run.runId, cell: cell.name, done, total });
    },
    cost: {
      add(resource: string, amount: number) {
        addCost(attempt, resource, amount);
      },
    },
    upstream<T>(name: string): T {
      if (!cell.needs.includes(name)) {
        throw new CellarError(`ctx.upstream("${name}"): cell "${cell.name}" does not need "${name}"; add it to needs`);
      }
      return exec.checkpoints.get(name)?.output as T;
    },
    table(name: string, columns: Columns): Promise<TableWriter> {
      return openTable(attempt, name, columns);
    },
    map(items, fn, options = {}) {
      return fanOut(attempt, context, items, fn, options);
    },
    sql(query: string, values: unknown[] = []) {
      return runSql(attempt, query, values);
    },
  };
  return context;
}

/** `ctx.log`: each line to the runner's listeners and, in the background, to the store. */
function logger(attempt: ContextTry): Logger {
  const { exec, cell } = attempt;
  const log = (level: string) => (message: string) => {
    attempt.checkLive();
    const text = String(message);
    const record = attempt.logRecord(level, text);
    // The line's seq goes with the event: a page tailing the log adds each line once, after those it showed.
    exec.emit({ type: "log", runId: exec.run.runId, cell: cell.name, level, message: text, tryNumber: record.tryNumber, seq: record.seq, ts: record.ts });
    exec.store.writer.write({ logs: [record] }).catch(() => {});
  };
  return { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") };
}

/** `ctx.cost.add`. */
function addCost(attempt: ContextTry, resource: string, amount: number): void {
  attempt.checkLive();
  if (typeof resource !== "string" || resource === "" || !Number.isFinite(amount)) {
    throw new CellarError(`ctx.cost.add(${JSON.stringify(resource)}, ${amount}): expected a resource name and a finite number`);
  }
  attempt.costs.set(resource, (attempt.costs.get(resource) ?? 0) + amount);
}

/** `ctx.table`: a table of this run, written in the try's transaction. */
async function openTable(attempt: ContextTry, name: string, columns: Columns): Promise<TableWriter> {
  const { exec, cell } = attempt;
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
}

/** `ctx.map`: over the runner's devices and workers, with the cell's claim as the default; each notice logged once. */
function fanOut<T, R>(
  attempt: ContextTry,
  context: Context,
  items: Iterable<T> | AsyncIterable<T>,
  fn: ChunkFn<T, R, GpuDevice> | TaskHandle,
  options: MapOptions,
): MapResult<R> {
  const { exec, cell } = attempt;
  attempt.checkLive();
  const noticed = new Set<string>();
  return map({
    cell: cell.name,
    pipeline: exec.pipeline.id,
    runId: exec.run.runId,
    tryNumber: attempt.tryNumber,
    remote: () => exec.remote,
    signal: attempt.signal,
    gpu: () => exec.compute.gpu(),
    cpu: () => exec.compute.cpu(),
    progress: (done, total) => context.progress(done, total),
    chunks: (counts) => exec.emit({ type: "chunks", runId: exec.run.runId, cell: cell.name, ...counts }),
    cost: (resource, amount) => context.cost.add(resource, amount),
    notice: (message) => {
      if (!noticed.has(message)) noticed.add(message), context.log.info(message);
    },
  }, items, fn, { ...cell.claim, ...options });
}

/** `ctx.sql`: inside the try's transaction once it has one, so the cell sees its own uncommitted tables. */
async function runSql(attempt: ContextTry, query: string, values: unknown[]): Promise<Record<string, unknown>[]> {
  attempt.checkLive();
  if (!attempt.conn) return await attempt.exec.store.query(query, values as never[]);
  const reader = await attempt.conn.runAndReadAll(query, values as never[]);
  return reader.getRowObjectsJS() as Record<string, unknown>[];
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
