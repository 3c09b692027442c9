// RRF and normalized-score fusion against small cases computed by hand (cells/index/fusion.ts).
import { describe, expect, it } from "vitest";
import { fuseRrf, fuseWeighted, minMax } from "../cells/index/fusion.ts";

/** Numbers to 12 decimals: the hand values are exact, the float arithmetic is not. */
const close = (values: number[]) => values.map((v) => expect.closeTo(v, 12));

const dense = [{ document: "a", score: 0.9 }, { document: "b", score: 0.6 }, { document: "c", score: 0.3 }];
const lexical = [{ document: "c", score: 14 }, { document: "d", score: 8 }, { document: "a", score: 4 }];

describe("fuseRrf", () => {
  it("sums 1 / (k + rank) over the lists that hold a document", () => {
    // a: 1/61 + 1/63, c: 1/63 + 1/61 (a tie: a's best rank 1 = c's best rank 1, then by id), b: 1/62, d: 1/62 (tie: b and d both rank 2 → id)
    const fused = fuseRrf([dense, lexical]);
    expect(fused.map((f) => f.document)).toEqual(["a", "c", "b", "d"]);
    expect(fused[0].score).toBeCloseTo(1 / 61 + 1 / 63, 15);
    expect(fused[1].score).toBeCloseTo(1 / 63 + 1 / 61, 15);
    expect(fused[2].score).toBeCloseTo(1 / 62, 15);
    expect(fused[0].ranks).toEqual([1, 3]);
    expect(fused[3].ranks).toEqual([null, 2]);
  });

  it("takes k: with k = 0 a first place outweighs a second and a third together", () => {
    // k = 0: a 1/1 + 1/3 = 1.3333, c 1/3 + 1/1 = 1.3333, b 1/2, d 1/2; with lists [dense] and [c first]:
    const fused = fuseRrf([dense, [{ document: "b", score: 1 }, { document: "a", score: 0 }]], { k: 0 });
    // a: 1/1 + 1/2 = 1.5, b: 1/2 + 1/1 = 1.5 (tie → best rank 1 both → id), c: 1/3
    expect(fused.map((f) => [f.document, Number(f.score.toFixed(6))])).toEqual([["a", 1.5], ["b", 1.5], ["c", 0.333333]]);
  });

  it("ignores the scores: only ranks count", () => {
    const rescored = dense.map((d, i) => ({ ...d, score: 100 - i }));
    expect(fuseRrf([rescored, lexical])).toEqual(fuseRrf([dense, lexical]));
  });

  it("refuses a document listed twice in one list, and a negative k", () => {
    expect(() => fuseRrf([[{ document: "a", score: 1 }, { document: "a", score: 0 }]])).toThrow(/document a appears twice in ranked list 1/);
    expect(() => fuseRrf([dense], { k: -1 })).toThrow(/k=-1: expected a number ≥ 0/);
  });
});

describe("fuseWeighted", () => {
  it("min-max normalizes each list on its own", () => {
    expect(minMax(dense)).toEqual(close([1, 0.5, 0])); // (0.9 − 0.3) / 0.6, (0.6 − 0.3) / 0.6, 0
    expect(minMax(lexical)).toEqual(close([1, 0.4, 0])); // (14 − 4) / 10, (8 − 4) / 10, 0
    expect(minMax([{ document: "x", score: 3 }, { document: "y", score: 3 }])).toEqual([1, 1]);
    expect(minMax([])).toEqual([]);
  });

  it("sums weight · normalized score, 0 for a list that lacks the document", () => {
    // α = 0.3 on dense, 0.7 on lexical:
    // a: 0.3·1 + 0.7·0 = 0.3;  b: 0.3·0.5 = 0.15;  c: 0.3·0 + 0.7·1 = 0.7;  d: 0.7·0.4 = 0.28
    const fused = fuseWeighted([dense, lexical], [0.3, 0.7]);
    expect(fused.map((f) => f.document)).toEqual(["c", "a", "d", "b"]);
    expect(fused.map((f) => f.score)).toEqual(close([0.7, 0.3, 0.28, 0.15]));
  });

  it("with all the weight on one list gives that list's order, the others' documents after it at 0", () => {
    const fused = fuseWeighted([dense, lexical], [1, 0]);
    expect(fused.map((f) => f.document)).toEqual(["a", "b", "c", "d"]);
    expect(fused.map((f) => f.score)).toEqual(close([1, 0.5, 0, 0]));
  });

  it("refuses a weight per list missing, a negative weight, and a score that is not finite", () => {
    expect(() => fuseWeighted([dense, lexical], [1])).toThrow(/1 weights for 2 lists/);
    expect(() => fuseWeighted([dense], [-0.5])).toThrow(/expected numbers ≥ 0/);
    expect(() => fuseWeighted([[{ document: "a", score: NaN }]], [1])).toThrow(/score NaN/);
  });
});
