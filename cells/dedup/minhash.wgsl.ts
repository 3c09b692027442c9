/**
 * The MinHash WGSL kernel: one invocation per (piece of a document, permutation).
 * Kept as a string module so that Node (tsx) and Deno load it without a bundler or file reads.
 *
 * @example
 * ```ts
 * import type { GpuDevice } from "../../kernel/mod.ts";
 * import { MINHASH_WGSL } from "./minhash.wgsl.ts";
 *
 * declare const gpu: GpuDevice;
 * const pipeline = await gpu.pipeline("minhash", MINHASH_WGSL);
 * ```
 */
export const MINHASH_WORKGROUP = 64;

export const MINHASH_WGSL = /* wgsl */ `
struct Params {
  pieces: u32,
  num_perm: u32,
}

@group(0) @binding(0) var<storage, read> shingles: array<u32>;
// pieces + 1 boundaries into shingles; piece p is shingles[offsets[p] .. offsets[p + 1]).
@group(0) @binding(1) var<storage, read> offsets: array<u32>;
// One seed per permutation: h_i(x) = fmix32(x ^ seeds[i]).
@group(0) @binding(2) var<storage, read> seeds: array<u32>;
@group(0) @binding(3) var<storage, read_write> signatures: array<u32>;
@group(0) @binding(4) var<uniform> params: Params;

// MurmurHash3's finalizer: a bijection on u32 built from xor, shifts and
// wrapping multiplies, so it is exact in WGSL and in JavaScript (Math.imul).
fn fmix32(x: u32) -> u32 {
  var h = x;
  h ^= h >> 16u;
  h *= 0x85ebca6bu;
  h ^= h >> 13u;
  h *= 0xc2b2ae35u;
  h ^= h >> 16u;
  return h;
}

@compute @workgroup_size(${MINHASH_WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let perm = gid.x;
  let piece = wid.y;
  if (perm >= params.num_perm || piece >= params.pieces) {
    return;
  }
  let seed = seeds[perm];
  var m = 0xffffffffu;
  let end = offsets[piece + 1u];
  for (var j = offsets[piece]; j < end; j++) {
    m = min(m, fmix32(shingles[j] ^ seed));
  }
  signatures[piece * params.num_perm + perm] = m;
}
`;
