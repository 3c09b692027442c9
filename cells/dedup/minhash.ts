/**
 * MinHash signatures for near-duplicate detection: word shingles hashed to
 * u32, then per document the minimum of each of `numPerm` hash permutations.
 * The GPU kernel and the TypeScript reference give bit-identical signatures.
 *
 * The permutation family is h_i(x) = fmix32(x ^ a_i), with fmix32 MurmurHash3's
 * finalizer (a bijection on u32, so each h_i permutes u32) and a_i the
 * splitmix32 stream started at `seed`, computed once in TypeScript and uploaded. It uses
 * only xor, shifts and multiplication modulo 2^32, which WGSL's u32 and
 * JavaScript's Math.imul compute exactly alike.
 *
 * @example
 * ```ts
 * import type { GpuDevice } from "../../kernel/mod.ts";
 * import { estimateJaccard, minhashSignaturesGpu, shingleCorpus } from "./minhash.ts";
 *
 * declare const gpu: GpuDevice;
 * const docs = ["the quick brown fox jumps over the lazy dog", "the quick brown fox jumps over the lazy cat"];
 * const { shingles, offsets } = shingleCorpus(docs);
 * const sigs = await minhashSignaturesGpu(gpu, shingles, offsets); // or minhashSignatures(...) on the CPU
 * estimateJaccard(sigs, 128, 0, 1); // ≈ 0.67: 4 of their 6 distinct shingles are shared
 * ```
 */
import { CellarError, type GpuDevice } from "../../kernel/mod.ts";
import { MINHASH_WGSL, MINHASH_WORKGROUP } from "./minhash.wgsl.ts";

const EMPTY = 0xffffffff;

export interface MinhashGpuOptions {
  /** Shingles per dispatch; defaults to what one storage binding holds (at most 16M). Tests lower it. */
  maxShinglesPerChunk?: number;
  /** Documents (or pieces of long ones) per dispatch; at most the workgroup-count limit. */
  maxDocsPerChunk?: number;
}

/** MurmurHash3's 32-bit finalizer. */
export function fmix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The per-permutation seeds a_0 … a_{numPerm-1}: the splitmix32 stream started at `seed`. */
export function permutationSeeds(numPerm: number, seed: number): Uint32Array {
  const seeds = new Uint32Array(numPerm);
  let state = seed >>> 0;
  for (let i = 0; i < numPerm; i++) {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
    z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
    seeds[i] = (z ^ (z >>> 15)) >>> 0;
  }
  return seeds;
}

const encoder = new TextEncoder();
const WORD = /[\p{L}\p{N}]+/gu;

/**
 * Hashes of the word `k`-shingles of `text`: words are maximal runs of letters
 * and digits, lowercased; a shingle's hash is 32-bit FNV-1a over the UTF-8 of
 * its `k` words joined by single spaces. A text of 1 to k-1 words gives one
 * shingle of all its words; a text without words gives none.
 */
export function shingleHashes(text: string, k = 5): Uint32Array {
  if (!Number.isInteger(k) || k < 1) throw new CellarError(`shingleHashes: k=${k}: expected a positive integer`);
  const words = (text.toLowerCase().match(WORD) ?? []).map((w) => encoder.encode(w));
  if (words.length === 0) return new Uint32Array(0);
  const count = Math.max(1, words.length - k + 1);
  const out = new Uint32Array(count);
  for (let s = 0; s < count; s++) {
    let h = 0x811c9dc5;
    const end = Math.min(words.length, s + k);
    for (let w = s; w < end; w++) {
      if (w > s) h = Math.imul(h ^ 0x20, 0x01000193);
      for (const byte of words[w]) h = Math.imul(h ^ byte, 0x01000193);
    }
    out[s] = h >>> 0;
  }
  return out;
}

