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
import { cellParams, type Context, latestCheckpoint, nonEmptyText, paramError, type RunOutcome, type TableRef } from "../kernel/mod.ts";

/** load_corpus' params: their defaults are what a pipeline spreads into its own (CORPUS_PARAMS). */
export const corpusParams = cellParams({
  corpus: nonEmptyText().default("ingest").describe("the pipeline whose newest successful dedup_corpus output is the corpus"),
});

export const CORPUS_PARAMS = corpusParams.defaults;

/** The documents table of the newest successful run of the corpus pipeline (param `corpus`). */
export async function loadCorpus(ctx: Context): Promise<{ documents: TableRef; from: { pipeline: string; runId: number } }> {
  const { corpus: pipeline } = corpusParams.read(ctx.params);
  const last = await latestCheckpoint<{ documents: TableRef }>(ctx, { pipeline, cell: "dedup_corpus", succeeded: true, order: "run" });
  if (!last) throw paramError("corpus", "a pipeline with a successful dedup_corpus run (run it first)", pipeline);
  const { documents } = last.output;
  ctx.log.info(`corpus: ${documents.rows} documents from ${pipeline} run ${last.runId}`);
  return { documents, from: { pipeline, runId: last.runId } };
}

/**
 * The share (0–1) of the ending ingest run's documents that the previous
 * successful run did not have, or had with other text. 0 when it is the first
 * run (the index was built from exactly this corpus) or kept no documents.
 */
export async function corpusDrift(outcome: RunOutcome): Promise<number> {
  const current = (outcome.outputs.dedup_corpus as { documents?: TableRef } | undefined)?.documents?.sql;
  if (!current) return 0;
  const before = await latestCheckpoint<{ documents?: TableRef }>(outcome, {
    pipeline: outcome.pipeline, cell: "dedup_corpus", succeeded: true, beforeRun: outcome.runId, order: "run",
  });
  const previous = { documents: before?.output.documents?.sql };
  if (!previous.documents) return 0;
  const [row] = await outcome.sql(
    `SELECT count(*)::INT AS total, count(*) FILTER (WHERE p.id IS NULL OR p.text IS DISTINCT FROM c.text)::INT AS drifted
     FROM ${current} c LEFT JOIN ${previous.documents} p ON p.id = c.id`,
  );
  return row.total === 0 ? 0 : Number(row.drifted) / Number(row.total);
}
