/**
 * build_index: turns embed_docs' vectors into a searchable index in DuckDB —
 * unit-length vectors with their document and title. Searching it is
 * index/search.ts: `openIndex` loads one and answers queries with exact top-k
 * (the WGSL kernel on a device, WebAssembly SIMD on the CPU path).
 *
 * The DuckDB `vss` extension cannot be downloaded offline; exact search needs
 * none, and at RAG-corpus sizes (10⁵–10⁶ chunks) a tiled exact scan is fast.
 *
 * @example
 * ```ts
 * import { pipeline } from "../kernel/mod.ts";
 * import { embedDocs } from "./embed.ts";
 * import { buildIndex } from "./build-index.ts";
 *
 * pipeline({ id: "ingest" }).cell("embed_docs", embedDocs).cell("build_index", buildIndex);
 * ```
 */
import { CellarError, type Context, type TableRef, type TableWriter } from "../kernel/mod.ts";
import { normalized } from "./index/search.ts";
import { buildLexical, type LexicalOutput, lexicalParams } from "./index/lexical-build.ts";

/** What embed_docs returns. */
interface Embedded {
  /** The documents it chunked, with their titles. */
  documents?: TableRef;
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
  /** The BM25 index (index/lexical-build.ts) over embed_docs' documents; absent when its output names none. */
  lexical?: LexicalOutput;
}

/** Chunks per page of the vector index: one bulk append. */
const INDEX_PAGE = 4096;

export async function buildIndex(ctx: Context, input: Embedded): Promise<IndexOutput> {
  if (!input?.vectors || !input?.chunks) {
    throw new CellarError(`build_index: expected embed_docs' output ({ chunks, vectors, model, dimensions }), got ${JSON.stringify(input)}`);
  }
  const { dimensions, model } = input;
  // A bad lexical param fails the cell before it writes anything.
  lexicalParams.read(ctx.params);
  const index = await ctx.table("index", {
    chunk_id: "VARCHAR",
    document: "VARCHAR",
    title: "VARCHAR",
    chunk_index: "INTEGER",
    model: "VARCHAR",
    embedding: `FLOAT[${dimensions}]`,
  });
  // Titles come from the documents embed_docs chunked.
  const documents = input.documents?.sql;
  const offset = await writeVectors(ctx, input, index, documents);
  const [count] = await ctx.sql(`SELECT count(DISTINCT document)::INT AS n FROM ${input.chunks.sql}`);
  ctx.log.info(`indexed ${offset} chunks of ${count.n} documents (${model}, ${dimensions} dimensions)`);
  const lexical = input.documents ? await buildLexical(ctx, input.documents) : undefined;
  return { index: await index.finish(), model, dimensions, vectors: offset, documents: count.n as number, ...(lexical ? { lexical } : {}) };
}

/** Writes every chunk's unit-length vector of `input.model` into `index`, in chunk_id order, a page at a time; returns the count. */
async function writeVectors(ctx: Context, input: Embedded, index: TableWriter, documents: string | undefined): Promise<number> {
  const { model } = input;
  let offset = 0;
  // Paged by key: a page is the chunk_ids in (last, upper], its upper bound found first, so that both sides of
  // the join are read in that range only (zone maps skip the rest). Joining every chunk with every vector and
  // cutting the sorted result at the page, as a LIMIT over the join does, costs O(N) time and memory a page.
  let last: string | undefined;
  for (;;) {
    ctx.signal.throwIfAborted();
    const [bound] = await ctx.sql(
      `SELECT max(chunk_id) AS upper FROM (SELECT chunk_id FROM ${input.chunks.sql}
       ${last === undefined ? "" : "WHERE chunk_id > ?"} ORDER BY chunk_id LIMIT ${INDEX_PAGE})`,
      last === undefined ? [] : [last],
    );
    if (bound.upper === null || bound.upper === undefined) break;
    const upper = String(bound.upper);
    const range = (column: string) => `${last === undefined ? "" : `${column} > $3 AND `}${column} <= $2`;
    const rows = await ctx.sql(
      `SELECT c.chunk_id, c.document, c.chunk_index, ${documents ? "d.title" : "NULL AS title"}, v.embedding
       FROM (SELECT chunk_id, document, chunk_index FROM ${input.chunks.sql} WHERE ${range("chunk_id")}) c
       JOIN (SELECT chunk_id, embedding FROM ${input.vectors.sql} WHERE model = $1 AND ${range("chunk_id")}) v USING (chunk_id)
       ${documents ? `LEFT JOIN ${documents} d ON d.id = c.document` : ""}
       ORDER BY c.chunk_id`,
      last === undefined ? [model, upper] : [model, upper, last],
    );
    last = upper;
    if (rows.length === 0) continue;
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
  return offset;
}
