/**
 * Batched exact top-k as a matrix product: the scores of a block of queries
 * against a tile of vectors are one Gemm (queries · tileᵀ) in onnxruntime's
 * CPU kernels (MLAS, a BLAS-class SGEMM on every core), and the graph's TopK
 * keeps each query's k best of the tile; the tiles' candidates merge in the
 * shared heap, so ties order as every other path orders them. Memory stays
 * bounded by one score tile (≤ 64 MiB) whatever the index size.
 *
 * The graph is built here at run time (cells/onnx/model-proto.ts), once per
 * process. onnxruntime-node is a Node addon; Deno loads it through its npm
 * compatibility too. Where it cannot load, `matmulTopKAvailable()` is false
 * and search keeps the WebAssembly SIMD path (topk-cpu.ts).
 *
 * @example
 * ```ts
 * import { topKMatmul } from "./topk-matmul.ts";
 *
 * declare const queries: Float32Array, vectors: Float32Array; // rows of 512 floats
 * const { indices, scores } = await topKMatmul(queries, vectors, 512, 100);
 * indices.subarray(0, 100); // the 100 nearest vectors of query 0
 * ```
 */
import type { InferenceSession, Tensor } from "onnxruntime-node";
import { runtime } from "../../kernel/mod.ts";
import { attrInt, FLOAT, graphProto, INT64, modelProto, nodeProto, valueInfo } from "../onnx/model-proto.ts";
import { TopKHeap } from "./heap.ts";
import { checkInput, type TopKResult } from "./topk.ts";

export interface TopKMatmulOptions {
  /** Vectors per Gemm; default 16384 (fewer when the query block would make the score tile exceed 64 MiB). */
  tileVectors?: number;
  /** Queries per Gemm; default 1024. */
  queryBlock?: number;
  /**
   * Where each tile's k best are picked: "graph" (default), onnxruntime's TopK
   * in the same graph; "heap", every score read back and pushed through the
   * heap in TypeScript. bench/topk.bench.ts measures both: TopK is faster.
   */
  selection?: "graph" | "heap";
}

const SCORE_TILE_FLOATS = 16 * 1024 * 1024;

type Ort = typeof import("onnxruntime-node");
interface Engine {
  ort: Ort;
  /** Gemm + TopK. */
  session: InferenceSession;
  /** Gemm alone, for selection "heap". */
  scores: InferenceSession;
}
let engine: Promise<Engine | null> | undefined;

/** onnxruntime and the Gemm + TopK session, loaded once; null where the addon does not load. */
function loadEngine(): Promise<Engine | null> {
  engine ??= (async () => {
    try {
      const ort = (await import("onnxruntime-node")) as Ort;
      const options = { executionProviders: ["cpu"], intraOpNumThreads: runtime.cpuCount(), interOpNumThreads: 1, graphOptimizationLevel: "all" } as const;
      const [session, scores] = await Promise.all([
        ort.InferenceSession.create(scoresGraph(true), options),
        ort.InferenceSession.create(scoresGraph(false), options),
      ]);
      return { ort, session, scores };
    } catch {
      return null;
    }
  })();
  return engine;
}

/** Whether the matrix-product path runs here (onnxruntime-node loads). */
export async function matmulTopKAvailable(): Promise<boolean> {
  return (await loadEngine()) !== null;
}

/** scores = q · vᵀ (Gemm, transB), then with `topK` the k best per row; q [nq, d], v [nv, d], k [1]. */
function scoresGraph(topK: boolean): Uint8Array {
  const gemm = nodeProto("Gemm", ["q", "v"], ["scores"], [attrInt("transB", 1)]);
  const select = nodeProto("TopK", ["scores", "k"], ["values", "indices"], [attrInt("axis", 1), attrInt("largest", 1), attrInt("sorted", 1)]);
  const graph = graphProto({
    name: "cellar-topk",
    nodes: topK ? [gemm, select] : [gemm],
    inputs: [valueInfo("q", FLOAT, ["nq", "d"]), valueInfo("v", FLOAT, ["nv", "d"]), ...(topK ? [valueInfo("k", INT64, [1])] : [])],
    outputs: topK
      ? [valueInfo("values", FLOAT, ["nq", "kk"]), valueInfo("indices", INT64, ["nq", "kk"])]
      : [valueInfo("scores", FLOAT, ["nq", "nv"])],
  });
  return modelProto(graph, { opset: 17, producer: "cellar" });
}

