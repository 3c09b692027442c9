/**
 * Dense similarity top-k: for each query, the k vectors with the largest dot
 * product, sorted by score descending, then index ascending. The GPU path
 * tiles over vectors and queries so that no buffer exceeds one storage
 * binding, keeps a local top-k per segment of each tile on the GPU, and merges
 * those candidates on the host; memory stays bounded by one tile. `topK` is
 * the plain reference every path is tested against; search's CPU path is the
 * faster `topKCpu` (topk-cpu.ts).
 *
 * @example
 * ```ts
 * import type { GpuDevice } from "../../kernel/mod.ts";
 * import { topKGpu } from "./topk.ts";
 *
 * declare const gpu: GpuDevice, queries: Float32Array, vectors: Float32Array; // rows of 384 floats
 * const { indices, scores } = await topKGpu(gpu, queries, vectors, 384, 10); // or topK(...) on the CPU
 * indices.subarray(0, 10); // the 10 nearest vectors of query 0
 * ```
 */
import { CellarError, type GpuDevice } from "../../kernel/mod.ts";
import { TopKHeap } from "./heap.ts";
import { SCORES_TILE, SCORES_WGSL, SELECT_WORKGROUP, selectWgsl } from "./topk.wgsl.ts";

export interface TopKResult {
  /** numQueries × k vector indices, query-major. */
  indices: Uint32Array;
  /** The matching scores. */
  scores: Float32Array;
}

export interface TopKGpuOptions {
  /** Vectors per tile; defaults to what fits 64 MiB and one storage binding. Tests lower it to force several tiles. */
  tileVectors?: number;
  /** Queries per tile. Default 256. */
  tileQueries?: number;
  /** Scores each GPU invocation reduces to its local top-k. Default 256. */
  segment?: number;
}

/** Above this k the local top-k no longer fits an invocation's private memory; scores are then selected on the host. */
const MAX_GPU_K = 64;
const TILE_BYTES = 64 * 1024 * 1024;

/** The reference: one query at a time, scores summed in double precision, then rounded to f32. */
export function topK(queries: Float32Array, vectors: Float32Array, dim: number, k: number): TopKResult {
  const { numQueries, numVectors, kk } = checkInput(queries, vectors, dim, k);
  const indices = new Uint32Array(numQueries * kk);
  const scores = new Float32Array(numQueries * kk);
  for (let q = 0; q < numQueries; q++) {
    const heap = new TopKHeap(kk);
    const qo = q * dim;
    for (let v = 0; v < numVectors; v++) {
      const vo = v * dim;
      let s = 0;
      for (let d = 0; d < dim; d++) s += queries[qo + d] * vectors[vo + d];
      heap.push(Math.fround(s), v);
    }
    heap.drainInto(indices, scores, q * kk);
  }
  return { indices, scores };
}

/** The same answers as `topK` (scores within f32 rounding; order may differ only between near-equal scores), on `gpu`. */
export async function topKGpu(
  gpu: GpuDevice,
  queries: Float32Array,
  vectors: Float32Array,
  dim: number,
  k: number,
  options: TopKGpuOptions = {},
): Promise<TopKResult> {
  const { numQueries, numVectors, kk } = checkInput(queries, vectors, dim, k);
  const indices = new Uint32Array(numQueries * kk);
  const scores = new Float32Array(numQueries * kk);
  if (kk === 0 || numQueries === 0) return { indices, scores };

  const { segment, tileQueries, tileVectors } = tileSizes(gpu, numQueries, numVectors, dim, kk, options);
  const onGpu = kk <= MAX_GPU_K;
  const scorePipeline = await gpu.pipeline("topk-scores", SCORES_WGSL);
  const selectPipeline = onGpu ? await gpu.pipeline(`topk-select-k${kk}`, selectWgsl(kk, segment)) : undefined;
  const heaps = Array.from({ length: numQueries }, () => new TopKHeap(kk));
  const pass: Pass = { gpu, scorePipeline, selectPipeline, queries, dim, k: kk, segment, tileQueries, heaps };
  for (let v0 = 0; v0 < numVectors; v0 += tileVectors) {
    const nv = Math.min(tileVectors, numVectors - v0);
    await searchVectorTile(pass, vectors.subarray(v0 * dim, (v0 + nv) * dim), v0, nv);
  }
  for (let q = 0; q < numQueries; q++) heaps[q].drainInto(indices, scores, q * kk);
  return { indices, scores };
}

