/**
 * Several retrieval configurations scored on one eval set in one run, side by
 * side: nDCG@10, recall@10, MRR, MAP and ms/query each. A spec with a grid
 * (`alpha=cv`, `fbTerms=5|10|20`) is cross-validated over the questions
 * (cross-validate.ts): every grid point is scored, each fold's questions are
 * scored with the point chosen on the other folds, and the row reports those
 * scores — never a point's score on the questions that chose it — with each
 * fold's choice. The row's `resolved` spec is the point the folds chose most
 * often, the value to fix a default to.
 *
 * ms/query is the time of a search of every question in batches of 64 on
 * fresh lists (a grid's lists are shared between its points and would time
 * nothing: a cross-validated spec's resolved point is searched once more for
 * it): query embedding, both sides and the fusion.
 *
 * Other indexes (another pipeline's, e.g. the one `retrain --param model=…` built beside
 * ingest's) are compared on the same questions by `compareIndex`: their dense retrieval and
 * the default hybrid, each row labelled with its index's pipeline, model and revision, so the
 * table says whether a new model beats the current one. Every row of a comparison over more
 * than one index carries its index, and the table shows them in a column of their own.
 *
 * @example
 * ```ts
 * import { compareRetrievals, formatComparison, parseRetrievalList } from "./compare.ts";
 * import type { RetrievalSources } from "../index/retrieval.ts";
 * import type { EvalSet } from "./evalset.ts";
 *
 * declare const sources: RetrievalSources, set: EvalSet;
 * const list = parseRetrievalList("*hybrid+rm3:weighted:alpha=cv,lexical,dense");
 * const { comparison, primaryRun } = await compareRetrievals(sources, set, list, { k: 100, folds: 5, seed: 13, idOf: (d) => d });
 * console.log(formatComparison(comparison));
 * ```
 */
import Table from "cli-table3";
import { CellarError } from "../../kernel/mod.ts";
import { DEFAULT_RETRIEVAL, type Retriever, type RetrievalSources, retrieverOver } from "../index/retrieval.ts";
import { formatRetrieval, parseRetrievalGrid, type RetrievalGrid, type TunableKey, withValues } from "../index/retrieval-spec.ts";
import { crossValidate, type PerQueryMetrics } from "./cross-validate.ts";
import type { EvalSet } from "./evalset.ts";
import { evaluate, type Evaluation } from "./metrics.ts";
import { byTrecOrder, type RunEntry } from "./trec.ts";

/** A retrieved document and the chunk that ranked it. */
export interface Hit extends RunEntry {
  chunk: string;
}

/** Question id → its hits, best first: a TREC run that remembers its chunks. */
export type Ranking = Map<string, Hit[]>;

/** The metrics the comparison shows, and the one cross-validation maximizes. */
export const COMPARED = ["nDCG@10", "recall@10", "MRR", "MAP"] as const;
export const CV_METRIC = "nDCG@10";

export interface FoldChoice {
  fold: number;
  questions: number;
  /** The spec of the point chosen on the other folds. */
  chosen: string;
  /** Its nDCG@10 on the other folds, and on this fold. */
  train: number;
  test: number;
}

export interface ComparisonRow {
  /** As given, grids and all. */
  spec: string;
  /** What was scored: the spec itself, or the point the folds chose most often. */
  resolved: string;
  primary: boolean;
  /** Means over the questions; cross-validated for a spec with a grid. */
  metrics: Record<(typeof COMPARED)[number], number>;
  msPerQuery: number;
  /** Grid points scored; 1 without a grid. */
  points: number;
  cv: FoldChoice[] | null;
  /** The index searched: the eval's own, or another one compared beside it. */
  index?: IndexLabel;
}

/** Which index a row searched, and the model (and its revision, when it has one) that built it. */
export interface IndexLabel {
  pipeline: string;
  /** The embedder id stored with the vectors, e.g. "use-lite". */
  model: string;
  revision: string | null;
}

export interface Comparison {
  metric: string;
  folds: number;
  seed: number;
  rows: ComparisonRow[];
}

export interface RetrievalList {
  specs: RetrievalGrid[];
  given: string[];
  /** Which spec is gated and judged: the one marked `*`, else the first. */
  primary: number;
}

