// The eval pipeline end to end on the Cranfield set, over an index that ingest builds from the bundled
// corpus with the tiny test BERT (fast; USE-lite's figures are bench/eval.bench.ts's job): retrieval,
// trec_eval metrics, judges fanned out with ctx.map, the stored tables, the gate and its baseline, CI's
// `cellar cell` exit codes, and the bad inputs.
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EVAL_PARAMS, type EvalOutput, runEvalSuite } from "../cells/eval.ts";
import { evaluate } from "../cells/eval/metrics.ts";
import { openRetriever, parseRetrieval } from "../cells/index/retrieval.ts";
import { parseQrels, parseRun } from "../cells/eval/trec.ts";
import { loadPipeline } from "../kernel/loader.ts";
import { openCellar, type ParamValue, pipeline, type RunFailure } from "../kernel/mod.ts";
import { Store } from "../kernel/store/store.ts";
import { evalHistory } from "../server/eval-history.ts";
import { startOpenAiServer } from "./fixtures/openai-server.ts";
import { writeTinyBert } from "./fixtures/tiny-bert.ts";
import { writeTinyReranker } from "./fixtures/tiny-reranker.ts";
import { cli, computesClosedAfterAll, ROOT, tempDir } from "./helpers.ts";

const CRANFIELD = join(ROOT, "pipelines/data/cranfield");
const QRELS = parseQrels(readFileSync(join(CRANFIELD, "qrels.trec"), "utf8"), "qrels.trec");
const { cpuOnly } = computesClosedAfterAll();

let dir: string;
let db: string;
let store: Store;
let tinyBert: string;

beforeAll(async () => {
  dir = tempDir("cellar-eval-");
  tinyBert = writeTinyBert(join(dir, "tiny-bert"), { dtypes: ["fp32"] });
  db = join(dir, "cellar.duckdb");
  store = await Store.open(db);
  const { pipeline: ingest } = await loadPipeline("ingest");
  const result = await openCellar({ db: store, compute: cpuOnly }).run(ingest, { params: { model: "transformers", modelPath: tinyBert }, new: true });
  expect(result.state).toBe("success");
}, 120_000);

afterAll(async () => {
  await store?.close();
});

interface EvalRun {
  state: string;
  error: string | null;
  output: EvalOutput | undefined;
  runId: number;
}

/** Runs an eval pipeline (the shipped cell under `id`) with `params` over the defaults. */
async function runEval(params: Record<string, ParamValue> = {}, options: { id?: string; alert?: (f: RunFailure) => void } = {}): Promise<EvalRun> {
  const p = pipeline({ id: options.id ?? "eval", params: { ...EVAL_PARAMS, allowMissingIds: true }, alert: options.alert })
    .cell("run_eval_suite", { cache: false, gpu: 0.25 }, runEvalSuite);
  const cellar = openCellar({ db: store, compute: cpuOnly });
  const result = await cellar.run(p, { params, new: true });
  const detail = await cellar.show(result.runId);
  return {
    state: result.state,
    error: detail.cells[0]?.error ?? null,
    output: result.outputs.get("run_eval_suite") as EvalOutput | undefined,
    runId: result.runId,
  };
}

const num = (value: unknown) => Number(value);

