/**
 * dedup_corpus: drops exact and near-duplicate documents from crawl_seeds'
 * "crawled" table.
 *
 * 1. Documents are read from DuckDB in batches and fanned out with `ctx.map`
 *    (the cell's gpu claim). A document's text is its title and its text
 *    (`documentText`, ./document.ts: the title goes first unless the text
 *    begins with it; a placeholder text such as "None" is its title alone).
 *    Each gets the SHA-256 of its normalized text
 *    (lowercased, whitespace collapsed) and a MinHash signature of its word
 *    5-shingles, computed by the WGSL kernel on a device, or in the CPU workers
 *    by a WebAssembly SIMD version of the TypeScript reference — all three
 *    bit-identical. Only each distinct text's LSH band keys stay in memory
 *    (84 bytes for 21 bands, not the signature's 512) — never the texts.
 * 2. Equal keys are exact duplicates. The distinct texts go through LSH
 *    banding tuned for recall (21 bands × 6 rows for 128 permutations at 0.8:
 *    a pair at the threshold is missed with probability 0.17%).
 * 3. Every candidate pair is verified by the exact Jaccard of the two shingle
 *    sets, so every reported pair is right. Texts are read again for this, for
 *    candidate documents only, a block at a time, and the sets are built and
 *    compared in the CPU workers, a few documents per item: memory holds the
 *    texts of a block or two (a few million shingles each), never the corpus's sets.
 * 4. Clusters are stars around a kept document, never chains: distinct
 *    texts are taken in the order of their smallest id, and each is dropped
 *    for the most similar text already kept that it has a verified pair with,
 *    or else kept (`starClusters`). Every dropped document therefore has
 *    Jaccard ≥ the threshold with its representative, and no two kept texts
 *    are a verified pair. Exact duplicates of a kept text are dropped for its
 *    smallest id. "duplicates" gives every dropped document with its
 *    representative, their Jaccard and the kind: 'exact' when the normalized
 *    texts are equal, 'near' otherwise. "duplicate_pairs" lists the verified pairs between
 *    distinct texts, each text named by the smallest id that has it.
 *    "documents" is the input minus the duplicates, copied inside DuckDB.
 *
 * Params: `dedupParams` (dedupThreshold 0.8, numPerm 128).
 *
 * @example
 * ```ts
 * import { pipeline } from "../kernel/mod.ts";
 * import { crawlSeeds } from "./crawl.ts";
 * import { dedupCorpus } from "./dedup.ts";
 *
 * pipeline({ id: "ingest", params: { dedupThreshold: 0.8, numPerm: 128 } })
 *   .cell("crawl_seeds", crawlSeeds)
 *   .cell("dedup_corpus", { gpu: 0.5 }, dedupCorpus);
 * ```
 */
import { CellarError, cellParams, type Context, errorLine, type MapPlacement, numberIn, oneOf, type TableRef, task, wholeNumber } from "../kernel/mod.ts";
import { documentText } from "./document.ts";
import { type Banding, candidatePairsOfKeys, chooseBanding, writeBandKeys } from "./dedup/lsh.ts";
import { SIGN_MODULE, type SignItem, type Signed } from "./dedup/signatures.ts";
import { KeyGroups } from "./dedup/key-groups.ts";
import { UnionFind } from "./dedup/union-find.ts";
import { VERIFY_MODULE, type VerifyItem } from "./dedup/verify.ts";

export interface DedupInput {
  documents: TableRef;
}

export interface DedupOutput {
  /** The kept documents, with the input's columns. */
  documents: TableRef;
  /** id, representative, jaccard, kind ('exact' | 'near') for every dropped document. */
  duplicates: TableRef;
  /** a, b, jaccard: the verified near-duplicate pairs between distinct texts. */
  pairs: TableRef;
  kept: number;
  exactDuplicates: number;
  nearDuplicates: number;
  /** Texts shared by two or more documents. */
  exactGroups: number;
  /** Distinct normalized texts: the documents MinHash and LSH compare. */
  distinctTexts: number;
  candidatePairs: number;
  verifiedPairs: number;
  /** Document pairs with Jaccard ≥ the threshold: exact pairs plus verified pairs times their groups' sizes. */
  similarPairs: number;
  bands: number;
  rows: number;
}

