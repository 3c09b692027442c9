/**
 * Reading committed checkpoints of other runs (another pipeline's index, the
 * last scheduled run's metrics, the corpus as ingest last kept it) without
 * knowing how the kernel stores them: cells pass anything that runs SQL on the
 * store (`ctx`, a run outcome) and say which output they want.
 *
 * @example
 * ```ts
 * import { checkpointOf, latestCheckpoint } from "./checkpoints.ts";
 * import type { Context } from "./context.ts";
 * declare const ctx: Context;
 *
 * const built = await latestCheckpoint(ctx, { pipeline: "ingest", cell: "build_index" });
 * const chunks = built && await checkpointOf(ctx, built.runId, "embed_docs");
 * const baseline = await latestCheckpoint(ctx, { pipeline: ctx.pipeline, cell: ctx.cell, kind: "scheduled", succeeded: true, order: "logicalDate" });
 * ```
 */
import type { RunKind } from "./run-records.ts";
import { RunState, sqlState } from "./state.ts";

/** Anything that runs SQL on the store: a cell's `ctx`, a run outcome, a search context. */
export interface SqlSource {
  sql(query: string, values?: unknown[]): Promise<Record<string, unknown>[]>;
}

/** A committed cell output and the run it belongs to. */
export interface Checkpoint<T = unknown> {
  pipeline: string;
  cell: string;
  runId: number;
  output: T;
  /** The params the run ran with. */
  params: Record<string, unknown>;
  kind: RunKind;
  logicalDate: Date;
  /** When the checkpoint was committed. */
  createdAt: Date;
}

export interface CheckpointQuery {
  /** Any pipeline when left out. */
  pipeline?: string;
  cell: string;
  /** Only runs that ended in success. */
  succeeded?: boolean;
  kind?: RunKind;
  /** Only runs older than this one (smaller run ids). */
  beforeRun?: number;
  /** Not this run. */
  excludeRun?: number;
  /** Which is latest: the last committed (default), the latest logical date, or the newest run. */
  order?: "committed" | "logicalDate" | "run";
}

const ORDER = {
  committed: "o.created_at DESC, o.run_id DESC",
  logicalDate: "r.logical_date DESC, o.run_id DESC",
  run: "o.run_id DESC",
} as const;

const COLUMNS = "o.pipeline, o.cell, o.run_id, o.output, o.created_at, r.params, r.kind, r.logical_date";

/** The latest checkpoint that matches, or undefined when there is none. */
export async function latestCheckpoint<T = unknown>(source: SqlSource, query: CheckpointQuery): Promise<Checkpoint<T> | undefined> {
  const where = ["o.cell = ?"];
  const values: unknown[] = [query.cell];
  if (query.pipeline !== undefined) where.push("o.pipeline = ?"), values.push(query.pipeline);
  if (query.succeeded) where.push(`r.state = ${sqlState(RunState.Success)}`);
  if (query.kind !== undefined) where.push("r.kind = ?"), values.push(query.kind);
  if (query.beforeRun !== undefined) where.push("o.run_id < ?"), values.push(query.beforeRun);
  if (query.excludeRun !== undefined) where.push("o.run_id <> ?"), values.push(query.excludeRun);
  const [row] = await source.sql(
    `SELECT ${COLUMNS} FROM outputs o JOIN runs r USING (run_id) WHERE ${where.join(" AND ")}
     ORDER BY ${ORDER[query.order ?? "committed"]} LIMIT 1`,
    values,
  );
  return row && toCheckpoint<T>(row);
}

/** The checkpoint of `cell` in run `runId`, or undefined when that cell has none there. */
export async function checkpointOf<T = unknown>(source: SqlSource, runId: number, cell: string): Promise<Checkpoint<T> | undefined> {
  const [row] = await source.sql(`SELECT ${COLUMNS} FROM outputs o JOIN runs r USING (run_id) WHERE o.run_id = ? AND o.cell = ?`, [runId, cell]);
  return row && toCheckpoint<T>(row);
}

function toCheckpoint<T>(row: Record<string, unknown>): Checkpoint<T> {
  return {
    pipeline: String(row.pipeline),
    cell: String(row.cell),
    runId: Number(row.run_id),
    output: JSON.parse(String(row.output)) as T,
    params: JSON.parse(String(row.params)),
    kind: String(row.kind) as RunKind,
    logicalDate: new Date(row.logical_date as Date),
    createdAt: new Date(row.created_at as Date),
  };
}
