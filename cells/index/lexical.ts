/**
 * A pipeline's BM25 index (written by build_index, index/lexical-build.ts),
 * opened once and searched many times. Documents' lengths and ids load at open;
 * a term's postings load from DuckDB (its lexical_terms row) the first time a
 * query needs it, into typed arrays kept for later queries, so opening a
 * 100K-document index reads 100K rows, not its millions of postings.
 *
 * Scoring is the bundled Cranfield run's: each distinct query term once,
 * idf = ln(1 + (N − df + 0.5)/(df + 0.5)), tf·(k1 + 1)/(tf + k1·(1 − b + b·dl/avgdl)).
 * With `rm3` the query is expanded by pseudo-relevance feedback (index/rm3.ts) and
 * scored again with the expanded, weighted terms. Ties rank the lower document
 * number (id order) first.
 *
 * @example
 * ```ts
 * import type { Context } from "../../kernel/mod.ts";
 * import { openLexical } from "./lexical.ts";
 *
 * declare const ctx: Context;
 * const lexical = await openLexical({ pipeline: "ingest", sql: ctx.sql });
 * const [hits] = await lexical.search(["supersonic flow over a wedge"], 10);
 * const [expanded] = await lexical.search(["lift"], 10, { rm3: { fbDocs: 10, fbTerms: 10, originalWeight: 0.5 } });
 * ```
 */
import { CellarError, latestCheckpoint, type TableRef } from "../../kernel/mod.ts";
import { analyzer, type AnalyzerSettings, parseAnalyzer } from "./analyzer.ts";
import { type DocTerms, expandQuery, parseRm3, type Rm3Options } from "./rm3.ts";
import type { SearchContext } from "./search.ts";

export type { Rm3Options } from "./rm3.ts";

export interface LexicalHit {
  rank: number;
  score: number;
  document: string;
  title: string | null;
}

export interface LexicalSearchOptions {
  k1?: number;
  b?: number;
  rm3?: Rm3Options;
  signal?: AbortSignal;
}

export interface LexicalHandle {
  readonly pipeline: string;
  /** N, the empty documents too. */
  readonly documents: number;
  /** What the index was built with; queries are analyzed the same way. */
  readonly analyzer: AnalyzerSettings;
  /** The build's defaults, overridable per search. */
  readonly k1: number;
  readonly b: number;
  /** The k best documents of each query, best first, k distinct documents (fewer when fewer match). */
  search(queries: string[], k: number, options?: LexicalSearchOptions): Promise<LexicalHit[][]>;
}

interface Postings {
  docs: Int32Array;
  tfs: Int32Array;
}

/** The tables build_index wrote, as its output names them. */
interface LexicalTables {
  postings: TableRef;
  docs: TableRef;
  terms: TableRef;
  meta: TableRef;
}

/** Terms and feedback documents kept before the caches start again: bounds a long-lived handle's memory. */
const CACHE_LIMIT = 200_000;

