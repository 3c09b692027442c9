/**
 * The fast CPU top-k, used by search when there is no device: the same
 * answers as the reference `topK` (scores within f32 rounding; order may
 * differ only between near-equal scores), several times faster.
 *
 * Vectors are scanned a tile at a time; each tile is scored against a block
 * of queries while it sits in cache (WebAssembly SIMD where the runtime has
 * it and dim is a multiple of 16; an unrolled TypeScript loop otherwise), and
 * each query keeps its k best in a heap that a score must beat to enter.
 *
 * @example
 * ```ts
 * import { topKCpu } from "./topk-cpu.ts";
 *
 * declare const queries: Float32Array, vectors: Float32Array; // rows of 512 floats
 * const { indices, scores } = topKCpu(queries, vectors, 512, 100);
 * indices.subarray(0, 100); // the 100 nearest vectors of query 0
 * ```
 */
import { TopKHeap } from "./heap.ts";
import { DOTS_STEP, type DotsKernel, dotsKernel } from "./dots-simd.ts";
import { checkInput, type TopKResult } from "./topk.ts";

export interface TopKCpuOptions {
  /** Vectors scored per pass; default: 256 KiB of them, which stays in L2 while every query block meets it. */
  tileVectors?: number;
  /** Queries scored together against a tile. Default 8. */
  queryBlock?: number;
  /** false: the TypeScript loop even where WebAssembly SIMD runs (tests and benchmarks compare the two). */
  simd?: boolean;
}

const TILE_BYTES = 256 * 1024;

export function topKCpu(queries: Float32Array, vectors: Float32Array, dim: number, k: number, options: TopKCpuOptions = {}): TopKResult {
  const { numQueries, numVectors, kk } = checkInput(queries, vectors, dim, k);
  const indices = new Uint32Array(numQueries * kk);
  const scores = new Float32Array(numQueries * kk);
  if (kk === 0 || numQueries === 0) return { indices, scores };
  const tile = Math.max(1, Math.min(numVectors, Math.floor(options.tileVectors ?? TILE_BYTES / (dim * 4))));
  const block = Math.max(1, Math.min(numQueries, Math.floor(options.queryBlock ?? 8)));
  const heaps = Array.from({ length: numQueries }, () => new TopKHeap(kk));
  const kernel = options.simd !== false && dim % DOTS_STEP === 0 ? dotsKernel() : undefined;
  const scan = kernel ? simdScan(kernel, queries, vectors, dim, tile, block) : loopScan(queries, vectors, dim, tile, block);
  for (const { q0, nq, v0, nv, tileScores } of scan) {
    for (let q = 0; q < nq; q++) {
      const heap = heaps[q0 + q];
      // Scanned in index order, a score that does not beat the floor can never enter: skip the push.
      let floor = heap.floor;
      const row = q * nv;
      for (let v = 0; v < nv; v++) {
        const s = tileScores[row + v];
        if (s > floor) {
          heap.push(s, v0 + v);
          floor = heap.floor;
        }
      }
    }
  }
  for (let q = 0; q < numQueries; q++) heaps[q].drainInto(indices, scores, q * kk);
  return { indices, scores };
}

/** The scores of queries [q0, q0 + nq) × vectors [v0, v0 + nv), query-major. */
interface TileScores {
  q0: number;
  nq: number;
  v0: number;
  nv: number;
  tileScores: Float32Array;
}

function* simdScan(kernel: DotsKernel, queries: Float32Array, vectors: Float32Array, dim: number, tile: number, block: number): Generator<TileScores> {
  const rowBytes = dim * 4;
  const numQueries = queries.length / dim;
  const numVectors = vectors.length / dim;
  // Layout: every query, one vector tile, one block's scores; all offsets 16-byte aligned (rows are multiples of 64 bytes).
  const queriesAt = 0;
  const tileAt = queries.byteLength;
  const scoresAt = tileAt + tile * rowBytes;
  const bytes = scoresAt + block * tile * 4;
  const memory = kernel.memory;
  if (bytes > memory.buffer.byteLength) memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / 65536));
  // Views after growing: growth detaches the old buffer.
  new Float32Array(memory.buffer, queriesAt, queries.length).set(queries);
  const tileView = new Float32Array(memory.buffer, tileAt, tile * dim);
  for (let v0 = 0; v0 < numVectors; v0 += tile) {
    const nv = Math.min(tile, numVectors - v0);
    tileView.set(vectors.subarray(v0 * dim, (v0 + nv) * dim));
    for (let q0 = 0; q0 < numQueries; q0 += block) {
      const nq = Math.min(block, numQueries - q0);
      kernel.dots(queriesAt + q0 * rowBytes, nq, tileAt, nv, rowBytes, scoresAt);
      yield { q0, nq, v0, nv, tileScores: new Float32Array(memory.buffer, scoresAt, nq * nv) };
    }
  }
}

function* loopScan(queries: Float32Array, vectors: Float32Array, dim: number, tile: number, block: number): Generator<TileScores> {
  const numQueries = queries.length / dim;
  const numVectors = vectors.length / dim;
  const out = new Float32Array(block * tile);
  const tail = dim - (dim % 4);
  for (let v0 = 0; v0 < numVectors; v0 += tile) {
    const nv = Math.min(tile, numVectors - v0);
    for (let q0 = 0; q0 < numQueries; q0 += block) {
      const nq = Math.min(block, numQueries - q0);
      for (let v = 0; v < nv; v++) {
        const vo = (v0 + v) * dim;
        for (let q = 0; q < nq; q++) {
          const qo = (q0 + q) * dim;
          // Four independent sums: each add need not wait for the one before.
          let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
          let d = 0;
          for (; d < tail; d += 4) {
            s0 += queries[qo + d] * vectors[vo + d];
            s1 += queries[qo + d + 1] * vectors[vo + d + 1];
            s2 += queries[qo + d + 2] * vectors[vo + d + 2];
            s3 += queries[qo + d + 3] * vectors[vo + d + 3];
          }
          for (; d < dim; d++) s0 += queries[qo + d] * vectors[vo + d];
          out[q * nv + v] = (s0 + s1) + (s2 + s3);
        }
      }
      yield { q0, nq, v0, nv, tileScores: out };
    }
  }
}
