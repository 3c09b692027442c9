/**
 * Retrieval metrics that agree with NIST trec_eval (10.0) to the printed digit:
 * recall@K, P@K, MRR, nDCG@10 and MAP of a run against qrels.
 *
 * trec_eval's conventions, reproduced here:
 * - each query's results are re-ranked by score descending, ties by docid
 *   descending in strcmp order (the run's rank column is ignored);
 * - relevant means gain ≥ 1 (trec_eval's default relevance_level 1); unjudged
 *   documents are not relevant;
 * - `P@K` divides by K even when fewer than K documents were returned;
 *   `recall@K` and `MAP` divide by the query's relevant judgments, retrieved or
 *   not (0 when it has none); `MRR` is trec_eval's recip_rank over the whole list;
 * - `nDCG@10` is trec_eval's ndcg_cut.10: linear gain (the judged grade),
 *   discount log2(rank + 1), the ideal ranking being the query's positive
 *   judgments sorted by gain, cut at 10;
 * - only queries in both the run and the qrels are evaluated, and the means are
 *   over those (trec_eval without -c). The others are reported in
 *   `missingInQrels` / `missingInRun` so that a caller can warn;
 * - a document listed twice for one query is an error, as in trec_eval
 *   ("duplicate docs"): collapse chunks to documents before evaluating.
 *
 * @example
 * ```ts
 * import { evaluate, formatMeasure } from "./metrics.ts";
 * import { parseQrels, parseRun } from "./trec.ts";
 *
 * declare const qrelsText: string, runText: string;
 * const result = evaluate(parseQrels(qrelsText, "qrels.trec"), parseRun(runText, "bm25.run"));
 * result.mean["nDCG@10"];           // 0.3226… (trec_eval: ndcg_cut_10 all 0.3226)
 * result.perQuery.get("1")!["MAP"]; // 0.1781…
 * formatMeasure(result.mean.MAP);   // "0.2533", as trec_eval prints it
 * ```
 */
import { CellarError } from "../../kernel/mod.ts";
import { type Qrels, rankEntries, type Run, type RunEntry, strcmp } from "./trec.ts";

export type { Qrels, Run, RunEntry } from "./trec.ts";
export { formatMeasure } from "./trec.ts";

/** Metric name → value: `recall@K`, `P@K` (each K), `MRR`, `nDCG@10`, `MAP`. */
export type Metrics = Record<string, number>;

export interface EvaluateOptions {
  /** Cutoffs for recall@K and P@K; default [10, 100]. 10 is always included. */
  k?: number[];
}

export interface Evaluation {
  /** Metrics of each evaluated query, in trec_eval's order (qid, strcmp). */
  perQuery: Map<string, Metrics>;
  /** Arithmetic mean of each metric over the evaluated queries. */
  mean: Metrics;
  /** How many queries were evaluated (in both run and qrels). */
  queries: number;
  /** Queries of the run without judgments: skipped. */
  missingInQrels: string[];
  /** Judged queries the run has no results for: skipped (trec_eval -c would count them as 0). */
  missingInRun: string[];
}

const NDCG_CUTOFF = 10;

/**
 * Scores `run` against `qrels`. Throws a CellarError when no query is in both,
 * for a duplicated document within a query, a non-finite score or a bad cutoff.
 */
export function evaluate(qrels: Qrels, run: Run, options: EvaluateOptions = {}): Evaluation {
  const ks = cutoffs(options.k);
  const perQuery = new Map<string, Metrics>();
  const missingInQrels: string[] = [];
  for (const qid of [...run.keys()].sort(strcmp)) {
    const judged = qrels.get(qid);
    if (judged === undefined) missingInQrels.push(qid);
    else perQuery.set(qid, scoreQuery(qid, judged, run.get(qid)!, ks));
  }
  const missingInRun = [...qrels.keys()].filter((qid) => !run.has(qid)).sort(strcmp);
  if (perQuery.size === 0) {
    throw new CellarError(
      `run and qrels share no query id (run: ${sample([...run.keys()])}; qrels: ${sample([...qrels.keys()])}); expected the same query ids in both`,
    );
  }
  const mean: Metrics = {};
  for (const metrics of perQuery.values()) {
    for (const name in metrics) mean[name] = (mean[name] ?? 0) + metrics[name];
  }
  for (const name in mean) mean[name] /= perQuery.size;
  return { perQuery, mean, queries: perQuery.size, missingInQrels, missingInRun };
}