/** dedup_corpus' params: their defaults are what a pipeline spreads into its own (DEDUP_PARAMS). */
export const dedupParams = cellParams({
  dedupThreshold: numberIn({ above: 0, max: 1 }).default(0.8)
    .describe("the Jaccard similarity of word 5-shingles from which two documents are near duplicates"),
  numPerm: wholeNumber(1, 4096).default(128).describe("MinHash permutations per signature: more miss fewer pairs and cost more"),
  dedupPlacement: oneOf(["local", "remote", "auto"]).default("local")
    .describe("where signatures are computed: here, on remote kernels (cellar serve --nats), or there once this kernel is busy"),
});

export const DEDUP_PARAMS = dedupParams.defaults;

/** Rows per read of the input. */
const READ_ROWS = 2048;
/** Documents per ctx.map chunk: one GPU dispatch, or one message to a CPU worker. */
const SIGN_BATCH = 512;
/** Shingles of the documents whose texts one round of verification reads (about 6 bytes of text each). */
const BLOCK_SHINGLES = 4_000_000;
/** Shingles of the documents of one verification item: a few tens of milliseconds of a worker's time. */
const ITEM_SHINGLES = 100_000;
/** Documents per read of a verification block, and the span of rows one read may cover. */
const FETCH_ROWS = 2048;
const FETCH_SPAN = 8192;

export async function dedupCorpus(ctx: Context, input: DedupInput): Promise<DedupOutput> {
  const documents = input?.documents;
  if (!documents || typeof documents.sql !== "string") {
    throw new CellarError(`dedup_corpus: input.documents: expected crawl_seeds' output ({ documents: TableRef of table "crawled", ... }), got ${describe(input)}`);
  }
  const { dedupThreshold: threshold, numPerm, dedupPlacement } = dedupParams.read(ctx.params);
  const source = await openSource(ctx, documents);
  const total = source.total;
  const banding = chooseBanding(numPerm, threshold);
  const clock = new Laps();
  ctx.log.info(
    `${total} documents; MinHash ${numPerm} permutations, LSH ${banding.bands} bands × ${banding.rows} rows ` +
      `(a pair at Jaccard ${threshold} is a candidate with probability ${(1 - banding.falseNegative).toFixed(4)})`,
  );

  // Pass 1: keys and signatures, streamed. Per document only its id, row and text group stay; per distinct text its band keys.
  const corpus = await signCorpus(ctx, source, numPerm, banding, dedupPlacement);
  const exact = exactGroups(corpus);
  ctx.log.info(
    `signatures of ${total} documents in ${clock.lap()} (${corpus.onDevice > 0 ? `${corpus.onDevice} on a GPU device` : "CPU path"}); ` +
      `${corpus.groups} distinct texts, ${exact.groups} exact-duplicate groups covering ${total - corpus.groups + exact.groups} documents`,
  );

  // Pass 2: LSH candidates among distinct texts that have shingles.
  const candidates = lshCandidates(corpus, banding);
  const candidateCount = candidates.length / 2;
  ctx.log.info(`${candidateCount} candidate pairs from LSH in ${clock.lap()}`);

  // Pass 3: exact Jaccard of every candidate.
  const { similarity, verified } = await verifyCandidates(ctx, source, corpus, candidates, threshold);
  const verifiedCount = verified.length / 2;
  const similarPairs = similarDocumentPairs(exact, verified);
  ctx.log.info(
    `${verifiedCount} of ${candidateCount} candidate pairs verified at Jaccard ≥ ${threshold} in ${clock.lap()} (${similarPairs} similar document pairs)`,
  );

  // Clusters are stars: keeper[g] is the distinct text kept in g's place (g itself when g is kept).
  const keeper = starClusters(verified, corpus.groups, exact.rep, corpus.rank, similarity);
  const dropped = droppedDocuments(corpus, exact.rep, keeper, similarity);
  const named = await readIds(ctx, source, corpus.rowids, [...dropped.docs, ...dropped.representatives, ...verified.map((g) => exact.rep[g])]);
  const tables = await writeTables(ctx, source, duplicateRows(dropped, named), pairRows(verified, exact.rep, corpus.rank, named, similarity, corpus.groups));
  ctx.log.info(
    `kept ${tables.documents.rows} of ${total} documents: dropped ${dropped.exactDuplicates} exact and ${dropped.nearDuplicates} near duplicates ` +
      `(tables written in ${clock.lap()}; ${clock.total()} s in all)`,
  );

  return {
    ...tables,
    kept: tables.documents.rows,
    exactDuplicates: dropped.exactDuplicates,
    nearDuplicates: dropped.nearDuplicates,
    exactGroups: exact.groups,
    distinctTexts: corpus.groups,
    candidatePairs: candidateCount,
    verifiedPairs: verifiedCount,
    similarPairs,
    bands: banding.bands,
    rows: banding.rows,
  };
}