describe("run_eval_suite", () => {
  let first: EvalRun;
  let runFile: string;

  beforeAll(async () => {
    runFile = join(dir, "tiny-bert.run");
    first = await runEval({ baseline: "none", runFile, judgeTop: 3 });
  }, 120_000);

  it("retrieves k = 100 for every judged question with the index's model and scores them as trec_eval does", async () => {
    expect(first.error).toBeNull();
    const out = first.output!;
    expect(out.evalSet).toMatchObject({ name: "cranfield", queries: 225, judgments: 1837, missingDocuments: ["995"] });
    expect(out.index).toMatchObject({ pipeline: "ingest", model: "transformers:tiny-bert:fp32", documents: 1398 });
    expect(out.k).toBe(100);

    // The TREC run file holds the ranking; trec_eval's conventions applied to it give the cell's numbers.
    const run = parseRun(readFileSync(runFile, "utf8"), runFile);
    expect(run.size).toBe(225);
    expect([...run.values()].every((hits) => hits.length === 100)).toBe(true);
    const again = evaluate(QRELS, run, { k: [10, 100] });
    for (const [metric, value] of Object.entries(again.mean)) expect(out.metrics[metric]).toBeCloseTo(value, 12);
    expect(Object.keys(out.metrics).sort()).toEqual(["MAP", "MRR", "P@10", "P@100", "judge", "nDCG@10", "recall@10", "recall@100"]);
    for (const value of Object.values(out.metrics)) expect(value).toBeGreaterThanOrEqual(0), expect(value).toBeLessThanOrEqual(1);
    expect(out.metrics["recall@100"]).toBeGreaterThanOrEqual(out.metrics["recall@10"]);

    const perQuery = await store.query(`SELECT * FROM ${out.tables.queryMetrics.sql} ORDER BY qid`);
    expect(perQuery).toHaveLength(225);
    const mean = (column: string) => perQuery.reduce((sum, row) => sum + num(row[column]), 0) / perQuery.length;
    expect(mean("nDCG@10")).toBeCloseTo(out.metrics["nDCG@10"], 12);
    expect(mean("judge")).toBeCloseTo(out.metrics.judge, 12);
    const [retrieved] = await store.query(`SELECT count(*)::INT AS n, count(DISTINCT qid)::INT AS q FROM ${out.tables.retrieved.sql}`);
    expect(retrieved).toEqual({ n: 22_500, q: 225 });
  });

  it("stores a judge score per (run, question, context), with the human grade beside it and the agreement", async () => {
    const out = first.output!;
    expect(out.judge).toMatchObject({ id: "embedding:transformers:tiny-bert:fp32", pairs: 675, failed: 0 });
    const rows = await store.query(`SELECT * FROM ${out.tables.judgements.sql} ORDER BY qid, rank`);
    expect(rows).toHaveLength(675);
    for (const row of rows) {
      expect(num(row.score)).toBeGreaterThanOrEqual(0);
      expect(num(row.score)).toBeLessThanOrEqual(1);
      expect(row.gain ?? null).toBe(QRELS.get(String(row.qid))?.get(String(row.document)) ?? null);
    }
    // Same question and context, same score: the judge is deterministic.
    const scores = new Map<string, number>();
    for (const row of rows) {
      const key = `${row.qid}/${row.chunk_id}`;
      if (scores.has(key)) expect(num(row.score)).toBe(scores.get(key));
      scores.set(key, num(row.score));
    }
    expect(out.judge.auc).toBeGreaterThan(0);
    expect(out.judge.auc).toBeLessThan(1);
  });

  it("gates against a pinned baseline: the same numbers pass, a drop beyond the threshold fails the run and alerts", async () => {
    const same = join(dir, "baseline.json");
    writeFileSync(same, JSON.stringify(first.output));
    const pass = await runEval({ baseline: same, judgeTop: 1 }, {});
    expect(pass.error).toBeNull();
    expect(pass.output!.verdict.pass).toBe(true);
    expect(pass.output!.verdict.rows.find((r) => r.metric === "nDCG@10")).toMatchObject({ delta: 0, result: "pass" });
    // The baseline judged 3 contexts a question, this run 1: judge means do not compare, the retrieval rows do.
    const judgeRow = pass.output!.verdict.rows.find((r) => r.metric === "judge")!;
    expect([judgeRow.result, judgeRow.baseline]).toEqual(["new", undefined]);
    const warned = await store.query(`SELECT message FROM logs WHERE run_id = ? AND level = 'warn' AND message LIKE 'baseline%'`, [pass.runId]);
    expect(String(warned[0]?.message)).toMatch(/was judged by embedding:transformers:tiny-bert:fp32 \(top 3\), this run by .* \(top 1\): the judge row is not compared$/);

    const better = join(dir, "better.json");
    const metrics = { ...first.output!.metrics, "nDCG@10": first.output!.metrics["nDCG@10"] + 0.05 };
    // One question did much better in this baseline: the verdict names it.
    const [qid, was] = Object.entries(first.output!.perQuery).find(([, m]) => m["nDCG@10"] < 0.5)!;
    const perQuery = { ...first.output!.perQuery, [qid]: { ...was, "nDCG@10": 0.9 } };
    writeFileSync(better, JSON.stringify({ ...first.output, metrics, perQuery }));
    const alerts: RunFailure[] = [];
    const fail = await runEval({ baseline: better, judgeTop: 1 }, { alert: (f) => void alerts.push(f) });
    expect(fail.state).toBe("failed");
    expect(fail.error).toMatch(/^CheckFailed: eval regressed against .*better\.json: nDCG@10 \d\.\d{4} \(-0\.0500, allowed −0\.02\)$/);
    expect(alerts).toHaveLength(1);
    expect(alerts[0].failedCells[0]).toMatchObject({ cell: "run_eval_suite", tries: 1 });
    // The verdict table is in the run's log.
    const logs = await store.query(`SELECT message FROM logs WHERE run_id = ? AND message LIKE 'verdict%'`, [fail.runId]);
    expect(String(logs[0].message)).toMatch(/nDCG@10\s*│\s*\d\.\d{4}\s*│\s*\d\.\d{4}\s*│\s*-0\.0500\s*│\s*0\.0200\s*│\s*FAIL/);
    expect(String(logs[0].message)).toContain(`nDCG@10 fell most on question ${qid} (0.9000 → ${was["nDCG@10"].toFixed(4)})`);

    // The failed gate kept no checkpoint; the eval history (the server's Eval page) has its result all the same.
    const history = await evalHistory(openCellar({ db: store }), { pipeline: "eval", limit: 2 });
    expect(history.map((r) => [r.runId, r.state, r.verdict.pass])).toEqual([[fail.runId, "failed", false], [pass.runId, "success", true]]);
    expect(history[0].metrics["nDCG@10"]).toBeCloseTo(pass.output!.metrics["nDCG@10"], 12);
    expect(history[0].verdict.rows.find((r) => r.metric === "nDCG@10")).toMatchObject({ result: "FAIL", allowedDrop: 0.02, baseline: metrics["nDCG@10"] });
    expect(history[0].verdict.drops["nDCG@10"][0]).toEqual({ qid, baseline: 0.9, now: was["nDCG@10"] });
  }, 120_000);

  it("compares with the last successful scheduled run when no file is pinned", async () => {
    const none = await runEval({ judgeTop: 1 }, { id: "eval-scheduled" });
    expect(none.output!.verdict).toMatchObject({ baseline: null, pass: true });
    // Make that run the scheduled one, as the scheduler would have.
    await store.query(`UPDATE runs SET kind = 'scheduled' WHERE run_id = ?`, [none.runId]);
    const next = await runEval({ judgeTop: 1 }, { id: "eval-scheduled" });
    expect(next.output!.verdict).toMatchObject({ baseline: `eval-scheduled run ${none.runId}`, pass: true });
  }, 120_000);
});

