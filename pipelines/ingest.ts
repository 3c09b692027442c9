// The weekly ingest DAG: crawl → dedup → embed → index.
//
//   npx deno task run ingest                                  # the bundled Cranfield corpus, offline
//   npx deno task run ingest --param seeds=https://docs.example.org/
//   npx deno task run ingest --param seeds=./my-docs/         # a local folder of .html/.md/.txt
//   cellar search "boundary layer transition" --k 5
//   cellar search "boundary layer transition" --mode lexical+rm3
import { pipeline } from "../kernel/mod.ts";
import { CRAWL_PARAMS, crawlSeeds } from "../cells/crawl.ts";
import { DEDUP_PARAMS, dedupCorpus } from "../cells/dedup.ts";
import { EMBED_PARAMS, embedDocs } from "../cells/embed.ts";
import { buildIndex } from "../cells/build-index.ts";
import { LEXICAL_PARAMS } from "../cells/index/lexical-build.ts";
import type { SearchContext } from "../cells/index/search.ts";
import { DEFAULT_RETRIEVAL, openRetriever, parseRetrieval } from "../cells/index/retrieval.ts";

export default pipeline({
  id: "ingest",
  description: "Crawl the seeds, drop exact and near duplicates, embed the documents, build the vector index",
  schedule: "@weekly",
  startDate: "2026-05-01",
  catchup: false,
  maxActiveRuns: 1,
  defaults: { retries: 3, retryDelay: "15m", retryBackoff: "exponential" },
  params: { ...CRAWL_PARAMS, ...DEDUP_PARAMS, ...EMBED_PARAMS, ...LEXICAL_PARAMS },
})
  // The outside world changes without our code changing: never served from cache.
  .cell("crawl_seeds", { cache: false }, crawlSeeds)
  .cell("dedup_corpus", { gpu: 0.5 }, dedupCorpus)
  .cell("embed_docs", { gpu: 0.5 }, embedDocs)
  .cell("build_index", buildIndex);

/** `cellar search` over this pipeline's indexes: `mode` a retrieval spec, the cross-validated winner by default. */
export async function search(ctx: SearchContext, queries: string[], options: { k?: number; mode?: string }) {
  const config = parseRetrieval(options.mode ?? DEFAULT_RETRIEVAL);
  const retriever = await openRetriever(ctx, config);
  return await retriever.search(queries, options.k ?? 10);
}
