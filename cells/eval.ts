/**
 * run_eval_suite: the daily regression eval, and the function CI calls.
 *
 * Loads the eval set, retrieves the top k documents for every question from
 * the newest index (embedded with the model that built it), scores them with
 * trec_eval's conventions, fans `judgeQuestions` over each question's top
 * contexts with `ctx.map`, aggregates, and gates the means against a baseline.
 * A regression throws `CheckFailed` with the means and the verdict as its
 * details (kept with the failed try): the run fails and alerts, and
 * `cellar cell eval run_eval_suite` exits 1.
 *
 * @example
 * ```ts
 * import { pipeline } from "../kernel/mod.ts";
 * import { EVAL_PARAMS, runEvalSuite } from "./eval.ts";
 *
 * pipeline({ id: "eval", schedule: "@daily", params: EVAL_PARAMS })
 *   .cell("run_eval_suite", { cache: false, gpu: 0.25 }, runEvalSuite);
 * ```
 */
import {
  accepts, CellarError, cellParams, CheckFailed, checkpointOf, type Context, errorLine, flag, latestCheckpoint, oneOf, paramError, runtime, type TableRef, text, wholeNumber, z,
} from "../kernel/mod.ts";
import { type IndexHandle, latestIndexPipeline } from "./index/search.ts";
import { DEFAULT_RETRIEVAL, openSources, type RetrievalSources } from "./index/retrieval.ts";
import {
  type CompareOptions, type Comparison, compareIndex, type ComparisonRow, compareRetrievals, formatComparison, type IndexLabel, parseRetrievalList, type Ranking,
  type RetrievalList,
} from "./eval/compare.ts";
import { rocAuc } from "./eval/agreement.ts";
import { type EvalSet, loadEvalSet } from "./eval/evalset.ts";
import { asBaseline, type Baseline, checkComparable, compare, formatVerdict, loadBaselineFile, type PerQuery, type Verdict } from "./eval/gate.ts";
import type { Judge, JudgePair } from "./eval/judge.ts";
import { JUDGES, loadJudge } from "./eval/judges/mod.ts";
import { type Evaluation, metricNames } from "./eval/metrics.ts";
import { formatRun } from "./eval/trec.ts";

/** thresholds: metric → the largest absolute drop allowed, at least one metric. */
const thresholds = accepts(
  'a JSON object of metric → allowed drop ≥ 0, naming at least one metric, e.g. {"nDCG@10":0.02}',
  z.record(z.string(), z.number().min(0)).refine((drops) => Object.keys(drops).length > 0),
);

/** run_eval_suite's params: the bundled Cranfield set, the embedding judge. A pipeline spreads EVAL_PARAMS. */
export const evalParams = cellParams({
  queries: text().default("pipelines/data/cranfield/queries.jsonl").describe('the questions, JSONL `{ "id", "text" }`'),
  qrels: text().default("pipelines/data/cranfield/qrels.trec").describe("the judgments, TREC `qid 0 docid gain`"),
  allowMissingIds: flag().default(false)
    .describe("keep judged documents missing from the corpus (they count against recall, and are reported) instead of stopping"),
  index: text().default("latest").describe("whose index to read: `latest` (the newest build_index of any pipeline) or a pipeline id"),
  k: wholeNumber(1).default(100).describe("documents retrieved per question, the cutoff of recall@k and P@k"),
  retrieval: text().default(`${DEFAULT_RETRIEVAL},lexical,dense`)
    .describe("retrieval specs to compare, comma-separated (cells/index/retrieval-spec.ts); the first, or the one marked `*`, is judged and gated; `key=cv` cross-validates"),
  cvFolds: wholeNumber(2).default(5).describe("folds of the cross-validation over the questions, for specs with a grid"),
  cvSeed: wholeNumber(0).default(13).describe("seed of the cross-validation's fold assignment"),
  judge: oneOf(JUDGES).default("embedding").describe("who scores each (question, context) pair"),
  judgeModelPath: text().default("").describe("`cross-encoder`: the reranker's model directory or hub id"),
  judgeDtype: oneOf(["fp32", "q8"]).default("fp32").describe("`cross-encoder`: the weights"),
  judgeModel: text().default("").describe("`llm`: the model name (else `CELLAR_LLM_MODEL`)"),
  judgeBaseUrl: text().default("").describe("`llm`: the endpoint (else `CELLAR_LLM_BASE_URL`)"),
  judgeConcurrency: wholeNumber(1).default(4).describe("`llm`: requests in flight"),
  judgeTop: wholeNumber(1).default(5).describe("contexts judged per question: its top retrieved documents"),
  baseline: text().default("last-scheduled").describe("`last-scheduled` (the last successful scheduled run), `none`, or a baseline file"),
  thresholds: thresholds.default({ "recall@10": 0.02, "recall@k": 0.02, "P@10": 0.01, MRR: 0.02, "nDCG@10": 0.02, MAP: 0.02, judge: 0.02 })
    .describe("the largest absolute drop allowed per metric; `@k` stands for the `k` param's cutoff"),
  runFile: text().default("").describe("also write the ranking as a TREC run file here"),
  compareIndexes: text().default("ingest,retrain").describe(
    "other pipelines whose indexes are compared beside the one read (dense and the default hybrid, labelled with model and revision), comma-separated, `none` for none; one without an index is left out",
  ),
});

