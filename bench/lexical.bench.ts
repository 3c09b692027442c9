// The lexical (BM25) index's speed and quality, on real DuckDB files.
//
//   XDG_RUNTIME_DIR=/tmp/xdg npx tsx bench/lexical.bench.ts [--docs 100000] [--no-quality]
//
// One JSON object per line:
// - "speed" at the bundled Cranfield corpus (1,400 documents, its 225 queries) and at --docs generated
//   documents (Zipfian vocabulary of 200K words, s = 1.07; lognormal lengths, median 180 tokens; 225 queries
//   of 2..10 words): build time; ms/query for the 225 queries as one batch (first search of a fresh handle,
//   which reads the postings from DuckDB, and again once they are loaded), the batch with RM3 (10 feedback
//   documents, 10 terms, original weight 0.5), one query at a time, and a fresh handle's open + first query
//   (what `cellar search` pays); the reference is the same BM25 as one DuckDB SQL query per query, measured
//   in the same run (`sql_ms_per_query`, `speedup_vs_sql`).
// - "quality": nDCG@10, MAP and recall@10 on Cranfield and on CISI (pipelines/data/cisi) for analyzer
//   settings with and without RM3.
import { readFileSync } from "node:fs";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { evaluate } from "../cells/eval/metrics.ts";
import { parseQrels, type Run } from "../cells/eval/trec.ts";
import type { AnalyzerSettings } from "../cells/index/analyzer.ts";
import { type LexicalHandle, openLexical, type Rm3Options } from "../cells/index/lexical.ts";
import { Store } from "../kernel/store/store.ts";
import { type BenchDoc, generatedPages, lexicalOver, seeded, zipfian } from "./lexical-corpus.ts";

const args = process.argv.slice(2);
const flagValue = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const generated = Number(flagValue("--docs") ?? 100_000);
const DATA = join(import.meta.dirname, "../pipelines/data");
const jsonl = (path: string) => readFileSync(path, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, string>);

