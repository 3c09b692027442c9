// The eval under Deno: trec_eval's numbers for the bundled BM25 run, and `cellar cell eval
// run_eval_suite` with CI's exit codes over a small ingested corpus.
import assert from "node:assert/strict";
import { evaluate, formatMeasure } from "../../cells/eval/metrics.ts";
import { parseQrels, parseRun } from "../../cells/eval/trec.ts";
import { cellar, ROOT } from "./cellar.ts";

const CRANFIELD = `${ROOT}pipelines/data/cranfield`;

Deno.test("metrics equal trec_eval's means for the bundled BM25 run", async () => {
  const qrels = parseQrels(await Deno.readTextFile(`${CRANFIELD}/qrels.trec`), "qrels.trec");
  const run = parseRun(await Deno.readTextFile(`${CRANFIELD}/bm25.run`), "bm25.run");
  const { mean } = evaluate(qrels, run, { k: [10] });
  const printed = new Map<string, string>();
  for (const line of (await Deno.readTextFile(`${CRANFIELD}/bm25.trec_eval.txt`)).trim().split("\n")) {
    const [measure, qid, value] = line.trim().split(/\s+/);
    if (qid === "all") printed.set(measure, value);
  }
  const names: Record<string, string> = { "recall@10": "recall_10", MRR: "recip_rank", "nDCG@10": "ndcg_cut_10", MAP: "map", "P@10": "P_10" };
  for (const [ours, theirs] of Object.entries(names)) assert.equal(formatMeasure(mean[ours]), printed.get(theirs), ours);
});

Deno.test("cellar cell eval run_eval_suite exits 0 on pass and 1 on a regression under Deno", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cellar-deno-eval-" });
  const docs = (await Deno.readTextFile(`${CRANFIELD}/docs.jsonl`)).trim().split("\n").slice(0, 60);
  const seeds = `${dir}/docs.jsonl`;
  await Deno.writeTextFile(seeds, docs.join("\n") + "\n");
  // A sub-collection: the judgments of these 60 documents, and the questions with a relevant one among them.
  const judged = (await Deno.readTextFile(`${CRANFIELD}/qrels.trec`)).trim().split("\n").map((l) => l.split(/\s+/));
  const inside = judged.filter(([, , doc]) => Number(doc) <= 60);
  const qids = new Set(inside.filter(([, , , gain]) => Number(gain) > 0).map(([qid]) => qid));
  const kept = inside.filter(([qid]) => qids.has(qid));
  assert.ok(qids.size >= 5, `only ${qids.size} questions judge the first 60 documents relevant`);
  await Deno.writeTextFile(`${dir}/qrels.trec`, kept.map((f) => f.join(" ")).join("\n") + "\n");
  const questions = (await Deno.readTextFile(`${CRANFIELD}/queries.jsonl`)).trim().split("\n").filter((l) => qids.has(JSON.parse(l).id));
  await Deno.writeTextFile(`${dir}/queries.jsonl`, questions.join("\n") + "\n");

  const db = `${dir}/db.duckdb`;
  const ingest = await cellar(["--db", db, "run", "ingest", "--param", `seeds=${seeds}`]);
  assert.equal(ingest.code, 0, ingest.stderr);
  const cell = ["--db", db, "cell", "eval", "run_eval_suite", "--param", `queries=${dir}/queries.jsonl`, "--param", `qrels=${dir}/qrels.trec`, "--param", "k=20"];
  const first = await cellar([...cell, "--param", "baseline=none"]);
  assert.equal(first.code, 0, first.stderr);
  const output = JSON.parse(first.stdout);
  assert.equal(output.evalSet.queries, qids.size);
  assert.ok(output.metrics["recall@20"] > 0, "retrieval finds the judged documents among 60");

  await Deno.writeTextFile(`${dir}/baseline.json`, first.stdout);
  const pass = await cellar([...cell, "--param", `baseline=${dir}/baseline.json`]);
  assert.equal(pass.code, 0, pass.stderr);
  const raised = { ...output, metrics: { ...output.metrics, MAP: output.metrics.MAP + 0.05 } };
  await Deno.writeTextFile(`${dir}/raised.json`, JSON.stringify(raised));
  const regressed = await cellar([...cell, "--param", `baseline=${dir}/raised.json`]);
  assert.equal(regressed.code, 1, regressed.stderr);
  assert.match(regressed.stderr, /REGRESSION against .*raised\.json: MAP/);
});