export const EVAL_PARAMS = evalParams.defaults;

export interface EvalOutput {
  evalSet: { name: string; fingerprint: string; queries: number; judgments: number; missingDocuments: string[] };
  index: { pipeline: string; model: string; documents: number };
  /** The primary spec as given, and what was scored (a cross-validated spec: the point its folds chose most often). */
  retrieval: { spec: string; resolved: string };
  /** Every configuration's means and ms/query, with each cross-validated one's folds. */
  comparison: Comparison;
  k: number;
  /** `top`: contexts judged per question; `auc`: agreement with the grades, unjudged as non-relevant; `aucJudged`: over judged pairs. */
  judge: { id: string; top: number; pairs: number; failed: number; auc: number | null; aucJudged: number | null };
  /** Means over the questions: trec_eval's metrics, and "judge", the mean judge score. */
  metrics: Record<string, number>;
  /** The same per question: a later run names the questions a drop came from. */
  perQuery: PerQuery;
  verdict: Verdict;
  tables: { retrieved: TableRef; queryMetrics: TableRef; judgements: TableRef; comparison: TableRef };
}

/** One scored (question, context) pair, as stored. */
interface Scored {
  qid: string;
  rank: number;
  document: string;
  chunk: string;
  gain: number | null;
  score: number | null;
  error: string | null;
}

export async function runEvalSuite(ctx: Context): Promise<EvalOutput> {
  const p = evalParams.read(ctx.params);
  const k = p.k;
  const judgeTop = Math.min(k, p.judgeTop);
  const thresholds = Object.fromEntries(Object.entries(p.thresholds).map(([metric, drop]) => [metric.replace(/@k$/, `@${k}`), drop]));

  const list = parseRetrievalList(p.retrieval);
  const { indexPipeline, index, sources, evalIds, corpus, set } = await openEvalInputs(ctx, p);
  // Bad gate settings fail here, before retrieving and paying for judges.
  const measures = [...metricNames([10, k]), "judge"];
  const unknown = Object.keys(thresholds).filter((metric) => !measures.includes(metric));
  if (unknown.length > 0) throw paramError("thresholds", `metrics this eval measures (${measures.join(", ")})`, unknown.join(", "));
  const evalSet = { name: set.name, fingerprint: set.fingerprint };
  const pinned = await findBaseline(ctx, p.baseline, { evalSet, metrics: Object.keys(thresholds) });

  const { run, measured, comparison } = await retrieve(ctx, sources, set, list, { k, folds: p.cvFolds, seed: p.cvSeed, evalIds, index, others: p.compareIndexes });
  const primary = comparison.rows[list.primary];
  if (p.runFile) await runtime.writeTextFile(p.runFile, formatRun(run, `cellar-${primary.resolved}`));

  const { judge, scored, failed, agreement } = await judgeRetrieved(ctx, p, index, set, run, indexPipeline, judgeTop);
  const { metrics, perQuery } = withJudgeMeans(measured, scored);
  const verdict = compare(sameJudge(ctx, pinned, { id: judge.id, top: judgeTop }), metrics, thresholds, perQuery);
  ctx.log.info(`verdict\n${formatVerdict(verdict)}`);

  const tables = await store(ctx, run, perQuery, measures, scored, judge.id, comparison);
  const output: EvalOutput = {
    evalSet: { ...evalSet, queries: set.queries.length, judgments: countJudgments(set), missingDocuments: set.missing.documents },
    index: { pipeline: indexPipeline, model: index.model, documents: corpus.size },
    retrieval: { spec: primary.spec, resolved: primary.resolved },
    comparison,
    k,
    judge: { id: judge.id, top: judgeTop, pairs: scored.length, failed: failed.length, auc: agreement.all, aucJudged: agreement.judged },
    metrics,
    perQuery,
    verdict,
    tables,
  };
  if (!verdict.pass) {
    const worst = verdict.rows.filter((row) => row.result === "FAIL")
      .map((row) => `${row.metric} ${row.now.toFixed(4)} (${row.delta!.toFixed(4)}, allowed −${row.allowedDrop})`);
    // A failed gate leaves no checkpoint: its details are what the eval history and /metrics show of it.
    throw new CheckFailed(`eval regressed against ${verdict.baseline}: ${worst.join("; ")}`, { details: { metrics, verdict, comparison } });
  }
  return output;
}

