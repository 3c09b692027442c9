/**
 * A pipeline's vector index, loaded once and searched many times: its vectors
 * in one Float32Array, its chunks' documents and titles, and the embedder of
 * the model that built it (with the params of the run that built it). The
 * eval pipeline opens one and runs every question through it; `cellar search`
 * opens one per command.
 *
 * @example
 * ```ts
 * import type { Context } from "../../kernel/mod.ts";
 * import { latestIndexPipeline, openIndex, searchIndex } from "./search.ts";
 *
 * declare const ctx: Context;
 * const index = await openIndex({ pipeline: "eval", sql: ctx.sql }, { pipeline: await latestIndexPipeline(ctx.sql) });
 * const [hits] = await index.search(["supersonic flow over a wedge"], 10);
 * const [vector] = await index.embedder.embed(["what is lift?"], { as: "query" });
 * const [once] = await searchIndex({ pipeline: "ingest", sql: ctx.sql }, ["lift"], { k: 5 }); // open, search, done
 * ```
 */
import { CellarError, type GpuDevice, latestCheckpoint, type VectorReader, type VectorRows } from "../../kernel/mod.ts";
import { type Embedder, type EmbedderOptions, loadEmbedder } from "../embed/embedder.ts";
import { topKGpu, type TopKResult } from "./topk.ts";
import { topKHost } from "./topk-host.ts";

export interface SearchHit {
  rank: number;
  score: number;
  document: string;
  title: string | null;
  chunk: string;
}

/** What search needs: SQL over the store and, optionally, a chunk reader for the vectors and a device for the kernel. */
export interface SearchContext {
  /** Whose index to open unless `openIndex` is told another. */
  pipeline: string;
  sql(query: string, values?: unknown[]): Promise<Record<string, unknown>[]>;
  /** Reads the vectors without turning them into JS arrays (kernel/store/vectors.ts); without it they come through `sql`. */
  readVectors?: VectorReader;
  device?: GpuDevice;
  /**
   * Asked for the device only when a search runs its vector top-k, when `device` is not given: opening
   * WebGPU (Dawn) costs time and stderr noise that a lexical search, or one that fails first, never needs.
   */
  gpu?: () => Promise<GpuDevice | undefined>;
  signal?: AbortSignal;
}

export interface IndexHandle {
  /** The pipeline whose index this is. */
  readonly pipeline: string;
  /** The embedding model that built it, e.g. "use-lite". */
  readonly model: string;
  readonly dimensions: number;
  /** Indexed chunks. */
  readonly size: number;
  /** Distinct documents among them. */
  readonly documents: number;
  /** Those documents' ids, in index order. */
  readonly documentIds: readonly string[];
  /** The model that built the index, loaded: embed queries (or anything to compare with them) with it. */
  readonly embedder: Embedder;
  /**
   * The k best documents for each query (texts, or vectors already embedded,
   * numQueries × dimensions), scored by cosine similarity against every
   * chunk, best chunk per document.
   */
  search(queries: string[] | Float32Array, k: number, options?: { signal?: AbortSignal }): Promise<SearchHit[][]>;
  /** A chunk's indexed vector (unit length, a view into the index), or undefined when the index has no such chunk. */
  vectorOf(chunk: string): Float32Array | undefined;
}

export async function openIndex(ctx: SearchContext, options: { pipeline?: string } = {}): Promise<IndexHandle> {
  const pipeline = options.pipeline ?? ctx.pipeline;
  if (typeof pipeline !== "string" || pipeline === "") {
    throw new CellarError(`openIndex: pipeline ${JSON.stringify(pipeline)}: expected the id of a pipeline that built an index`);
  }
  const view = `"${pipeline.replaceAll('"', '""')}"."index"`;
  const { model, expected } = await indexSummary(ctx, pipeline, view);
  const { rows, embedder } = await readIndex(ctx, pipeline, view, model, expected);
  const dim = rows.dimensions;
  const chunks = rows.columns.chunk_id.map(String);
  const documentOf = rows.columns.document.map(String);
  const titleOf = rows.columns.title.map((t) => (t === null || t === undefined ? null : String(t)));
  const documentIds = [...new Set(documentOf)];
  // What was read, not what was counted: a build committing in between may have moved the view.
  const index: IndexRows = { vectors: rows.vectors, dim, size: rows.count, documents: documentIds.length, chunks, documentOf, titleOf };

  async function search(queries: string[] | Float32Array, k: number, options: { signal?: AbortSignal } = {}): Promise<SearchHit[][]> {
    return await searchRows(index, embedder, ctx.device ?? await ctx.gpu?.(), queries, k, options.signal ?? ctx.signal);
  }

  let rowOf: Map<string, number> | undefined;
  function vectorOf(chunk: string): Float32Array | undefined {
    rowOf ??= new Map(chunks.map((id, row) => [id, row]));
    const row = rowOf.get(chunk);
    return row === undefined ? undefined : rows.vectors.subarray(row * dim, (row + 1) * dim);
  }

  return { pipeline, model, dimensions: dim, size: index.size, documents: index.documents, documentIds, embedder, search, vectorOf };
}

