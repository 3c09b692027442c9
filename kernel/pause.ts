/**
 * Pausing a pipeline's schedule, as Airflow pauses a DAG: while paused, the scheduler creates no run of it
 * and starts none of its queued ones. Its last scheduled logical date stays where it was, so unpausing a
 * pipeline with `catchup: true` creates a run for every interval missed meanwhile (without catchup, the
 * latest only). Manual, one-cell and backfill runs are not the schedule's and still run.
 *
 * @example
 * ```ts
 * import { pausedPipelines, setPaused } from "./pause.ts";
 * import type { Store } from "./store/store.ts";
 * declare const store: Store;
 *
 * await setPaused(store, "ingest", true); // → true: it was not paused before
 * (await pausedPipelines(store)).has("ingest"); // → true
 * ```
 */
import { metrics } from "./prometheus.ts";
import { retryConflicts } from "./run-records.ts";
import type { Store } from "./store/store.ts";

/** Pauses (`paused`) or unpauses a pipeline; true when that changed anything. Sets cellar_pipeline_paused. */
export async function setPaused(store: Store, pipeline: string, paused: boolean): Promise<boolean> {
  const changed = await retryConflicts(() =>
    store.transaction(async (conn) => {
      const result = paused
        ? await conn.run(`INSERT INTO paused_pipelines VALUES (?, now()) ON CONFLICT (pipeline) DO NOTHING`, [pipeline])
        : await conn.run(`DELETE FROM paused_pipelines WHERE pipeline = ?`, [pipeline]);
      return result.rowsChanged;
    })
  );
  metrics.pipelinePaused.set({ pipeline }, paused ? 1 : 0);
  return changed > 0;
}

/**
 * The paused pipelines and when each was paused. With `report`, cellar_pipeline_paused is set for each of
 * those pipelines (0 or 1): what a scheduler or a page listing them knows to be served.
 */
export async function pausedPipelines(store: Store, report: readonly string[] = []): Promise<Map<string, Date>> {
  const rows = await store.query(`SELECT pipeline, paused_at FROM paused_pipelines`);
  const paused = new Map(rows.map((r) => [String(r.pipeline), new Date(r.paused_at as Date)]));
  for (const pipeline of report) metrics.pipelinePaused.set({ pipeline }, paused.has(pipeline) ? 1 : 0);
  return paused;
}