/** The input table, checked: what the passes need to read it by row id. */
interface Source {
  /** The table, as SQL. */
  table: string;
  /** How error messages name the input. */
  name: string;
  /** Its columns and their types: "documents" gets the same. */
  types: Map<string, string>;
  /** The columns a document's text is made of: "text" or "text, title". */
  textColumns: string;
  total: number;
  /** The largest row id. */
  last: number;
}

/** Checks the input table's columns and rows, refusing with a message that says what crawl_seeds would have given. */
async function openSource(ctx: Context, documents: TableRef): Promise<Source> {
  const table = documents.sql;
  const name = `input.documents (table "${documents.$table ?? table}")`;
  const columns = await ctx.sql(`DESCRIBE ${table}`).catch((err) => {
    throw new CellarError(`dedup_corpus: ${name} cannot be read (${errorLine(err)}); expected crawl_seeds' "crawled" table`);
  });
  const types = new Map(columns.map((c) => [String(c.column_name), String(c.column_type)]));
  for (const column of ["id", "text"]) {
    if (types.get(column) !== "VARCHAR") {
      throw new CellarError(`dedup_corpus: ${name} ${types.has(column) ? `has column "${column}" of type ${types.get(column)}` : `has no column "${column}"`}; expected ${column} VARCHAR like crawl_seeds' "crawled"`);
    }
  }
  // A document is its title and its text (../cells/document.ts): titles are compared too, when the table has them.
  const textColumns = types.get("title") === "VARCHAR" ? "text, title" : "text";
  // Documents are read by row id, in ranges DuckDB prunes to: the input must be a table, not a view.
  const [stats] = await ctx.sql(
    `SELECT count(*)::DOUBLE AS n, count(id)::DOUBLE AS with_id, count(DISTINCT id)::DOUBLE AS ids, coalesce(max(rowid), -1)::DOUBLE AS last FROM ${table}`,
  ).catch((err) => {
    throw new CellarError(`dedup_corpus: ${name} cannot be read by row id (${errorLine(err)}); expected a table written by ctx.table(), as crawl_seeds' "crawled" is`);
  });
  const total = stats.n as number;
  if (total === 0) throw new CellarError(`dedup_corpus: ${name} has no rows; expected the crawled documents (did the crawl fetch nothing?)`);
  if ((stats.with_id as number) < total) throw new CellarError(`dedup_corpus: ${name} has ${total - (stats.with_id as number)} rows without an id; expected every document to have one`);
  if ((stats.ids as number) < total) {
    const [repeated] = await ctx.sql(`SELECT id, count(*)::INTEGER AS n FROM ${table} GROUP BY id HAVING count(*) > 1 ORDER BY id LIMIT 1`);
    throw new CellarError(`dedup_corpus: ${name} has repeated ids (e.g. ${JSON.stringify(repeated.id)} ${repeated.n} times); expected one row per document`);
  }
  return { table, name, types, textColumns, total, last: stats.last as number };
}

/**
 * What pass 1 keeps, in typed arrays (O(N) state that must stay, at ~20 bytes a document and ~100 a distinct
 * text, outside V8's heap): per document (in row order) its row, its place in id order and its distinct text;
 * per distinct text ("group") its first document, shingles and LSH band keys. Ids stay in DuckDB.
 */
