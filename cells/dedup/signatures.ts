/**
 * The chunk function of dedup's first pass, as a task handle so that the CPU
 * path runs it in the CPU workers: for each text, the exact-duplicate key
 * (SHA-256 of the normalized text), the number of word 5-shingles, and the
 * MinHash signature — computed by the WGSL kernel when the chunk holds a
 * device, otherwise on the CPU by the WebAssembly SIMD version of the
 * TypeScript reference (the reference itself where SIMD is missing). All
 * three are bit-identical, so what dedup decides never depends on where a chunk ran.
 *
 * @example
 * ```ts
 * import { type Context, task } from "../../kernel/mod.ts";
 * import { SIGN_MODULE, type SignItem, type Signed } from "./signatures.ts";
 *
 * declare const ctx: Context, texts: string[];
 * const items = texts.map((text) => ({ text, numPerm: 128 }));
 * for await (const doc of ctx.map<SignItem, Signed>(items, task(SIGN_MODULE, "signChunk"), { batchSize: 512 })) {
 *   doc.key; doc.shingles; doc.signature; // Uint32Array(128)
 * }
 * ```
 */
import type { ChunkInfo, GpuDevice } from "../../kernel/mod.ts";
import { minhashSignatures, minhashSignaturesGpu } from "./minhash.ts";
import { minhashSignaturesSimd } from "./minhash-simd.ts";
import { exactKey, WordScan } from "./normalize.ts";
import { shingleCount, shingleHashesOf } from "./shingles.ts";

/** Words per shingle. */
export const SHINGLE_WORDS = 5;
/** The seed of the MinHash permutation family; fixed, so that signatures of different runs compare. */
const MINHASH_SEED = 1;

export const SIGN_MODULE = import.meta.url;

export interface SignItem {
  text: string;
  numPerm: number;
}

export interface Signed {
  /** SHA-256 hex of the normalized text. */
  key: string;
  /** Word shingles (with repeats) of the text. */
  shingles: number;
  signature: Uint32Array;
  /** True when the signature came from a device. */
  gpu: boolean;
}

export async function signChunk(items: SignItem[], info: ChunkInfo<GpuDevice>): Promise<Signed[]> {
  if (items.length === 0) return [];
  const numPerm = items[0].numPerm;
  const scan = new WordScan();
  const keys: string[] = [];
  const offsets = new Uint32Array(items.length + 1);
  let shingles = new Uint32Array(64 * 1024);
  for (let i = 0; i < items.length; i++) {
    scan.scan((items[i].text ?? "").toLowerCase());
    keys.push(exactKey(scan.normalized));
    const need = offsets[i] + shingleCount(scan.count, SHINGLE_WORDS);
    if (need > shingles.length) {
      const bigger = new Uint32Array(Math.max(need, shingles.length * 2));
      bigger.set(shingles.subarray(0, offsets[i]));
      shingles = bigger;
    }
    offsets[i + 1] = offsets[i] + shingleHashesOf(scan.hashes, scan.count, SHINGLE_WORDS, shingles, offsets[i]);
  }
  const flat = shingles.subarray(0, offsets[items.length]);
  const signatures = info.device
    ? await minhashSignaturesGpu(info.device, flat, offsets, numPerm, MINHASH_SEED)
    : minhashSignaturesSimd(flat, offsets, numPerm, MINHASH_SEED) ?? minhashSignatures(flat, offsets, numPerm, MINHASH_SEED);
  return keys.map((key, i) => ({
    key,
    shingles: offsets[i + 1] - offsets[i],
    signature: signatures.subarray(i * numPerm, (i + 1) * numPerm),
    gpu: info.device !== undefined,
  }));
}
