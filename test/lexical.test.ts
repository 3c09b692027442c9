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
import { cli, storesClosedAfterEach, tempDir } from "./helpers.ts";
import { Store as StoreClass } from "../kernel/store/store.ts";
import { writeFileSync } from "node:fs";

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

describe("the analyzer", () => {
  it("keeps lowercased maximal [a-z0-9] runs, then drops Lucene's stopwords and stems as asked", () => {
    expect(analyzer({ stopwords: false, stemmer: "none" })("The Mach-2 flow's ÉTUDE, x_y")).toEqual(["the", "mach", "2", "flow", "s", "tude", "x", "y"]);
    expect(analyzer({ stopwords: true, stemmer: "none" })("the flow of the air is not in it")).toEqual(["flow", "air"]);
    expect(analyzer({ stopwords: false, stemmer: "porter" })("Generously running flows")).toEqual(["gener", "run", "flow"]);
    expect(analyzer({ stopwords: true, stemmer: "snowball" })("the generously running flows")).toEqual(["generous", "run", "flow"]);
    expect(analyzer({ stopwords: true, stemmer: "porter" })("")).toEqual([]);
  });

  it("reads settings as params give them and refuses others in one line", () => {
    expect(parseAnalyzer({ stopwords: "true", stemmer: "porter" })).toEqual({ stopwords: true, stemmer: "porter" });
    expect(parseAnalyzer({})).toEqual({ stopwords: false, stemmer: "none" });
    expect(() => parseAnalyzer({ stemmer: "lancaster" })).toThrow(/^analyzer stemmer: expected "none", "porter" or "snowball", got "lancaster"$/);
    expect(() => parseAnalyzer({ stopwords: "yes" })).toThrow(/^analyzer stopwords: expected true or false, got "yes"$/);
  });

  it("indexes the title, a space and the text, a placeholder text left out", () => {
    expect(lexicalText("Wings", "Wings in a slipstream.")).toBe("Wings Wings in a slipstream.");
    expect(lexicalText("Wings", "None")).toBe("Wings ");
    expect(lexicalText(null, "text")).toBe(" text");
  });
});

