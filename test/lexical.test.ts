// The lexical (BM25) index through real DuckDB tables: build_index over all 1,400 Cranfield records
// (the empty 471 and 995 too) gives the bundled bm25.run's scores to 5 decimals and its trec_eval
// metrics; the analyzer's settings; RM3 on a case worked out by hand; one-line errors for bad params;
// and ingest writing the lexical tables.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildIndex } from "../cells/build-index.ts";
import { evaluate } from "../cells/eval/metrics.ts";
import { formatMeasure, parseQrels, parseRun, type Run } from "../cells/eval/trec.ts";
import { analyzer, parseAnalyzer } from "../cells/index/analyzer.ts";
import { openLexical } from "../cells/index/lexical.ts";
import { lexicalText } from "../cells/index/lexical-build.ts";
import { expandQuery, parseRm3 } from "../cells/index/rm3.ts";
import { openCellar, pipeline } from "../kernel/mod.ts";
import type { Store } from "../kernel/store/store.ts";
import { storesClosedAfterEach } from "./helpers.ts";

const openStore = storesClosedAfterEach();
const DATA = join(import.meta.dirname, "../pipelines/data/cranfield");
const read = (name: string) => readFileSync(join(DATA, name), "utf8");
const lines = (name: string) => read(name).trim().split("\n").map((l) => JSON.parse(l) as Record<string, string>);

type Doc = {
  id: string;
  title: string;
  text: string;
};

/** A pipeline whose embed_docs writes `docs` as they are, one chunk each with a 2-d vector, then the real build_index. */
async function buildOver(store: Store, id: string, docs: Doc[], params: Record<string, string | number | boolean> = {}) {
  const p = pipeline({ id, params: { k1: 0.9, b: 0.4, stopwords: false, stemmer: "none", ...params } })
    .cell("embed_docs", async (ctx) => {
      const documents = await ctx.table("documents", { id: "VARCHAR", title: "VARCHAR", text: "VARCHAR" });
      const chunks = await ctx.table("chunks", { chunk_id: "VARCHAR", document: "VARCHAR", chunk_index: "INTEGER", text: "VARCHAR" });
      const vectors = await ctx.table("vectors", { chunk_id: "VARCHAR", model: "VARCHAR", embedding: "FLOAT[2]" });
      await documents.append(docs);
      await chunks.append(docs.map((d) => ({ chunk_id: `${d.id}#0`, document: d.id, chunk_index: 0, text: d.text })));
      await vectors.append(docs.map((d) => ({ chunk_id: `${d.id}#0`, model: "m", embedding: [1, 0] })));
      return { documents: await documents.finish(), chunks: await chunks.finish(), vectors: await vectors.finish(), model: "m", dimensions: 2 };
    })
    .cell("build_index", buildIndex);
  const run = await openCellar({ db: store }).run(p, { new: true });
  expect(run.state).toBe("success");
  return await openLexical({ pipeline: id, sql: store.query.bind(store) });
}

describe("BM25 over all 1,400 Cranfield records", () => {
  it("scores every query's documents as bm25.run does, and trec_eval's metrics follow", async () => {
    const store = await openStore();
    const docs = lines("docs.jsonl").map((d) => ({ id: d.id, title: d.title, text: d.text }));
    expect(docs.length).toBe(1400);
    expect(docs.filter((d) => d.text === "").map((d) => d.id)).toEqual(["471", "995"]);
    const lexical = await buildOver(store, "cranfield", docs);
    expect(lexical.documents).toBe(1400);
    expect([lexical.k1, lexical.b]).toEqual([0.9, 0.4]);
    const [meta] = await store.query(`SELECT documents, avgdl FROM cranfield.lexical_meta`);
    expect(meta.documents).toBe(1400);
    const queries = lines("queries.jsonl");
    const hits = await lexical.search(queries.map((q) => q.text), 100);
    const expected = parseRun(read("bm25.run"), "bm25.run");
    const mismatches: string[] = [];
    const ours: Run = new Map();
    queries.forEach((q, i) => {
      ours.set(q.id, hits[i].map((h) => ({ docid: h.document, score: h.score })));
      const got = new Map(hits[i].map((h) => [h.document, h.score]));
      for (const { docid, score } of expected.get(q.id)!) {
        const mine = got.get(docid);
        // The run prints 6 decimals: equal to 5 means within half a unit of the 5th.
        if (mine === undefined || Math.abs(mine - score) >= 5e-6) mismatches.push(`query ${q.id} doc ${docid}: run ${score}, Cellar ${mine}`);
      }
    });
    expect(mismatches.slice(0, 5)).toEqual([]);
    const qrels = parseQrels(read("qrels.trec"), "qrels.trec");
    const result = evaluate(qrels, ours);
    const names: Record<string, string> = { recall_10: "recall@10", recip_rank: "MRR", ndcg_cut_10: "nDCG@10", map: "MAP", P_10: "P@10" };
    const differ: string[] = [];
    for (const line of read("bm25.trec_eval.txt").trim().split("\n")) {
      const [measure, qid, value] = line.trim().split(/\s+/);
      const metrics = qid === "all" ? result.mean : result.perQuery.get(qid);
      if (formatMeasure(metrics![names[measure]]) !== value) differ.push(`${measure} ${qid}: trec_eval ${value}, Cellar ${metrics![names[measure]]}`);
    }
    expect(differ).toEqual([]);
    expect(formatMeasure(result.mean["nDCG@10"])).toBe("0.3226");
  }, 60_000);
});