type EvalParams = ReturnType<typeof evalParams.read>;

/** The index to retrieve from and the eval set, its documents known by the ids the qrels use; what is missing is warned about. */
async function openEvalInputs(ctx: Context, p: EvalParams) {
  const indexPipeline = p.index === "latest" ? await latestIndexPipeline(ctx.sql) : p.index;
  // One set of indexes for every configuration compared, each side's lists kept for the grids' points.
  const sources = openSources({ pipeline: indexPipeline, sql: ctx.sql, signal: ctx.signal }, { memo: true });
  const index = await sources.dense();
  const evalIds = evalIdsOf(index.documentIds);
  const corpus = new Set(evalIds.values());
  const set = await loadEvalSet({ queries: p.queries, qrels: p.qrels }, { corpus, allowMissing: p.allowMissingIds });
  if (set.missing.documents.length > 0) {
    ctx.log.warn(`${set.missing.documents.length} judged document(s) are not in the corpus (${set.missing.documents.slice(0, 5).join(", ")}); they count as not retrieved`);
  }
  if (set.missing.unjudged.length > 0) ctx.log.warn(`${set.missing.unjudged.length} question(s) have no judgments and are left out`);
  ctx.log.info(`${set.name}: ${set.queries.length} questions against ${indexPipeline}'s index (${index.model}, ${corpus.size} documents), k = ${p.k}`);
  return { indexPipeline, index, sources, evalIds, corpus, set };
}

/** Each question's top `judgeTop` contexts scored by the judge the params name, and how well it agrees with the grades. */
async function judgeRetrieved(ctx: Context, p: EvalParams, index: IndexHandle, set: EvalSet, run: Ranking, indexPipeline: string, judgeTop: number) {
  const toJudge = await contextsToJudge(ctx, set, run, indexPipeline, judgeTop);
  // The index already holds every context's embedding: the embedding judge need not compute them again.
  const known = new Map<string, Float32Array>();
  for (const [chunk, text] of toJudge.contexts) {
    const vector = index.vectorOf(chunk);
    if (vector) known.set(text, vector);
  }
  const judge = await loadJudge(
    {
      kind: p.judge, modelPath: p.judgeModelPath, dtype: p.judgeDtype, model: p.judgeModel, baseUrl: p.judgeBaseUrl, concurrency: p.judgeConcurrency,
      log: (line) => ctx.log.info(line),
    },
    { embedder: index.embedder, known },
  );
  const scored = await judgeQuestions(ctx, judge, toJudge);
  const agreement = judgeAgreement(scored);
  const failed = scored.filter((s) => s.score === null);
  if (failed.length > 0) ctx.log.warn(`${failed.length} of ${scored.length} pairs could not be judged; first: ${failed[0].error}`);
  if (failed.length === scored.length) throw new CellarError(`judge ${judge.id}: every one of ${scored.length} pairs failed; first: ${failed[0].error}`);
  const auc = (value: number | null) => (value === null ? "n/a (one class only)" : value.toFixed(3));
  ctx.log.info(
    `judge ${judge.id} against the human grades: ROC AUC ${auc(agreement.all)} with unjudged documents as non-relevant, ` +
      `${auc(agreement.judged)} over the judged pairs only`,
  );
  return { judge, scored, failed, agreement };
}

