/**
 * embed_docs: documents → token chunks with overlap → vectors in DuckDB.
 *
 * - Chunks ("chunks" table): each document — its title and its text as one
 *   (`documentText`, ./document.ts: the title first unless the text begins with
 *   it), so that search matches titles too — is cut into chunks of at most
 *   `chunkTokens` of the model's own tokens, repeating up to `chunkOverlap`
 *   tokens of the chunk before; `start_offset`/`end_offset` are JavaScript string
 *   indices into that string; `text_hash` is the SHA-256 of the chunk text.
 * - Vectors ("vectors" table, FLOAT[dimensions]) go through `ctx.map` and are appended
 *   as they come, in the chunks' order. The texts to embed are read back out of "chunks" a page
 *   at a time by key (document, chunk_index), so memory is bounded by the page, not the corpus:
 *   - `use-lite` (TensorFlow.js WebAssembly, which computes on the calling thread): batches
 *     of `batchSize` texts run in the kernel's CPU workers as a task handle
 *     (embed/use-lite-chunk.ts), one model per worker, `embedWorkers` of them at once
 *     ("auto": every worker, one per core, unless all fits in one batch); `embedWorkers: 0` runs them on the kernel's
 *     own thread, as before the workers. The same batches either way: the same vectors.
 *   - `transformers` (padded to each batch's longest text): chunks sorted by token count
 *     within windows of SORT_WINDOW batches, cut into batches of at most `batchTokens`
 *     padded tokens and `batchSize` texts (embed/token-batches.ts), results put back in
 *     the chunks' order. onnxruntime threads each call over the cores itself.
 *   - The cell's GPU claim holds a device only where the model runs on one (transformers on
 *     WebGPU, where it is admission control: onnxruntime opens its own device, it cannot take
 *     the kernel's). A model on the CPU maps with `gpu: undefined`: a lease would keep a
 *     device from GPU work while leaving the CPU work where it is — and, for a task handle,
 *     would run it inline on the kernel's thread instead of in the CPU workers (ctx.map
 *     runs a GPU claim's chunks here whenever the host has an adapter, lavapipe included).
 * - Re-runs embed only new or changed chunks: a chunk whose text_hash has a vector
 *   from the same model in the previous run (the views "<pipeline>"."chunks" and
 *   "<pipeline>"."vectors") gets that vector copied inside DuckDB; the same text
 *   twice in one run is embedded once. `embedded + reused` = chunks.
 * - A model whose dimension differs from the previous run's vectors is refused,
 *   unless `rebuild` is true (re-embed everything; see the error message).
 *
 * Params: `embedParams` (model, modelPath, dtype, chunkTokens, chunkOverlap, batchSize,
 * batchTokens, embedWorkers, rebuild, modelProfile), each with its default and bounds; a pipeline spreads EMBED_PARAMS.
 * Chunks are embedded in the model's document form (its profile's document prefix, e.g. e5's
 * `passage: `); search embeds queries in the query form.
 *
 * @example
 * ```ts
 * import { pipeline } from "../kernel/mod.ts";
 * import { DEDUP_PARAMS, dedupCorpus } from "./dedup.ts";
 * import { EMBED_PARAMS, embedDocs } from "./embed.ts";
 *
 * pipeline({ id: "ingest", params: { ...DEDUP_PARAMS, ...EMBED_PARAMS } })
 *   .cell("dedup_corpus", dedupCorpus)
 *   .cell("embed_docs", { gpu: 0.5 }, embedDocs); // → { chunks, vectors, model: "use-lite", dimensions: 512, embedded, reused }
 * ```
 */
import {
  accepts, CellarError, cellParams, type Columns, type Context, flag, isTableRef, type MapOptions, oneOf, paramError, quoteIdent, runtime, type TableRef,
  type TableWriter, task, text, wholeNumber, z,
} from "../kernel/mod.ts";
import { documentText } from "./document.ts";
import { cachedCounter, chunkText } from "./embed/chunk.ts";
import { type Embedder, loadEmbedder, MODELS } from "./embed/embedder.ts";
import { inInputOrder, tokenBatches } from "./embed/token-batches.ts";
import { USE_LITE_MODULE } from "./embed/use-lite-chunk.ts";
import { PROFILE_NAMES } from "./models/profiles.ts";

