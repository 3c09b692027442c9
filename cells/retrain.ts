/**
 * What the retrain pipeline needs beyond embed and index: the corpus as ingest
 * last kept it, and how far that corpus has drifted.
 *
 * Drift is the share of an ingest run's documents that are new or whose text
 * changed since the ingest run before it — since the index in use was built.
 *
 * @example
 * ```ts
 * import { pipeline } from "../kernel/mod.ts";
 * import { corpusDrift, loadCorpus } from "./retrain.ts";
 *
 * pipeline({
 *   id: "retrain",
 *   triggers: [{ after: "ingest", when: async (outcome) => (await corpusDrift(outcome)) > 0.2 }],
 * }).cell("load_corpus", { cache: false }, loadCorpus);
 * ```
 */
import { cellParams, type Context, nonEmptyText, paramError, type RunOutcome, type TableRef } from "../kernel/mod.ts";

/** load_corpus' params: their defaults are what a pipeline spreads into its own (CORPUS_PARAMS). */
export const corpusParams = cellParams({
  corpus: nonEmptyText().default("ingest").describe("the pipeline whose newest successful dedup_corpus output is the corpus"),
});

export const CORPUS_PARAMS = corpusParams.defaults;

/** The documents table of the newest successful run of the corpus pipeline (param `corpus`). */
export async function loadCorpus(ctx: Context): Promise<{ documents: TableRef; from: { pipeline: string; runId: number } }> {
  const { corpus: pipeline } = corpusParams.read(ctx.params);
  const [row] = await ctx.sql(
    `SELECT o.run_id, o.output FROM outputs o JOIN runs r USING (run_id)
     WHERE o.pipeline = ? AND o.cell = 'dedup_corpus' AND r.state = 'success'
     ORDER BY r.run_id DESC LIMIT 1`,
    [pipeline],
  );
  if (!row) throw paramError("corpus", "a pipeline with a successful dedup_corpus run (run it first)", pipeline);
  const { documents } = JSON.parse(String(row.output)) as { documents: TableRef };
  ctx.log.info(`corpus: ${documents.rows} documents from ${pipeline} run ${row.run_id}`);
  return { documents, from: { pipeline, runId: Number(row.run_id) } };
}

/**
 * The share (0–1) of the ending ingest run's documents that the previous
 * successful run did not have, or had with other text. 0 when it is the first
 * run (the index was built from exactly this corpus) or kept no documents.
 */
export async function corpusDrift(outcome: RunOutcome): Promise<number> {
  const current = (outcome.outputs.dedup_corpus as { documents?: TableRef } | undefined)?.documents?.sql;
  if (!current) return 0;
  const [previous] = await outcome.sql(
    `SELECT o.output->>'$.documents.sql' AS documents FROM outputs o JOIN runs r USING (run_id)
     WHERE o.pipeline = ? AND o.cell = 'dedup_corpus' AND r.state = 'success' AND r.run_id < ?
     ORDER BY r.run_id DESC LIMIT 1`,
    [outcome.pipeline, outcome.runId],
  );
  if (!previous?.documents) return 0;
  const [row] = await outcome.sql(
    `SELECT count(*)::INT AS total, count(*) FILTER (WHERE p.id IS NULL OR p.text IS DISTINCT FROM c.text)::INT AS drifted
     FROM ${current} c LEFT JOIN ${previous.documents} p ON p.id = c.id`,
  );
  return row.total === 0 ? 0 : Number(row.drifted) / Number(row.total);
}
