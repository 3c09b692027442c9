/**
 * The one search function: `cellar search --mode`, the eval's `--param retrieval=`
 * and the UI's search box all open a `Retriever` here, from a spec
 * (retrieval-spec.ts) or a config.
 *
 * - `dense`: the vector index (search.ts), each document's best chunk;
 * - `lexical`: the BM25 index build_index wrote (lexical.ts), optionally with RM3;
 * - `hybrid`: both, fused per document (fusion.ts) over each side's top
 *   `max(k, 100)` documents, by RRF or by min-max normalized scores with weight
 *   α on the dense side and 1 − α on the lexical side.
 *
 * A lexical hit names the document's first chunk (its text is what a judge
 * reads); a fused hit names the dense side's best chunk when the dense side
 * found the document.
 *
 * `openSources` opens each index once, when first needed; with `memo` it also
 * keeps each side's ranked lists per query, so that the eval's grid over α or
 * rrfK searches each side once.
 *
 * @example
 * ```ts
 * import type { Context } from "../../kernel/mod.ts";
 * import { openRetriever, parseRetrieval } from "./retrieval.ts";
 *
 * declare const ctx: Context;
 * const retriever = await openRetriever({ pipeline: "ingest", sql: ctx.sql }, parseRetrieval("hybrid:rrf"));
 * const [hits] = await retriever.search(["supersonic flow over a wedge"], 10);
 * ```
 */
import { CellarError } from "../../kernel/mod.ts";
import { type Fused, fuseRrf, fuseWeighted, type Ranked } from "./fusion.ts";
import type { LexicalHandle, LexicalHit } from "./lexical.ts";
import { formatRetrieval, type LexicalSettings, type RetrievalConfig } from "./retrieval-spec.ts";
import { type IndexHandle, openIndex, type SearchContext, type SearchHit } from "./search.ts";

export { DEFAULT_RETRIEVAL, formatRetrieval, parseRetrieval, parseRetrievalGrid, type RetrievalConfig } from "./retrieval-spec.ts";

/** How deep each side is read before fusing, at least: documents one side ranks below it get nothing from that side. */
export const FUSION_DEPTH = 100;

export interface Retriever {
  readonly pipeline: string;
  readonly config: RetrievalConfig;
  /** The config's canonical spec. */
  readonly spec: string;
  /** The k best documents per query, best first, one hit per document. */
  search(queries: string[], k: number, options?: { signal?: AbortSignal }): Promise<SearchHit[][]>;
}

/** The indexes a pipeline's retrievers read, each opened once, when first needed. */
export interface RetrievalSources {
  readonly pipeline: string;
  dense(): Promise<IndexHandle>;
  lexical(): Promise<LexicalHandle>;
  /** Each document's first chunk id: what a lexical hit names. */
  firstChunks(): Promise<Map<string, string>>;
  /** With `memo`: ranked lists already computed, by side, settings, depth and query. */
  readonly memo?: Map<string, SearchHit[]>;
}

/** The sources of `options.pipeline ?? ctx.pipeline`; `memo` keeps every side's lists (for an eval's grid, not a server). */
export function openSources(ctx: SearchContext, options: { pipeline?: string; memo?: boolean } = {}): RetrievalSources {
  const pipeline = options.pipeline ?? ctx.pipeline;
  const once = <T>(open: () => Promise<T>) => {
    let opened: Promise<T> | undefined;
    return () => (opened ??= open());
  };
  const view = `"${pipeline.replaceAll('"', '""')}"."index"`;
  return {
    pipeline,
    dense: once(() => openIndex(ctx, { pipeline })),
    // Loaded when first needed: a dense search never reads the lexical module.
    lexical: once(async () => (await import("./lexical.ts")).openLexical(ctx, { pipeline })),
    firstChunks: once(async () => {
      const rows = await ctx.sql(`SELECT document, arg_min(chunk_id, chunk_index) AS chunk FROM ${view} GROUP BY document`);
      return new Map(rows.map((row) => [String(row.document), String(row.chunk)]));
    }),
    memo: options.memo ? new Map() : undefined,
  };
}

