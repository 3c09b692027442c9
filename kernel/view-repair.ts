/**
 * Views a crash left behind their checkpoints. A cell's tables and its
 * checkpoint commit in the cell's own transaction, and the pipeline's views
 * (`"<pipeline>"."<name>"`, tables.ts) are pointed at the new tables only
 * after it (attempt.ts): made in that transaction, a view would be a catalog
 * write that conflicts with another run's of the same pipeline and fails the
 * checkpoint. A process killed between the two leaves a checkpoint whose
 * views are missing or on an older version, and resuming the run keeps the
 * checkpoint, so the cell never runs again to point them; the resumed run
 * points them here.
 *
 * @example
 * ```ts
 * import { repairViews } from "./view-repair.ts";
 * import type { Store } from "./store/store.ts";
 * declare const store: Store;
 *
 * await repairViews(store, "ingest", 12); // → the views pointed again, e.g. ['"ingest"."chunks"']
 * ```
 */
import { isTableRef, type TableRef } from "./output.ts";
import type { Store } from "./store/store.ts";
import { quoteIdent } from "./tables.ts";

/** Points each view of a table that run `runId` committed at it, while that is still the latest committed version. */
export async function repairViews(store: Store, pipeline: string, runId: number): Promise<string[]> {
  // Cached outputs wrote no table of their own: the run that computed them pointed the views.
  const outputs = await store.query(`SELECT output FROM outputs WHERE run_id = ? AND cached_from IS NULL`, [runId]);
  const pointed: string[] = [];
  for (const row of outputs) {
    for (const ref of tableRefs(JSON.parse(String(row.output)))) {
      // A later run's version moves the view on (`cellar run --new` before this resume): leave it there. Outputs are
      // canonical JSON (output.ts), so a table reference's name is this exact text in every output that holds it.
      const [latest] = await store.query(
        `SELECT run_id FROM outputs WHERE pipeline = ? AND cached_from IS NULL AND contains(output, ?)
         ORDER BY created_at DESC, run_id DESC LIMIT 1`,
        [pipeline, `"$table":${JSON.stringify(ref.$table)}`],
      );
      if (latest === undefined || Number(latest.run_id) !== runId) continue;
      const view = `${quoteIdent(pipeline)}.${quoteIdent(ref.$table)}`;
      // As attempt.ts does: a view another run is replacing this moment is that run's to point.
      const ok = await store.query(`CREATE OR REPLACE VIEW ${view} AS SELECT * FROM ${ref.sql}`).then(() => true, () => false);
      if (ok) pointed.push(view);
    }
  }
  return pointed;
}

function tableRefs(value: unknown, into: TableRef[] = []): TableRef[] {
  if (isTableRef(value)) into.push(value);
  else if (Array.isArray(value)) for (const item of value) tableRefs(item, into);
  else if (typeof value === "object" && value !== null) for (const item of Object.values(value)) tableRefs(item, into);
  return into;
}