export { loadEmbedder } from "./embed/embedder.ts";
export type { Dtype, Embedder, EmbedderOptions, ModelName } from "./embed/embedder.ts";

/** chunkTokens' most under `auto`: a few sentences, the span most retrieval models are trained on. */
const AUTO_CHUNK_TOKENS = 256;

/** embed_docs' params: their defaults are what a pipeline spreads into its own (EMBED_PARAMS). */
export const embedParams = cellParams({
  model: accepts(`"use-lite", "transformers" or a hub id "org/name[@revision]"`, z.union([z.enum(MODELS), z.string().refine((s) => s.includes("/"))]))
    .default("use-lite").describe(
      "`use-lite` (Universal Sentence Encoder lite, offline), `transformers` (see modelPath), or a hub id `org/name[@revision]`: a transformers model downloaded once into the model cache",
    ),
  modelPath: text().default("").describe("the model directory or hub id of `transformers`"),
  dtype: oneOf(["fp32", "q8"]).default("fp32").describe("the weights of `transformers`: `onnx/model.onnx` or `onnx/model_quantized.onnx`"),
  chunkTokens: accepts(`"auto" or a whole number ≥ 1`, z.union([z.literal("auto"), wholeNumber(1)])).default("auto").describe(
    `the most tokens, the model's own, in one chunk (\`auto\`: ${AUTO_CHUNK_TOKENS}, or what the model reads when that is fewer)`,
  ),
  chunkOverlap: wholeNumber(0).default(32).describe("tokens of the chunk before repeated at the start of the next, fewer than chunkTokens"),
  batchSize: wholeNumber(1).default(64).describe("texts per model call (for `transformers`, the most in one token-budget batch)"),
  batchTokens: wholeNumber(1).default(8192).describe(
    "`transformers`: the most padded tokens (texts × the longest one's tokens) per model call; a longer chunk goes alone",
  ),
  embedWorkers: accepts(`"auto" or a whole number ≥ 0`, z.union([z.literal("auto"), wholeNumber(0)])).default("auto").describe(
    "`use-lite`: CPU workers embedding at once, one model each (`auto`: every worker, one per core, for more than one batch; 0: the kernel's own thread)",
  ),
  rebuild: flag().default(false).describe("embed every chunk again instead of copying unchanged ones' vectors from the previous run"),
  modelProfile: oneOf(PROFILE_NAMES).default("auto").describe(
    "`transformers`: pooling, normalization, token limit and query/document prefixes — `auto` by the model's name (README: model profiles), or a profile's name",
  ),
});

export const EMBED_PARAMS = embedParams.defaults;

export interface EmbedInput {
  documents: TableRef;
}

export interface EmbedOutput {
  /** The documents chunked (the input's): build_index takes their titles from it. */
  documents: TableRef;
  chunks: TableRef;
  vectors: TableRef;
  model: string;
  dimensions: number;
  /** Chunks whose vector the model computed in this run. */
  embedded: number;
  /** Chunks whose vector was copied from the previous run. */
  reused: number;
}

type GivenSettings = ReturnType<typeof embedParams.read>;
/** The params with chunkTokens resolved against the model. */
type Settings = Omit<GivenSettings, "chunkTokens"> & { chunkTokens: number };

/** Rows of documents read at once: enough to amortize a query, few enough to keep memory flat. */
const DOCUMENT_PAGE = 1_000;
/** Chunk rows read at once when reading back the texts to embed. */
const CHUNK_PAGE = 1_024;
/** Vector rows gathered before one bulk append. */
const APPEND_ROWS = 1_024;
/** Batches of `batchSize` whose chunks are sorted by length together (transformers): bounds memory and reordering. */
const SORT_WINDOW = 16;

/** The "chunks" table's columns. */
const CHUNK_COLUMNS: Columns = {
  chunk_id: "VARCHAR",
  document: "VARCHAR",
  chunk_index: "INTEGER",
  text: "VARCHAR",
  start_offset: "INTEGER",
  end_offset: "INTEGER",
  text_hash: "VARCHAR",
};