describe("RM3", () => {
  it("expands a query as worked out by hand", () => {
    // N = 20. Doc A (score 3): "a" is too short and "the" in 90% of documents, so its kept terms are wing 2, drag 1
    // and flap 1, pruned to 2 (drag before flap on a tie); norm 3. Doc B (score 1): slat 3, wing 1; norm 4.
    // RM1: wing 2/3·3 + 1/4·1 = 2.25, drag 1/3·3 = 1, slat 3/4·1 = 0.75 → the 2 heaviest, scaled: wing 9/13, drag 4/13.
    // Query "wing lift wing": wing 2/3, lift 1/3. Interpolated at 0.6: wing 0.4 + 0.4·9/13, lift 0.2, drag 0.4·4/13.
    const a = { terms: ["a", "drag", "flap", "the", "wing"], tfs: [5, 1, 1, 4, 2], dfs: [20, 1, 2, 18, 2], n: 20 };
    const b = { terms: ["slat", "wing"], tfs: [3, 1], dfs: [2, 2], n: 20 };
    const weights = expandQuery(["wing", "lift", "wing"], [{ terms: a, score: 3 }, { terms: b, score: 1 }], { fbDocs: 2, fbTerms: 2, originalWeight: 0.6 });
    expect([...weights.keys()]).toEqual(["wing", "lift", "drag"]);
    expect(weights.get("wing")).toBeCloseTo(0.4 + (0.4 * 9) / 13, 12);
    expect(weights.get("lift")).toBeCloseTo(0.2, 12);
    expect(weights.get("drag")).toBeCloseTo((0.4 * 4) / 13, 12);
  });

  it("re-scores the index with the expanded query's BM25, each term times its weight", async () => {
    const store = await openStore();
    const words = ["wing", "lift", "drag", "flap", "slat", "spar", "rib", "skin", "jet", "fan", "duct", "vane", "blade", "hub"];
    const docs = Array.from({ length: 12 }, (_, i) => ({
      id: `d${String(i).padStart(2, "0")}`,
      title: words[i % words.length],
      // Each document's own word (df 1 of 12, under RM3's 10% cut) once to three times: feedback terms.
      text: [...Array.from({ length: 3 + (i % 5) }, (_, j) => words[(i * 3 + j * j) % words.length]), ...Array(1 + (i % 3)).fill(`own${i}`)].join(" "),
    }));
    const lexical = await buildOver(store, "small", docs);
    const rm3 = { fbDocs: 3, fbTerms: 4, originalWeight: 0.5 };
    const query = "wing lift";
    const [hits] = await lexical.search([query], 12, { rm3 });

    // The same by hand: tfs of each document, BM25, the first pass, expandQuery over the top 3, BM25 again.
    const tfs = docs.map((d) => {
      const m = new Map<string, number>();
      for (const t of lexicalText(d.title, d.text).toLowerCase().match(/[a-z0-9]+/g) ?? []) m.set(t, (m.get(t) ?? 0) + 1);
      return m;
    });
    const len = tfs.map((m) => [...m.values()].reduce((s, v) => s + v, 0));
    const avgdl = len.reduce((s, v) => s + v, 0) / docs.length;
    const df = (t: string) => tfs.filter((m) => m.has(t)).length;
    const bm25 = (weights: Map<string, number>, d: number) => [...weights].reduce((s, [t, w]) => {
      const f = tfs[d].get(t) ?? 0;
      if (f === 0) return s;
      return s + w * Math.log(1 + (12 - df(t) + 0.5) / (df(t) + 0.5)) * (f * 1.9) / (f + 0.9 * (0.6 + (0.4 * len[d]) / avgdl));
    }, 0);
    const rank = (weights: Map<string, number>) => docs.map((_, d) => ({ d, s: bm25(weights, d) })).filter((x) => x.s > 0).sort((x, y) => y.s - x.s || x.d - y.d);
    const first = rank(new Map([["wing", 1], ["lift", 1]]));
    const feedback = first.slice(0, 3).map(({ d, s }) => {
      const terms = [...tfs[d].keys()].sort();
      return { score: s, terms: { terms, tfs: terms.map((t) => tfs[d].get(t)!), dfs: terms.map(df), n: 12 } };
    });
    const expanded = expandQuery(["wing", "lift"], feedback, rm3);
    expect(expanded.size).toBeGreaterThan(2);
    const expected = rank(expanded);
    expect(hits.map((h) => h.document)).toEqual(expected.map((x) => docs[x.d].id));
    hits.forEach((h, i) => expect(h.score).toBeCloseTo(expected[i].s, 10));
  }, 30_000);
});

