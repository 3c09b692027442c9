/**
 * build_index: turns embed_docs' vectors into a searchable index in DuckDB —
 * unit-length vectors with their document and title — and `searchIndex`
 * answers queries over it with exact top-k by the similarity kernel (WGSL on a
 * device, its TypeScript reference on the CPU path).
 *
 * The DuckDB `vss` extension cannot be downloaded offline; exact search needs
 * none, and at RAG-corpus sizes (10⁵–10⁶ chunks) a tiled exact scan is fast.
 *
 * @example
 * .cell("build_index", buildIndex)
 * const hits = await searchIndex(ctx, "supersonic flow over a wedge", { k: 10 });
 */
import { CellarError, type Context, type GpuDevice, type TableRef } from "../kernel/mod.ts";
import { loadEmbedder } from "./embed.ts";
import { topK, topKGpu } from "./index/topk.ts";

/** What embed_docs returns. */
interface Embedded {
  chunks: TableRef;
  vectors: TableRef;
  model: string;
  dimensions: number;
}

export interface IndexOutput {
  index: TableRef;
  model: string;
  dimensions: number;
  vectors: number;
  documents: number;
}

export async function buildIndex(ctx: Context, input: Embedded): Promise<IndexOutput> {
  if (!input?.vectors || !input?.chunks) {
    throw new CellarError(`build_index: expected embed_docs' output ({ chunks, vectors, model, dimensions }), got ${JSON.stringify(input)}`);
  }
  const { dimensions, model } = input;
  const index = await ctx.table("index", {
    chunk_id: "VARCHAR",
    document: "VARCHAR",
    title: "VARCHAR",
    chunk_index: "INTEGER",
    model: "VARCHAR",
    embedding: `FLOAT[${dimensions}]`,
  });
  // Titles come from the documents embed_docs chunked: dedup_corpus's output, when the cell needs it.
  const documents = ctx.upstream<{ documents?: TableRef } | undefined>("dedup_corpus")?.documents?.sql;
  let offset = 0;
  const BATCH = 4096;
  for (;;) {
    ctx.signal.throwIfAborted();
    const rows = await ctx.sql(
      `SELECT c.chunk_id, c.document, c.chunk_index, ${documents ? "d.title" : "NULL AS title"}, v.embedding
       FROM ${input.chunks.sql} c JOIN ${input.vectors.sql} v USING (chunk_id)
       ${documents ? `LEFT JOIN ${documents} d ON d.id = c.document` : ""}
       WHERE v.model = ? ORDER BY c.chunk_id LIMIT ${BATCH} OFFSET ${offset}`,
      [model],
    );
    if (rows.length === 0) break;
    await index.append(rows.map((row) => ({
      chunk_id: row.chunk_id,
      document: row.document,
      title: row.title ?? null,
      chunk_index: row.chunk_index,
      model,
      embedding: normalized(row.embedding as number[]),
    })));
    offset += rows.length;
    ctx.progress(offset);
  }
  if (offset === 0) throw new CellarError(`build_index: embed_docs produced no vectors for model "${model}"; nothing to index`);
  const [count] = await ctx.sql(`SELECT count(DISTINCT document)::INT AS n FROM ${input.chunks.sql}`);
  ctx.log.info(`indexed ${offset} chunks of ${count.n} documents (${model}, ${dimensions} dimensions)`);
  return { index: await index.finish(), model, dimensions, vectors: offset, documents: count.n as number };
}

export interface SearchHit {
  rank: number;
  score: number;
  document: string;
  title: string | null;
  chunk: string;
}

/** What search needs: SQL over the store and, optionally, a device for the kernel. */
export interface SearchContext {
  pipeline: string;
  sql(query: string, values?: unknown[]): Promise<Record<string, unknown>[]>;
  device?: GpuDevice;
  signal?: AbortSignal;
}

/**
 * The k best documents for each query: embedded with the model that built the
 * index, scored by cosine similarity against every indexed chunk, best chunk
 * per document.
 */
export async function searchIndex(ctx: SearchContext, queries: string[], options: { k?: number } = {}): Promise<SearchHit[][]> {
  const k = options.k ?? 10;
  if (!Number.isInteger(k) || k < 1) throw new CellarError(`--k ${k}: expected a whole number ≥ 1`);
  const view = `"${ctx.pipeline.replaceAll('"', '""')}"."index"`;
  const exists = await ctx.sql(
    `SELECT count(*)::INT AS n FROM information_schema.tables WHERE table_schema = ? AND table_name = 'index'`,
    [ctx.pipeline],
  );
  if (exists[0].n === 0) throw new CellarError(`pipeline "${ctx.pipeline}" has no index yet; run it first (cellar run ${ctx.pipeline})`);
  const [meta] = await ctx.sql(`SELECT any_value(model) AS model, count(*)::INT AS n FROM ${view}`);
  const model = String(meta.model);
  const rows = await ctx.sql(`SELECT chunk_id, document, title, embedding FROM ${view} ORDER BY chunk_id`);
  const dim = (rows[0].embedding as number[]).length;
  const vectors = new Float32Array(rows.length * dim);
  rows.forEach((row, i) => vectors.set(row.embedding as number[], i * dim));

  // The model that built the index, with the params of the run that built it (a local model path, a dtype).
  const [built] = await ctx.sql(
    `SELECT r.params FROM outputs o JOIN runs r USING (run_id)
     WHERE o.pipeline = ? AND o.cell = 'build_index' ORDER BY o.created_at DESC LIMIT 1`,
    [ctx.pipeline],
  );
  const params = built ? JSON.parse(String(built.params)) : {};
  const embedder = await loadEmbedder(model.startsWith("transformers") ? "transformers" : model, {
    modelPath: params.modelPath || undefined,
    dtype: params.dtype,
  });
  if (embedder.id !== model) {
    throw new CellarError(`the index was built with ${model} but ${embedder.id} loads now; rebuild it: cellar run ${ctx.pipeline} --from embed_docs`);
  }
  if (embedder.dimensions !== dim) {
    throw new CellarError(`the index holds ${dim}-dimensional vectors but model "${model}" gives ${embedder.dimensions}; rebuild the index`);
  }
  const embedded = await embedder.embed(queries, { signal: ctx.signal });
  const q = new Float32Array(queries.length * dim);
  embedded.forEach((v, i) => q.set(normalized(Array.from(v)), i * dim));

  // Several chunks of one document may rank high; fetch extra so k distinct documents remain.
  const fetch = Math.min(rows.length, k * 4);
  const result = ctx.device ? await topKGpu(ctx.device, q, vectors, dim, fetch) : topK(q, vectors, dim, fetch);
  return queries.map((_, qi) => {
    const hits: SearchHit[] = [];
    const seen = new Set<string>();
    for (let j = 0; j < fetch && hits.length < k; j++) {
      const row = rows[result.indices[qi * fetch + j]];
      const document = String(row.document);
      if (seen.has(document)) continue;
      seen.add(document);
      hits.push({
        rank: hits.length + 1,
        score: result.scores[qi * fetch + j],
        document,
        title: row.title === null ? null : String(row.title),
        chunk: String(row.chunk_id),
      });
    }
    return hits;
  });
}

function normalized(vector: ArrayLike<number>): Float32Array {
  let norm = 0;
  for (let i = 0; i < vector.length; i++) norm += vector[i] * vector[i];
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  const out = new Float32Array(vector.length);
  for (let i = 0; i < vector.length; i++) out[i] = vector[i] * scale;
  return out;
}
