/**
 * The bounded previews of a run's cell outputs, as the notebook shows them and `GET /api/v1/runs/{id}` carries
 * them: each done cell's checkpoint through outputPreview (output-preview.ts), and for a table its first rows
 * and column types through tablePreview (table-preview.ts), so that the UI and the API never differ.
 *
 * @example
 * ```ts
 * import { openCellar } from "../../kernel/mod.ts";
 * import { cellPreviews } from "./cell-previews.ts";
 *
 * const cellar = openCellar({ db: "/tmp/cellar.duckdb" });
 * const previews = await cellPreviews(cellar, await cellar.show(12)); // → Map { "count" → { preview: { kind: "json", … } } }
 * ```
 */
import { type Cellar, CellState, type Checkpoint, checkpointOf, isTableRef, type RunDetail, type SqlSource } from "../../kernel/mod.ts";
import { outputPreview, type OutputPreview } from "./output-preview.ts";
import { tablePreview, type TablePreview } from "./table-preview.ts";

export interface CellPreview {
  preview: OutputPreview;
  /** For a table output: its first rows and column types; undefined when the table is gone. */
  sample?: TablePreview;
}

/** What runs SQL on the facade's store, for checkpointOf and tablePreview. */
export async function storeSql(cellar: Cellar): Promise<SqlSource> {
  const store = await cellar.store();
  return { sql: (query, values) => store.query(query, values as Parameters<typeof store.query>[1]) };
}

/** A checkpoint's output, previewed. */
export async function previewOf(source: SqlSource, checkpoint: Checkpoint): Promise<CellPreview> {
  const preview = outputPreview(checkpoint.output);
  if (!isTableRef(checkpoint.output)) return { preview };
  const sample = await tablePreview((query) => source.sql(query), checkpoint.output);
  return sample ? { preview, sample } : { preview };
}

/** By cell, the preview of each cell that succeeded or was served from cache in the run (and kept its checkpoint). */
export async function cellPreviews(cellar: Cellar, detail: RunDetail): Promise<Map<string, CellPreview>> {
  const done = detail.cells.filter((c) => c.state === CellState.Success || c.state === CellState.Cached);
  const previews = new Map<string, CellPreview>();
  if (done.length === 0) return previews;
  const source = await storeSql(cellar);
  await Promise.all(done.map(async (c) => {
    const checkpoint = await checkpointOf(source, detail.run.runId, c.cell);
    if (checkpoint) previews.set(c.cell, await previewOf(source, checkpoint));
  }));
  return previews;
}