describe("retrieval modes and the comparison", () => {
  const MODES = ["dense", "lexical", "lexical+rm3", "hybrid", "hybrid+rm3", "hybrid:rrf", "hybrid:weighted:alpha=0.3", "hybrid+rm3:rrf:rrfK=20"];
  const QUERIES = readFileSync(join(CRANFIELD, "queries.jsonl"), "utf8").trim().split("\n").map((line) => JSON.parse(line) as { id: string; text: string });

  it("every mode retrieves k distinct documents per question on the bundled set, lexical ones at BM25's level", async () => {
    const ctx = { pipeline: "ingest", sql: store.query.bind(store) };
    const chunks = new Set((await store.query(`SELECT chunk_id FROM ingest.index`)).map((r) => String(r.chunk_id)));
    const ndcg: Record<string, number> = {};
    for (const mode of MODES) {
      const retriever = await openRetriever(ctx, parseRetrieval(mode));
      const lists = await retriever.search(QUERIES.map((q) => q.text), 10);
      expect(lists).toHaveLength(QUERIES.length);
      for (const hits of lists) {
        expect(hits.map((h) => h.rank), mode).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        expect(new Set(hits.map((h) => h.document)).size).toBe(10);
        for (let i = 1; i < hits.length; i++) expect(hits[i].score).toBeLessThanOrEqual(hits[i - 1].score);
        // Each hit names a chunk of its own document that the index holds: what the judge reads.
        for (const h of hits) expect(chunks.has(h.chunk) && h.chunk.startsWith(`${h.document}#`), `${mode}: ${h.chunk}`).toBe(true);
      }
      const run = new Map(QUERIES.map((q, i) => [q.id, lists[i].map((h) => ({ docid: h.document.slice(h.document.lastIndexOf("#") + 1), score: h.score }))]));
      ndcg[mode] = evaluate(QRELS, run, { k: [10] }).mean["nDCG@10"];
    }
    // The bundled BM25 run scores 0.3226 over all 1,400 records; ingest indexes the 1,398 with text. The tiny BERT is no
    // retriever: dense stays low, and fusing it with BM25 at a low dense weight costs little.
    expect(ndcg.lexical).toBeGreaterThan(0.3);
    expect(ndcg["lexical+rm3"]).toBeGreaterThan(ndcg.lexical);
    expect(ndcg.dense).toBeLessThan(ndcg.lexical);
    for (const mode of MODES.filter((m) => m.startsWith("hybrid"))) expect(ndcg[mode], mode).toBeGreaterThan(ndcg.dense);
  }, 60_000);

  it("run_eval_suite compares configurations in one run, cross-validates a grid, judges and gates the marked one", async () => {
    const compared = await runEval({ baseline: "none", judgeTop: 1, retrieval: "dense,*lexical,hybrid:weighted:alpha=0|0.5|1", cvFolds: 3 });
    expect(compared.error).toBeNull();
    const out = compared.output!;
    expect(out.retrieval).toEqual({ spec: "lexical", resolved: "lexical" });
    const rows = out.comparison.rows;
    expect(rows.map((r) => [r.spec, r.primary, r.points])).toEqual([["dense", false, 1], ["lexical", true, 1], ["hybrid:weighted:alpha=0|0.5|1", false, 3]]);
    // The gated means are the marked configuration's.
    expect(out.metrics["nDCG@10"]).toBeCloseTo(rows[1].metrics["nDCG@10"], 12);
    expect(out.metrics.MAP).toBeCloseTo(rows[1].metrics.MAP, 12);
    for (const row of rows) expect(row.msPerQuery).toBeGreaterThan(0);
    // Three folds over the 225 questions, each with a point of the grid chosen on the other two.
    const folds = rows[2].cv!;
    expect(folds.map((f) => f.fold)).toEqual([0, 1, 2]);
    expect(folds.reduce((n, f) => n + f.questions, 0)).toBe(225);
    for (const f of folds) expect(["hybrid:weighted:alpha=0", "hybrid:weighted:alpha=0.5", "hybrid:weighted:alpha=1"]).toContain(f.chosen);
    expect(folds.map((f) => f.chosen)).toContain(rows[2].resolved);
    const table = await store.query(`SELECT * FROM ${out.tables.comparison.sql} ORDER BY retrieval`);
    expect(table.map((r) => [r.retrieval, r.is_primary])).toEqual([["dense", false], ["hybrid:weighted:alpha=0|0.5|1", false], ["lexical", true]]);
    expect(JSON.parse(String(table[1].cv_folds))).toEqual(folds);
    const [logged] = await store.query(`SELECT message FROM logs WHERE run_id = ? AND message LIKE 'retrieval compared%'`, [compared.runId]);
    expect(String(logged.message)).toMatch(/retrieval\s*│\s*nDCG@10\s*│\s*recall@10\s*│\s*MRR\s*│\s*MAP\s*│\s*ms\/query/);
    expect(String(logged.message)).toMatch(/\* lexical\s*│\s*\d\.\d{4}/);
    expect(String(logged.message)).toContain("fold 3 (");
    // A bad list fails before anything is retrieved.
    const bad = await runEval({ baseline: "none", retrieval: "dense,bm25" });
    expect(bad.error).toMatch(/retrieval "bm25": unknown mode "bm25"/);
  }, 120_000);
});