export async function embedDocs(ctx: Context, input: EmbedInput): Promise<EmbedOutput> {
  const documents = input?.documents;
  if (!isTableRef(documents)) {
    throw new CellarError(`cell "${ctx.cell}": expected input.documents, the documents table from dedup_corpus`);
  }
  const given = readSettings(ctx);
  if (documents.rows === 0) throw new CellarError(`cell "${ctx.cell}": input.documents (${documents.$table}) is empty; expected at least one document`);
  const embedder = await openModel(ctx, given);
  const settings = chunkingFor(ctx, given, embedder);

  // 1. Chunk every document; keep the first occurrence of each text the previous run cannot supply.
  const chunks = await ctx.table("chunks", CHUNK_COLUMNS);
  // Read inside this cell's transaction (opened by ctx.table), so the copy in step 2 sees the same previous run.
  const previous = await previousRun(ctx, embedder, settings.rebuild);
  ctx.signal.throwIfAborted();
  const { tokens, chunkCount, documentCount } = await writeChunks(ctx, documents, settings, embedder, chunks);
  const todo = await chunksToEmbed(ctx, embedder, chunks, previous, tokens);

  // 2. Copy the previous run's vectors for unchanged texts, without bringing them into JavaScript.
  const vectors = await ctx.table("vectors", { chunk_id: "VARCHAR", model: "VARCHAR", embedding: `FLOAT[${embedder.dimensions}]` });
  const reused = previous.vectors !== undefined ? await copyPreviousVectors(ctx, embedder, previous, chunks, vectors) : 0;
  ctx.signal.throwIfAborted();

  // 3. Embed the rest, batch by batch, appending vectors as they arrive.
  if (todo.length > 0) await embedChunks(ctx, embedder, settings, todo, chunks, vectors);

  // 4. Texts repeated within this run share the vector computed for their first occurrence.
  const repeated = chunkCount - reused - todo.length > 0 ? await copyRepeatedVectors(ctx, embedder, chunks, vectors) : 0;

  const chunksRef = await chunks.finish();
  const vectorsRef = await vectors.finish();
  if (vectorsRef.rows !== chunksRef.rows) {
    throw new CellarError(`cell "${ctx.cell}": ${vectorsRef.rows} vectors for ${chunksRef.rows} chunks; expected one per chunk`);
  }
  const embedded = todo.length + repeated;
  ctx.cost.add("embedded_chunks", todo.length);
  ctx.log.info(
    `${chunkCount} chunks from ${documentCount} documents: ${embedded} embedded, ${reused} reused (model ${embedder.id}, ${embedder.dimensions} dimensions, ${embedder.device})`,
  );
  return { documents: input.documents, chunks: chunksRef, vectors: vectorsRef, model: embedder.id, dimensions: embedder.dimensions, embedded, reused };
}

/** The chunks whose vector the model must compute in this run; their texts stay in DuckDB until embedded. */
interface Todo {
  /** Each one's position among this run's chunks in key order (document, chunk_index), ascending. */
  positions: number[];
  /** The model's tokens in each text, without special tokens. */
  tokens: number[];
  length: number;
}

/** The model the params name. */
function openModel(ctx: Context, settings: GivenSettings): Promise<Embedder> {
  return loadEmbedder(settings.model, {
    modelPath: settings.modelPath,
    dtype: settings.dtype,
    profile: settings.modelProfile,
    log: (message) => ctx.log.info(message),
  });
}

/**
 * chunkTokens resolved against the model: `auto` is at most what it reads per text (all-MiniLM-L6-v2 reads 254,
 * fewer than 256); a number it cannot read is refused rather than cut, since the user asked for it.
 */