interface Corpus {
  /** Documents. */
  count: number;
  rowids: Float64Array;
  /** Each document's position in id order (code point order, DuckDB's for VARCHAR): ids compare as ranks. */
  rank: Int32Array;
  groupOf: Int32Array;
  /** Distinct texts. */
  groups: number;
  /** The first document of each distinct text. */
  groupDoc: Int32Array;
  groupShingles: Uint32Array;
  /**
   * The LSH band keys of each distinct text, `bandKeys[band × count + group]`: 84 bytes a document for
   * 21 bands, where the signatures would hold 512 (numPerm 128); dropped once LSH has read them.
   */
  bandKeys: Uint32Array | undefined;
  /** Documents signed on a GPU device. */
  onDevice: number;
}

/** Pass 1: reads the documents in row order, a batch ahead, and signs them through ctx.map; equal keys share a group. */
async function signCorpus(ctx: Context, source: Source, numPerm: number, banding: Banding, dedupPlacement: MapPlacement): Promise<Corpus> {
  const { table, name, textColumns, total, last } = source;
  const rowids = new Float64Array(total);
  const groupOf = new Int32Array(total);
  const groupDoc = new Int32Array(total);
  const groupShingles = new Uint32Array(total);
  const bandKeys = new Uint32Array(total * banding.bands);
  const byKey = new KeyGroups();
  let read = 0;
  const readRows = (lo: number) =>
    lo > last ? undefined : quiet(ctx.sql(`SELECT rowid::DOUBLE AS r, ${textColumns} FROM ${table} WHERE rowid >= ${lo} AND rowid < ${lo + READ_ROWS} ORDER BY rowid`));
  async function* documents(): AsyncGenerator<SignItem> {
    let next = readRows(0);
    for (let lo = 0; next; lo += READ_ROWS) {
      ctx.signal.throwIfAborted();
      const rows = await next;
      // The next rows are read while these are worked on.
      next = readRows(lo + READ_ROWS);
      for (const row of rows) {
        if (read === total) throw new CellarError(`dedup_corpus: ${name} changed while it was read`);
        rowids[read++] = row.r as number;
        yield { text: documentText(row.title as string | null | undefined, row.text as string | null), numPerm };
      }
    }
  }
  let docs = 0;
  let groups = 0;
  let onDevice = 0;
  ctx.progress(0, total);
  // Signatures come back in input order wherever they were computed (dedupPlacement), so the tables are the same.
  const sign = { batchSize: SIGN_BATCH, placement: dedupPlacement };
  for await (const signed of ctx.map<SignItem, Signed>(documents(), task(SIGN_MODULE, "signChunk"), sign)) {
    const group = byKey.groupOf(signed.key);
    if (group === groups) {
      groups++;
      groupDoc[group] = docs;
      groupShingles[group] = signed.shingles;
      writeBandKeys(signed.signature, banding, bandKeys, total, group);
    }
    groupOf[docs++] = group;
    if (signed.gpu) onDevice++;
  }
  if (docs !== total) throw new CellarError(`dedup_corpus: ${name} changed while it was read (${docs} of ${total} rows)`);
  return { count: total, rowids, rank: await idRanks(ctx, source), groupOf, groups, groupDoc, groupShingles, bandKeys, onDevice };
}

/** Each document's position in id order, the documents in row order: one list from DuckDB, which sorts the ids. */
async function idRanks(ctx: Context, source: Source): Promise<Int32Array> {
  const [row] = await ctx.sql(
    `SELECT list(rk ORDER BY r) AS ranks FROM (SELECT rowid AS r, (row_number() OVER (ORDER BY id) - 1)::INTEGER AS rk FROM ${source.table})`,
  );
  const ranks = Int32Array.from(row.ranks as number[]);
  if (ranks.length !== source.total) throw new CellarError(`dedup_corpus: ${source.name} changed while it was read (${ranks.length} of ${source.total} rows)`);
  return ranks;
}

/** The exact-duplicate groups: each distinct text's documents. */
interface ExactGroups {
  /** Documents per distinct text. */
  size: Int32Array;
  /** The document with the smallest id of each distinct text: it names the text. */
  rep: Int32Array;
  /** Distinct texts shared by two or more documents. */
  groups: number;
  /** Document pairs with equal texts. */
  pairs: number;
}