/** An opened index's rows, as search reads them: row r is chunk `chunks[r]` of document `documentOf[r]`. */
interface IndexRows {
  vectors: Float32Array;
  dim: number;
  size: number;
  /** Distinct documents. */
  documents: number;
  chunks: string[];
  documentOf: string[];
  titleOf: (string | null)[];
}

/** The index's model and row count, failing with what to run when it has no index or an empty one. */
async function indexSummary(ctx: SearchContext, pipeline: string, view: string): Promise<{ model: string; expected: number }> {
  const exists = await ctx.sql(
    `SELECT count(*)::INT AS n FROM information_schema.tables WHERE table_schema = ? AND table_name = 'index'`,
    [pipeline],
  );
  if (exists[0].n === 0) throw new CellarError(`pipeline "${pipeline}" has no index yet; run it first (cellar run ${pipeline})`);
  const [meta] = await ctx.sql(`SELECT any_value(model) AS model, count(*)::INT AS n FROM ${view}`);
  const expected = Number(meta.n);
  if (expected === 0) throw new CellarError(`pipeline "${pipeline}" has an empty index; run it again (cellar run ${pipeline})`);
  return { model: String(meta.model), expected };
}

/** The index's rows and the embedder that built them, checked to agree. */
async function readIndex(
  ctx: SearchContext,
  pipeline: string,
  view: string,
  model: string,
  expected: number,
): Promise<{ rows: VectorRows; embedder: Embedder }> {
  // The model that built the index, with the params of the run that built it (a local model path, a dtype).
  const built = await latestCheckpoint(ctx, { pipeline, cell: "build_index" });
  const params = (built?.params ?? {}) as EmbedderOptions & { modelProfile?: string; model?: unknown };
  // A hub id as the model param: the same id loads (from the model cache), and its id names the commit it resolves to.
  const named = typeof params.model === "string" && params.model.includes("/") ? params.model : undefined;
  // No ORDER BY: DuckDB returns a plain scan in insertion order (build_index writes chunk_id order),
  // the same order both ways of reading, and sorting 100K rows of vectors costs a third of the read.
  const query = `SELECT chunk_id, document, title, embedding FROM ${view}`;
  // The model loads while DuckDB reads: both take a while on a large index.
  const [rows, embedder] = await Promise.all([
    ctx.readVectors ? ctx.readVectors(query, [], { rows: expected }) : readThroughSql(ctx, query),
    loadEmbedder(named ?? (model.startsWith("transformers") ? "transformers" : model), {
      modelPath: params.modelPath || undefined,
      dtype: params.dtype,
      profile: params.modelProfile,
    }),
  ]);
  if (embedder.id !== model) {
    throw new CellarError(`the index was built with ${model} but ${embedder.id} loads now; rebuild it: cellar run ${pipeline} --from embed_docs`);
  }
  if (embedder.dimensions !== rows.dimensions) {
    throw new CellarError(`the index holds ${rows.dimensions}-dimensional vectors but model "${model}" gives ${embedder.dimensions}; rebuild the index`);
  }
  return { rows, embedder };
}

/** `IndexHandle.search` on `index`: the top k distinct documents per query, on `device` when there is one. */
async function searchRows(
  index: IndexRows,
  embedder: Embedder,
  device: GpuDevice | undefined,
  queries: string[] | Float32Array,
  k: number,
  signal: AbortSignal | undefined,
): Promise<SearchHit[][]> {
  if (!Number.isInteger(k) || k < 1) throw new CellarError(`search: k=${k}: expected a whole number ≥ 1`);
  const { vectors, dim, size } = index;
  const q = await embedQueries(embedder, queries, dim, signal);
  const numQueries = q.length / dim;
  const results: SearchHit[][] = Array.from({ length: numQueries }, () => []);
  // Several chunks of one document may rank high: fetch extra so that k distinct documents remain — as many
  // more as the index has chunks per document, and a quarter (at most 4× k) — and fetch again, four times
  // more, for the queries still short of them. A k-selection costs more the more it keeps.
  const want = Math.min(k, index.documents);
  let pending = Array.from({ length: numQueries }, (_, i) => i);
  let fetch = Math.min(size, Math.ceil(k * Math.min(4, 1.25 * size / index.documents)));
  for (;;) {
    signal?.throwIfAborted();
    const block = new Float32Array(pending.length * dim);
    pending.forEach((qi, j) => block.set(q.subarray(qi * dim, (qi + 1) * dim), j * dim));
    const best = device ? await topKGpu(device, block, vectors, dim, fetch) : await topKHost(block, vectors, dim, fetch);
    const short: number[] = [];
    pending.forEach((qi, j) => {
      const hits = distinctDocuments(index, best, j * fetch, (j + 1) * fetch, k);
      results[qi] = hits;
      if (hits.length < want) short.push(qi);
    });
    if (short.length === 0 || fetch === size) return results;
    pending = short;
    fetch = Math.min(size, fetch * 4);
  }
}

