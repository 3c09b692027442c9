/**
 * The dense top-k WGSL kernels: a tiled queries × vectors score matrix, then
 * per (query, segment of the scores) a sorted local top-k that the host merges.
 * String modules, so that Node (tsx) and Deno load them without a bundler.
 *
 * @example
 * ```ts
 * import type { GpuDevice } from "../../kernel/mod.ts";
 * import { SCORES_WGSL, selectWgsl } from "./topk.wgsl.ts";
 *
 * declare const gpu: GpuDevice;
 * const scores = await gpu.pipeline("topk-scores", SCORES_WGSL);
 * const select = await gpu.pipeline("topk-select", selectWgsl(10, 256));
 * ```
 */

/** Side of the square score tile one workgroup computes. */
export const SCORES_TILE = 16;
export const SELECT_WORKGROUP = 64;

export const SCORES_WGSL = /* wgsl */ `
struct Params {
  queries: u32,
  vectors: u32,
  dim: u32,
}

const TILE = ${SCORES_TILE}u;

@group(0) @binding(0) var<storage, read> queries: array<f32>;
@group(0) @binding(1) var<storage, read> vectors: array<f32>;
// scores[q * params.vectors + v] = dot(query q, vector v)
@group(0) @binding(2) var<storage, read_write> scores: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

// TILE rows of queries and of vectors, TILE dimensions at a time: each value
// read from memory once per workgroup instead of once per invocation.
var<workgroup> q_tile: array<f32, ${SCORES_TILE * SCORES_TILE}>;
var<workgroup> v_tile: array<f32, ${SCORES_TILE * SCORES_TILE}>;

@compute @workgroup_size(${SCORES_TILE}, ${SCORES_TILE})
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let dim = params.dim;
  let q_row = wid.y * TILE + lid.y;
  let v_row = wid.x * TILE + lid.y;
  var acc = 0.0;
  for (var d0 = 0u; d0 < dim; d0 += TILE) {
    let d = d0 + lid.x;
    var qv = 0.0;
    if (q_row < params.queries && d < dim) {
      qv = queries[q_row * dim + d];
    }
    q_tile[lid.y * TILE + lid.x] = qv;
    var vv = 0.0;
    if (v_row < params.vectors && d < dim) {
      vv = vectors[v_row * dim + d];
    }
    v_tile[lid.y * TILE + lid.x] = vv;
    workgroupBarrier();
    for (var t = 0u; t < TILE; t++) {
      acc += q_tile[lid.y * TILE + t] * v_tile[lid.x * TILE + t];
    }
    workgroupBarrier();
  }
  let q = wid.y * TILE + lid.y;
  let v = wid.x * TILE + lid.x;
  if (q < params.queries && v < params.vectors) {
    scores[q * params.vectors + v] = acc;
  }
}
`;

/**
 * The selection kernel for a given k and segment length: both are baked in as
 * constants because WGSL sizes private arrays only by constants; the device's
 * pipeline cache keys on the source, so each (k, segment) compiles once.
 */
export function selectWgsl(k: number, segment: number): string {
  return /* wgsl */ `
struct Params {
  queries: u32,
  vectors: u32,
  segments: u32,
  // Global index of this tile's first vector.
  base: u32,
}

const K = ${k}u;
const SEGMENT = ${segment}u;
const NONE = 0xffffffffu;

@group(0) @binding(0) var<storage, read> scores: array<f32>;
@group(0) @binding(1) var<storage, read_write> best_scores: array<f32>;
@group(0) @binding(2) var<storage, read_write> best_indices: array<u32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(${SELECT_WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let segment = gid.x;
  let q = wid.y;
  if (segment >= params.segments || q >= params.queries) {
    return;
  }
  // Sorted by score descending; scanning indices in ascending order with a
  // strict comparison keeps the lower index first among equal scores.
  var best: array<f32, K>;
  var index: array<u32, K>;
  for (var i = 0u; i < K; i++) {
    // Empty slots are marked by their index; their score is never compared.
    best[i] = 0.0;
    index[i] = NONE;
  }
  let start = segment * SEGMENT;
  let end = min(start + SEGMENT, params.vectors);
  let row = q * params.vectors;
  for (var v = start; v < end; v++) {
    let s = scores[row + v];
    if (s > best[K - 1u] || index[K - 1u] == NONE) {
      var j = K - 1u;
      while (j > 0u && (s > best[j - 1u] || index[j - 1u] == NONE)) {
        best[j] = best[j - 1u];
        index[j] = index[j - 1u];
        j--;
      }
      best[j] = s;
      index[j] = params.base + v;
    }
  }
  let out = (q * params.segments + segment) * K;
  for (var i = 0u; i < K; i++) {
    best_scores[out + i] = best[i];
    best_indices[out + i] = index[i];
  }
}
`;
}