/** trec_eval's means and per-question values, with the judge's mean score beside them ("judge"). */
function withJudgeMeans(measured: Evaluation, scored: Scored[]): { metrics: Record<string, number>; perQuery: PerQuery } {
  const judgeMeans = meanJudgeScorePerQuery(scored);
  const metrics = { ...measured.mean, judge: mean([...judgeMeans.values()]) };
  const perQuery: PerQuery = Object.fromEntries(
    [...measured.perQuery].map(([qid, values]) => [qid, judgeMeans.has(qid) ? { ...values, judge: judgeMeans.get(qid)! } : values]),
  );
  return { metrics, perQuery };
}

/** Every configuration of the list scored and compared (logged as a table); the primary one's run and metrics. */
async function retrieve(
  ctx: Context,
  sources: RetrievalSources,
  set: EvalSet,
  list: RetrievalList,
  options: { k: number; folds: number; seed: number; evalIds: Map<string, string>; index: IndexHandle; others: string },
): Promise<{ run: Ranking; measured: Evaluation; comparison: Comparison }> {
  const idOf = (document: string) => options.evalIds.get(document) ?? evalIdOf(document);
  const compare: CompareOptions = { k: options.k, folds: options.folds, seed: options.seed, idOf, signal: ctx.signal };
  const { comparison, primaryRun, primaryEvaluation } = await compareRetrievals(sources, set, list, {
    ...compare, progress: (done, total) => ctx.progress(done, total),
  });
  const own = await indexLabelOf(ctx, options.index.pipeline, options.index.model);
  comparison.rows = [...comparison.rows.map((row) => ({ ...row, index: own })), ...await otherIndexRows(ctx, set, options.others, own.pipeline, compare)];
  ctx.log.info(`retrieval compared on ${set.name} (${set.queries.length} questions, k = ${options.k}; * is judged and gated)\n${formatComparison(comparison)}`);
  return { run: primaryRun, measured: primaryEvaluation, comparison };
}

/**
 * The rows of the other indexes `param` names (pipeline ids, comma-separated, or "none"): each one's dense
 * retrieval and the default hybrid on the same questions. A pipeline that has built no index is left out;
 * one whose index cannot be read (its model gone) is warned about and left out: it says nothing of this one.
 */
async function otherIndexRows(ctx: Context, set: EvalSet, param: string, primary: string, options: CompareOptions): Promise<ComparisonRow[]> {
  const names = param.trim() === "none" ? [] : param.split(",").map((name) => name.trim());
  const rows: ComparisonRow[] = [];
  for (const pipeline of new Set(names.filter((name) => name !== "" && name !== primary))) {
    if (!(await latestCheckpoint(ctx, { pipeline, cell: "build_index" }))) continue;
    try {
      const sources = openSources({ pipeline, sql: ctx.sql, signal: ctx.signal }, { memo: true });
      const index = await sources.dense();
      rows.push(...await compareIndex(sources, set, await indexLabelOf(ctx, pipeline, index.model), options));
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      ctx.log.warn(`the index of "${pipeline}" is not compared: ${errorLine(err)}`);
    }
  }
  return rows;
}

/**
 * An index's label: its pipeline, the model stored with its vectors, and the revision of a hub model — the
 * commit its id names (`transformers:org/name@<commit>:fp32`), else one its embed_docs output recorded.
 */
async function indexLabelOf(ctx: Context, pipeline: string, model: string): Promise<IndexLabel> {
  const named = /^transformers:[^:@]+\/[^:@]+@([^:]+):/.exec(model)?.[1];
  if (named) return { pipeline, model, revision: named };
  const built = await latestCheckpoint(ctx, { pipeline, cell: "build_index" });
  const embedded = built && await checkpointOf<{ revision?: unknown }>(ctx, built.runId, "embed_docs");
  const revision = embedded?.output?.revision;
  return { pipeline, model, revision: typeof revision === "string" && revision !== "" ? revision : null };
}

/**
 * The id the qrels know each document by: a JSONL dataset's own id (what
 * follows "#" in "<seed>#<id>"), else the document id itself (a URL or path).
 */