describe("judges in the pipeline", () => {
  it("cross-encoder: a local reranker's sigmoid scores", async () => {
    const reranker = writeTinyReranker(join(dir, "tiny-reranker"));
    const out = (await runEval({ baseline: "none", judge: "cross-encoder", judgeModelPath: reranker, judgeTop: 1 })).output!;
    expect(out.judge).toMatchObject({ id: "cross-encoder:tiny-reranker:fp32", pairs: 225, failed: 0 });
    const rows = await store.query(`SELECT DISTINCT score FROM ${out.tables.judgements.sql}`);
    expect(rows.length).toBeGreaterThan(100);
  }, 60_000);

  it("llm: scores from an OpenAI-compatible endpoint, its token costs recorded, per-pair failures kept", async () => {
    let calls = 0;
    const server = await startOpenAiServer((request) => {
      calls++;
      return String(request.body.messages?.at(-1)?.content).includes("lift") && calls % 2 === 0 ? { content: "not json" } : undefined;
    });
    try {
      const run = await runEval({ baseline: "none", judge: "llm", judgeModel: "judge-1", judgeBaseUrl: server.url, judgeTop: 1 });
      const out = run.output!;
      expect(out.judge).toMatchObject({ id: "llm:judge-1", pairs: 225 });
      const [costs] = await store.query(
        `SELECT sum(amount) FILTER (WHERE resource = 'llm_prompt_tokens')::INT AS prompt,
                sum(amount) FILTER (WHERE resource = 'llm_completion_tokens')::INT AS completion
         FROM costs WHERE run_id = ?`,
        [run.runId],
      );
      const usage = server.requests.reduce((sum, r) => sum + (r.usage?.prompt_tokens ?? 0), 0);
      expect(costs.prompt).toBe(usage);
      expect(costs.completion).toBeGreaterThan(0);
      const failed = await store.query(`SELECT error FROM ${out.tables.judgements.sql} WHERE score IS NULL`);
      expect(failed.length).toBe(out.judge.failed);
      for (const row of failed) expect(String(row.error)).toMatch(/non-JSON twice/);
    } finally {
      await server.close();
    }
  }, 60_000);
});

