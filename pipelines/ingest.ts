// The weekly ingest DAG: crawl → dedup → embed → index.
//
//   npx deno task run ingest                                  # the bundled Cranfield corpus, offline
//   npx deno task run ingest --param seeds=https://docs.example.org/
//   npx deno task run ingest --param seeds=./my-docs/         # a local folder of .html/.md/.txt
//   cellar search "boundary layer transition" --k 5
import { pipeline } from "../kernel/mod.ts";
import { crawlSeeds } from "../cells/crawl.ts";
import { dedupCorpus } from "../cells/dedup.ts";
import { EMBED_PARAMS, embedDocs } from "../cells/embed.ts";
import { buildIndex, type SearchContext, searchIndex } from "../cells/index.ts";

export default pipeline({
  id: "ingest",
  description: "Crawl the seeds, drop exact and near duplicates, embed the documents, build the vector index",
  schedule: "@weekly",
  startDate: "2026-05-01",
  catchup: false,
  maxActiveRuns: 1,
  defaults: { retries: 3, retryDelay: "15m", retryBackoff: "exponential" },
  params: {
    seeds: "pipelines/data/cranfield/docs.jsonl",
    maxDepth: 3,
    maxPages: 10_000,
    perHostConcurrency: 4,
    perHostDelayMs: 0,
    timeoutMs: 10_000,
    maxBytes: 10 * 1024 * 1024,
    userAgent: "CellarBot/0.1",
    dedupThreshold: 0.8,
    numPerm: 128,
    ...EMBED_PARAMS,
  },
})
  // The outside world changes without our code changing: never served from cache.
  .cell("crawl_seeds", { cache: false }, crawlSeeds)
  .cell("dedup_corpus", { gpu: 0.5 }, dedupCorpus)
  .cell("embed_docs", { gpu: 0.5 }, embedDocs)
  .cell("build_index", buildIndex);

/** `cellar search` over this pipeline's index. */
export function search(ctx: SearchContext, queries: string[], options: { k?: number }) {
  return searchIndex(ctx, queries, options);
}