/**
 * Segment and tile sizes: no buffer over one storage binding (or 64 MiB for
 * the vector and score tiles), no dispatch over the workgroup limit.
 */
function tileSizes(gpu: GpuDevice, numQueries: number, numVectors: number, dim: number, kk: number, options: TopKGpuOptions) {
  const limits = gpu.limits;
  const binding = limits.maxStorageBufferBindingSize;
  const maxGroups = limits.maxComputeWorkgroupsPerDimension;
  const rowBytes = dim * 4;
  if (rowBytes > binding) throw new CellarError(`topK: dim=${dim} vectors exceed one storage binding of ${gpu.label}`);
  // A segment shorter than k would return more candidates than scores.
  const segment = Math.max(positive("segment", options.segment ?? 256), kk);
  const tileQueries = Math.max(1, Math.min(
    numQueries,
    positive("tileQueries", options.tileQueries ?? 256),
    Math.floor(binding / rowBytes),
    maxGroups, // the selection kernel runs one workgroup row per query
  ));
  const tileVectors = Math.max(1, Math.min(
    numVectors,
    positive("tileVectors", options.tileVectors ?? Infinity),
    Math.floor(Math.min(binding, TILE_BYTES) / rowBytes),
    Math.floor(Math.min(binding, TILE_BYTES) / (tileQueries * 4)), // the score tile
    maxGroups * SCORES_TILE,
    maxGroups * SELECT_WORKGROUP * segment,
  ));
  return { segment, tileQueries, tileVectors };
}

/** What every tile of one `topKGpu` call shares: the device, its pipelines, the queries and each query's heap. */
interface Pass {
  gpu: GpuDevice;
  scorePipeline: GPUComputePipeline;
  selectPipeline: GPUComputePipeline | undefined;
  queries: Float32Array;
  dim: number;
  k: number;
  segment: number;
  tileQueries: number;
  heaps: TopKHeap[];
}

/** Every query tile against one vector tile (`tile`, vectors v0 … v0 + nv), its candidates merged into the heaps. */
async function searchVectorTile(pass: Pass, tile: Float32Array, v0: number, nv: number): Promise<void> {
  const { gpu, queries, dim, tileQueries } = pass;
  const numQueries = queries.length / dim;
  const vectorBuffer = gpu.upload(tile);
  const inFlight: Promise<void>[] = [];
  try {
    for (let q0 = 0; q0 < numQueries; q0 += tileQueries) {
      // Two query tiles in flight: one computes while the previous one is read back and merged.
      if (inFlight.length >= 2) await inFlight.shift();
      const nq = Math.min(tileQueries, numQueries - q0);
      const done = (async () => {
        const vectorTile = { buffer: vectorBuffer, size: tile.byteLength };
        const candidates = await scoreTile(gpu, pass.scorePipeline, pass.selectPipeline, queries, q0, nq, dim, vectorTile, nv, v0, pass.k, pass.segment);
        mergeCandidates(pass.heaps, candidates, q0, nq, v0);
      })();
      done.catch(() => {});
      inFlight.push(done);
    }
    await Promise.all(inFlight);
  } finally {
    // The vector tile is bound by every query tile in flight: only after they settle may it go back to the pool.
    await Promise.allSettled(inFlight);
    gpu.release(vectorBuffer);
  }
}

/** One tile's candidates into the heaps of queries q0 … q0 + nq; without ids, candidate c of a query is vector v0 + c. */
function mergeCandidates(
  heaps: TopKHeap[],
  { values, ids, perQuery }: { values: Float32Array; ids?: Uint32Array; perQuery: number },
  q0: number,
  nq: number,
  v0: number,
): void {
  for (let q = 0; q < nq; q++) {
    const heap = heaps[q0 + q];
    for (let c = q * perQuery; c < (q + 1) * perQuery; c++) {
      const id = ids ? ids[c] : v0 + (c - q * perQuery);
      if (id !== 0xffffffff) heap.push(values[c], id);
    }
  }
}

