/**
 * k-fold cross-validation over an eval set's questions: a number tuned on the
 * questions it is scored on is not a result. The questions are dealt into
 * `folds` folds by a seeded shuffle; for each fold, the chooser sees the
 * per-question metrics of every candidate on the *other* folds only (the maps
 * it is handed hold no question of the held-out fold) and picks one; the fold's
 * questions are then scored with that candidate. The cross-validated score of
 * a question is its score under the candidate chosen without it.
 *
 * Retrieval itself learns nothing from the questions, so each candidate's
 * per-question metrics can be computed once over all questions: choosing on
 * some and reading the others is then the same as searching each fold apart.
 *
 * @example
 * ```ts
 * import { crossValidate } from "./cross-validate.ts";
 *
 * declare const perQuery: Map<string, Record<string, number>>[]; // one per candidate
 * const cv = crossValidate(perQuery, { folds: 5, seed: 13, metric: "nDCG@10" });
 * cv.folds[0].chosen; // the candidate fold 0's questions were scored with
 * cv.choiceOf.get("42"); // the candidate question 42 was scored with
 * ```
 */
import { CellarError } from "../../kernel/mod.ts";

export type PerQueryMetrics = Map<string, Record<string, number>>;

export interface CrossValidateOptions {
  folds: number;
  seed: number;
  /** What the chooser maximizes: the mean of this metric over the training questions. */
  metric: string;
  /**
   * Picks a candidate from their metrics over the training questions only; by
   * default the best mean of `metric`, ties to the earlier candidate.
   */
  choose?: (training: PerQueryMetrics[], metric: string) => number;
}

export interface Fold {
  fold: number;
  /** The held-out questions this fold scores. */
  questions: string[];
  /** The candidate chosen on the other folds. */
  chosen: number;
  /** Its mean `metric` on the other folds (what it was chosen by) and on this fold (what it scores). */
  train: number;
  test: number;
}

export interface CrossValidation {
  folds: Fold[];
  /** Question → the candidate it was scored with. */
  choiceOf: Map<string, number>;
  /** Each question's metrics under the candidate chosen without it. */
  perQuery: PerQueryMetrics;
  /** The mean of `metric` over every question, each scored by its fold's choice. */
  score: number;
}

export function crossValidate(candidates: PerQueryMetrics[], options: CrossValidateOptions): CrossValidation {
  if (candidates.length === 0) throw new CellarError(`crossValidate: no candidates: expected at least one`);
  const questions = [...candidates[0].keys()];
  for (const [i, c] of candidates.entries()) {
    if (c.size !== questions.length || questions.some((q) => !c.has(q))) {
      throw new CellarError(`crossValidate: candidate ${i} was scored on other questions than candidate 0: expected the same questions`);
    }
  }
  const foldOf = assignFolds(questions, options.folds, options.seed);
  const choose = options.choose ?? bestMean;
  const folds: Fold[] = [];
  const choiceOf = new Map<string, number>();
  const perQuery: PerQueryMetrics = new Map();
  for (let fold = 0; fold < options.folds; fold++) {
    const held = questions.filter((q) => foldOf.get(q) === fold);
    const training = questions.filter((q) => foldOf.get(q) !== fold);
    const chosen = choose(candidates.map((c) => restrict(c, training)), options.metric);
    if (!Number.isInteger(chosen) || chosen < 0 || chosen >= candidates.length) {
      throw new CellarError(`crossValidate: the chooser picked ${chosen}: expected a candidate index from 0 to ${candidates.length - 1}`);
    }
    for (const q of held) {
      choiceOf.set(q, chosen);
      perQuery.set(q, candidates[chosen].get(q)!);
    }
    folds.push({ fold, questions: held, chosen, train: meanOf(candidates[chosen], training, options.metric), test: meanOf(candidates[chosen], held, options.metric) });
  }
  return { folds, choiceOf, perQuery, score: meanOf(perQuery, questions, options.metric) };
}

/** Question → fold in [0, folds): a seeded shuffle of the questions (sorted first, so input order does not matter) dealt round-robin. */
export function assignFolds(questions: readonly string[], folds: number, seed: number): Map<string, number> {
  if (!Number.isInteger(folds) || folds < 2) throw new CellarError(`cross-validation: folds=${folds}: expected a whole number ≥ 2`);
  if (questions.length < folds) throw new CellarError(`cross-validation: ${questions.length} questions for ${folds} folds: expected at least one question per fold`);
  const order = [...questions].sort();
  const random = mulberry32(seed);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return new Map(order.map((q, i) => [q, i % folds]));
}

/** The candidate with the best mean `metric`, the first among equals. */
function bestMean(training: PerQueryMetrics[], metric: string): number {
  let best = 0;
  let bestScore = -Infinity;
  training.forEach((c, i) => {
    const score = meanOf(c, [...c.keys()], metric);
    if (score > bestScore + 1e-12) [best, bestScore] = [i, score];
  });
  return best;
}

function restrict(metrics: PerQueryMetrics, questions: string[]): PerQueryMetrics {
  return new Map(questions.map((q) => [q, metrics.get(q)!]));
}

function meanOf(metrics: PerQueryMetrics, questions: string[], metric: string): number {
  if (questions.length === 0) return 0;
  let sum = 0;
  for (const q of questions) {
    const value = metrics.get(q)?.[metric];
    if (value === undefined) throw new CellarError(`cross-validation: question ${q} has no ${metric}: expected every question scored on it`);
    sum += value;
  }
  return sum / questions.length;
}

/** A small seeded PRNG (mulberry32): the same folds for the same seed on every machine. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
