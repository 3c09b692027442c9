// The int8-quantized scan with exact f32 rescoring: its recall@100 against exact search is measured on
// seeded data, every score it returns is the reference's exact score for that vector, and the SIMD
// int8 kernel's integer dot products equal a plain loop's.
import { describe, expect, it } from "vitest";
import { dotsI8Kernel } from "../cells/index/dots-i8-simd.ts";
import { quantizeVectors, topKQuantized } from "../cells/index/topk-quantized.ts";
import { topK, type TopKResult } from "../cells/index/topk.ts";
import { rng } from "./random.ts";

function unitRows(random: () => number, rows: number, dim: number): Float32Array {
  const out = Float32Array.from({ length: rows * dim }, () => random() * 2 - 1);
  for (let r = 0; r < rows; r++) {
    const row = out.subarray(r * dim, (r + 1) * dim);
    const scale = 1 / Math.hypot(...row);
    for (let d = 0; d < dim; d++) row[d] *= scale;
  }
  return out;
}

/** Mean fraction of the exact top k that `got` found, per query. */
function recall(got: TopKResult, exact: TopKResult, numQueries: number, k: number): number {
  let found = 0;
  for (let q = 0; q < numQueries; q++) {
    const truth = new Set(exact.indices.subarray(q * k, (q + 1) * k));
    for (const i of got.indices.subarray(q * k, (q + 1) * k)) if (truth.has(i)) found++;
  }
  return found / (numQueries * k);
}

describe("topKQuantized", () => {
  const dim = 96; // not a multiple of the kernel's 32-byte step: rows are padded
  const numVectors = 6000, numQueries = 12, k = 100;
  const random = rng(41);
  const vectors = unitRows(random, numVectors, dim);
  const queries = unitRows(random, numQueries, dim);
  const exact = topK(queries, vectors, dim, k);

  it("runs the WebAssembly SIMD int8 kernel here, so the fast path is the one tested", () => {
    expect(dotsI8Kernel()).toBeDefined();
    expect(quantizeVectors(vectors, dim).store).toHaveProperty("kernel");
  });

  it("finds at least 98% of the exact top 100 with the default candidates, and fewer with k candidates only", () => {
    const quantized = quantizeVectors(vectors, dim);
    const full = recall(topKQuantized(quantized, queries, k), exact, numQueries, k);
    const bare = recall(topKQuantized(quantized, queries, k, { candidates: k }), exact, numQueries, k);
    expect(full).toBeGreaterThanOrEqual(0.98);
    // With no room to rescore, int8 rounding does lose neighbours: the measure can fail.
    expect(bare).toBeLessThan(full);
    expect(bare).toBeGreaterThan(0.5);
  });

  it("returns the reference's exact score for every vector it returns, best first", () => {
    const quantized = quantizeVectors(vectors, dim);
    const got = topKQuantized(quantized, queries, k, { candidates: 300 });
    for (let q = 0; q < numQueries; q++) {
      for (let r = 0; r < k; r++) {
        const v = got.indices[q * k + r];
        const one = topK(queries.subarray(q * dim, (q + 1) * dim), vectors.subarray(v * dim, (v + 1) * dim), dim, 1);
        expect(got.scores[q * k + r]).toBe(one.scores[0]);
        if (r > 0) expect(got.scores[q * k + r]).toBeLessThanOrEqual(got.scores[q * k + r - 1]);
      }
    }
    // Where the shortlist holds the whole exact top k, the answer is the reference's, bit for bit.
    const all = topKQuantized(quantized, queries, k, { candidates: numVectors });
    expect([...all.indices]).toEqual([...exact.indices]);
    expect([...all.scores]).toEqual([...exact.scores]);
  });

  it("gives the same answers with the SIMD kernel as with the TypeScript scan", () => {
    const simd = topKQuantized(quantizeVectors(vectors, dim), queries, k, { candidates: 150 });
    const plain = topKQuantized(quantizeVectors(vectors, dim, { simd: false }), queries, k, { candidates: 150 });
    expect([...simd.indices]).toEqual([...plain.indices]);
    expect([...simd.scores]).toEqual([...plain.scores]);
  });

  it("refuses a bad candidates count and misshapen input", () => {
    const quantized = quantizeVectors(vectors, dim);
    expect(() => topKQuantized(quantized, queries, k, { candidates: 0 })).toThrow(/candidates=0: expected a whole number ≥ 1/);
    expect(() => quantizeVectors(new Float32Array(10), 4)).toThrow(/10 vector values are not a multiple of dim=4/);
  });
});