/**
 * Scores one query tile against one vector tile. With a selection pipeline it
 * returns perQuery = segments × k candidates per query (index NONE for empty
 * slots); without one, the raw scores (perQuery = nv, ids implied).
 */
async function scoreTile(
  gpu: GpuDevice,
  scorePipeline: GPUComputePipeline,
  selectPipeline: GPUComputePipeline | undefined,
  queries: Float32Array,
  q0: number,
  nq: number,
  dim: number,
  vectors: { buffer: GPUBuffer; size: number },
  nv: number,
  base: number,
  k: number,
  segment: number,
): Promise<{ values: Float32Array; ids?: Uint32Array; perQuery: number }> {
  const buffers: GPUBuffer[] = [];
  const take = (buffer: GPUBuffer) => (buffers.push(buffer), buffer);
  try {
    const queryTile = queries.subarray(q0 * dim, (q0 + nq) * dim);
    const queryBuffer = take(gpu.upload(queryTile));
    const scoreBytes = nq * nv * 4;
    const scoreBuffer = take(gpu.acquire(scoreBytes, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC));
    const scoreParams = take(gpu.upload(new Uint32Array([nq, nv, dim, 0]), GPUBufferUsage.UNIFORM));
    gpu.dispatch(scorePipeline, [
      { buffer: queryBuffer, size: queryTile.byteLength },
      vectors,
      { buffer: scoreBuffer, size: scoreBytes },
      { buffer: scoreParams, size: 16 },
    ], [Math.ceil(nv / SCORES_TILE), Math.ceil(nq / SCORES_TILE)]);
    if (!selectPipeline) {
      return { values: new Float32Array(await gpu.readback(scoreBuffer, scoreBytes)), perQuery: nv };
    }
    const segments = Math.ceil(nv / segment);
    const candidateBytes = nq * segments * k * 4;
    const bestScores = take(gpu.acquire(candidateBytes, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC));
    const bestIndices = take(gpu.acquire(candidateBytes, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC));
    const selectParams = take(gpu.upload(new Uint32Array([nq, nv, segments, base]), GPUBufferUsage.UNIFORM));
    gpu.dispatch(selectPipeline, [
      { buffer: scoreBuffer, size: scoreBytes },
      { buffer: bestScores, size: candidateBytes },
      { buffer: bestIndices, size: candidateBytes },
      { buffer: selectParams, size: 16 },
    ], [Math.ceil(segments / SELECT_WORKGROUP), nq]);
    const [values, ids] = await Promise.all([gpu.readback(bestScores, candidateBytes), gpu.readback(bestIndices, candidateBytes)]);
    return { values: new Float32Array(values), ids: new Uint32Array(ids), perQuery: segments * k };
  } finally {
    for (const buffer of buffers) gpu.release(buffer);
  }
}

/** Checks the shapes every top-k path accepts; k is capped at the number of vectors. */
export function checkInput(queries: Float32Array, vectors: Float32Array, dim: number, k: number) {
  if (!Number.isInteger(dim) || dim < 1) throw new CellarError(`topK: dim=${dim}: expected a positive integer`);
  if (!Number.isInteger(k) || k < 0) throw new CellarError(`topK: k=${k}: expected a non-negative integer`);
  if (queries.length % dim !== 0) throw new CellarError(`topK: ${queries.length} query values are not a multiple of dim=${dim}`);
  if (vectors.length % dim !== 0) throw new CellarError(`topK: ${vectors.length} vector values are not a multiple of dim=${dim}`);
  const numVectors = vectors.length / dim;
  return { numQueries: queries.length / dim, numVectors, kk: Math.min(k, numVectors) };
}

function positive(name: string, value: number): number {
  if (!(value >= 1)) throw new CellarError(`topK: ${name}=${value}: expected at least 1`);
  return Math.floor(value);
}