/** Shingles of many texts, laid out as `minhashSignatures` takes them. */
export function shingleCorpus(texts: Iterable<string>, k = 5): { shingles: Uint32Array; offsets: Uint32Array } {
  const parts: Uint32Array[] = [];
  let total = 0;
  for (const text of texts) {
    const part = shingleHashes(text, k);
    parts.push(part);
    total += part.length;
  }
  const shingles = new Uint32Array(total);
  const offsets = new Uint32Array(parts.length + 1);
  for (let i = 0; i < parts.length; i++) {
    shingles.set(parts[i], offsets[i]);
    offsets[i + 1] = offsets[i] + parts[i].length;
  }
  return { shingles, offsets };
}

/**
 * The reference: document i is `shingles[offsets[i] .. offsets[i+1])`; the
 * result holds numDocs × numPerm minima, document-major. An empty document's
 * signature is all 0xFFFFFFFF.
 */
export function minhashSignatures(shingles: Uint32Array, offsets: Uint32Array, numPerm = 128, seed = 1): Uint32Array {
  checkInput(shingles, offsets, numPerm);
  const seeds = permutationSeeds(numPerm, seed);
  const numDocs = offsets.length - 1;
  const out = new Uint32Array(numDocs * numPerm).fill(EMPTY);
  for (let d = 0; d < numDocs; d++) {
    const base = d * numPerm;
    for (let j = offsets[d]; j < offsets[d + 1]; j++) {
      const x = shingles[j];
      for (let p = 0; p < numPerm; p++) {
        const h = fmix32(x ^ seeds[p]);
        if (h < out[base + p]) out[base + p] = h;
      }
    }
  }
  return out;
}

/** The same signatures as `minhashSignatures`, computed on `gpu`. */
export async function minhashSignaturesGpu(
  gpu: GpuDevice,
  shingles: Uint32Array,
  offsets: Uint32Array,
  numPerm = 128,
  seed = 1,
  options: MinhashGpuOptions = {},
): Promise<Uint32Array> {
  checkInput(shingles, offsets, numPerm);
  const numDocs = offsets.length - 1;
  const out = new Uint32Array(numDocs * numPerm).fill(EMPTY);
  if (numDocs === 0) return out;
  const limits = gpu.limits;
  const maxShingles = Math.max(1, Math.min(options.maxShinglesPerChunk ?? 16 << 20, Math.floor(limits.maxStorageBufferBindingSize / 4)));
  const maxPieces = Math.max(1, Math.min(
    options.maxDocsPerChunk ?? Infinity,
    limits.maxComputeWorkgroupsPerDimension,
    Math.floor(limits.maxStorageBufferBindingSize / (numPerm * 4)),
  ));
  if (Math.ceil(numPerm / MINHASH_WORKGROUP) > limits.maxComputeWorkgroupsPerDimension) {
    throw new CellarError(`minhash: numPerm=${numPerm} is more than ${gpu.label} can dispatch`);
  }

  const pipeline = await gpu.pipeline("minhash", MINHASH_WGSL);
  const seeds = gpu.upload(permutationSeeds(numPerm, seed));
  // Two chunks in flight: the next chunk uploads and runs while the previous one is read back.
  const inFlight: Promise<void>[] = [];
  try {
    for (const chunk of planChunks(offsets, maxShingles, maxPieces)) {
      if (inFlight.length >= 2) await inFlight.shift();
      const done = runChunk(gpu, pipeline, shingles, offsets, seeds, numPerm, chunk, out);
      // Handled here so that a chunk failing while another is awaited is not reported as unhandled.
      done.catch(() => {});
      inFlight.push(done);
    }
    await Promise.all(inFlight);
  } finally {
    // Let every chunk finish with its buffers before the seeds go back to the pool.
    await Promise.allSettled(inFlight);
    gpu.release(seeds);
  }
  return out;
}

/** The estimated Jaccard similarity of documents `a` and `b`: the fraction of equal signature entries. */
export function estimateJaccard(signatures: Uint32Array, numPerm: number, a: number, b: number): number {
  let equal = 0;
  for (let p = 0; p < numPerm; p++) if (signatures[a * numPerm + p] === signatures[b * numPerm + p]) equal++;
  return equal / numPerm;
}

interface Piece {
  doc: number;
  lo: number;
  hi: number;
}

interface Chunk {
  start: number;
  end: number;
  pieces: Piece[];
}