describe("bad input", () => {
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it.each([
    ["a malformed qrels line", { qrels: "BAD_QRELS" }, /bad\.qrels line 2: expected/],
    ["judgments for questions the queries file lacks", { queries: "FEW_QUERIES" }, /judgments for 224 question id\(s\) that .*few\.jsonl does not have \(e\.g\. 2, 3, 4, 5, 6, …\)/],
    ["an empty eval set", { queries: "EMPTY" }, /empty\.jsonl: no questions/],
    ["documents missing from the corpus, not allowed", { allowMissingIds: false }, /judges 1 document\(s\) missing from the corpus of 1398 \(995\); .*allowMissingIds=true/],
    ["a baseline from another metric set", { baseline: "OTHER_BASELINE" }, /baseline .*other\.json: another metric set \(recall@5, MRR\); this run gates on/],
    ["a threshold for a metric not measured", { thresholds: { "nDCG@20": 0.01 } }, /^param thresholds: expected metrics this eval measures \(recall@10, P@10, recall@100, P@100, MRR, nDCG@10, MAP, judge\), got "nDCG@20"$/],
    ["an unknown judge", { judge: "oracle" }, /^param judge: expected "embedding", "cross-encoder" or "llm", got "oracle"$/],
    ["an LLM endpoint that refuses the key", { judge: "llm", judgeModel: "m", judgeBaseUrl: "UNAUTHORIZED" }, /401 Unauthorized/],
  ] as Array<[string, Record<string, ParamValue>, RegExp]>)("%s: a one-line error, the run failed, no tables kept", async (_, overrides, message) => {
    const qrels = readFileSync(join(CRANFIELD, "qrels.trec"), "utf8");
    const server = overrides.judgeBaseUrl === "UNAUTHORIZED" ? await startOpenAiServer(() => ({ status: 401 })) : undefined;
    const fingerprint = cranfieldFingerprint();
    const substitutes: Record<string, string> = {
      BAD_QRELS: file("bad.qrels", qrels.split("\n").map((line, i) => (i === 1 ? "1 Q0 184" : line)).join("\n")),
      FEW_QUERIES: file("few.jsonl", `{"id": "1", "text": "what similarity laws must be obeyed"}\n`),
      EMPTY: file("empty.jsonl", "\n\n"),
      OTHER_BASELINE: file("other.json", JSON.stringify({ evalSet: { name: "cranfield", fingerprint }, metrics: { "recall@5": 0.3, MRR: 0.4 } })),
      UNAUTHORIZED: server?.url ?? "",
    };
    const params = Object.fromEntries(Object.entries(overrides).map(([k, v]) => [k, typeof v === "string" ? substitutes[v] ?? v : v]));
    try {
      const run = await runEval({ baseline: "none", judgeTop: 1, ...params });
      expect(run.state).toBe("failed");
      expect(run.error).toMatch(message);
      expect(run.error).not.toContain("\n");
      const tables = await store.query(`SELECT count(*)::INT AS n FROM outputs WHERE run_id = ?`, [run.runId]);
      expect(tables[0].n).toBe(0);
    } finally {
      await server?.close();
    }
  }, 60_000);
});

