// Retrieval metrics benchmark: parseRun + evaluate. Prints one JSON object per result.
//
//   npx tsx bench/metrics.bench.ts [--repeats 5]
//   node_modules/deno/deno run -A bench/metrics.bench.ts
//
// (a) a synthetic 100,000-line run (1,000 queries × 100 documents, seeded, with score ties) and
//     qrels of 30 judgments per query (20 retrieved, 10 not), written to a temporary directory:
//     target parseRun + evaluate ≤ 1 s;
// (b) the Cranfield BM25 run (22,500 lines), whose MAP must print as trec_eval's 0.2533.
//
// Each measurement is the median of --repeats runs after one cold run ("cold_total_ms").
// "total_ms" is parse_ms + evaluate_ms; reading the file ("read_ms") and parsing the qrels
// ("qrels_ms") are reported beside it, not in it.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { evaluate } from "../cells/eval/metrics.ts";
import { formatMeasure, formatRun, parseQrels, parseRun, type Run } from "../cells/eval/trec.ts";
import { runtime } from "../kernel/runtime/mod.ts";
import { rng } from "../test/random.ts";

const ROOT = runtime.resolve(runtime.dirname(runtime.fromFileUrl(import.meta.url)), "..");
const args = runtime.args();
const at = args.indexOf("--repeats");
const REPEATS = at >= 0 ? Number(args[at + 1]) : 5;

/** 1,000 queries × 100 documents; a tenth of the scores rounded to one decimal, so ties occur. */
function synthetic(): { run: string; qrels: string } {
  const random = rng(2026);
  const run: Run = new Map();
  const judgments: string[] = [];
  for (let q = 1; q <= 1000; q++) {
    const qid = `q${q}`;
    const entries = Array.from({ length: 100 }, (_, i) => {
      const score = random() * 30;
      return { docid: `D${Math.floor(random() * 1e6)}-${i}`, score: random() < 0.1 ? Math.round(score * 10) / 10 : score };
    });
    run.set(qid, entries);
    for (let j = 0; j < 20; j++) judgments.push(`${qid} 0 ${entries[Math.floor(random() * 5) * 20 + j].docid} ${Math.floor(random() * 5)}`);
    for (let j = 0; j < 10; j++) judgments.push(`${qid} 0 unretrieved-${j} ${1 + Math.floor(random() * 4)}`);
  }
  return { run: formatRun(run, "synthetic"), qrels: `${judgments.join("\n")}\n` };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function measure(name: string, runPath: string, qrelsPath: string, check?: (map: number) => void): Promise<void> {
  const times: Record<"read" | "qrels" | "parse" | "evaluate", number[]> = { read: [], qrels: [], parse: [], evaluate: [] };
  let lines = 0;
  let queries = 0;
  let map = 0;
  for (let i = 0; i <= REPEATS; i++) {
    let t = performance.now();
    const runText = await runtime.readTextFile(runPath);
    const qrelsText = await runtime.readTextFile(qrelsPath);
    times.read.push(performance.now() - t);
    t = performance.now();
    const qrels = parseQrels(qrelsText, qrelsPath);
    times.qrels.push(performance.now() - t);
    t = performance.now();
    const run = parseRun(runText, runPath);
    times.parse.push(performance.now() - t);
    t = performance.now();
    const result = evaluate(qrels, run);
    times.evaluate.push(performance.now() - t);
    lines = [...run.values()].reduce((n, entries) => n + entries.length, 0);
    queries = result.queries;
    map = result.mean.MAP;
  }
  check?.(map);
  const ms = (key: keyof typeof times) => Math.round(median(times[key].slice(1)) * 10) / 10;
  console.log(JSON.stringify({
    bench: name,
    runtime: runtime.name,
    lines,
    queries,
    read_ms: ms("read"),
    qrels_ms: ms("qrels"),
    parse_ms: ms("parse"),
    evaluate_ms: ms("evaluate"),
    total_ms: Math.round((ms("parse") + ms("evaluate")) * 10) / 10,
    cold_total_ms: Math.round(times.parse[0] + times.evaluate[0]),
    target_ms: 1000,
    repeats: REPEATS,
    map: formatMeasure(map),
  }));
}

const dir = mkdtempSync(join(tmpdir(), "cellar-metrics-bench-"));
const { run, qrels } = synthetic();
await runtime.writeTextFile(join(dir, "synthetic.run"), run);
await runtime.writeTextFile(join(dir, "synthetic.qrels"), qrels);
try {
  await measure("metrics", join(dir, "synthetic.run"), join(dir, "synthetic.qrels"));
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const cranfield = join(ROOT, "pipelines/data/cranfield");
await measure("metrics_cranfield", join(cranfield, "bm25.run"), join(cranfield, "qrels.trec"), (map) => {
  if (formatMeasure(map) !== "0.2533") throw new Error(`Cranfield BM25 MAP ${map}: trec_eval prints 0.2533`);
});