function chunkingFor(ctx: Context, settings: GivenSettings, embedder: Embedder): Settings {
  if (settings.chunkTokens === "auto") {
    const chunkTokens = Math.min(AUTO_CHUNK_TOKENS, embedder.maxTokens);
    if (chunkTokens < AUTO_CHUNK_TOKENS) ctx.log.info(`chunkTokens auto: ${chunkTokens}, the most model ${embedder.id} reads per text`);
    if (settings.chunkOverlap >= chunkTokens) {
      throw paramError("chunkOverlap", `fewer tokens than chunkTokens (auto: ${chunkTokens} for model ${embedder.id})`, settings.chunkOverlap);
    }
    return { ...settings, chunkTokens };
  }
  if (settings.chunkTokens > embedder.maxTokens) {
    const expected = `a whole number ≤ ${embedder.maxTokens} (model ${embedder.id} reads at most ${embedder.maxTokens} tokens per text)`;
    throw paramError("chunkTokens", expected, settings.chunkTokens);
  }
  return { ...settings, chunkTokens: settings.chunkTokens };
}

/**
 * Chunks every input document into `chunks`, a page at a time; returns each chunk's token count, in key order
 * (document, chunk_index), the order the documents are read in. Which chunks to embed is DuckDB's to find
 * (chunksToEmbed): a set of every text hash seen would grow with the corpus.
 */
async function writeChunks(
  ctx: Context,
  documents: TableRef,
  settings: Settings,
  embedder: Embedder,
  chunks: TableWriter,
): Promise<{ tokens: number[]; chunkCount: number; documentCount: number }> {
  const countTokens = counterFor(embedder);
  const tokens: number[] = [];
  let chunkCount = 0;
  let documentCount = 0;
  for await (const page of documentPages(ctx, documents)) {
    const rows: Record<string, unknown>[] = [];
    for (const doc of page) {
      ctx.signal.throwIfAborted();
      for (const chunk of chunkText(doc.text, { chunkTokens: settings.chunkTokens, chunkOverlap: settings.chunkOverlap, countTokens })) {
        const chunkId = `${doc.id}#${chunk.index}`;
        const hash = runtime.sha256Hex(chunk.text);
        tokens.push(chunk.tokens);
        rows.push({
          chunk_id: chunkId,
          document: doc.id,
          chunk_index: chunk.index,
          text: chunk.text,
          start_offset: chunk.start,
          end_offset: chunk.end,
          text_hash: hash,
        });
      }
    }
    documentCount += page.length;
    chunkCount += rows.length;
    await chunks.append(rows);
  }
  if (chunkCount === 0) throw new CellarError(`cell "${ctx.cell}": the ${documentCount} input documents hold no text to embed`);
  return { tokens, chunkCount, documentCount };
}

/**
 * The chunks the model must embed: the first, in key order (document, chunk_index), of each text whose hash
 * has no vector of this model in the previous run. DuckDB numbers the chunks and picks them (sorting and
 * grouping within its memory limit); JavaScript gets one list of positions, 4 bytes each in DuckDB's answer.
 */
async function chunksToEmbed(ctx: Context, embedder: Embedder, chunks: TableWriter, previous: PreviousRun, tokens: number[]): Promise<Todo> {
  const reusable = previous.vectors === undefined ? "" : `WHERE text_hash NOT IN (
    SELECT pc.text_hash FROM ${previous.chunks} pc JOIN ${previous.vectors} pv ON pv.chunk_id = pc.chunk_id WHERE pv.model = $1)`;
  const [row] = await ctx.sql(
    `SELECT coalesce(list(pos ORDER BY pos), []) AS positions FROM (
       SELECT min(pos) AS pos FROM (
         SELECT (row_number() OVER (ORDER BY document, chunk_index) - 1)::INTEGER AS pos, text_hash FROM ${chunks.sql}
       ) ${reusable} GROUP BY text_hash
     )`,
    previous.vectors === undefined ? [] : [embedder.id],
  );
  const positions = (row.positions as number[]).map(Number);
  return { positions, tokens: positions.map((p) => tokens[p]), length: positions.length };
}

/**
 * Copies into `vectors` this model's previous vector of every chunk whose text it had; returns the rows copied.
 * Each text's source is picked by chunk id and its vector joined afterwards, never grouped: an aggregate that
 * carries the vectors (any_value(embedding) over 146K × 384 floats) ran out of the store's 512MB at 100K documents.
 */
