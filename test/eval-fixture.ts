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

/** The body of a pipeline file (for writePipeline) whose eval cell gates the params' means; q7 is SHADY_QID's nDCG@10. */
export const evalPipelineSource = (id: string) => `import { CheckFailed, latestCheckpoint } from ${JSON.stringify(join(ROOT, "kernel/mod.ts"))};
import { compare } from ${JSON.stringify(join(ROOT, "cells/eval/gate.ts"))};
export default pipeline({ id: ${JSON.stringify(id)}, params: { ndcg: 0.4, recall: 0.5, mrr: 0.6, q7: 0.9 } })
  .cell("run_eval_suite", { cache: false }, async (ctx) => {
    const p = ctx.params as Record<string, number>;
    const metrics = { "nDCG@10": p.ndcg, "recall@10": p.recall, MRR: p.mrr };
    const perQuery = { q1: { ...metrics }, ${JSON.stringify(SHADY_QID)}: { ...metrics, "nDCG@10": p.q7 } };
    const last = await latestCheckpoint<any>(ctx, { pipeline: ctx.pipeline, cell: ctx.cell, succeeded: true, excludeRun: ctx.runId, order: "run" });
    const baseline = last ? { source: ctx.pipeline + " run " + last.runId, evalSet: { name: "tiny", fingerprint: "f" }, ...last.output } : null;
    const verdict = compare(baseline, metrics, { "nDCG@10": 0.02, "recall@10": 0.02, MRR: 0.02 }, perQuery);
    if (!verdict.pass) throw new CheckFailed("eval regressed: " + verdict.regressed.join(", "), { details: { metrics, verdict } });
    return { metrics, perQuery, verdict };
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
