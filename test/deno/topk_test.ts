// The host top-k paths under Deno: onnxruntime-node's addon loads through Deno's npm compatibility, so
// the batched matrix-product top-k runs here too and equals the reference; the int8 SIMD scan runs too.
import assert from "node:assert/strict";
import { matmulTopKAvailable, topKMatmul } from "../../cells/index/topk-matmul.ts";
import { quantizeVectors, topKQuantized } from "../../cells/index/topk-quantized.ts";
import { topK } from "../../cells/index/topk.ts";
import { rng } from "../random.ts";

function unitRows(random: () => number, rows: number, dim: number): Float32Array {
  const out = Float32Array.from({ length: rows * dim }, () => random() * 2 - 1);
  for (let r = 0; r < rows; r++) {
    const row = out.subarray(r * dim, (r + 1) * dim);
    const scale = 1 / Math.hypot(...row);
    for (let d = 0; d < dim; d++) row[d] *= scale;
  }
  return out;
}

const random = rng(77);
const dim = 64;
const vectors = unitRows(random, 3000, dim);
const queries = unitRows(random, 9, dim);
const ref = topK(queries, vectors, dim, 20);

Deno.test("the matrix-product top-k loads under Deno and equals the reference", async () => {
  assert.equal(await matmulTopKAvailable(), true);
  const got = await topKMatmul(queries, vectors, dim, 20, { tileVectors: 500 });
  for (let i = 0; i < ref.indices.length; i++) assert.ok(Math.abs(got.scores[i] - ref.scores[i]) <= 1e-5, `rank ${i}`);
  const same = got.indices.filter((v, i) => v === ref.indices[i]).length;
  assert.ok(same >= ref.indices.length - 2, `${same} of ${ref.indices.length} indices equal`);
});

Deno.test("the int8 scan with exact rescoring returns the reference's scores under Deno", () => {
  const got = topKQuantized(quantizeVectors(vectors, dim), queries, 20, { candidates: 3000 });
  assert.deepEqual([...got.indices], [...ref.indices]);
  assert.deepEqual([...got.scores], [...ref.scores]);
});