async function copyPreviousVectors(ctx: Context, embedder: Embedder, previous: PreviousRun, chunks: TableWriter, vectors: TableWriter): Promise<number> {
  return insertedRows(
    await ctx.sql(
      `INSERT INTO ${vectors.sql}
       WITH source AS (
         SELECT pc.text_hash, min(pc.chunk_id) AS chunk_id
         FROM ${previous.chunks} pc SEMI JOIN ${previous.vectors} pv ON pv.chunk_id = pc.chunk_id AND pv.model = $1
         GROUP BY pc.text_hash)
       SELECT c.chunk_id, $1, pv.embedding
       FROM ${chunks.sql} c
       JOIN source s ON s.text_hash = c.text_hash
       JOIN ${previous.vectors} pv ON pv.chunk_id = s.chunk_id AND pv.model = $1`,
      [embedder.id],
    ),
  );
}

/** Embeds `todo` through ctx.map, appending the vectors to `vectors` in bulk, in `todo`'s order. */
async function embedChunks(ctx: Context, embedder: Embedder, settings: Settings, todo: Todo, chunks: TableWriter, vectors: TableWriter): Promise<void> {
  let pending: Record<string, unknown>[] = [];
  for await (const [chunkId, embedding] of embedded(ctx, embedder, settings, todo, chunks)) {
    pending.push({ chunk_id: chunkId, model: embedder.id, embedding });
    if (pending.length >= APPEND_ROWS) {
      await vectors.append(pending);
      pending = [];
    }
  }
  if (pending.length > 0) await vectors.append(pending);
}

/** `[chunk id, vector]` in todo's order, from the fan-out that fits the model (see the module's doc). */
async function* embedded(ctx: Context, embedder: Embedder, settings: Settings, todo: Todo, chunks: TableWriter): AsyncGenerator<[string, Float32Array]> {
  // A model on the CPU holds no device lease (the cell's claim is for a model on WebGPU).
  const place: MapOptions = embedder.device === "webgpu" ? { concurrency: 2 } : { gpu: undefined, concurrency: 1 };
  if (embedder.id === "use-lite") {
    // The ids of the texts handed to ctx.map and not yet back: results come in the texts' order.
    const ids: string[] = [];
    let head = 0;
    const texts = async function* () {
      for await (const page of todoPages(ctx, chunks, todo.positions, CHUNK_PAGE)) {
        if (head > CHUNK_PAGE) ids.splice(0, head), head = 0;
        ids.push(...page.ids);
        yield* page.texts;
      }
    }();
    const { embedWorkers: workers, batchSize } = settings;
    // One batch cannot be shared out, and a worker's first chunk loads a model of its own (seconds): "auto"
    // keeps it on this thread, whose model is loaded.
    const here = workers === 0 || (workers === "auto" && todo.length <= batchSize);
    const results = here
      ? ctx.map(texts, (batch, info) => embedder.embed(batch, { signal: info.signal }), { ...place, batchSize })
      // ctx.map's default for a task handle is one chunk per CPU worker.
      : ctx.map<string, Float32Array>(texts, task(USE_LITE_MODULE, "useLiteChunk"), { gpu: undefined, batchSize, concurrency: workers === "auto" ? undefined : workers });
    for await (const vector of results) yield [ids[head++], vector];
    return;
  }
  const window = SORT_WINDOW * settings.batchSize;
  const batches = tokenBatches(todo.tokens, { batchTokens: settings.batchTokens, batchSize: settings.batchSize, window });
  // A window's texts are read when its first batch is handed out (a window's batches all come before the next's).
  const ids = new Map<number, string>();
  const batchTexts = async function* () {
    const pages = todoPages(ctx, chunks, todo.positions, window);
    let page: { from: number; ids: string[]; texts: string[] } | undefined;
    for (const batch of batches) {
      while (!page || batch[0] >= page.from + page.texts.length) {
        const next = await pages.next();
        if (next.done) throw new CellarError(`cell "${ctx.cell}": chunk ${batch[0]} of ${todo.length} to embed is missing from the chunks table`);
        page = next.value;
        page.ids.forEach((id, i) => ids.set(page!.from + i, id));
      }
      yield batch.map((i) => page!.texts[i - page!.from]);
    }
  }();
  // One ctx.map item per batch, so that a chunk of the map is one model call of its own size.
  const results = ctx.map(batchTexts, (chunk, info) => Promise.all(chunk.map((texts) => embedder.embed(texts, { signal: info.signal }))), {
    ...place,
    batchSize: 1,
  });
  for await (const [index, vector] of inInputOrder(batches, results)) {
    const id = ids.get(index) as string;
    ids.delete(index);
    yield [id, vector];
  }
}