/** Sizes and representatives of the distinct texts: the smallest id of each names it. */
function exactGroups(corpus: Corpus): ExactGroups {
  const { rank, groupOf, groups } = corpus;
  const size = new Int32Array(groups);
  const rep = new Int32Array(groups).fill(-1);
  for (let d = 0; d < groupOf.length; d++) {
    const g = groupOf[d];
    size[g]++;
    if (rep[g] < 0 || rank[d] < rank[rep[g]]) rep[g] = d;
  }
  let shared = 0;
  let pairs = 0;
  for (let g = 0; g < groups; g++) {
    if (size[g] > 1) shared++;
    pairs += (size[g] * (size[g] - 1)) / 2;
  }
  return { size, rep, groups: shared, pairs };
}

/**
 * Pass 2: LSH candidate pairs among the distinct texts that have shingles; drops the band keys, which nothing
 * reads after. Two texts whose 32-bit band keys collide are a candidate too: verification measures it.
 */
function lshCandidates(corpus: Corpus, banding: Banding): Uint32Array {
  const empty = new Uint8Array(corpus.groups);
  for (let g = 0; g < corpus.groups; g++) if (corpus.groupShingles[g] === 0) empty[g] = 1;
  const candidates = candidatePairsOfKeys(corpus.bandKeys!, banding.bands, corpus.count, corpus.groups, empty);
  corpus.bandKeys = undefined;
  return candidates;
}

/** Pass 3: the candidate pairs whose exact Jaccard reaches the threshold (flat), and each one's Jaccard by pairKey. */
async function verifyCandidates(
  ctx: Context,
  source: Source,
  corpus: Corpus,
  candidates: Uint32Array,
  threshold: number,
): Promise<{ similarity: Map<number, number>; verified: number[] }> {
  const similarity = new Map<number, number>();
  const verified: number[] = [];
  await measure(ctx, source.table, source.textColumns, candidates, corpus.groupDoc, corpus.rowids, corpus.groupShingles, (a, b, j) => {
    if (j >= threshold) {
      similarity.set(pairKey(a, b, corpus.groups), j);
      verified.push(a, b);
    }
  });
  return { similarity, verified };
}

/** Document pairs with Jaccard ≥ the threshold: the exact pairs, plus each verified pair times its two groups' sizes. */
function similarDocumentPairs(exact: ExactGroups, verified: number[]): number {
  let similarPairs = exact.pairs;
  for (let p = 0; p < verified.length; p += 2) similarPairs += exact.size[verified[p]] * exact.size[verified[p + 1]];
  return similarPairs;
}

/** A row of "duplicates" (a type, not an interface: TableWriter.append takes records). */
type Duplicate = { id: string; representative: string; jaccard: number; kind: string };

/** The documents not kept, in id order: each with the document kept in its place, their Jaccard, and whether the texts are equal. */
interface Dropped {
  docs: Int32Array;
  representatives: Int32Array;
  jaccard: Float64Array;
  exact: Uint8Array;
  exactDuplicates: number;
  nearDuplicates: number;
}

/** Every document not kept, with the document kept in its place, sorted by id; and how many were exact and near duplicates. */
function droppedDocuments(corpus: Corpus, groupRep: Int32Array, keeper: Int32Array, similarity: Map<number, number>): Dropped {
  const { rank, groupOf, groups } = corpus;
  const list: number[] = [];
  for (let d = 0; d < groupOf.length; d++) if (groupRep[keeper[groupOf[d]]] !== d) list.push(d);
  const docs = Int32Array.from(list).sort((x, y) => rank[x] - rank[y]);
  const representatives = new Int32Array(docs.length);
  const jaccard = new Float64Array(docs.length);
  const exact = new Uint8Array(docs.length);
  let exactDuplicates = 0;
  docs.forEach((d, i) => {
    const g = groupOf[d];
    const repGroup = keeper[g];
    representatives[i] = groupRep[repGroup];
    exact[i] = repGroup === g ? 1 : 0;
    exactDuplicates += exact[i];
    jaccard[i] = exact[i] ? 1 : similarity.get(pairKey(g, repGroup, groups))!;
  });
  return { docs, representatives, jaccard, exact, exactDuplicates, nearDuplicates: docs.length - exactDuplicates };
}