/** `retrieval=` param: comma-separated specs, at most one marked with a leading `*` as the one gated. */
export function parseRetrievalList(list: string): RetrievalList {
  const items = list.split(",").map((s) => s.trim());
  if (items.some((s) => s === "" || s === "*")) throw new CellarError(`retrieval "${list}": an empty spec; expected comma-separated specs, e.g. "*hybrid,lexical,dense"`);
  const marked = items.flatMap((s, i) => (s.startsWith("*") ? [i] : []));
  if (marked.length > 1) throw new CellarError(`retrieval "${list}": ${marked.length} specs marked *; expected at most one (the one gated)`);
  const given = items.map((s) => s.replace(/^\*/, ""));
  const dup = given.find((s, i) => given.indexOf(s) !== i);
  if (dup !== undefined) throw new CellarError(`retrieval "${list}": ${dup} listed twice; expected each spec once`);
  return { specs: given.map(parseRetrievalGrid), given, primary: marked[0] ?? 0 };
}

export interface CompareOptions {
  k: number;
  folds: number;
  seed: number;
  /** The id the qrels know a document by. */
  idOf: (document: string) => string;
  signal?: AbortSignal;
  /** Called after each grid point is scored. */
  progress?: (done: number, total: number) => void;
}

/** Every spec of `list` scored on `set`, and the primary one's ranking (cross-validated when it has a grid). */
export async function compareRetrievals(
  sources: RetrievalSources,
  set: EvalSet,
  list: RetrievalList,
  options: CompareOptions,
): Promise<{ comparison: Comparison; primaryRun: Ranking; primaryEvaluation: Evaluation }> {
  const total = list.specs.reduce((n, s) => n + gridPoints(s).length, 0);
  let done = 0;
  const rows: ComparisonRow[] = [];
  let primary: { run: Ranking; evaluation: Evaluation } | undefined;
  for (const [i, grid] of list.specs.entries()) {
    const scored = await scoreSpec(sources, set, grid, options, () => options.progress?.(++done, total));
    const msPerQuery = scored.msPerQuery ?? await timeSearch(retrieverOver({ ...sources, memo: undefined }, scored.resolved), set, options);
    const metrics = Object.fromEntries(COMPARED.map((m) => [m, scored.evaluation.mean[m]])) as ComparisonRow["metrics"];
    rows.push({ spec: list.given[i], resolved: formatRetrieval(scored.resolved), primary: i === list.primary, metrics, msPerQuery, points: scored.points, cv: scored.cv });
    if (i === list.primary) primary = { run: scored.run, evaluation: scored.evaluation };
  }
  return { comparison: { metric: CV_METRIC, folds: options.folds, seed: options.seed, rows }, primaryRun: primary!.run, primaryEvaluation: primary!.evaluation };
}

/** The retrievals another index is compared by: its own vectors alone, and fused with its lexical index as by default. */
export const INDEX_COMPARED = `dense,${DEFAULT_RETRIEVAL}`;

/** Another index's rows (INDEX_COMPARED, none primary) on the same questions, each labelled with `index`. */
export async function compareIndex(sources: RetrievalSources, set: EvalSet, index: IndexLabel, options: CompareOptions): Promise<ComparisonRow[]> {
  const { comparison } = await compareRetrievals(sources, set, parseRetrievalList(INDEX_COMPARED), options);
  return comparison.rows.map((row) => ({ ...row, primary: false, index }));
}

/** One spec's run and metrics: its own, or cross-validated over its grid. */
async function scoreSpec(sources: RetrievalSources, set: EvalSet, grid: RetrievalGrid, options: CompareOptions, tick: () => void) {
  const points = gridPoints(grid);
  const runOf = async (point: number) => await rank(retrieverOver(sources, points[point]), set, options);
  if (points.length === 1) {
    // One point: its own run, on fresh lists, is also its timing.
    const started = performance.now();
    const run = await rank(retrieverOver({ ...sources, memo: undefined }, points[0]), set, options);
    const msPerQuery = (performance.now() - started) / set.queries.length;
    tick();
    return { run, evaluation: evaluate(set.qrels, run, { k: [10, options.k] }), resolved: points[0], points: 1, cv: null, msPerQuery };
  }
  const candidates: PerQueryMetrics[] = [];
  for (let p = 0; p < points.length; p++) {
    options.signal?.throwIfAborted();
    candidates.push(evaluate(set.qrels, await runOf(p), { k: [10, options.k] }).perQuery);
    tick();
  }
  const cv = crossValidate(candidates, { folds: options.folds, seed: options.seed, metric: CV_METRIC });
  // Each question's ranking under its fold's choice: the run the cross-validated metrics are of.
  const run: Ranking = new Map();
  for (const chosen of new Set(cv.choiceOf.values())) {
    const ranked = await runOf(chosen);
    for (const [qid, hits] of ranked) if (cv.choiceOf.get(qid) === chosen) run.set(qid, hits);
  }
  const counts = cv.folds.map((f) => cv.folds.filter((g) => g.chosen === f.chosen).length);
  const modal = cv.folds[counts.indexOf(Math.max(...counts))].chosen;
  const choices = cv.folds.map((f): FoldChoice => ({ fold: f.fold, questions: f.questions.length, chosen: formatRetrieval(points[f.chosen]), train: f.train, test: f.test }));
  return { run, evaluation: evaluate(set.qrels, run, { k: [10, options.k] }), resolved: points[modal], points: points.length, cv: choices, msPerQuery: undefined };
}