/**
 * The chunks at `positions` (ascending, in key order), `size` at a time, with their ids and texts: read by key
 * (document, chunk_index) a page at a time, never OFFSET, and never all at once.
 */
async function* todoPages(
  ctx: Context,
  chunks: TableWriter,
  positions: readonly number[],
  size: number,
): AsyncGenerator<{ from: number; ids: string[]; texts: string[] }> {
  let after: [string, number] | null = null;
  let position = 0;
  let page = { from: 0, ids: [] as string[], texts: [] as string[] };
  for (let next = 0; next < positions.length;) {
    const rows: Record<string, unknown>[] = await ctx.sql(
      `SELECT chunk_id, document, chunk_index, text FROM ${chunks.sql}
       ${after === null ? "" : "WHERE document >= $1 AND (document > $1 OR chunk_index > $2)"}
       ORDER BY document, chunk_index LIMIT ${CHUNK_PAGE}`,
      after ?? [],
    );
    if (rows.length === 0) throw new CellarError(`cell "${ctx.cell}": ${positions.length - next} chunks to embed are missing from the chunks table`);
    for (const row of rows) {
      if (position++ !== positions[next]) continue;
      next++;
      page.ids.push(String(row.chunk_id));
      page.texts.push(String(row.text));
      if (page.texts.length === size || next === positions.length) {
        yield page;
        page = { from: next, ids: [], texts: [] };
      }
    }
    const last = rows[rows.length - 1];
    after = [String(last.document), Number(last.chunk_index)];
  }
}

/**
 * Copies to each chunk still without a vector the vector of another chunk of this run with the same text; returns
 * the rows copied. As in copyPreviousVectors, the vectors are joined to the few chunks missing one, never grouped.
 */
async function copyRepeatedVectors(ctx: Context, embedder: Embedder, chunks: TableWriter, vectors: TableWriter): Promise<number> {
  return insertedRows(
    await ctx.sql(
      `INSERT INTO ${vectors.sql}
       WITH missing AS (SELECT c.chunk_id, c.text_hash FROM ${chunks.sql} c ANTI JOIN ${vectors.sql} v ON v.chunk_id = c.chunk_id),
       source AS (
         SELECT c.text_hash, min(c.chunk_id) AS chunk_id
         FROM ${chunks.sql} c SEMI JOIN ${vectors.sql} v ON v.chunk_id = c.chunk_id
         WHERE c.text_hash IN (SELECT text_hash FROM missing)
         GROUP BY c.text_hash)
       SELECT m.chunk_id, $1, v.embedding
       FROM missing m
       JOIN source s ON s.text_hash = m.text_hash
       JOIN ${vectors.sql} v ON v.chunk_id = s.chunk_id`,
      [embedder.id],
    ),
  );
}

const counters = new WeakMap<Embedder, (word: string) => number>();

/**
 * Per-word token counts, kept as long as the model is loaded: tokenizing a corpus's distinct
 * words costs about as much as embedding it with a tiny model, and a scheduler process
 * re-chunks mostly the same words every run.
 */
function counterFor(embedder: Embedder): (word: string) => number {
  let counter = counters.get(embedder);
  if (!counter) counters.set(embedder, counter = cachedCounter((word) => embedder.countTokens(word)));
  return counter;
}

function readSettings(ctx: Context): GivenSettings {
  const settings = embedParams.read(ctx.params);
  if (settings.chunkTokens !== "auto" && settings.chunkOverlap >= settings.chunkTokens) {
    throw paramError("chunkOverlap", `fewer tokens than chunkTokens (${settings.chunkTokens})`, settings.chunkOverlap);
  }
  return settings;
}

interface PreviousRun {
  /** The views, quoted for SQL. */
  chunks: string;
  /** Undefined when the previous run has no vector of this model to reuse (or `rebuild`). */
  vectors: string | undefined;
}