function collection(name: string): { docs: BenchDoc[]; queries: Array<{ id: string; text: string }>; qrels: string } {
  const docs = jsonl(join(DATA, name, "docs.jsonl")).map((d) => ({ id: d.id, title: d.title, text: d.text }));
  const queries = jsonl(join(DATA, name, "queries.jsonl")).map((q) => ({ id: q.id, text: q.text }));
  return { docs, queries, qrels: readFileSync(join(DATA, name, "qrels.trec"), "utf8") };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function time<T>(f: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const result = await f();
  return [result, performance.now() - started];
}

/** BM25 as one DuckDB query over the same tables: the reference the in-memory scorer is measured against. */
async function sqlSearch(store: Store, pipeline: string, terms: string[], k: number, meta: { n: number; avgdl: number }): Promise<number> {
  if (terms.length === 0) return 0;
  const p = `"${pipeline}"`;
  const rows = await store.query(
    `WITH t AS (SELECT term, ln(1 + (${meta.n} - df + 0.5) / (df + 0.5)) AS idf FROM ${p}.lexical_terms WHERE term IN (${terms.map(() => "?").join(", ")}))
     SELECT d.document, sum(t.idf * p.tf * 1.9 / (p.tf + 0.9 * (0.6 + 0.4 * d.length / ${meta.avgdl}))) AS score
     FROM ${p}.lexical_postings p JOIN t USING (term) JOIN ${p}.lexical_docs d USING (doc)
     GROUP BY d.document ORDER BY score DESC, d.document LIMIT ${k}`,
    terms,
  );
  return rows.length;
}

async function speed(store: Store, pipeline: string, handle: LexicalHandle, buildMs: number, queries: string[], corpus: string): Promise<void> {
  const sql = store.query.bind(store);
  const [, coldMs] = await time(() => handle.search(queries, 100));
  const warm: number[] = [];
  for (let i = 0; i < 5; i++) warm.push((await time(() => handle.search(queries, 100)))[1]);
  // RM3 (Pyserini's defaults): the first time reads the feedback documents' terms and the expansion terms' postings.
  const rm3 = { fbDocs: 10, fbTerms: 10, originalWeight: 0.5 };
  const [, rm3ColdMs] = await time(() => handle.search(queries, 100, { rm3 }));
  const [, rm3WarmMs] = await time(() => handle.search(queries, 100, { rm3 }));
  const single: number[] = [];
  for (const q of queries) single.push((await time(() => handle.search([q], 10)))[1]);
  const fresh: number[] = [];
  for (const q of queries.slice(0, 20)) {
    fresh.push((await time(async () => (await openLexical({ pipeline, sql })).search([q], 10)))[1]);
  }
  const [meta] = await store.query(`SELECT documents AS n, avgdl FROM "${pipeline}".lexical_meta`);
  const { analyzer } = await import("../cells/index/analyzer.ts");
  const analyze = analyzer(handle.analyzer);
  const sqlMs: number[] = [];
  for (const q of queries.slice(0, 50)) {
    sqlMs.push((await time(() => sqlSearch(store, pipeline, [...new Set(analyze(q))], 10, { n: Number(meta.n), avgdl: Number(meta.avgdl) })))[1]);
  }
  const [postings] = await store.query(`SELECT count(*)::BIGINT AS n FROM "${pipeline}".lexical_postings`);
  const singleMs = median(single);
  console.log(JSON.stringify({
    bench: "lexical", measure: "speed", corpus, documents: handle.documents, postings: Number(postings.n), build_s: +(buildMs / 1000).toFixed(2),
    batch_cold_ms_per_query: +(coldMs / queries.length).toFixed(3), batch_warm_ms_per_query: +(median(warm) / queries.length).toFixed(3),
    rm3_batch_cold_ms_per_query: +(rm3ColdMs / queries.length).toFixed(3), rm3_batch_warm_ms_per_query: +(rm3WarmMs / queries.length).toFixed(3),
    single_ms_per_query: +singleMs.toFixed(3), fresh_open_and_query_ms: +median(fresh).toFixed(1),
    sql_ms_per_query: +median(sqlMs).toFixed(2), speedup_vs_sql: +(median(sqlMs) / singleMs).toFixed(1),
    rss_mb: Math.round(process.memoryUsage().rss / 2 ** 20),
  }));
}

const CONFIGS: Array<{ name: string; analyzer: AnalyzerSettings }> = [
  { name: "plain", analyzer: { stopwords: false, stemmer: "none" } },
  { name: "stop", analyzer: { stopwords: true, stemmer: "none" } },
  { name: "porter", analyzer: { stopwords: false, stemmer: "porter" } },
  { name: "porter+stop", analyzer: { stopwords: true, stemmer: "porter" } },
  { name: "snowball+stop", analyzer: { stopwords: true, stemmer: "snowball" } },
];
const RM3: Array<Rm3Options | undefined> = [
  undefined,
  { fbDocs: 10, fbTerms: 10, originalWeight: 0.5 },
  { fbDocs: 5, fbTerms: 20, originalWeight: 0.5 },
  { fbDocs: 3, fbTerms: 10, originalWeight: 0.7 },
  { fbDocs: 10, fbTerms: 20, originalWeight: 0.7 },
];

async function quality(store: Store, name: string): Promise<void> {
  const c = collection(name);
  const qrels = parseQrels(c.qrels, `${name}/qrels.trec`);
  for (const config of CONFIGS) {
    const { handle } = await lexicalOver(store, `${name}_${config.name.replace(/\W/g, "_")}`, () => [c.docs], { ...config.analyzer });
    for (const rm3 of RM3) {
      const [hits, ms] = await time(() => handle.search(c.queries.map((q) => q.text), 1000, { rm3 }));
      const run: Run = new Map(c.queries.map((q, i) => [q.id, hits[i].map((h) => ({ docid: h.document, score: h.score }))]));
      const { mean, queries } = evaluate(qrels, run);
      console.log(JSON.stringify({
        bench: "lexical", measure: "quality", corpus: name, analyzer: config.name, k1: 0.9, b: 0.4, rm3: rm3 ?? null, queries,
        "nDCG@10": +mean["nDCG@10"].toFixed(4), MAP: +mean.MAP.toFixed(4), "recall@10": +mean["recall@10"].toFixed(4), MRR: +mean.MRR.toFixed(4),
        ms_per_query: +(ms / c.queries.length).toFixed(2),
      }));
    }
  }
}

const store = await Store.open(join(mkdtempSync(join(tmpdir(), "cellar-lexical-bench-")), "bench.duckdb"));
try {
  const cranfield = collection("cranfield");
  const built = await lexicalOver(store, "cranfield", () => [cranfield.docs]);
  await speed(store, "cranfield", built.handle, built.buildMs, cranfield.queries.map((q) => q.text), "cranfield");
  if (generated > 0) {
    const big = await lexicalOver(store, "generated", () => generatedPages(generated, 1_000, 7));
    const random = seeded(11);
    const vocab = zipfian(200_000, 1.07, seeded(7));
    // Queries skip the 100 commonest words most of the time, as real queries' content words do.
    const queries = Array.from({ length: 225 }, () => Array.from({ length: 2 + Math.floor(random() * 9) }, () => {
      let w = vocab.sample();
      while (vocab.words.indexOf(w) < 100 && random() < 0.9) w = vocab.sample();
      return w;
    }).join(" "));
    await speed(store, "generated", big.handle, big.buildMs, queries, `generated-${generated}`);
  }
  if (!args.includes("--no-quality")) {
    await quality(store, "cranfield");
    await quality(store, "cisi");
  }
} finally {
  await store.close();
}
