// The whole eval pipeline on the bundled Cranfield set, with the index ingest builds from the
// bundled corpus (USE-lite). Prints one JSON object: wall time, the means, and the BM25 reference.
//
//   XDG_RUNTIME_DIR=/tmp/xdg npx tsx bench/eval.bench.ts [--db path]      # ~4 min with a fresh ingest
//   XDG_RUNTIME_DIR=/tmp/xdg node_modules/deno/deno run -A bench/eval.bench.ts --db path
//
// --db reuses a store that already holds an ingest run (the ingest is skipped); without it a
// temporary store is filled first, which takes about 3.5 minutes (USE-lite embeds ~12 abstracts/s).
import { main } from "../kernel/cli.ts";
import { runtime } from "../kernel/runtime/mod.ts";
import { Store } from "../kernel/store/store.ts";

/** What NIST trec_eval prints for the bundled BM25 run (pipelines/data/cranfield/bm25.trec_eval.txt). */
const BM25 = { "recall@10": 0.3608, MRR: 0.4845, "nDCG@10": 0.3226, MAP: 0.2533, "P@10": 0.2120 };

const args = runtime.args();
const at = args.indexOf("--db");
const db = at >= 0 ? args[at + 1] : runtime.resolve(await tempDir(), "eval-bench.duckdb");

async function tempDir(): Promise<string> {
  const dir = runtime.resolve(runtime.env("TMPDIR") ?? "/tmp", `cellar-eval-bench-${runtime.pid()}`);
  await runtime.mkdir(dir);
  return dir;
}

async function query(sql: string): Promise<Record<string, unknown>[]> {
  const store = await Store.open(db);
  try {
    return await store.query(sql);
  } finally {
    await store.close();
  }
}

const indexed = (await runtime.exists(db)) &&
  (await query(`SELECT count(*)::INT AS n FROM outputs WHERE cell = 'build_index'`))[0].n as number > 0;
let ingestS: number | null = null;
if (!indexed) {
  const started = performance.now();
  const code = await main(["--db", db, "run", "ingest"]);
  if (code !== 0) throw new Error(`ingest exited ${code}`);
  ingestS = (performance.now() - started) / 1000;
}

const started = performance.now();
const code = await main(["--db", db, "run", "eval", "--param", "baseline=none"]);
const wallS = (performance.now() - started) / 1000;
if (code !== 0) throw new Error(`eval exited ${code}`);
const [row] = await query(
  `SELECT o.output FROM outputs o JOIN runs r USING (run_id) WHERE r.pipeline = 'eval' ORDER BY r.run_id DESC LIMIT 1`,
);
const output = JSON.parse(String(row.output));
const round = (x: number) => Math.round(x * 10_000) / 10_000;
const metrics = Object.fromEntries(Object.entries(output.metrics as Record<string, number>).map(([k, v]) => [k, round(v)]));
const gap = Object.fromEntries(Object.entries(BM25).map(([k, v]) => [k, round(metrics[k] - v)]));

console.log(JSON.stringify({
  bench: "eval_pipeline",
  runtime: runtime.name,
  evalSet: output.evalSet.name,
  queries: output.evalSet.queries,
  model: output.index.model,
  judge: output.judge.id,
  judgePairs: output.judge.pairs,
  judgeAuc: output.judge.auc === null ? null : round(output.judge.auc),
  judgeAucJudgedOnly: output.judge.aucJudged === null ? null : round(output.judge.aucJudged),
  wall_s: Math.round(wallS * 10) / 10,
  ingest_s: ingestS === null ? null : Math.round(ingestS * 10) / 10,
  metrics,
  bm25: BM25,
  minus_bm25: gap,
}));
