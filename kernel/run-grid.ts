/**
 * A pipeline's runs × cells in two reads, whatever the number of runs: its last runs, and every cell's
 * state, tries and last duration in each, as `cellar show` reports them (report.ts). What the server's grid
 * page draws; one `runDetail` per run would be four reads a run, seconds for a thousand.
 *
 * @example
 * ```ts
 * import { runGrid } from "./run-grid.ts";
 * import type { Store } from "./store/store.ts";
 * declare const store: Store;
 *
 * const grid = await runGrid(store, "ingest", 25);
 * grid[0].cells.find((c) => c.cell === "embed_docs")?.state; // → a CellState of the newest run
 * ```
 */
import { listRuns, type RunRecord } from "./run-records.ts";
import { AttemptState, sqlState } from "./state.ts";
import type { Store } from "./store/store.ts";

/** One square of the grid: a cell of a run. */
export interface GridCell {
  cell: string;
  state: string;
  /** Tries that executed the cell's code, as CellReport counts them. */
  tries: number;
  /** Wall time of the last try. */
  durationMs: number | null;
}

/** One column of the grid: a run, and its cells in the order they first started. */
export interface GridRun {
  run: RunRecord;
  cells: GridCell[];
}

/** The `limit` latest runs of `pipeline` (by logical date, as `cellar runs` lists them), newest first, with their cells. */
export async function runGrid(store: Store, pipeline: string, limit: number): Promise<GridRun[]> {
  const runs = await listRuns(store, pipeline, { limit });
  if (runs.length === 0) return [];
  // The same runs as listRuns picked, by the same order and limit; the checkpoint, when there is one, says
  // success or cached over the last attempt's state, as runDetail decides it.
  const rows = await store.query(
    `SELECT a.run_id, a.cell,
       CASE WHEN any_value(o.run_id) IS NULL THEN arg_max(a.state, a.try_number)
            WHEN any_value(o.cached_from) IS NULL THEN ${sqlState(AttemptState.Success)}
            ELSE ${sqlState(AttemptState.Cached)} END AS state,
       count(*) FILTER (WHERE a.try_number > 0 AND a.state <> ${sqlState(AttemptState.Cached)})::INT AS tries,
       arg_max_null(a.wall_ms, a.try_number) AS wall_ms
     FROM attempts a LEFT JOIN outputs o ON o.run_id = a.run_id AND o.cell = a.cell
     WHERE a.run_id IN (SELECT run_id FROM runs WHERE pipeline = ? ORDER BY logical_date DESC, run_id DESC LIMIT ${Math.floor(limit)})
     GROUP BY a.run_id, a.cell
     ORDER BY a.run_id, min(a.started_at) NULLS LAST, a.cell`,
    [pipeline],
  );
  const byRun = new Map<number, GridCell[]>(runs.map((r) => [r.runId, []]));
  for (const row of rows) {
    byRun.get(Number(row.run_id))?.push({
      cell: String(row.cell),
      state: String(row.state),
      tries: Number(row.tries),
      durationMs: row.wall_ms === null ? null : Number(row.wall_ms),
    });
  }
  return runs.map((run) => ({ run, cells: byRun.get(run.runId)! }));
}
