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
import { CellarError, type Context, type TableRef } from "../kernel/mod.ts";
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
  let offset = 0;
  const BATCH = 4096;
  // Paged by key, from the last chunk_id read: OFFSET would sort and skip every row before it, each page.
  let last: string | undefined;
  for (;;) {
    ctx.signal.throwIfAborted();
    const rows = await ctx.sql(
      `SELECT c.chunk_id, c.document, c.chunk_index, ${documents ? "d.title" : "NULL AS title"}, v.embedding
       FROM ${input.chunks.sql} c JOIN ${input.vectors.sql} v USING (chunk_id)
       ${documents ? `LEFT JOIN ${documents} d ON d.id = c.document` : ""}
       WHERE v.model = ? ${last === undefined ? "" : "AND c.chunk_id > ?"} ORDER BY c.chunk_id LIMIT ${BATCH}`,
      last === undefined ? [model] : [model, last],
    );
    if (rows.length === 0) break;
    last = String(rows[rows.length - 1].chunk_id);
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
  const lexical = input.documents ? await buildLexical(ctx, input.documents) : undefined;
  return { index: await index.finish(), model, dimensions, vectors: offset, documents: count.n as number, ...(lexical ? { lexical } : {}) };
}
