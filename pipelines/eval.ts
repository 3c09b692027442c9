// The daily regression eval: retrieve for every question of the eval set, score with trec_eval's
// metrics, judge the top contexts, gate against the baseline. CI calls the same cell:
//
//   npx deno task run eval                                   # needs an index: run ingest first
//   cellar cell eval run_eval_suite --param baseline=pipelines/data/cranfield/eval-baseline.json
//   cellar run eval --param judge=llm --param judgeModel=gpt-4o-mini   # CELLAR_LLM_BASE_URL, CELLAR_LLM_API_KEY
import { pipeline } from "../kernel/mod.ts";
import { EVAL_PARAMS, runEvalSuite } from "../cells/eval.ts";

export default pipeline({
  id: "eval",
  description: "Retrieval metrics and judge scores on the eval set, gated against the baseline",
  schedule: "@daily",
  startDate: "2026-05-01",
  catchup: false,
  maxActiveRuns: 1,
  defaults: { retries: 2, retryDelay: "10m" },
  params: {
    ...EVAL_PARAMS,
    // Cranfield's document 995 has no text, so ingest records it as a crawl failure; its one judgment stays
    // and counts as not retrieved, as it would in trec_eval.
    allowMissingIds: true,
  },
})
  // Reads the newest index, which no upstream cell names: never served from cache.
  .cell("run_eval_suite", { cache: false, gpu: 0.25, timeout: "2h" }, runEvalSuite);