/** The rows of "duplicates", ids named by `named`. */
function* duplicateRows(dropped: Dropped, named: Map<number, string>): Generator<Duplicate> {
  for (let i = 0; i < dropped.docs.length; i++) {
    const kind = dropped.exact[i] ? "exact" : "near";
    yield { id: named.get(dropped.docs[i])!, representative: named.get(dropped.representatives[i])!, jaccard: dropped.jaccard[i], kind };
  }
}

/**
 * The ids of documents `docs` (positions in row order), read from DuckDB by row, a range of rows per query:
 * the tables name only the dropped documents, their representatives and the pairs', so only theirs are read.
 */
async function readIds(ctx: Context, source: Source, rowids: Float64Array, docs: Iterable<number>): Promise<Map<number, string>> {
  const members = [...new Set(docs)].sort((x, y) => rowids[x] - rowids[y]);
  const ids = new Map<number, string>();
  for (let i = 0; i < members.length;) {
    const byRow = new Map<number, number>();
    const first = rowids[members[i]];
    for (; i < members.length && byRow.size < FETCH_ROWS; i++) byRow.set(rowids[members[i]], members[i]);
    const rows = [...byRow.keys()];
    const found = await ctx.sql(
      `SELECT rowid::DOUBLE AS r, id FROM ${source.table} WHERE rowid BETWEEN ${first} AND ${rows[rows.length - 1]} AND rowid IN (${rows.join(", ")})`,
    );
    for (const row of found) ids.set(byRow.get(row.r as number)!, String(row.id));
  }
  if (ids.size !== members.length) throw new CellarError(`dedup_corpus: ${source.name} changed while it was read (${members.length - ids.size} ids missing)`);
  return ids;
}

/** Writes "duplicates", "duplicate_pairs" and "documents" (the input without the duplicates), in that order. */
async function writeTables(
  ctx: Context,
  source: Source,
  duplicateRows: Iterable<Duplicate>,
  pairs: Iterable<Record<string, unknown>>,
): Promise<{ documents: TableRef; duplicates: TableRef; pairs: TableRef }> {
  const duplicates = await ctx.table("duplicates", { id: "VARCHAR", representative: "VARCHAR", jaccard: "DOUBLE", kind: "VARCHAR" });
  await duplicates.append(duplicateRows);
  const duplicatesRef = await duplicates.finish();
  const pairTable = await ctx.table("duplicate_pairs", { a: "VARCHAR", b: "VARCHAR", jaccard: "DOUBLE" });
  await pairTable.append(pairs);
  const pairsRef = await pairTable.finish();
  const kept = await ctx.table("documents", Object.fromEntries(source.types));
  // The kept rows never pass through JavaScript: DuckDB copies them inside the cell's transaction.
  await ctx.sql(`INSERT INTO ${kept.sql} SELECT * FROM ${source.table} WHERE id NOT IN (SELECT id FROM ${duplicatesRef.sql})`);
  return { documents: await kept.finish(), duplicates: duplicatesRef, pairs: pairsRef };
}

/** Times the passes for the log: each lap since the one before, and all laps together. */
class Laps {
  readonly #started = performance.now();
  #lap = this.#started;

