// Re-embeds the corpus with the configured model and rebuilds the index, when eval regresses or the
// corpus drifts. `cellar schedule` fires it; run it by hand like any pipeline:
//
//   cellar run retrain --param model=transformers --param modelPath=models/bge-small-en-v1.5
import { pipeline } from "../kernel/mod.ts";
import { EMBED_PARAMS, embedDocs } from "../cells/embed.ts";
import { buildIndex } from "../cells/build-index.ts";
import { LEXICAL_PARAMS } from "../cells/index/lexical-build.ts";
import { CORPUS_PARAMS, corpusDrift, loadCorpus } from "../cells/retrain.ts";

/** Share of new or changed documents in an ingest run that calls for a rebuild. */
const DRIFT_THRESHOLD = 0.2;

export default pipeline({
  id: "retrain",
  description: "Re-embed the corpus with the configured model and rebuild the index (eval regressed, or the corpus drifted)",
  maxActiveRuns: 1,
  defaults: { retries: 2, retryDelay: "15m", retryBackoff: "exponential" },
  params: {
    ...CORPUS_PARAMS,
    ...EMBED_PARAMS,
    ...LEXICAL_PARAMS,
    // Every vector from the model, none copied from an earlier run.
    rebuild: true,
  },
  triggers: [
    // A failed check is the gate's verdict; an eval that errored says nothing about the model.
    { after: "eval", when: (outcome) => outcome.failedCells.some((cell) => cell.check) },
    { after: "ingest", when: async (outcome) => outcome.state === "success" && (await corpusDrift(outcome)) > DRIFT_THRESHOLD },
  ],
})
  .cell("load_corpus", { cache: false }, loadCorpus)
  .cell("embed_docs", { gpu: 0.5 }, embedDocs)
  .cell("build_index", buildIndex);
