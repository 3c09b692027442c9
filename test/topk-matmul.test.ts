// The batched top-k as a matrix product (onnxruntime's Gemm + TopK, real CPU kernels) against the
// reference topK: same indices up to ties within 1e-5, the same tie order, several tiles and query blocks.
import { describe, expect, it } from "vitest";
import { matmulTopKAvailable, topKMatmul } from "../cells/index/topk-matmul.ts";
import { topK, type TopKResult } from "../cells/index/topk.ts";
import { rng } from "./random.ts";

/** Every index the matmul path gives scores, in exact arithmetic, within 1e-5 of the reference's at that rank; returns how many indices differ. */
function expectSameAsReference(queries: Float32Array, vectors: Float32Array, dim: number, got: TopKResult, ref: TopKResult): number {
  expect(got.indices.length).toBe(ref.indices.length);
  const k = ref.indices.length / (queries.length / dim);
  let differences = 0;
  for (let i = 0; i < ref.indices.length; i++) {
    expect(Math.abs(got.scores[i] - ref.scores[i])).toBeLessThanOrEqual(1e-5);
    if (got.indices[i] === ref.indices[i]) continue;
    differences++;
    const q = Math.floor(i / k);
    let exact = 0;
    for (let d = 0; d < dim; d++) exact += queries[q * dim + d] * vectors[got.indices[i] * dim + d];
    expect(Math.abs(exact - ref.scores[i])).toBeLessThanOrEqual(1e-5);
  }
  return differences;
}

function unitRows(random: () => number, rows: number, dim: number): Float32Array {
  const out = Float32Array.from({ length: rows * dim }, () => random() * 2 - 1);
  for (let r = 0; r < rows; r++) {
    const row = out.subarray(r * dim, (r + 1) * dim);
    const scale = 1 / Math.hypot(...row);
    for (let d = 0; d < dim; d++) row[d] *= scale;
  }
  return out;
}

describe("topKMatmul", () => {
  it("loads onnxruntime here, so the matrix-product path is the one tested", async () => {
    expect(await matmulTopKAvailable()).toBe(true);
  });

  for (const [dim, numVectors, numQueries, k] of [[512, 3000, 13, 100], [48, 5000, 9, 10], [100, 2000, 5, 7], [16, 40, 3, 50], [64, 500, 4, 0]]) {
    it(`equals the reference at dim ${dim}, ${numVectors} vectors, ${numQueries} queries, k ${k}`, async () => {
      const random = rng(dim * 11 + k);
      // Unit length, as search's vectors are: scores within [-1, 1], where 1e-5 is far above f32 rounding
      // (raw [-1, 1) components at dim 512 give scores near 20, and SGEMM's summation order moves them 1.3e-5).
      const vectors = unitRows(random, numVectors, dim);
      const queries = unitRows(random, numQueries, dim);
      const ref = topK(queries, vectors, dim, k);
      // Small tiles and blocks too: several tiles, a last tile shorter than k, a ragged last block.
      for (const options of [{}, { tileVectors: 37, queryBlock: 4 }, { tileVectors: 1000, queryBlock: 2 }, { selection: "heap" as const, tileVectors: 700 }]) {
        const got = await topKMatmul(queries, vectors, dim, k, options);
        expect(expectSameAsReference(queries, vectors, dim, got, ref)).toBeLessThanOrEqual(ref.indices.length / 100);
      }
    });
  }

  it("breaks ties between equal scores by the lower index, within a tile and across tiles", async () => {
    const random = rng(5);
    const dim = 32;
    const base = Float32Array.from({ length: 10 * dim }, () => random());
    // Every vector three times: each score appears three times, bit for bit.
    const vectors = new Float32Array(30 * dim);
    for (let copy = 0; copy < 3; copy++) vectors.set(base, copy * 10 * dim);
    const queries = Float32Array.from({ length: 2 * dim }, () => random());
    for (const options of [{ tileVectors: 30 }, { tileVectors: 7 }, { tileVectors: 10 }, { tileVectors: 7, selection: "heap" as const }]) {
      const got = await topKMatmul(queries, vectors, dim, 12, options);
      for (let q = 0; q < 2; q++) {
        const at = q * 12;
        for (let i = 0; i < 12; i += 3) {
          const trio = [...got.indices.subarray(at + i, at + i + 3)];
          expect(trio).toEqual([...trio].sort((a, b) => a - b));
          expect(new Set(trio.map((v) => v % 10)).size).toBe(1);
          expect(got.scores[at + i]).toBe(got.scores[at + i + 2]);
        }
      }
    }
  });

  it("refuses shapes that do not fit", async () => {
    await expect(topKMatmul(new Float32Array(5), new Float32Array(8), 4, 1)).rejects.toThrow(/5 query values are not a multiple of dim=4/);
    await expect(topKMatmul(new Float32Array(4), new Float32Array(8), 4, -1)).rejects.toThrow(/k=-1: expected a non-negative integer/);
  });
});