  /** The time since the last lap (or the start), as "1.23 s"; a new lap starts. */
  lap(): string {
    const now = performance.now();
    const seconds = (now - this.#lap) / 1000;
    this.#lap = now;
    return `${seconds.toFixed(2)} s`;
  }

  /** Seconds from the start to the end of the last lap, as "1.23". */
  total(): string {
    return ((this.#lap - this.#started) / 1000).toFixed(2);
  }
}

/** A unit of verification work: documents (distinct texts) and the pairs among them. */
interface Planned {
  docs: number[];
  /** Pairs as indexes into `docs`, flat. */
  pairs: number[];
  shingles: number;
}

/**
 * The exact Jaccard of each pair of distinct texts in `pairs` (flat), computed
 * in the CPU workers: the pairs are cut into items of a few documents each,
 * whose texts are read a block of items at a time. `each` hears every pair.
 */
async function measure(
  ctx: Context,
  table: string,
  texts: string,
  pairs: Uint32Array,
  groupDoc: Int32Array,
  rowids: Float64Array,
  groupShingles: Uint32Array,
  each: (a: number, b: number, jaccard: number) => void,
): Promise<void> {
  const planned = plan(pairs, groupShingles);
  const order: Planned[] = [];
  ctx.progress(0, planned.length);
  // Blocks: runs of items whose texts one round of reads fetches.
  const blocks: Planned[][] = [];
  for (let i = 0, shingles = 0; i < planned.length; i++) {
    if (i === 0 || shingles + planned[i].shingles > BLOCK_SHINGLES) blocks.push([]), shingles = 0;
    blocks[blocks.length - 1].push(planned[i]);
    shingles += planned[i].shingles;
  }
  const readBlock = (b: number) =>
    b >= blocks.length ? undefined : quiet(readTexts(ctx, table, texts, [...new Set(blocks[b].flatMap((item) => item.docs))], groupDoc, rowids));
  async function* items(): AsyncGenerator<VerifyItem> {
    let next = readBlock(0);
    for (let b = 0; next; b++) {
      ctx.signal.throwIfAborted();
      const texts = await next;
      // The next block is read while the workers verify this one.
      next = readBlock(b + 1);
      for (const item of blocks[b]) {
        order.push(item);
        yield { texts: item.docs.map((doc) => texts.get(doc)!), pairs: item.pairs };
      }
    }
  }
  // The cell's gpu claim is for signatures; this work belongs to the CPU workers.
  let done = 0;
  for await (const similarities of ctx.map<VerifyItem, number[]>(items(), task(VERIFY_MODULE, "verifyChunk"), { gpu: undefined, batchSize: 1 })) {
    const item = order[done];
    order[done++] = undefined as unknown as Planned;
    for (let p = 0; p < similarities.length; p++) each(item.docs[item.pairs[2 * p]], item.docs[item.pairs[2 * p + 1]], similarities[p]);
  }
}

/**
 * Cuts `pairs` into items: the pairs of one component of the candidate graph
 * stay together, so small components — nearly all — are read and shingled
 * once; a large one is cut into consecutive runs of pairs.
 */
function plan(pairs: Uint32Array, groupShingles: Uint32Array): Planned[] {
  const components = new UnionFind(groupShingles.length);
  for (let p = 0; p < pairs.length; p += 2) components.union(pairs[p], pairs[p + 1]);
  const byComponent = new Map<number, number[]>();
  for (let p = 0; p < pairs.length; p += 2) {
    const root = components.find(pairs[p]);
    let list = byComponent.get(root);
    if (!list) byComponent.set(root, list = []);
    list.push(p);
  }
  const planned: Planned[] = [];
  let item: Planned = { docs: [], pairs: [], shingles: 0 };
  let local = new Map<number, number>();
  for (const list of byComponent.values()) {
    for (const p of list) {
      const a = pairs[p];
      const b = pairs[p + 1];
      const extra = (local.has(a) ? 0 : groupShingles[a] + 1) + (local.has(b) ? 0 : groupShingles[b] + 1);
      if (item.pairs.length > 0 && item.shingles + extra > ITEM_SHINGLES) {
        planned.push(item);
        item = { docs: [], pairs: [], shingles: 0 };
        local = new Map();
      }
      for (const doc of [a, b]) {
        if (!local.has(doc)) {
          local.set(doc, item.docs.length);
          item.docs.push(doc);
          item.shingles += groupShingles[doc] + 1;
        }
      }
      item.pairs.push(local.get(a)!, local.get(b)!);
    }
  }
  if (item.pairs.length > 0) planned.push(item);
  return planned;
}

/** The texts of distinct texts `docs` (by group), read in row order; `columns` is "text" or "text, title". */
async function readTexts(ctx: Context, table: string, columns: string, docs: number[], groupDoc: Int32Array, rowids: Float64Array): Promise<Map<number, string>> {
  const members = docs.sort((x, y) => rowids[groupDoc[x]] - rowids[groupDoc[y]]);
  const texts = new Map<number, string>();
  for (let i = 0; i < members.length;) {
    // Rows near each other in one query: a range DuckDB prunes to, then the rows wanted in it
    // (a bare IN list would read every text of the table).
    const first = rowids[groupDoc[members[i]]];
    const byRow = new Map<number, number>();
    for (; i < members.length && byRow.size < FETCH_ROWS && rowids[groupDoc[members[i]]] < first + FETCH_SPAN; i++) {
      byRow.set(rowids[groupDoc[members[i]]], members[i]);
    }
    const rows = [...byRow.keys()];
    const found = await ctx.sql(
      `SELECT rowid::DOUBLE AS r, ${columns} FROM ${table} WHERE rowid BETWEEN ${first} AND ${rows[rows.length - 1]} AND rowid IN (${rows.join(", ")})`,
    );
    for (const row of found) texts.set(byRow.get(row.r as number)!, documentText(row.title as string | null | undefined, row.text as string | null));
  }
  return texts;
}

/**
 * Star-shaped clusters over the verified pairs (flat, between distinct texts):
 * texts are taken in the order of the smallest id that has them; each is
 * dropped for the kept text it is most similar to among those already kept
 * (ties: the smaller id), or kept when it has no verified pair with one. So
 * every dropped text has Jaccard ≥ the threshold with the text kept in its
 * place, no two kept texts form a verified pair, and nothing is joined through
 * a chain. Texts without a verified pair are kept without being sorted.
 */
function starClusters(
  verified: ArrayLike<number>,
  groups: number,
  groupRep: Int32Array,
  rank: Int32Array,
  similarity: Map<number, number>,
): Int32Array {
  const keeper = new Int32Array(groups);
  for (let g = 0; g < groups; g++) keeper[g] = g;
  // Neighbours of each text, compressed: start[g] .. start[g + 1) in `neighbours`.
  const start = new Int32Array(groups + 1);
  for (let p = 0; p < verified.length; p++) start[verified[p] + 1]++;
  for (let g = 0; g < groups; g++) start[g + 1] += start[g];
  const fill = start.slice(0, groups);
  const neighbours = new Int32Array(verified.length);
  for (let p = 0; p < verified.length; p += 2) {
    neighbours[fill[verified[p]]++] = verified[p + 1];
    neighbours[fill[verified[p + 1]]++] = verified[p];
  }
  const linked: number[] = [];
  for (let g = 0; g < groups; g++) if (start[g + 1] > start[g]) linked.push(g);
  linked.sort((x, y) => rank[groupRep[x]] - rank[groupRep[y]]);
  const done = new Uint8Array(groups);
  for (const g of linked) {
    let best = -1;
    let bestJaccard = -1;
    for (let n = start[g]; n < start[g + 1]; n++) {
      const h = neighbours[n];
      if (!done[h] || keeper[h] !== h) continue;
      const j = similarity.get(pairKey(g, h, groups))!;
      if (j > bestJaccard || (j === bestJaccard && rank[groupRep[h]] < rank[groupRep[best]])) {
        best = h;
        bestJaccard = j;
      }
    }
    if (best >= 0) keeper[g] = best;
    done[g] = 1;
  }
  return keeper;
}

function* pairRows(verified: number[], groupRep: Int32Array, rank: Int32Array, named: Map<number, string>, similarity: Map<number, number>, groups: number) {
  for (let p = 0; p < verified.length; p += 2) {
    const [a, b] = [groupRep[verified[p]], groupRep[verified[p + 1]]];
    const [first, second] = rank[a] <= rank[b] ? [named.get(a), named.get(b)] : [named.get(b), named.get(a)];
    yield { a: first, b: second, jaccard: similarity.get(pairKey(verified[p], verified[p + 1], groups))! };
  }
}

function pairKey(a: number, b: number, groups: number): number {
  return a < b ? a * groups + b : b * groups + a;
}

/** `promise`, marked as handled: a read started ahead and then abandoned (the cell failed) must not crash the process. */
function quiet<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

function describe(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}