/** Up to k hits from the ranked rows `best[from, to)`, keeping each document's best chunk only. */
function distinctDocuments(index: IndexRows, best: TopKResult, from: number, to: number, k: number): SearchHit[] {
  const hits: SearchHit[] = [];
  const seen = new Set<string>();
  for (let r = from; r < to && hits.length < k; r++) {
    const row = best.indices[r];
    const document = index.documentOf[row];
    if (seen.has(document)) continue;
    seen.add(document);
    hits.push({ rank: hits.length + 1, score: best.scores[r], document, title: index.titleOf[row], chunk: index.chunks[row] });
  }
  return hits;
}

/**
 * The pipeline whose index was built last (the newest build_index
 * checkpoint): the index a reader wants when it is not told which.
 */
export async function latestIndexPipeline(sql: SearchContext["sql"]): Promise<string> {
  const built = await latestCheckpoint({ sql }, { cell: "build_index" });
  if (!built) throw new CellarError(`no pipeline has built an index yet; run ingest first (cellar run ingest)`);
  return built.pipeline;
}

/** Unit-length query vectors, numQueries × dim. */
async function embedQueries(embedder: Embedder, queries: string[] | Float32Array, dim: number, signal?: AbortSignal): Promise<Float32Array> {
  if (queries instanceof Float32Array) {
    if (queries.length % dim !== 0) {
      throw new CellarError(`search: ${queries.length} query values are not a whole number of ${dim}-dimensional vectors`);
    }
    const out = new Float32Array(queries.length);
    for (let at = 0; at < queries.length; at += dim) out.set(normalized(queries.subarray(at, at + dim)), at);
    return out;
  }
  if (!Array.isArray(queries) || queries.some((text) => typeof text !== "string")) {
    throw new CellarError(`search: expected query texts (an array of strings) or a Float32Array of query vectors`);
  }
  if (queries.length === 0) return new Float32Array(0);
  // The query form: a model profiled with prefixes (e5's "query: ", bge's instruction) reads each query with its own.
  const embedded = await embedder.embed(queries, { signal, as: "query" });
  const out = new Float32Array(queries.length * dim);
  embedded.forEach((v, i) => out.set(normalized(v), i * dim));
  return out;
}

/**
 * The vectors through `sql`, for a caller with no chunk reader: every value
 * becomes a JS number on the way, so this is several times slower and holds
 * more memory than `readVectors`, but it needs nothing but SQL.
 */
async function readThroughSql(ctx: SearchContext, query: string): Promise<VectorRows> {
  const rows = await ctx.sql(query);
  const dimensions = (rows[0]?.embedding as number[] | undefined)?.length ?? 0;
  const vectors = new Float32Array(rows.length * dimensions);
  rows.forEach((row, i) => vectors.set(row.embedding as number[], i * dimensions));
  const column = (name: string) => rows.map((row) => row[name]);
  return { count: rows.length, dimensions, vectors, columns: { chunk_id: column("chunk_id"), document: column("document"), title: column("title") } };
}

export function normalized(vector: ArrayLike<number>): Float32Array {
  let norm = 0;
  for (let i = 0; i < vector.length; i++) norm += vector[i] * vector[i];
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  const out = new Float32Array(vector.length);
  for (let i = 0; i < vector.length; i++) out[i] = vector[i] * scale;
  return out;
}

/**
 * The k best documents for each query, on the index of `ctx.pipeline`: a
 * one-off `openIndex(ctx).search(queries, k)`. Open the index once instead when
 * searching it more than once.
 */
export async function searchIndex(ctx: SearchContext, queries: string[], options: { k?: number } = {}): Promise<SearchHit[][]> {
  const k = options.k ?? 10;
  if (!Number.isInteger(k) || k < 1) throw new CellarError(`--k ${k}: expected a whole number ≥ 1`);
  const index = await openIndex(ctx);
  return await index.search(queries, k);
}
