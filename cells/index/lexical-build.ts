/**
 * The lexical half of build_index: a BM25 index in DuckDB, built the way
 * DuckDB's `fts` extension would (it cannot be installed offline here), written
 * in bulk through `ctx.table`:
 *
 * - `lexical_postings` (term, doc, tf): one row per distinct term of a document;
 * - `lexical_docs` (doc, document, title, length): `doc` numbers documents 0..N−1 in id order;
 * - `lexical_terms` (term, df, docs, tfs): each term's postings as two lists in doc order, made
 *   inside DuckDB from lexical_postings and written in term order, so that a query reads its terms'
 *   rows (zone maps skip the rest) instead of scanning every posting;
 * - `lexical_meta`: one row with N, avgdl, k1, b and the analyzer's settings, so that
 *   queries are analyzed as the documents were (index/lexical.ts reads it).
 *
 * A document's text is its title, a space, and its text (a placeholder text such as
 * "None" left out): the title's words count twice when the text repeats the title, the
 * title weighting of the usual BM25 baselines (BEIR's title + " " + text) and of the
 * bundled Cranfield run, which test/lexical.test.ts reproduces to 5 decimals.
 * `documentText` would drop the title where the text begins with it.
 *
 * Documents are read a page at a time by id (key paging): memory holds one page, never the
 * corpus; document frequencies and the per-term lists are DuckDB's to compute.
 *
 * @example
 * ```ts
 * import type { Context, TableRef } from "../../kernel/mod.ts";
 * import { buildLexical } from "./lexical-build.ts";
 *
 * declare const ctx: Context, documents: TableRef;
 * const lexical = await buildLexical(ctx, documents); // { postings, docs, terms, meta, documents: N, avgdl, k1, b, analyzer }
 * ```
 */
import { cellParams, type Context, flag, numberIn, oneOf, type TableRef, type TableWriter } from "../../kernel/mod.ts";
import { isPlaceholder } from "../document.ts";
import { analyzer, type AnalyzerSettings, STEMMERS } from "./analyzer.ts";

/** build_index's lexical params: their defaults are what a pipeline spreads into its own (LEXICAL_PARAMS). */
export const lexicalParams = cellParams({
  k1: numberIn({ min: 0 }).default(0.9).describe("BM25's term-frequency saturation (the lexical index's default; a search may override it)"),
  b: numberIn({ min: 0, max: 1 }).default(0.4).describe("BM25's document-length normalization (the lexical index's default; a search may override it)"),
  stopwords: flag().default(false).describe("drop Lucene's 33 English stopwords from documents and queries"),
  stemmer: oneOf(STEMMERS).default("none").describe("stem terms: `none`, `porter` (npm stemmer) or `snowball` (Snowball English)"),
});

export const LEXICAL_PARAMS = lexicalParams.defaults;

export interface LexicalOutput {
  postings: TableRef;
  docs: TableRef;
  terms: TableRef;
  meta: TableRef;
  /** N: every document, the empty ones too (they count in avgdl). */
  documents: number;
  avgdl: number;
  k1: number;
  b: number;
  analyzer: AnalyzerSettings;
}

/** Documents read at once. */
const PAGE = 1_000;
/** Posting rows gathered before one append: a DuckDB data chunk. */
const POSTING_ROWS = 2_048;

/** The text BM25 indexes for a document: title + " " + text (see the module's comment). */
export function lexicalText(title: string | null | undefined, text: string | null | undefined): string {
  return `${title ?? ""} ${isPlaceholder(text) ? "" : text}`;
}

