/**
 * Eval results in milliseconds, for the tests that need some in a store (the Eval page, the UI flow). The
 * real run_eval_suite needs an ingested index (eval.test.ts, minutes); the pipeline written here has a cell
 * of the same name that feeds the means given as params through the real gate (cells/eval/gate.ts's
 * compare) against its last passing run and, as run_eval_suite does, throws CheckFailed with its result as
 * details when the gate fails.
 */
import type { Page } from "playwright-core";
import { join } from "node:path";
import { ROOT } from "./helpers.ts";

/** A question id as a crawled eval set could spell it: a page must show it as text. */
export const SHADY_QID = "<b>q7</b>";

/** The model of a retrained index the comparison shows beside ingest's. */
export const RETRAINED_MODEL = "transformers:intfloat/e5-small-v2@0123456789ab:fp32:e5";

/** A retrieval spec spelled as markup: the comparison table must show it as text. */
export const SHADY_SPEC = "<i>dense</i>";

/** The body of a pipeline file (for writePipeline) whose eval cell gates the params' means; q7 is SHADY_QID's nDCG@10. */
export const evalPipelineSource = (id: string) => `import { CheckFailed, latestCheckpoint } from ${JSON.stringify(join(ROOT, "kernel/mod.ts"))};
import { compare } from ${JSON.stringify(join(ROOT, "cells/eval/gate.ts"))};
/** What cells/eval/compare.ts would report: the gated spec at the run's nDCG@10, a cross-validated grid, a spec named as markup, and a retrained index's dense row. */
const ingest = { pipeline: "ingest", model: "use-lite", revision: null };
const comparisonOf = (ndcg) => ({ metric: "nDCG@10", folds: 5, seed: 13, rows: [
  { spec: "hybrid", index: ingest, resolved: "hybrid", primary: true, metrics: { "nDCG@10": ndcg, "recall@10": 0.5, MRR: 0.6, MAP: 0.3 }, msPerQuery: 1.25, points: 1, cv: null },
  { spec: "lexical:k1=0.9|1.5", resolved: "lexical:k1=1.5", primary: false, metrics: { "nDCG@10": ndcg - 0.05, "recall@10": 0.55, MRR: 0.5, MAP: 0.25 }, msPerQuery: 0.5, points: 2, index: ingest,
    cv: [1, 2, 3, 4, 5].map((fold) => ({ fold, questions: 2, chosen: "lexical:k1=1.5", train: 0.4, test: 0.38 })) },
  { spec: ${JSON.stringify(SHADY_SPEC)}, resolved: ${JSON.stringify(SHADY_SPEC)}, primary: false, metrics: { "nDCG@10": 0.1, "recall@10": 0.2, MRR: 0.3, MAP: 0.1 }, msPerQuery: 2, points: 1, cv: null, index: ingest },
  { spec: "dense", resolved: "dense", primary: false, metrics: { "nDCG@10": 0.2, "recall@10": 0.3, MRR: 0.4, MAP: 0.2 }, msPerQuery: 3, points: 1, cv: null,
    index: { pipeline: "retrain", model: ${JSON.stringify(RETRAINED_MODEL)}, revision: "0123456789ab" } },
] });
export default pipeline({ id: ${JSON.stringify(id)}, params: { ndcg: 0.4, recall: 0.5, mrr: 0.6, q7: 0.9 } })
  .cell("run_eval_suite", { cache: false }, async (ctx) => {
    const p = ctx.params as Record<string, number>;
    const metrics = { "nDCG@10": p.ndcg, "recall@10": p.recall, MRR: p.mrr };
    const perQuery = { q1: { ...metrics }, ${JSON.stringify(SHADY_QID)}: { ...metrics, "nDCG@10": p.q7 } };
    const last = await latestCheckpoint<any>(ctx, { pipeline: ctx.pipeline, cell: ctx.cell, succeeded: true, excludeRun: ctx.runId, order: "run" });
    const baseline = last ? { source: ctx.pipeline + " run " + last.runId, evalSet: { name: "tiny", fingerprint: "f" }, ...last.output } : null;
    const verdict = compare(baseline, metrics, { "nDCG@10": 0.02, "recall@10": 0.02, MRR: 0.02 }, perQuery);
    const comparison = comparisonOf(p.ndcg);
    if (!verdict.pass) throw new CheckFailed("eval regressed: " + verdict.regressed.join(", "), { details: { metrics, verdict, comparison } });
    return { metrics, perQuery, verdict, comparison };
  });`;

/** How many pixels each chart canvas of the Eval page has inked: a blank canvas has none. */
export function inkedCanvases(page: Page): Promise<number[]> {
  return page.locator(".plot canvas").evaluateAll((canvases) =>
    canvases.map((c) => {
      const canvas = c as HTMLCanvasElement;
      const { data } = canvas.getContext("2d")!.getImageData(0, 0, canvas.width, canvas.height);
      let n = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
      return n;
    })
  );
}
