// Retrieval configurations compared on two public test collections, each ingested through the real pipeline
// (crawl → dedup → embed with USE-lite → index, dense and BM25) into a temporary store, then scored by the eval
// cell in one run (cells/eval/compare.ts): nDCG@10, recall@10, MRR, MAP, ms/query per configuration, grids
// cross-validated over the questions (5 folds, seed 13). Prints one JSON object per configuration and
// collection, then one per collection saying whether the default beats plain BM25 there.
//
//   XDG_RUNTIME_DIR=/tmp/xdg npx tsx bench/retrieval.bench.ts [--collections cranfield,cisi] [--db-dir dir]
//
// --db-dir keeps (and reuses) one store per collection there: a second run skips the ingests, which take
// minutes each (USE-lite embeds every abstract).
import { main } from "../kernel/cli.ts";
import { runtime } from "../kernel/runtime/mod.ts";
import { Store } from "../kernel/store/store.ts";
import { DEFAULT_RETRIEVAL } from "../cells/index/retrieval-spec.ts";

/** The configurations compared: the default first (gated), then plain BM25 and the rest. */
const SPECS = [
  DEFAULT_RETRIEVAL,
  "lexical",
  "lexical:k1=cv:b=cv",
  "lexical+rm3",
  "lexical+rm3:fbDocs=cv:fbTerms=cv:originalWeight=cv",
  "dense",
  "hybrid:rrf",
  "hybrid:rrf:rrfK=cv",
  "hybrid:weighted:alpha=cv",
  "hybrid+rm3:rrf:rrfK=cv",
  "hybrid+rm3:weighted:alpha=cv",
  // The grid the default was picked from (its most chosen point), cross-validated.
  "hybrid+rm3:weighted:alpha=0.2|0.3:k1=0.9|1.2|1.5:b=0.3|0.4|0.6",
];

const args = runtime.args();
const option = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const collections = (option("--collections") ?? "cranfield,cisi").split(",");
const dir = option("--db-dir") ?? runtime.resolve(runtime.env("TMPDIR") ?? "/tmp", `cellar-retrieval-bench-${runtime.pid()}`);
await runtime.mkdir(dir);

async function query(db: string, sql: string): Promise<Record<string, unknown>[]> {
  const store = await Store.open(db);
  try {
    return await store.query(sql);
  } finally {
    await store.close();
  }
}

for (const collection of collections) {
  const data = `pipelines/data/${collection}`;
  const db = runtime.resolve(dir, `${collection}.duckdb`);
  const indexed = (await runtime.exists(db)) && Number((await query(db, `SELECT count(*)::INT AS n FROM outputs WHERE cell = 'build_index'`))[0].n) > 0;
  let ingestS: number | null = null;
  if (!indexed) {
    const started = performance.now();
    const code = await main(["--db", db, "run", "ingest", "--param", `seeds=${data}/docs.jsonl`]);
    if (code !== 0) throw new Error(`ingest of ${collection} exited ${code}`);
    ingestS = (performance.now() - started) / 1000;
  }
  const started = performance.now();
  const code = await main([
    "--db", db, "run", "eval", "--param", "baseline=none", "--param", `queries=${data}/queries.jsonl`, "--param", `qrels=${data}/qrels.trec`,
    "--param", `retrieval=${SPECS.join(",")}`, "--param", "judgeTop=1",
  ]);
  if (code !== 0) throw new Error(`eval of ${collection} exited ${code}`);
  const wallS = (performance.now() - started) / 1000;
  const [row] = await query(db, `SELECT o.output FROM outputs o JOIN runs r USING (run_id) WHERE r.pipeline = 'eval' AND o.cell = 'run_eval_suite' ORDER BY r.run_id DESC LIMIT 1`);
  const output = JSON.parse(String(row.output));
  const round = (x: number) => Math.round(x * 10_000) / 10_000;
  type Row = { spec: string; resolved: string; primary: boolean; metrics: Record<string, number>; msPerQuery: number; points: number; cv: unknown[] | null };
  const rows = output.comparison.rows as Row[];
  for (const r of rows) {
    console.log(JSON.stringify({
      bench: "retrieval", collection, queries: output.evalSet.queries, documents: output.index.documents, model: output.index.model,
      spec: r.spec, resolved: r.resolved, default: r.primary, cross_validated: r.cv !== null, points: r.points,
      metrics: Object.fromEntries(Object.entries(r.metrics).map(([k, v]) => [k, round(v)])), ms_per_query: Math.round(r.msPerQuery * 100) / 100,
      folds: r.cv,
    }));
  }
  const bm25 = rows.find((r) => r.spec === "lexical")!;
  const chosen = rows.find((r) => r.primary)!;
  console.log(JSON.stringify({
    bench: "retrieval_default_vs_bm25", collection, default: chosen.spec, ndcg10_default: round(chosen.metrics["nDCG@10"]),
    ndcg10_bm25: round(bm25.metrics["nDCG@10"]), ratio: round(chosen.metrics["nDCG@10"] / bm25.metrics["nDCG@10"]),
    beats_bm25: chosen.metrics["nDCG@10"] > bm25.metrics["nDCG@10"], target_ndcg10: collection === "cranfield" ? 0.37 : null,
    target_met: collection === "cranfield" ? chosen.metrics["nDCG@10"] >= 0.37 : chosen.metrics["nDCG@10"] > bm25.metrics["nDCG@10"],
    eval_wall_s: Math.round(wallS * 10) / 10, ingest_s: ingestS === null ? null : Math.round(ingestS * 10) / 10,
  }));
}