/** Splits the corpus into dispatches; a document longer than a chunk is split into pieces whose minima are merged. */
function* planChunks(offsets: Uint32Array, maxShingles: number, maxPieces: number): Generator<Chunk> {
  const numDocs = offsets.length - 1;
  let chunk: Chunk = { start: offsets[0], end: offsets[0], pieces: [] };
  for (let doc = 0; doc < numDocs; doc++) {
    let lo = offsets[doc];
    const hi = offsets[doc + 1];
    do {
      if (chunk.pieces.length === maxPieces || (chunk.end - chunk.start === maxShingles && lo < hi)) {
        yield chunk;
        chunk = { start: lo, end: lo, pieces: [] };
      }
      const take = Math.min(hi - lo, maxShingles - (chunk.end - chunk.start));
      chunk.pieces.push({ doc, lo, hi: lo + take });
      chunk.end = lo + take;
      lo += take;
    } while (lo < hi);
  }
  if (chunk.pieces.length > 0) yield chunk;
}

async function runChunk(
  gpu: GpuDevice,
  pipeline: GPUComputePipeline,
  shingles: Uint32Array,
  offsets: Uint32Array,
  seeds: GPUBuffer,
  numPerm: number,
  chunk: Chunk,
  out: Uint32Array,
): Promise<void> {
  const pieces = chunk.pieces.length;
  const local = new Uint32Array(pieces + 1);
  for (let i = 0; i < pieces; i++) local[i] = chunk.pieces[i].lo - chunk.start;
  local[pieces] = chunk.end - chunk.start;
  const outBytes = pieces * numPerm * 4;
  const buffers: GPUBuffer[] = [];
  try {
    const slice = shingles.subarray(chunk.start, chunk.end);
    const data = gpu.upload(slice);
    buffers.push(data);
    const bounds = gpu.upload(local);
    buffers.push(bounds);
    const params = gpu.upload(new Uint32Array([pieces, numPerm, 0, 0]), GPUBufferUsage.UNIFORM);
    buffers.push(params);
    const sigs = gpu.acquire(outBytes, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
    buffers.push(sigs);
    // Explicit sizes: pooled buffers round up and may exceed what one binding may cover.
    const bindings = [
      { buffer: data, size: Math.max(4, slice.byteLength) },
      { buffer: bounds, size: local.byteLength },
      { buffer: seeds, size: numPerm * 4 },
      { buffer: sigs, size: outBytes },
      { buffer: params, size: 16 },
    ];
    gpu.dispatch(pipeline, bindings, [
      Math.ceil(numPerm / MINHASH_WORKGROUP),
      pieces,
    ]);
    const result = new Uint32Array(await gpu.readback(sigs, outBytes));
    for (let i = 0; i < pieces; i++) {
      const { doc, lo, hi } = chunk.pieces[i];
      const sig = result.subarray(i * numPerm, (i + 1) * numPerm);
      if (lo === offsets[doc] && hi === offsets[doc + 1]) {
        out.set(sig, doc * numPerm);
      } else {
        const base = doc * numPerm;
        for (let p = 0; p < numPerm; p++) if (sig[p] < out[base + p]) out[base + p] = sig[p];
      }
    }
  } finally {
    for (const buffer of buffers) gpu.release(buffer);
  }
}

function checkInput(shingles: Uint32Array, offsets: Uint32Array, numPerm: number): void {
  if (!Number.isInteger(numPerm) || numPerm < 1) throw new CellarError(`minhash: numPerm=${numPerm}: expected a positive integer`);
  if (offsets.length < 1) throw new CellarError("minhash: offsets is empty: expected numDocs + 1 boundaries");
  for (let i = 1; i < offsets.length; i++) {
    if (offsets[i] < offsets[i - 1]) throw new CellarError(`minhash: offsets[${i}]=${offsets[i]} is less than offsets[${i - 1}]=${offsets[i - 1]}`);
  }
  if (offsets[offsets.length - 1] > shingles.length) {
    throw new CellarError(`minhash: offsets end at ${offsets[offsets.length - 1]}, past the ${shingles.length} shingles`);
  }
}
