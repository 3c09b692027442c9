// The trec parsing and scoring as they were before the fast parser (cells/eval/trec.ts and metrics.ts at
// 63c9ba6), copied verbatim, so bench/metrics.bench.ts can measure the old implementation beside the new
// one in the same run and check both give the same numbers.
import { CellarError } from "../kernel/mod.ts";
import { byTrecOrder, type Qrels, type Run, type RunEntry, strcmp } from "../cells/eval/trec.ts";

type Metrics = Record<string, number>;
const NDCG_CUTOFF = 10;
const QRELS_FORMAT = `"qid 0 docid gain" with a whole-number gain`;
const RUN_FORMAT = `"qid Q0 docid rank score tag" with a finite score`;
const WHOLE_NUMBER = /^[+-]?\d+$/;
export function parseQrelsBefore(text: string, source: string): Qrels {
  const qrels: Qrels = new Map();
  const firstLines = new Map<string, Map<string, number>>();
  let count = 0;
  forEachLine(text, (fields, lineNo, line) => {
    if (fields.length !== 4 || !WHOLE_NUMBER.test(fields[3])) {
      throw new CellarError(`${source} line ${lineNo}: expected ${QRELS_FORMAT}, got ${quote(line)}`);
    }
    const [qid, , docid, gainText] = fields;
    let judged = qrels.get(qid);
    let lines = firstLines.get(qid);
    if (judged === undefined || lines === undefined) {
      qrels.set(qid, (judged = new Map()));
      firstLines.set(qid, (lines = new Map()));
    }
    const first = lines.get(docid);
    if (first !== undefined) {
      throw new CellarError(`${source} line ${lineNo}: duplicate judgment for query ${qid}, document ${docid} (first on line ${first})`);
    }
    lines.set(docid, lineNo);
    judged.set(docid, Number(gainText));
    count++;
  });
  if (count === 0) throw new CellarError(`${source}: no judgments; expected lines ${QRELS_FORMAT}`);
  return qrels;
}
export function parseRunBefore(text: string, source: string): Run {
  const run: Run = new Map();
  // qid → docid → line: catches duplicates and says where the first one was.
  const firstLines = new Map<string, Map<string, number>>();
  let count = 0;
  forEachLine(text, (fields, lineNo, line) => {
    const score = fields.length === 6 ? Number(fields[4]) : NaN;
    if (!Number.isFinite(score)) {
      throw new CellarError(`${source} line ${lineNo}: expected ${RUN_FORMAT}, got ${quote(line)}`);
    }
    const qid = fields[0];
    const docid = fields[2];
    let entries = run.get(qid);
    let lines = firstLines.get(qid);
    if (entries === undefined || lines === undefined) {
      run.set(qid, (entries = []));
      firstLines.set(qid, (lines = new Map()));
    }
    const first = lines.get(docid);
    if (first !== undefined) {
      throw new CellarError(`${source} line ${lineNo}: document ${docid} listed twice for query ${qid} (first on line ${first}); trec_eval rejects duplicate docs`);
    }
    lines.set(docid, lineNo);
    entries.push({ docid, score });
    count++;
  });
  if (count === 0) throw new CellarError(`${source}: no results; expected lines ${RUN_FORMAT}`);
  return run;
}
function forEachLine(text: string, visit: (fields: string[], lineNo: number, line: string) => void): void {
  let start = 0;
  let lineNo = 0;
  while (start < text.length) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    lineNo++;
    const line = text.slice(start, end);
    start = end + 1;
    const fields = splitFields(line);
    if (fields.length === 0 || fields[0].charCodeAt(0) === 35 /* # */) continue;
    visit(fields, lineNo, line);
  }
}
function splitFields(line: string): string[] {
  const fields: string[] = [];
  let start = -1;
  for (let i = 0; i <= line.length; i++) {
    const c = i < line.length ? line.charCodeAt(i) : 32;
    const space = c === 32 || (c >= 9 && c <= 13);
    if (space) {
      if (start >= 0) fields.push(line.slice(start, i));
      start = -1;
    } else if (start < 0) {
      start = i;
    }
  }
  return fields;
}
function quote(text: string): string {
  return JSON.stringify(text.length > 120 ? `${text.slice(0, 120)}…` : text);
}
export function evaluateBefore(qrels: Qrels, run: Run, options: { k?: number[] } = {}) {
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
function scoreQuery(qid: string, judged: Map<string, number>, entries: RunEntry[], ks: number[]): Metrics {
  let relevant = 0;
  for (const gain of judged.values()) if (gain >= 1) relevant++;

  const ranked = checked(qid, entries).slice().sort(byTrecOrder);
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
function idealDcg(judged: Map<string, number>): number {
  const gains = [...judged.values()].filter((gain) => gain > 0).sort((a, b) => b - a);
  let ideal = 0;
  for (let i = 0; i < Math.min(gains.length, NDCG_CUTOFF); i++) ideal += gains[i] / Math.log2(i + 2);
  return ideal;
}
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
