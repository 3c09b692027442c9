/**
 * `ctx`: what a cell sees of the kernel while it runs.
 *
 * @example
 * .cell("count", async (ctx, input) => {
 *   ctx.log.info(`counting for ${ctx.dataInterval.start.toISOString()}`);
 *   const rows = await ctx.sql(`SELECT count(*) AS n FROM ${input.documents.sql}`);
 *   ctx.cost.add("rows_scanned", Number(rows[0].n));
 *   return { n: Number(rows[0].n) };
 * })
 */
import type { ChunkFn, MapOptions, MapResult } from "./compute/map.ts";
import type { GpuDevice } from "./compute/gpu.ts";
import type { TaskHandle } from "./compute/task.ts";
import type { DataInterval } from "./timetable.ts";
import type { ParamValue } from "./pipeline.ts";
import type { Columns, TableWriter } from "./tables.ts";

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
   * for an inline function. Await it for all results in input order, or
   * iterate it to stream them.
   */
  map<T, R>(items: Iterable<T> | AsyncIterable<T>, fn: ChunkFn<T, R, GpuDevice> | TaskHandle, options?: MapOptions): MapResult<R>;
  /** Runs SQL against the store, seeing this cell's own uncommitted tables; rows as JS objects. */
  sql(query: string, values?: unknown[]): Promise<Record<string, unknown>[]>;
}