function evalIdsOf(documents: readonly string[]): Map<string, string> {
  const ids = new Map<string, string>();
  const seen = new Map<string, string>();
  for (const document of documents) {
    const id = evalIdOf(document);
    const other = seen.get(id);
    if (other !== undefined) throw new CellarError(`documents ${other} and ${document} both have eval id "${id}"; the qrels cannot tell them apart`);
    seen.set(id, document);
    ids.set(document, id);
  }
  return ids;
}

/** Each question's top `top` hits, with their chunks' texts: what the judge scores. */
async function contextsToJudge(ctx: Context, set: EvalSet, run: Ranking, indexPipeline: string, top: number) {
  const todo: Array<Omit<Scored, "score" | "error">> = [];
  for (const [qid, hits] of run) {
    hits.slice(0, top).forEach((hit, i) => {
      todo.push({ qid, rank: i + 1, document: hit.docid, chunk: hit.chunk, gain: set.qrels.get(qid)?.get(hit.docid) ?? null });
    });
  }
  const contexts = await chunkTexts(ctx, indexPipeline, [...new Set(todo.map((t) => t.chunk))]);
  const questions = new Map(set.queries.map((q) => [q.id, q.text]));
  const pairs: JudgePair[] = todo.map((t) => ({ question: questions.get(t.qid)!, context: contexts.get(t.chunk) ?? "" }));
  return { todo, pairs, contexts };
}

/** The judge's score for every (question, context) pair, fanned out under the cell's device claim. */
async function judgeQuestions(ctx: Context, judge: Judge, { todo, pairs }: Awaited<ReturnType<typeof contextsToJudge>>): Promise<Scored[]> {
  ctx.log.info(`judging ${pairs.length} (question, context) pairs with ${judge.id}`);
  const judged = await ctx.map(pairs, (batch, { signal }) =>
    judge.judge(batch, { signal, cost: (resource, amount) => ctx.cost.add(resource, amount), warn: (m) => ctx.log.warn(m) }), { batchSize: 32 });
  return todo.map((t, i) => ({ ...t, score: judged[i].score, error: judged[i].error ?? null }));
}

/** The text of each chunk, from the chunks table the index was built from (the embed_docs output of its run). */
async function chunkTexts(ctx: Context, indexPipeline: string, ids: string[]): Promise<Map<string, string>> {
  const built = await latestCheckpoint(ctx, { pipeline: indexPipeline, cell: "build_index" });
  const embedded = built && await checkpointOf<{ chunks?: TableRef }>(ctx, built.runId, "embed_docs");
  const source = { chunks: embedded?.output.chunks?.sql };
  if (!source.chunks) throw new CellarError(`pipeline "${indexPipeline}": no embed_docs output beside its index; its chunk texts cannot be judged`);
  const texts = new Map<string, string>();
  const BATCH = 1000;
  for (let i = 0; i < ids.length; i += BATCH) {
    const batch = ids.slice(i, i + BATCH);
    // One joined parameter: ctx.sql binds scalars, and a thousand placeholders would be slow.
    const rows = await ctx.sql(`SELECT chunk_id, text FROM ${source.chunks} WHERE chunk_id IN (SELECT unnest(string_split(?, '\n')))`, [batch.join("\n")]);
    for (const row of rows) texts.set(String(row.chunk_id), String(row.text));
  }
  return texts;
}

function evalIdOf(document: string): string {
  const hash = document.lastIndexOf("#");
  return hash >= 0 ? document.slice(hash + 1) : document;
}

/** ROC AUC of judge scores against the qrels: judged pairs only, and with unjudged documents taken as non-relevant (TREC's convention). */
function judgeAgreement(scored: Scored[]): { judged: number | null; all: number | null } {
  const ok = scored.filter((s) => s.score !== null);
  const judged = ok.filter((s) => s.gain !== null);
  const auc = (pairs: Scored[]) => rocAuc(pairs.map((s) => s.score!), pairs.map((s) => (s.gain ?? 0) > 0)).auc ?? null;
  return { judged: auc(judged), all: auc(ok) };
}

function meanJudgeScorePerQuery(scored: Scored[]): Map<string, number> {
  const byQuery = new Map<string, number[]>();
  for (const s of scored) {
    if (s.score === null) continue;
    const scores = byQuery.get(s.qid);
    if (scores) scores.push(s.score);
    else byQuery.set(s.qid, [s.score]);
  }
  return new Map([...byQuery].map(([qid, scores]) => [qid, mean(scores)]));
}

