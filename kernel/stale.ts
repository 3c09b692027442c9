/**
 * Stale cells, as marimo marks them: a cell whose code (its code version, fingerprint.ts) is not the one its
 * latest checkpoint in the pipeline was made with, so what the notebook shows for it is from other code. A
 * checkpoint from before cache reasons were recorded has no code version and marks nothing.
 *
 * @example
 * ```ts
 * import type { Pipeline } from "./pipeline.ts";
 * import { staleCells } from "./stale.ts";
 * import type { Store } from "./store/store.ts";
 * declare const store: Store;
 * declare const pipeline: Pipeline;
 *
 * const stale = await staleCells(store, pipeline); // → [{ cell: "embed_docs", checkpointRun: 12 }] after editing embed_docs
 * ```
 */
import { codeVersion } from "./fingerprint.ts";
import type { Pipeline } from "./pipeline.ts";
import type { Store } from "./store/store.ts";

export interface StaleCell {
  cell: string;
  /** The run whose checkpoint of the cell is the latest, made with other code. */
  checkpointRun: number;
}

/** The pipeline's cells whose code changed since their latest checkpoint, in the pipeline's order. */
export async function staleCells(store: Store, pipeline: Pipeline): Promise<StaleCell[]> {
  const rows = await store.query(
    `SELECT o.cell, o.run_id, r.code_version FROM outputs o
     LEFT JOIN cell_reasons r ON r.run_id = o.run_id AND r.cell = o.cell
     WHERE o.pipeline = ?
     QUALIFY row_number() OVER (PARTITION BY o.cell ORDER BY o.created_at DESC) = 1`,
    [pipeline.id],
  );
  const latest = new Map(rows.map((r) => [String(r.cell), r]));
  const stale: StaleCell[] = [];
  for (const cell of pipeline.cells) {
    const row = latest.get(cell.name);
    if (!row || row.code_version === null) continue;
    if (String(row.code_version) !== await codeVersion(cell)) stale.push({ cell: cell.name, checkpointRun: Number(row.run_id) });
  }
  return stale;
}