/** Opens the BM25 index build_index wrote for `options.pipeline ?? ctx.pipeline`. */
export async function openLexical(ctx: SearchContext, options: { pipeline?: string } = {}): Promise<LexicalHandle> {
  const pipeline = options.pipeline ?? ctx.pipeline;
  if (typeof pipeline !== "string" || pipeline === "") {
    throw new CellarError(`openLexical: pipeline ${JSON.stringify(pipeline)}: expected the id of a pipeline that built an index`);
  }
  const tables = await lexicalTables(ctx, pipeline);
  const [meta] = await ctx.sql(`SELECT documents, avgdl, k1, b, stopwords, stemmer FROM ${tables.meta.sql}`);
  const settings = parseAnalyzer({ stopwords: meta.stopwords, stemmer: meta.stemmer });
  const rows = await ctx.sql(`SELECT document, title, length FROM ${tables.docs.sql} ORDER BY doc`);
  const n = rows.length;
  const ids = rows.map((r) => String(r.document));
  const titles = rows.map((r) => (r.title === null || r.title === undefined ? null : String(r.title)));
  const lengths = Float64Array.from(rows, (r) => Number(r.length));
  const index = new LexicalIndex(ctx, tables, n, Number(meta.avgdl), lengths);
  const analyze = analyzer(settings);
  const defaults = { k1: Number(meta.k1), b: Number(meta.b) };

  async function search(queries: string[], k: number, options: LexicalSearchOptions = {}): Promise<LexicalHit[][]> {
    if (!Array.isArray(queries) || queries.some((q) => typeof q !== "string")) {
      throw new CellarError(`lexical search: expected an array of query strings, got ${JSON.stringify(queries)?.slice(0, 80)}`);
    }
    if (!Number.isInteger(k) || k < 1) throw new CellarError(`lexical search: k: expected a whole number ≥ 1, got ${JSON.stringify(k)}`);
    const k1 = bm25Param("k1", options.k1 ?? defaults.k1, Infinity);
    const b = bm25Param("b", options.b ?? defaults.b, 1);
    const rm3 = options.rm3 === undefined ? undefined : parseRm3(options.rm3);
    const signal = options.signal ?? ctx.signal;
    const analyzed = queries.map(analyze);
    await index.load(analyzed.flat());
    // Each distinct query term once, as the bundled run counts them.
    const firstPass = analyzed.map((terms) => new Map([...new Set(terms)].map((t) => [t, 1])));
    let ranked = firstPass.map((weights) => index.rank(weights, rm3 ? Math.max(k, rm3.fbDocs) : k, k1, b));
    if (rm3) {
      signal?.throwIfAborted();
      const feedback = await index.docTerms(ranked.flatMap((r) => r.slice(0, rm3.fbDocs).map((h) => h.doc)));
      const expanded = analyzed.map((terms, q) => expandQuery(terms, ranked[q].slice(0, rm3.fbDocs).map((h) => ({ terms: feedback.get(h.doc)!, score: h.score })), rm3));
      await index.load(expanded.flatMap((w) => [...w.keys()]));
      ranked = expanded.map((weights) => index.rank(weights, k, k1, b));
    }
    signal?.throwIfAborted();
    return ranked.map((hits) => hits.slice(0, k).map((h, i) => ({ rank: i + 1, score: h.score, document: ids[h.doc], title: titles[h.doc] })));
  }

  return { pipeline, documents: n, analyzer: settings, k1: defaults.k1, b: defaults.b, search };
}

/** The postings and document lengths behind a handle, with the caches of what queries have loaded. */
class LexicalIndex {
  readonly #postings = new Map<string, Postings>();
  readonly #docTerms = new Map<number, DocTerms>();
  readonly #scores: Float64Array;
  readonly #norms = new Map<string, Float64Array>();

  constructor(
    private readonly ctx: SearchContext,
    private readonly tables: LexicalTables,
    readonly n: number,
    readonly avgdl: number,
    readonly lengths: Float64Array,
  ) {
    this.#scores = new Float64Array(n);
  }