/** The baseline named by the param: a pinned file, the last successful scheduled run of this pipeline, or none. */
async function findBaseline(ctx: Context, param: string, expected: { evalSet: Baseline["evalSet"]; metrics: string[] }): Promise<Baseline | null> {
  if (param === "none") return null;
  if (param !== "last-scheduled") return await loadBaselineFile(param, expected);
  const last = await latestCheckpoint(ctx, {
    pipeline: ctx.pipeline, cell: ctx.cell, kind: "scheduled", succeeded: true, excludeRun: ctx.runId, order: "logicalDate",
  });
  if (!last) return null;
  const where = `${ctx.pipeline} run ${last.runId}`;
  const baseline = { ...asBaseline(last.output, where), source: where };
  checkComparable(baseline, expected);
  return baseline;
}

/** The baseline without its judge row when another judge, or another judgeTop, scored it: those means do not compare. */
function sameJudge(ctx: Context, baseline: Baseline | null, judge: { id: string; top: number }): Baseline | null {
  const then = baseline?.judge;
  if (!then || (then.id === judge.id && (then.top === undefined || then.top === judge.top))) return baseline;
  const describe = (j: { id: string; top?: number }) => `${j.id}${j.top === undefined ? "" : ` (top ${j.top})`}`;
  ctx.log.warn(`baseline ${baseline!.source} was judged by ${describe(then)}, this run by ${describe(judge)}: the judge row is not compared`);
  const { judge: _, ...rest } = baseline.metrics;
  return { ...baseline!, metrics: rest };
}

async function store(
  ctx: Context,
  run: Ranking,
  perQuery: PerQuery,
  measures: string[],
  scored: Scored[],
  judgeId: string,
  comparison: Comparison,
): Promise<EvalOutput["tables"]> {
  const retrieved = await ctx.table("retrieved", { qid: "VARCHAR", rank: "INTEGER", document: "VARCHAR", chunk_id: "VARCHAR", score: "DOUBLE" });
  for (const [qid, hits] of run) {
    await retrieved.append(hits.map((hit, i) => ({ qid, rank: i + 1, document: hit.docid, chunk_id: String(hit.chunk), score: hit.score })));
  }
  const columns = Object.fromEntries(measures.map((name) => [name, "DOUBLE"]));
  const queryMetrics = await ctx.table("query_metrics", { qid: "VARCHAR", ...columns });
  // A question none of whose pairs could be judged has no judge score: NULL, not 0.
  await queryMetrics.append(Object.entries(perQuery).map(([qid, metrics]) => ({ qid, judge: null, ...metrics })));
  const judgements = await ctx.table("judgements", {
    qid: "VARCHAR", rank: "INTEGER", document: "VARCHAR", chunk_id: "VARCHAR", gain: "INTEGER", judge: "VARCHAR", score: "DOUBLE", error: "VARCHAR",
  });
  await judgements.append(scored.map((s) => ({
    qid: s.qid, rank: s.rank, document: s.document, chunk_id: s.chunk, gain: s.gain, judge: judgeId, score: s.score, error: s.error,
  })));
  const compared = await ctx.table("comparison", {
    retrieval: "VARCHAR", resolved: "VARCHAR", is_primary: "BOOLEAN", "nDCG@10": "DOUBLE", "recall@10": "DOUBLE", MRR: "DOUBLE", MAP: "DOUBLE",
    ms_per_query: "DOUBLE", points: "INTEGER", cv_folds: "VARCHAR", index_pipeline: "VARCHAR", model: "VARCHAR", revision: "VARCHAR",
  });
  await compared.append(comparison.rows.map((row) => ({
    retrieval: row.spec, resolved: row.resolved, is_primary: row.primary, ...row.metrics, ms_per_query: row.msPerQuery, points: row.points,
    cv_folds: row.cv ? JSON.stringify(row.cv) : null, index_pipeline: row.index?.pipeline ?? null, model: row.index?.model ?? null, revision: row.index?.revision ?? null,
  })));
  return {
    retrieved: await retrieved.finish(), queryMetrics: await queryMetrics.finish(), judgements: await judgements.finish(), comparison: await compared.finish(),
  };
}

function countJudgments(set: EvalSet): number {
  let n = 0;
  for (const judged of set.qrels.values()) n += judged.size;
  return n;
}

function mean(values: number[]): number {
  return values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;
}