describe("a bad baseline", () => {
  it("fails the eval before anything is retrieved or judged (an LLM judge is not paid for)", async () => {
    const server = await startOpenAiServer();
    try {
      const other = join(dir, "other-set.json");
      writeFileSync(other, JSON.stringify({ evalSet: { name: "msmarco", fingerprint: "f".repeat(64) }, metrics: { MRR: 0.3 } }));
      const run = await runEval({ baseline: other, judge: "llm", judgeModel: "m", judgeBaseUrl: server.url, judgeTop: 1 });
      expect(run.error).toMatch(/^baseline .*other-set\.json: measured on eval set "msmarco" \(ffffffffffff\), but this run uses "cranfield"/);
      expect(server.requests).toHaveLength(0);
    } finally {
      await server.close();
    }
  }, 60_000);
});

/** The Cranfield set's fingerprint, as the cell computes it. */
function cranfieldFingerprint(): string {
  const text = (name: string) => readFileSync(join(CRANFIELD, name), "utf8");
  return createHash("sha256").update(`${text("queries.jsonl")}\u0000${text("qrels.trec")}`).digest("hex");
}

describe("cellar cell eval run_eval_suite (what CI runs)", () => {
  it("exits 0 on pass and prints the verdict, 1 on a regression (cellar run eval alerts), 2 on an error", async () => {
    const baseline = join(dir, "ci-baseline.json");
    const pinned = (await runEval({ baseline: "none", judgeTop: 1 })).output!;
    writeFileSync(baseline, JSON.stringify(pinned));
    // One process holds a store: hand it to the CLI's processes, and take it back after.
    await store.close();
    try {
      const env = { CELLAR_DEVICES: "cpu" };
      const common = ["--db", db, "cell", "eval", "run_eval_suite", "--param", "judgeTop=1"];

      const pass = await cli([...common, "--param", `baseline=${baseline}`], { env });
      expect(pass.code, pass.stderr).toBe(0);
      expect(pass.stderr).toMatch(/pass against .*ci-baseline\.json/);
      expect(JSON.parse(pass.stdout).verdict.pass).toBe(true);

      const raised = join(dir, "ci-raised.json");
      writeFileSync(raised, JSON.stringify({ ...pinned, metrics: { ...pinned.metrics, MRR: pinned.metrics.MRR + 0.1 } }));
      const regressed = await cli([...common, "--param", `baseline=${raised}`], { env });
      expect(regressed.code, regressed.stderr).toBe(1);
      expect(regressed.stderr).toMatch(/REGRESSION against .*ci-raised\.json: MRR/);
      expect(regressed.stderr).toMatch(/MRR\s*│\s*\d\.\d{4}\s*│\s*\d\.\d{4}\s*│\s*-0\.1000\s*│\s*0\.0200\s*│\s*FAIL/);

      // The scheduled DAG's way: `cellar run eval` fails on the regression and POSTs the alert webhook.
      const alerts: unknown[] = [];
      const webhook = createServer((request, response) => {
        let body = "";
        request.on("data", (chunk) => (body += chunk)).on("end", () => {
          alerts.push(JSON.parse(body));
          response.end("ok");
        });
      });
      await new Promise<void>((ready) => webhook.listen(0, "127.0.0.1", ready));
      try {
        const url = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/hook`;
        const run = await cli(["--db", db, "run", "eval", "--param", "judgeTop=1", "--param", `baseline=${raised}`], { env: { ...env, CELLAR_ALERT_WEBHOOK: url } });
        expect(run.code, run.stderr).toBe(1);
        expect(alerts).toEqual([expect.objectContaining({
          event: "run_failed",
          pipeline: "eval",
          failedCells: [expect.objectContaining({ cell: "run_eval_suite", tries: 1, error: expect.stringMatching(/^CheckFailed: eval regressed against .*: MRR/) })],
        })]);
      } finally {
        webhook.close();
      }

      const broken = await cli([...common, "--param", `qrels=${join(dir, "nowhere.trec")}`], { env });
      expect(broken.code, broken.stderr).toBe(2);
      expect(broken.stderr).toMatch(/qrels file .*nowhere\.trec: not found/);
    } finally {
      store = await Store.open(db);
    }
  }, 240_000);
});