/** A retriever of `config` over the pipeline's indexes, the ones it needs opened now (so that a missing index fails here). */
export async function openRetriever(ctx: SearchContext, config: RetrievalConfig, options: { pipeline?: string } = {}): Promise<Retriever> {
  const sources = openSources(ctx, options);
  if (config.mode !== "lexical") await sources.dense();
  if (config.mode !== "dense") await Promise.all([sources.lexical(), sources.firstChunks()]);
  return retrieverOver(sources, config);
}

/** A retriever of `config` over `sources`. */
export function retrieverOver(sources: RetrievalSources, config: RetrievalConfig): Retriever {
  const spec = formatRetrieval(config);
  async function search(queries: string[], k: number, options: { signal?: AbortSignal } = {}): Promise<SearchHit[][]> {
    if (!Number.isInteger(k) || k < 1) throw new CellarError(`search: k=${k}: expected a whole number ≥ 1`);
    if (!Array.isArray(queries) || queries.some((q) => typeof q !== "string")) throw new CellarError(`search: expected query texts (an array of strings)`);
    if (config.mode === "dense") return await denseLists(sources, queries, k, options.signal);
    if (config.mode === "lexical") return await lexicalLists(sources, config, queries, k, options.signal);
    const depth = Math.max(k, FUSION_DEPTH);
    const [dense, lexical] = await Promise.all([
      denseLists(sources, queries, depth, options.signal),
      lexicalLists(sources, config.lexical ?? {}, queries, depth, options.signal),
    ]);
    return queries.map((_, i) => fused(config, dense[i], lexical[i], k));
  }
  return { pipeline: sources.pipeline, config, spec, search };
}

/** The top k of one query's two lists fused as `config` says. */
function fused(config: Extract<RetrievalConfig, { mode: "hybrid" }>, dense: SearchHit[], lexical: SearchHit[], k: number): SearchHit[] {
  const lists: Ranked[][] = [dense, lexical];
  const alpha = config.alpha ?? 0.5;
  const order: Fused[] = config.fusion === "rrf" ? fuseRrf(lists, { k: config.rrfK }) : fuseWeighted(lists, [alpha, 1 - alpha]);
  return order.slice(0, k).map((f, i) => {
    // The dense side's hit names the chunk that matched best; else the lexical one's (the first chunk).
    const from = f.ranks[0] !== null ? dense[f.ranks[0] - 1] : lexical[f.ranks[1]! - 1];
    return { rank: i + 1, score: f.score, document: f.document, title: from.title, chunk: from.chunk };
  });
}

async function denseLists(sources: RetrievalSources, queries: string[], k: number, signal?: AbortSignal): Promise<SearchHit[][]> {
  return await memoized(sources, `dense|${k}`, queries, async (todo) => (await sources.dense()).search(todo, k, { signal }));
}

async function lexicalLists(sources: RetrievalSources, settings: LexicalSettings, queries: string[], k: number, signal?: AbortSignal): Promise<SearchHit[][]> {
  const { k1, b, rm3 } = settings;
  const key = `lexical|${k1}|${b}|${rm3 ? `${rm3.fbDocs}|${rm3.fbTerms}|${rm3.originalWeight}` : ""}|${k}`;
  return await memoized(sources, key, queries, async (todo) => {
    const [lexical, firstChunks] = await Promise.all([sources.lexical(), sources.firstChunks()]);
    const lists = await lexical.search(todo, k, { k1, b, rm3, signal });
    return lists.map((hits) => hits.map((hit: LexicalHit): SearchHit => ({ ...hit, chunk: firstChunks.get(hit.document) ?? hit.document })));
  });
}

/** `compute(queries)`, through the sources' memo when they keep one: only the queries not seen under `key` are computed. */
async function memoized(
  sources: RetrievalSources,
  key: string,
  queries: string[],
  compute: (queries: string[]) => Promise<SearchHit[][]>,
): Promise<SearchHit[][]> {
  const memo = sources.memo;
  if (!memo) return await compute(queries);
  const todo = [...new Set(queries.filter((q) => !memo.has(`${key}|${q}`)))];
  if (todo.length > 0) (await compute(todo)).forEach((hits, i) => memo.set(`${key}|${todo[i]}`, hits));
  return queries.map((q) => memo.get(`${key}|${q}`)!);
}