/** Builds the BM25 tables over `documents` (columns id, text and optionally title) with the cell's params. */
export async function buildLexical(ctx: Context, documents: TableRef): Promise<LexicalOutput> {
  const { k1, b, stopwords, stemmer } = lexicalParams.read(ctx.params);
  const settings: AnalyzerSettings = { stopwords, stemmer };
  const analyze = analyzer(settings);
  const postings = await ctx.table("lexical_postings", { term: "VARCHAR", doc: "INTEGER", tf: "INTEGER" });
  const docs = await ctx.table("lexical_docs", { doc: "INTEGER", document: "VARCHAR", title: "VARCHAR", length: "INTEGER" });
  let n = 0;
  let total = 0;
  for await (const page of documentPages(ctx, documents)) {
    let postingRows: Record<string, unknown>[] = [];
    const docRows: Record<string, unknown>[] = [];
    for (const d of page) {
      const terms = analyze(lexicalText(d.title, d.text));
      const tf = new Map<string, number>();
      for (const term of terms) tf.set(term, (tf.get(term) ?? 0) + 1);
      for (const [term, f] of tf) {
        postingRows.push({ term, doc: n, tf: f });
      }
      // Appended a DuckDB chunk at a time: a page's postings (~150K rows) held until the page ends would outlive
      // V8's young generation and pile up in the old one, whose garbage the heap lets grow to a multiple of what lives.
      if (postingRows.length >= POSTING_ROWS) {
        await postings.append(postingRows);
        postingRows = [];
      }
      docRows.push({ doc: n, document: d.id, title: d.title, length: terms.length });
      total += terms.length;
      n++;
    }
    await postings.append(postingRows);
    await docs.append(docRows);
    ctx.progress(n);
  }
  const avgdl = n === 0 ? 0 : total / n;
  const terms = await ctx.table("lexical_terms", { term: "VARCHAR", df: "INTEGER", docs: "INTEGER[]", tfs: "INTEGER[]" });
  const postingsRef = await postings.finish();
  await writeTermLists(ctx, postingsRef, terms);
  const termsRef = await terms.finish();
  const meta = await writeMeta(ctx, { documents: n, avgdl, k1, b, terms: termsRef.rows, settings });
  ctx.log.info(`lexical index: ${n} documents, ${termsRef.rows} terms, avgdl ${avgdl.toFixed(2)} (k1 ${k1}, b ${b}, stopwords ${stopwords}, stemmer ${stemmer})`);
  return { postings: postingsRef, docs: await docs.finish(), terms: termsRef, meta, documents: n, avgdl, k1, b, analyzer: settings };
}

/** Where the term lists are cut: terms from one bound up to the next are aggregated together. */
const TERM_BOUNDS = ["", ..."123456789abcdefghijklmnopqrstuvwxyz"];

/**
 * Each term's postings as lists, aggregated by DuckDB a range of leading characters at a time, in
 * term order: with one aggregation over every posting the 100K-document bench (16M postings) peaked
 * at 2.0 GB RSS; by ranges at 1.1 GB, and built in 34 s instead of 77.
 */
async function writeTermLists(ctx: Context, postings: TableRef, terms: TableWriter): Promise<void> {
  for (let i = 0; i < TERM_BOUNDS.length; i++) {
    ctx.signal.throwIfAborted();
    const upper = i + 1 < TERM_BOUNDS.length ? "AND term < $2" : "";
    await ctx.sql(
      `INSERT INTO ${terms.sql} SELECT term, count(*)::INTEGER, list(doc ORDER BY doc), list(tf ORDER BY doc)
       FROM ${postings.sql} WHERE term >= $1 ${upper} GROUP BY term ORDER BY term`,
      upper ? [TERM_BOUNDS[i], TERM_BOUNDS[i + 1]] : [TERM_BOUNDS[i]],
    );
  }
}

async function writeMeta(
  ctx: Context,
  m: { documents: number; avgdl: number; k1: number; b: number; terms: number; settings: AnalyzerSettings },
): Promise<TableRef> {
  const meta: TableWriter = await ctx.table("lexical_meta", {
    documents: "INTEGER", avgdl: "DOUBLE", k1: "DOUBLE", b: "DOUBLE", terms: "INTEGER", stopwords: "BOOLEAN", stemmer: "VARCHAR",
  });
  await meta.append([{ documents: m.documents, avgdl: m.avgdl, k1: m.k1, b: m.b, terms: m.terms, stopwords: m.settings.stopwords, stemmer: m.settings.stemmer }]);
  return await meta.finish();
}

/** The documents a page at a time, by id (key paging, not OFFSET). */
async function* documentPages(ctx: Context, documents: TableRef): AsyncGenerator<Array<{ id: string; title: string | null; text: string }>> {
  const columns = await ctx.sql(`SELECT column_name FROM (DESCRIBE ${documents.sql}) WHERE column_name = 'title'`);
  const title = columns.length > 0 ? "title" : "NULL AS title";
  let after: string | null = null;
  for (;;) {
    ctx.signal.throwIfAborted();
    const rows: Record<string, unknown>[] = await ctx.sql(
      `SELECT id, coalesce(text, '') AS text, ${title} FROM ${documents.sql}
       WHERE id IS NOT NULL ${after === null ? "" : "AND id > $1"} ORDER BY id LIMIT ${PAGE}`,
      after === null ? [] : [after],
    );
    if (rows.length === 0) return;
    yield rows.map((r) => ({ id: String(r.id), title: r.title === null || r.title === undefined ? null : String(r.title), text: String(r.text) }));
    if (rows.length < PAGE) return;
    after = String(rows[rows.length - 1].id);
  }
}
