// k-fold cross-validation (cells/eval/cross-validate.ts): seeded folds, and no fold ever scored with a candidate
// chosen on that fold — the chooser is instrumented to record every question it was shown.
import { describe, expect, it } from "vitest";
import { assignFolds, crossValidate, type PerQueryMetrics } from "../cells/eval/cross-validate.ts";

const QUESTIONS = Array.from({ length: 23 }, (_, i) => String(i + 1));

/** Candidate c scores question q by a fixed pseudo-random rule: different candidates win on different questions. */
function candidates(n: number): PerQueryMetrics[] {
  return Array.from({ length: n }, (_, c) => new Map(QUESTIONS.map((q) => [q, { "nDCG@10": ((Number(q) * 7 + c * 13) % 17) / 17 }])));
}

describe("assignFolds", () => {
  it("deals every question into one of k folds of near-equal size, the same for the same seed, whatever the input order", () => {
    const folds = assignFolds(QUESTIONS, 5, 13);
    expect([...folds.keys()].sort()).toEqual([...QUESTIONS].sort());
    const sizes = [0, 1, 2, 3, 4].map((f) => [...folds.values()].filter((v) => v === f).length);
    expect(sizes.sort()).toEqual([4, 4, 5, 5, 5]);
    expect(assignFolds([...QUESTIONS].reverse(), 5, 13)).toEqual(folds);
    const other = assignFolds(QUESTIONS, 5, 14);
    expect([...other].some(([q, f]) => folds.get(q) !== f)).toBe(true);
  });

  it("refuses fewer than 2 folds and more folds than questions", () => {
    expect(() => assignFolds(QUESTIONS, 1, 1)).toThrow(/folds=1: expected a whole number ≥ 2/);
    expect(() => assignFolds(["a", "b"], 3, 1)).toThrow(/2 questions for 3 folds/);
  });
});

describe("crossValidate", () => {
  it("never shows the chooser a question of the fold its choice scores", () => {
    const seen: string[][] = [];
    const cv = crossValidate(candidates(4), {
      folds: 5,
      seed: 7,
      metric: "nDCG@10",
      choose: (training) => {
        // Every candidate's map covers the same questions: the training ones.
        seen.push([...training[0].keys()]);
        for (const c of training) expect([...c.keys()]).toEqual(seen.at(-1));
        return seen.length % 4;
      },
    });
    expect(seen).toHaveLength(5);
    cv.folds.forEach((fold, i) => {
      expect(seen[i].filter((q) => fold.questions.includes(q))).toEqual([]);
      expect(seen[i].length + fold.questions.length).toBe(QUESTIONS.length);
      // Each held-out question was scored with that fold's choice, and only with it.
      for (const q of fold.questions) expect(cv.choiceOf.get(q)).toBe(fold.chosen);
    });
    expect(cv.folds.map((f) => f.chosen)).toEqual([1, 2, 3, 0, 1]);
    expect(cv.folds.flatMap((f) => f.questions).sort()).toEqual([...QUESTIONS].sort());
  });

  it("chooses by the best training mean and scores each question with its fold's choice", () => {
    const all = candidates(6);
    const cv = crossValidate(all, { folds: 4, seed: 3, metric: "nDCG@10" });
    const mean = (c: PerQueryMetrics, qs: string[]) => qs.reduce((s, q) => s + c.get(q)!["nDCG@10"], 0) / qs.length;
    for (const fold of cv.folds) {
      const training = QUESTIONS.filter((q) => !fold.questions.includes(q));
      const best = Math.max(...all.map((c) => mean(c, training)));
      expect(fold.train).toBeCloseTo(best, 12);
      expect(mean(all[fold.chosen], training)).toBeCloseTo(best, 12);
      expect(fold.test).toBeCloseTo(mean(all[fold.chosen], fold.questions), 12);
    }
    const expected = QUESTIONS.reduce((s, q) => s + all[cv.choiceOf.get(q)!].get(q)!["nDCG@10"], 0) / QUESTIONS.length;
    expect(cv.score).toBeCloseTo(expected, 12);
  });

  it("does not pick for a fold the candidate that is good only on that fold's own questions", () => {
    const folds = assignFolds(QUESTIONS, 4, 5);
    const steady: PerQueryMetrics = new Map(QUESTIONS.map((q) => [q, { "nDCG@10": 0.5 }]));
    // Perfect on fold 0's questions, useless elsewhere: chosen for fold 0 only if fold 0 leaked into its choice.
    const lucky: PerQueryMetrics = new Map(QUESTIONS.map((q) => [q, { "nDCG@10": folds.get(q) === 0 ? 1 : 0 }]));
    const cv = crossValidate([steady, lucky], { folds: 4, seed: 5, metric: "nDCG@10" });
    expect(cv.folds.map((f) => f.chosen)).toEqual([0, 0, 0, 0]);
    expect(cv.folds[0].test).toBe(0.5);
    expect(cv.score).toBeCloseTo(0.5, 12);
  });

  it("refuses candidates scored on different questions and a chooser that picks no candidate", () => {
    const [a, b] = candidates(2);
    b.delete("3");
    expect(() => crossValidate([a, b], { folds: 3, seed: 1, metric: "nDCG@10" })).toThrow(/candidate 1 was scored on other questions/);
    expect(() => crossValidate([a], { folds: 3, seed: 1, metric: "nDCG@10", choose: () => 5 })).toThrow(/the chooser picked 5/);
    expect(() => crossValidate([a], { folds: 3, seed: 1, metric: "MAP" })).toThrow(/has no MAP/);
  });
});
