/**
 * A cell's results over runs: per run of a pipeline in which the cell left one, newest logical date first,
 * either its checkpoint's output or — when its check refused it (CheckFailed with `details`, which leaves no
 * checkpoint) — those details, marked which. What a history of a measurement (the server's Eval page) is
 * built on, in one read whatever the number of runs.
 *
 * @example
 * ```ts
 * import { cellResults } from "./cell-results.ts";
 * import type { Store } from "./store/store.ts";
 * declare const store: Store;
 *
 * for (const r of await cellResults(store, { pipeline: "eval", cell: "run_eval_suite", limit: 50 })) {
 *   console.log(r.run.id, r.source, r.source === "output" ? r.output : r.details);
 * }
 * ```
 */
import type { RunKind } from "./run-records.ts";
import type { RunState } from "./state.ts";
import type { Store } from "./store/store.ts";

export interface CellResultsQuery {
  pipeline: string;
  cell: string;
  /** At most this many runs, the newest by logical date. */
  limit: number;
  /** Only this run: what a listener of one run's events reads. */
  runId?: number;
}

/** The run a result belongs to. */
export interface ResultRun {
  id: number;
  pipeline: string;
  kind: RunKind;
  state: RunState;
  logicalDate: Date;
  finishedAt: Date | null;
}

/**
 * One run's result of the cell: its checkpoint's output (`source: "output"`), or the details of the check
 * that refused its latest failed try (`source: "check"`, with that try's error line). A run that has both
 * (a refused try, then a resumed one that passed) shows its output.
 */
export type CellRunResult =
  | { run: ResultRun; source: "output"; output: unknown }
  | { run: ResultRun; source: "check"; details: unknown; error: string };

export async function cellResults(store: Store, query: CellResultsQuery): Promise<CellRunResult[]> {
  const values: Array<string | number> = [query.cell, query.cell, query.pipeline];
  if (query.runId !== undefined) values.push(query.runId);
  const rows = await store.query(
    `WITH refused AS (
       SELECT d.run_id, arg_max(d.details, d.try_number) AS details, arg_max(a.error, d.try_number) AS error
       FROM check_details d JOIN attempts a USING (run_id, cell, try_number)
       WHERE d.cell = ? GROUP BY d.run_id
     )
     SELECT r.run_id, r.kind, r.state, r.logical_date, r.ended_at, o.output, f.details, f.error
     FROM runs r
     LEFT JOIN outputs o ON o.run_id = r.run_id AND o.cell = ?
     LEFT JOIN refused f ON f.run_id = r.run_id
     WHERE r.pipeline = ? AND (o.output IS NOT NULL OR f.details IS NOT NULL)${query.runId === undefined ? "" : " AND r.run_id = ?"}
     ORDER BY r.logical_date DESC, r.run_id DESC
     LIMIT ${Math.max(0, Math.floor(query.limit))}`,
    values,
  );
  return rows.map((row): CellRunResult => {
    const run: ResultRun = {
      id: Number(row.run_id),
      pipeline: query.pipeline,
      kind: String(row.kind) as RunKind,
      state: String(row.state) as RunState,
      logicalDate: new Date(row.logical_date as Date),
      finishedAt: row.ended_at ? new Date(row.ended_at as Date) : null,
    };
    if (row.output !== null && row.output !== undefined) return { run, source: "output", output: JSON.parse(String(row.output)) };
    return { run, source: "check", details: JSON.parse(String(row.details)), error: String(row.error ?? "") };
  });
}