  /** Reads the postings of the terms not yet loaded, in one query. */
  async load(terms: string[]): Promise<void> {
    const wanted = [...new Set(terms)];
    let missing = wanted.filter((t) => !this.#postings.has(t));
    if (missing.length === 0) return;
    // Starting the cache again drops terms this search needs too: read them all.
    if (this.#postings.size + missing.length > CACHE_LIMIT) this.#postings.clear(), (missing = wanted);
    for (const term of missing) this.#postings.set(term, { docs: new Int32Array(0), tfs: new Int32Array(0) });
    for (let i = 0; i < missing.length; i += 1_000) {
      const part = missing.slice(i, i + 1_000);
      const rows = await this.ctx.sql(
        `SELECT term, docs, tfs FROM ${this.tables.terms.sql} WHERE term IN (${part.map(() => "?").join(", ")})`,
        part,
      );
      for (const r of rows) {
        this.#postings.set(String(r.term), { docs: Int32Array.from(r.docs as number[]), tfs: Int32Array.from(r.tfs as number[]) });
      }
    }
  }

  /** The documents' terms, tfs and dfs (RM3's feedback vectors), read once per document. */
  async docTerms(docs: number[]): Promise<Map<number, DocTerms>> {
    const wanted = [...new Set(docs)];
    let missing = wanted.filter((d) => !this.#docTerms.has(d));
    if (this.#docTerms.size + missing.length > CACHE_LIMIT) this.#docTerms.clear(), (missing = wanted);
    for (let i = 0; i < missing.length; i += 1_000) {
      const part = missing.slice(i, i + 1_000);
      const rows = await this.ctx.sql(
        `SELECT p.doc, list(p.term ORDER BY p.term) AS terms, list(p.tf ORDER BY p.term) AS tfs, list(t.df ORDER BY p.term) AS dfs
         FROM ${this.tables.postings.sql} p JOIN ${this.tables.terms.sql} t USING (term)
         WHERE p.doc IN (${part.map(() => "?").join(", ")}) GROUP BY p.doc`,
        part,
      );
      for (const d of part) this.#docTerms.set(d, { terms: [], tfs: [], dfs: [], n: this.n });
      for (const r of rows) {
        this.#docTerms.set(Number(r.doc), { terms: (r.terms as unknown[]).map(String), tfs: (r.tfs as unknown[]).map(Number), dfs: (r.dfs as unknown[]).map(Number), n: this.n });
      }
    }
    return new Map(docs.map((d) => [d, this.#docTerms.get(d)!]));
  }

  /** The k best documents for weighted terms (loaded first), by BM25 summed over the terms times their weights. */
  rank(weights: Map<string, number>, k: number, k1: number, b: number): Array<{ doc: number; score: number }> {
    const scores = this.#scores;
    const norm = this.#normsOf(k1, b);
    const touched: number[] = [];
    for (const [term, weight] of weights) {
      const postings = this.#postings.get(term);
      if (postings === undefined || postings.docs.length === 0 || !(weight > 0)) continue;
      const df = postings.docs.length;
      const idf = Math.log(1 + (this.n - df + 0.5) / (df + 0.5));
      const w = weight * idf * (k1 + 1);
      const { docs, tfs } = postings;
      for (let i = 0; i < docs.length; i++) {
        const d = docs[i];
        // Every term adds more than 0 (idf > 0, weight > 0): a score of 0 is a document not yet touched.
        if (scores[d] === 0) touched.push(d);
        scores[d] += (w * tfs[i]) / (tfs[i] + norm[d]);
      }
    }
    const best = topK(touched, scores, k);
    for (const d of touched) scores[d] = 0;
    return best;
  }

  /** k1·(1 − b + b·dl/avgdl) per document, for each (k1, b) asked for. */
  #normsOf(k1: number, b: number): Float64Array {
    const key = `${k1}/${b}`;
    let norm = this.#norms.get(key);
    if (norm === undefined) {
      norm = Float64Array.from(this.lengths, (dl) => k1 * (1 - b + (this.avgdl > 0 ? (b * dl) / this.avgdl : 0)));
      if (this.#norms.size > 16) this.#norms.clear();
      this.#norms.set(key, norm);
    }
    return norm;
  }
}

/** The k best of `docs` by score (higher first, ties by the lower document number), kept in a small heap. */
export function topK(docs: readonly number[], scores: Float64Array, k: number): Array<{ doc: number; score: number }> {
  // A min-heap of the k best so far, the worst on top; `worse` orders ties as the ranking does.
  const heap: number[] = [];
  const worse = (a: number, b: number) => scores[a] < scores[b] || (scores[a] === scores[b] && a > b);
  for (const d of docs) {
    if (heap.length < k) {
      heap.push(d);
      for (let i = heap.length - 1; i > 0;) {
        const p = (i - 1) >> 1;
        if (!worse(heap[i], heap[p])) break;
        [heap[i], heap[p]] = [heap[p], heap[i]];
        i = p;
      }
    } else if (worse(heap[0], d)) {
      heap[0] = d;
      for (let i = 0; ;) {
        const l = 2 * i + 1, r = l + 1;
        let c = i;
        if (l < k && worse(heap[l], heap[c])) c = l;
        if (r < k && worse(heap[r], heap[c])) c = r;
        if (c === i) break;
        [heap[i], heap[c]] = [heap[c], heap[i]];
        i = c;
      }
    }
  }
  return heap.sort((a, b) => (worse(a, b) ? 1 : -1)).map((doc) => ({ doc, score: scores[doc] }));
}

function bm25Param(name: string, value: unknown, max: number): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > max) {
    throw new CellarError(`lexical search: ${name}: expected a number ${max === 1 ? "in [0, 1]" : "≥ 0"}, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** The build's tables, from build_index's latest output, refusing a pipeline without one. */
async function lexicalTables(ctx: SearchContext, pipeline: string): Promise<LexicalTables> {
  const built = await latestCheckpoint<{ lexical?: LexicalTables }>(ctx, { pipeline, cell: "build_index" });
  if (built === undefined) throw new CellarError(`pipeline "${pipeline}" has no index yet; run it first (cellar run ${pipeline})`);
  const lexical = built.output?.lexical;
  if (!lexical?.postings || !lexical.docs || !lexical.terms || !lexical.meta) {
    throw new CellarError(`pipeline "${pipeline}"'s index has no lexical (BM25) tables; rebuild it: cellar run ${pipeline} --from build_index`);
  }
  return lexical;
}