/** One query's metrics, in one pass over its ranked results. */
function scoreQuery(qid: string, judged: Map<string, number>, entries: RunEntry[], ks: number[]): Metrics {
  let relevant = 0;
  for (const gain of judged.values()) if (gain >= 1) relevant++;

  const ranked = rankEntries(checked(qid, entries));
  const relevantAt: number[] = [];
  let found = 0;
  let precisionSum = 0;
  let reciprocalRank = 0;
  let dcg = 0;
  for (let i = 0; i < ranked.length; i++) {
    while (relevantAt.length < ks.length && ks[relevantAt.length] === i) relevantAt.push(found);
    const gain = judged.get(ranked[i].docid) ?? 0;
    if (gain >= 1) {
      found++;
      precisionSum += found / (i + 1);
      if (reciprocalRank === 0) reciprocalRank = 1 / (i + 1);
    }
    if (i < NDCG_CUTOFF && gain > 0) dcg += gain / Math.log2(i + 2);
  }
  while (relevantAt.length < ks.length) relevantAt.push(found);

  const ideal = idealDcg(judged);
  const metrics: Metrics = {};
  ks.forEach((k, i) => {
    metrics[`recall@${k}`] = relevant > 0 ? relevantAt[i] / relevant : 0;
    metrics[`P@${k}`] = relevantAt[i] / k;
  });
  metrics.MRR = reciprocalRank;
  metrics["nDCG@10"] = ideal > 0 ? dcg / ideal : 0;
  metrics.MAP = relevant > 0 ? precisionSum / relevant : 0;
  return metrics;
}

/** DCG@10 of the best possible ranking: the positive gains, largest first. */
function idealDcg(judged: Map<string, number>): number {
  const gains = [...judged.values()].filter((gain) => gain > 0).sort((a, b) => b - a);
  let ideal = 0;
  for (let i = 0; i < Math.min(gains.length, NDCG_CUTOFF); i++) ideal += gains[i] / Math.log2(i + 2);
  return ideal;
}

/** The entries, after checking what parseRun guarantees but a run built in code may lack. */
function checked(qid: string, entries: RunEntry[]): RunEntry[] {
  const seen = new Set<string>();
  for (const { docid, score } of entries) {
    if (seen.has(docid)) {
      throw new CellarError(`run, query ${qid}: document ${docid} is listed twice; expected each document once per query (trec_eval rejects duplicate docs)`);
    }
    if (!Number.isFinite(score)) throw new CellarError(`run, query ${qid}, document ${docid}: score ${score}: expected a finite number`);
    seen.add(docid);
  }
  return entries;
}

/** The names of the metrics `evaluate` gives for cutoffs `k`, known before a run is scored. */
export function metricNames(k?: number[]): string[] {
  return [...cutoffs(k).flatMap((cutoff) => [`recall@${cutoff}`, `P@${cutoff}`]), "MRR", `nDCG@${NDCG_CUTOFF}`, "MAP"];
}

function cutoffs(k: number[] | undefined): number[] {
  const ks = k ?? [10, 100];
  if (!Array.isArray(ks) || !ks.every((n) => Number.isInteger(n) && n > 0)) {
    throw new CellarError(`evaluate options.k ${JSON.stringify(k)}: expected an array of positive whole numbers`);
  }
  return [...new Set([...ks, NDCG_CUTOFF])].sort((a, b) => a - b);
}

function sample(qids: string[]): string {
  const shown = qids.slice(0, 3).map((q) => JSON.stringify(q)).join(", ");
  return qids.length > 3 ? `${shown}, … (${qids.length})` : shown || "none";
}