/** The same answers as `topK` (scores within f32 rounding; order may differ only between near-equal scores); rejects where onnxruntime does not load. */
export async function topKMatmul(queries: Float32Array, vectors: Float32Array, dim: number, k: number, options: TopKMatmulOptions = {}): Promise<TopKResult> {
  const { numQueries, numVectors, kk } = checkInput(queries, vectors, dim, k);
  const indices = new Uint32Array(numQueries * kk);
  const scores = new Float32Array(numQueries * kk);
  if (kk === 0 || numQueries === 0) return { indices, scores };
  const loaded = await loadEngine();
  if (!loaded) throw new Error("topKMatmul: onnxruntime-node does not load in this runtime; use topKCpu");
  const block = Math.max(1, Math.min(numQueries, Math.floor(options.queryBlock ?? 1024)));
  const tile = Math.max(1, Math.min(numVectors, Math.floor(options.tileVectors ?? 16384), Math.floor(SCORE_TILE_FLOATS / block)));
  const heaps = Array.from({ length: numQueries }, () => new TopKHeap(kk));
  for (let q0 = 0; q0 < numQueries; q0 += block) {
    const nq = Math.min(block, numQueries - q0);
    const q = new loaded.ort.Tensor("float32", queries.subarray(q0 * dim, (q0 + nq) * dim), [nq, dim]);
    for (let v0 = 0; v0 < numVectors; v0 += tile) {
      const nv = Math.min(tile, numVectors - v0);
      const tileK = Math.min(kk, nv);
      const v = new loaded.ort.Tensor("float32", vectors.subarray(v0 * dim, (v0 + nv) * dim), [nv, dim]);
      if (options.selection === "heap") {
        const out = await loaded.scores.run({ q, v });
        pushScores(heaps, q0, nq, v0, nv, out.scores.data as Float32Array);
        continue;
      }
      const kt = new loaded.ort.Tensor("int64", BigInt64Array.of(BigInt(tileK)), [1]);
      const out = await loaded.session.run({ q, v, k: kt });
      mergeTile(heaps, q0, nq, v0, tileK, out.values, out.indices);
    }
  }
  for (let qi = 0; qi < numQueries; qi++) heaps[qi].drainInto(indices, scores, qi * kk);
  return { indices, scores };
}

/** One tile's per-query best (sorted, best first) into the heaps: once a candidate cannot enter, neither can the rest of its row. */
function mergeTile(heaps: TopKHeap[], q0: number, nq: number, v0: number, tileK: number, values: Tensor, ids: Tensor): void {
  const s = values.data as Float32Array;
  const at = ids.data as BigInt64Array;
  for (let q = 0; q < nq; q++) {
    const heap = heaps[q0 + q];
    for (let j = q * tileK; j < (q + 1) * tileK; j++) {
      // A later tile's equal score has a higher index: it loses the tie, as `floor` says.
      if (!(s[j] > heap.floor)) break;
      heap.push(s[j], v0 + Number(at[j]));
    }
  }
}

/** Every score of a tile (query-major, nv per query) through the heaps, skipping those under each floor. */
function pushScores(heaps: TopKHeap[], q0: number, nq: number, v0: number, nv: number, scores: Float32Array): void {
  for (let q = 0; q < nq; q++) {
    const heap = heaps[q0 + q];
    let floor = heap.floor;
    for (let v = 0, at = q * nv; v < nv; v++, at++) {
      if (scores[at] > floor) {
        heap.push(scores[at], v0 + v);
        floor = heap.floor;
      }
    }
  }
}