describe("bad input", () => {
  it("is one line naming what was wrong", async () => {
    const store = await openStore();
    const lexical = await buildOver(store, "tiny", [{ id: "1", title: "wing", text: "lift" }, { id: "2", title: "", text: "" }]);
    await expect(lexical.search(["wing"], 0)).rejects.toThrow(/^lexical search: k: expected a whole number ≥ 1, got 0$/);
    await expect(lexical.search(["wing"], 5, { b: 2 })).rejects.toThrow(/^lexical search: b: expected a number in \[0, 1\], got 2$/);
    await expect(lexical.search(["wing"], 5, { k1: -1 })).rejects.toThrow(/^lexical search: k1: expected a number ≥ 0, got -1$/);
    await expect(lexical.search(["wing"], 5, { rm3: { fbDocs: 0, fbTerms: 10, originalWeight: 0.5 } })).rejects.toThrow(/^rm3 fbDocs: expected a whole number ≥ 1, got 0$/);
    expect(() => parseRm3({ fbDocs: 10, fbTerms: 10, originalWeight: 1.5 })).toThrow(/^rm3 originalWeight: expected a number in \[0, 1\], got 1.5$/);
    await expect(lexical.search([7 as unknown as string], 5)).rejects.toThrow(/^lexical search: expected an array of query strings/);
    await expect(openLexical({ pipeline: "nothing", sql: store.query.bind(store) })).rejects.toThrow(/^pipeline "nothing" has no index yet; run it first/);
    expect((await lexical.search(["zzz", ""], 5)).map((h) => h.length)).toEqual([0, 0]);
    const [hits] = await lexical.search(["WING"], 5);
    expect(hits.map((h) => [h.rank, h.document, h.title])).toEqual([[1, "1", "wing"]]);
  });

  it("fails build_index on a bad param before it writes anything", async () => {
    const store = await openStore();
    const p = pipeline({ id: "bad", params: { k1: -1 } })
      .cell("embed_docs", async (ctx) => {
        const documents = await ctx.table("documents", { id: "VARCHAR", title: "VARCHAR", text: "VARCHAR" });
        const chunks = await ctx.table("chunks", { chunk_id: "VARCHAR", document: "VARCHAR", chunk_index: "INTEGER" });
        const vectors = await ctx.table("vectors", { chunk_id: "VARCHAR", model: "VARCHAR", embedding: "FLOAT[2]" });
        await documents.append([{ id: "1", title: "Wing", text: "wing" }]);
        await chunks.append([{ chunk_id: "1#0", document: "1", chunk_index: 0 }]);
        await vectors.append([{ chunk_id: "1#0", model: "m", embedding: [1, 0] }]);
        return { documents: await documents.finish(), chunks: await chunks.finish(), vectors: await vectors.finish(), model: "m", dimensions: 2 };
      })
      .cell("build_index", { retries: 0 }, buildIndex);
    const run = await openCellar({ db: store }).run(p, { new: true });
    expect(run.state).toBe("failed");
    const [attempt] = await store.query(`SELECT error FROM attempts WHERE cell = 'build_index'`);
    expect(String(attempt.error)).toBe("param k1: expected a number ≥ 0, got -1");
    expect(await store.query(`SELECT * FROM outputs WHERE cell = 'build_index'`)).toEqual([]);
    expect(await store.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'bad' AND table_name LIKE 'index%'`)).toEqual([]);
  });
});

describe("ingest", () => {
  it("writes the lexical tables with the analyzer its params name, and they find a document by its title", async () => {
    const dir = tempDir("cellar-lexical-ingest-");
    const seeds = join(dir, "docs.jsonl");
    writeFileSync(seeds, read("docs.jsonl").split("\n").slice(0, 8).join("\n") + "\n");
    const db = join(dir, "db.duckdb");
    const run = await cli(["--db", db, "run", "ingest", "--param", `seeds=${seeds}`, "--param", "stemmer=porter", "--param", "stopwords=true", "--param", "k1=1.2"], {
      env: { CELLAR_DEVICES: "cpu" },
    });
    expect(run.code, run.stderr).toBe(0);
    const store = await StoreClass.open(db);
    try {
      const [meta] = await store.query(`SELECT documents, k1, b, stopwords, stemmer FROM ingest.lexical_meta`);
      expect(meta).toEqual({ documents: 8, k1: 1.2, b: 0.4, stopwords: true, stemmer: "porter" });
      const [postings] = await store.query(`SELECT count(*)::INT AS n, count(DISTINCT doc)::INT AS docs FROM ingest.lexical_postings`);
      expect(postings.docs).toBe(8);
      // Stopwords dropped, words stemmed: "experimental" is indexed as "experiment".
      const terms = await store.query(`SELECT term FROM ingest.lexical_terms WHERE term IN ('the', 'of', 'experimental', 'experiment') ORDER BY term`);
      expect(terms.map((t) => t.term)).toEqual(["experiment"]);
      const lexical = await openLexical({ pipeline: "ingest", sql: store.query.bind(store) });
      expect(lexical.analyzer).toEqual({ stopwords: true, stemmer: "porter" });
      const target = JSON.parse(read("docs.jsonl").split("\n")[5]);
      const [hits] = await lexical.search([target.title], 3);
      expect(hits[0].document).toBe(`${seeds}#${target.id}`);
    } finally {
      await store.close();
    }
  }, 120_000);
});
