/**
 * The host top-k search uses when it has no device: batches of queries go to
 * the matrix-product path (onnxruntime's Gemm, topk-matmul.ts; 3–7× the SIMD
 * scan at 225 queries), a few queries to the WebAssembly SIMD scan
 * (topk-cpu.ts), which is as fast for one query, where both are bound by
 * memory bandwidth. With CELLAR_SEARCH_QUANTIZED=1, those few queries take the
 * int8 scan with exact rescoring instead (topk-quantized.ts: a fourth of the
 * bytes, ~3× faster for one query over 100K × 512; recall@100 is measured in
 * bench/topk.bench.ts), the codes built once per vectors array. Building them
 * costs about a second per 100K × 512 vectors, so it pays in a process that
 * searches one index many times (cellar serve's search page), not in a
 * one-shot `cellar search`.
 *
 * @example
 * ```ts
 * import { topKHost } from "./topk-host.ts";
 *
 * declare const queries: Float32Array, vectors: Float32Array; // rows of 512 floats
 * const { indices, scores } = await topKHost(queries, vectors, 512, 100);
 * ```
 */
import { runtime } from "../../kernel/mod.ts";
import { topKCpu } from "./topk-cpu.ts";
import { matmulTopKAvailable, topKMatmul } from "./topk-matmul.ts";
import { quantizeVectors, type QuantizedVectors, topKQuantized } from "./topk-quantized.ts";
import { checkInput, type TopKResult } from "./topk.ts";

/** From this many queries on, the matrix product beats the SIMD scan (bench/topk.bench.ts, topk_batch). */
export const MATMUL_MIN_QUERIES = 8;

const quantized = new WeakMap<Float32Array, QuantizedVectors>();

export async function topKHost(queries: Float32Array, vectors: Float32Array, dim: number, k: number): Promise<TopKResult> {
  const { numQueries } = checkInput(queries, vectors, dim, k);
  if (numQueries >= MATMUL_MIN_QUERIES && (await matmulTopKAvailable())) return await topKMatmul(queries, vectors, dim, k);
  if (runtime.env("CELLAR_SEARCH_QUANTIZED") === "1") {
    let codes = quantized.get(vectors);
    if (!codes || codes.dim !== dim) quantized.set(vectors, (codes = quantizeVectors(vectors, dim)));
    return topKQuantized(codes, queries, k);
  }
  return topKCpu(queries, vectors, dim, k);
}