/**
 * The previous run's chunks and vectors, when they exist and were made by this model.
 * Refuses a model of another dimension: the index and every query would mix vector spaces.
 */
async function previousRun(ctx: Context, embedder: Embedder, rebuild: boolean): Promise<PreviousRun> {
  const schema = quoteIdent(ctx.pipeline);
  const view = { chunks: `${schema}."chunks"`, vectors: `${schema}."vectors"` };
  const none: PreviousRun = { chunks: view.chunks, vectors: undefined };
  const views = await ctx.sql(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_name IN ('chunks', 'vectors')`,
    [ctx.pipeline],
  );
  if (views.length < 2) return none;
  const [column] = await ctx.sql(
    `SELECT data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'vectors' AND column_name = 'embedding'`,
    [ctx.pipeline],
  );
  const dimensions = Number(/\[(\d+)\]$/.exec(String(column?.data_type ?? ""))?.[1] ?? NaN);
  const models = await ctx.sql(`SELECT DISTINCT model FROM ${view.vectors} LIMIT 5`).catch(() => []);
  const before = models.map((m) => String(m.model)).join(", ") || "unknown";
  if (Number.isFinite(dimensions) && dimensions !== embedder.dimensions) {
    if (!rebuild) {
      throw new CellarError(
        `model ${embedder.id} makes ${embedder.dimensions}-dimensional vectors but "${ctx.pipeline}"."vectors" holds ${dimensions}-dimensional ones (model ${before}); ` +
          `refusing to mix them. To re-embed everything with the new model and rebuild the index, run with --param rebuild=true ` +
          `(or keep both by giving the new model a pipeline id of its own)`,
      );
    }
    ctx.log.warn(`rebuild: replacing ${dimensions}-dimensional vectors of ${before} with ${embedder.dimensions}-dimensional ones of ${embedder.id}`);
    return none;
  }
  if (rebuild) {
    ctx.log.info(`rebuild: re-embedding every chunk with ${embedder.id}`);
    return none;
  }
  // Whether any vector of this model can be reused; which ones is chunksToEmbed's question, asked in DuckDB.
  const rows = await ctx.sql(
    `SELECT 1 FROM ${view.chunks} c JOIN ${view.vectors} v ON v.chunk_id = c.chunk_id WHERE v.model = $1 LIMIT 1`,
    [embedder.id],
  );
  if (rows.length === 0) {
    if (models.length > 0) ctx.log.info(`the previous vectors are from ${before}; embedding every chunk with ${embedder.id}`);
    return none;
  }
  return view;
}

/**
 * The input documents in pages, by id (keyset pagination: each page is one indexed-range scan),
 * each with its title and text as one (`documentText`), when the table has titles.
 */
async function* documentPages(ctx: Context, documents: TableRef): AsyncGenerator<Array<{ id: string; text: string }>> {
  const columns = await ctx.sql(`SELECT column_name, column_type FROM (DESCRIBE ${documents.sql}) WHERE column_name IN ('id', 'title')`);
  const title = columns.some((c) => c.column_name === "title") ? "title" : "NULL AS title";
  // In the order of the chunks' document column, text, by which embedding reads the chunks back.
  const id = columns.some((c) => c.column_name === "id" && c.column_type !== "VARCHAR") ? "id::VARCHAR" : "id";
  let after: string | null = null;
  for (;;) {
    const rows: Record<string, unknown>[] = await ctx.sql(
      `SELECT ${id} AS id, coalesce(text, '') AS text, ${title} FROM ${documents.sql}
       WHERE id IS NOT NULL ${after === null ? "" : `AND ${id} > $1`} ORDER BY ${id} LIMIT ${DOCUMENT_PAGE}`,
      after === null ? [] : [after],
    );
    if (rows.length === 0) return;
    yield rows.map((r) => ({ id: String(r.id), text: documentText(r.title === null ? null : String(r.title), String(r.text)) }));
    if (rows.length < DOCUMENT_PAGE) return;
    after = String(rows[rows.length - 1].id);
  }
}

function insertedRows(result: Record<string, unknown>[]): number {
  const first = result[0];
  return first ? Number(Object.values(first)[0] ?? 0) : 0;
}