/** Every point of the spec's grid (the cartesian product of its tuned keys' values), as configs. */
export function gridPoints(grid: RetrievalGrid) {
  let points: Partial<Record<TunableKey, number>>[] = [{}];
  for (const [key, values] of Object.entries(grid.grid) as [TunableKey, number[]][]) {
    points = points.flatMap((p) => values.map((v) => ({ ...p, [key]: v })));
  }
  return points.map((values) => withValues(grid.config, values));
}

/** The top k documents per question, by the qrels' ids, in trec_eval's order (ties by document id). */
export async function rank(retriever: Retriever, set: EvalSet, options: Pick<CompareOptions, "k" | "idOf" | "signal">): Promise<Ranking> {
  const run: Ranking = new Map();
  const BATCH = 64;
  for (let i = 0; i < set.queries.length; i += BATCH) {
    const batch = set.queries.slice(i, i + BATCH);
    const hits = await retriever.search(batch.map((q) => q.text), options.k, { signal: options.signal });
    batch.forEach((q, j) => {
      const ranked = hits[j].map((hit): Hit => ({ docid: options.idOf(hit.document), score: hit.score, chunk: hit.chunk }));
      run.set(q.id, ranked.sort(byTrecOrder));
    });
  }
  return run;
}

async function timeSearch(retriever: Retriever, set: EvalSet, options: CompareOptions): Promise<number> {
  const started = performance.now();
  await rank(retriever, set, options);
  return (performance.now() - started) / set.queries.length;
}

/**
 * The comparison as a table, the primary row marked *, cross-validated rows with their folds' choices below;
 * over more than one index, a last column names each row's (pipeline, model, revision).
 */
export function formatComparison(comparison: Comparison): string {
  const indexes = new Set(comparison.rows.map((row) => row.index?.pipeline));
  const byIndex = indexes.size > 1;
  const table = new Table({ head: ["retrieval", ...COMPARED, "ms/query", ...(byIndex ? ["index"] : [])], style: { head: [], border: [] } });
  for (const row of comparison.rows) {
    const label = `${row.primary ? "* " : ""}${row.spec}`;
    const where = byIndex ? [row.index ? indexLabel(row.index) : ""] : [];
    table.push([label, ...COMPARED.map((m) => row.metrics[m].toFixed(4)), row.msPerQuery.toFixed(2), ...where]);
  }
  const folds = comparison.rows.filter((r) => r.cv).map((r) =>
    `${r.spec}: ${r.points} points, ${comparison.folds}-fold (seed ${comparison.seed}) on ${comparison.metric}, most chosen ${r.resolved}:\n` +
    r.cv!.map((f) => `  fold ${f.fold + 1} (${f.questions} q): ${f.chosen}  train ${f.train.toFixed(4)}  test ${f.test.toFixed(4)}`).join("\n")
  );
  return [table.toString(), ...folds, ...bestIndexes(comparison)].join("\n");
}

/** Per spec searched on more than one index, the indexes by nDCG@10, best first: whether a new model beats the current one. */
export function bestIndexes(comparison: Comparison): string[] {
  const bySpec = new Map<string, ComparisonRow[]>();
  for (const row of comparison.rows) {
    if (!row.index) continue;
    const rows = bySpec.get(row.spec);
    if (rows) rows.push(row);
    else bySpec.set(row.spec, [row]);
  }
  return [...bySpec].filter(([, rows]) => new Set(rows.map((row) => row.index!.pipeline)).size > 1).map(([spec, rows]) => {
    const ranked = [...rows].sort((a, b) => b.metrics[CV_METRIC] - a.metrics[CV_METRIC]);
    const scores = ranked.map((row) => `${indexLabel(row.index!)} ${row.metrics[CV_METRIC].toFixed(4)}`).join(", ");
    const tied = ranked[0].metrics[CV_METRIC] === ranked[1].metrics[CV_METRIC];
    return `${spec} by ${CV_METRIC}: ${scores} — ${tied ? "a tie at the top" : `best: ${ranked[0].index!.pipeline}`}`;
  });
}

/** "retrain: transformers:e5-small-v2:fp32:e5 @ 0123abc…", the revision left out when there is none (or the id holds it). */
export function indexLabel(index: IndexLabel): string {
  const revision = index.revision && !index.model.includes(index.revision) ? ` @ ${index.revision}` : "";
  return `${index.pipeline}: ${index.model}${revision}`;
}
