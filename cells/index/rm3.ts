/**
 * RM3 pseudo-relevance feedback, as Anserini's Rm3Reranker (and so Pyserini's
 * `set_rm3`) does it:
 *
 * 1. each of the top `fbDocs` documents is a vector of its terms' tfs — terms of 2 to 20
 *    characters in at most 10% of the documents (Anserini's filter, which stands in for a
 *    stopword list) — pruned to its `fbTerms` largest;
 * 2. RM1: a term's weight is Σ over those documents of tf/|vector|₁ × the document's
 *    first-pass score; the `fbTerms` heaviest are kept and scaled to sum 1;
 * 3. RM3: interpolated with the query's own terms (their counts, scaled to sum 1):
 *    originalWeight·P(t|q) + (1 − originalWeight)·P(t|R).
 *
 * The expanded query is scored again with BM25, each term's score times its weight
 * (index/lexical.ts). Ties between equal weights keep the alphabetically first term.
 *
 * @example
 * ```ts
 * import { expandQuery } from "./rm3.ts";
 *
 * const weights = expandQuery(["lift"], [{ score: 2, terms: { terms: ["drag", "lift"], tfs: [1, 3], dfs: [5, 8], n: 100 } }],
 *   { fbDocs: 1, fbTerms: 2, originalWeight: 0.5 });
 * // Map { "lift" => 0.875, "drag" => 0.125 }
 * ```
 */
import { CellarError } from "../../kernel/mod.ts";

export interface Rm3Options {
  fbDocs: number;
  fbTerms: number;
  originalWeight: number;
}

/** A feedback document's terms, with their tfs in it and dfs in the collection of `n` documents. */
export interface DocTerms {
  terms: string[];
  tfs: number[];
  dfs: number[];
  n: number;
}

/** Anserini's feedback-term filter: length 2..20, df at most this share of the documents. */
const MIN_LENGTH = 2;
const MAX_LENGTH = 20;
const MAX_DF_RATIO = 0.1;

/** Options checked; a bad one is a one-line error naming it. */
export function parseRm3(value: unknown): Rm3Options {
  const o = (value ?? {}) as Record<string, unknown>;
  const whole = (name: string) => {
    const v = o[name];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1) throw new CellarError(`rm3 ${name}: expected a whole number ≥ 1, got ${JSON.stringify(v)}`);
    return v;
  };
  const fbDocs = whole("fbDocs");
  const fbTerms = whole("fbTerms");
  const w = o.originalWeight;
  if (typeof w !== "number" || !(w >= 0 && w <= 1)) throw new CellarError(`rm3 originalWeight: expected a number in [0, 1], got ${JSON.stringify(w)}`);
  return { fbDocs, fbTerms, originalWeight: w };
}

/** The expanded query's term weights, from the analyzed query (repeats counted) and its feedback documents, best first. */
export function expandQuery(query: string[], feedback: Array<{ terms: DocTerms; score: number }>, options: Rm3Options): Map<string, number> {
  const { fbTerms, originalWeight } = options;
  const relevance = new Map<string, number>();
  for (const { terms, score } of feedback) {
    const vector = feedbackVector(terms, fbTerms);
    const norm = vector.reduce((sum, [, tf]) => sum + tf, 0);
    if (norm <= 0.001) continue;
    for (const [term, tf] of vector) relevance.set(term, (relevance.get(term) ?? 0) + (tf / norm) * score);
  }
  const model = unitL1(heaviest([...relevance], fbTerms));
  const original = new Map<string, number>();
  for (const term of query) original.set(term, (original.get(term) ?? 0) + 1);
  const q = unitL1([...original]);
  const mixed = new Map<string, number>();
  for (const [term, p] of q) mixed.set(term, originalWeight * p);
  for (const [term, p] of model) mixed.set(term, (mixed.get(term) ?? 0) + (1 - originalWeight) * p);
  return new Map(heaviest([...mixed], mixed.size));
}

/** A feedback document's kept terms and tfs: the filter, then its `fbTerms` largest. */
function feedbackVector(d: DocTerms, fbTerms: number): Array<[string, number]> {
  const kept: Array<[string, number]> = [];
  for (let i = 0; i < d.terms.length; i++) {
    const term = d.terms[i];
    if (term.length < MIN_LENGTH || term.length > MAX_LENGTH || d.dfs[i] / d.n > MAX_DF_RATIO) continue;
    kept.push([term, d.tfs[i]]);
  }
  return heaviest(kept, fbTerms);
}

/** The `n` heaviest entries, heaviest first, ties by term. */
function heaviest(entries: Array<[string, number]>, n: number): Array<[string, number]> {
  return entries.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).slice(0, n);
}

function unitL1(entries: Array<[string, number]>): Map<string, number> {
  const sum = entries.reduce((s, [, w]) => s + w, 0);
  return new Map(entries.map(([t, w]) => [t, sum > 0 ? w / sum : 0]));
}
