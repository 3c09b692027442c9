/**
 * MinHash signatures on the CPU with WebAssembly SIMD: the same function as
 * `minhashSignatures` in minhash.ts (and the WGSL kernel), bit for bit, four
 * permutations per instruction. The CPU path of dedup uses it; hosts whose
 * runtime lacks WebAssembly SIMD, and numPerm not a multiple of 4, get the
 * TypeScript reference instead.
 *
 * The module is assembled here from its instructions (below, one line each;
 * encodings in cells/wasm.ts) rather than shipped as a binary, so that what runs can be read.
 *
 * @example
 * ```ts
 * import { minhashSignatures } from "./minhash.ts";
 * import { minhashSignaturesSimd } from "./minhash-simd.ts";
 *
 * declare const shingles: Uint32Array, offsets: Uint32Array;
 * const sigs = minhashSignaturesSimd(shingles, offsets, 128, 1) ?? minhashSignatures(shingles, offsets, 128, 1);
 * ```
 */
import { CellarError } from "../../kernel/mod.ts";
import { permutationSeeds } from "./minhash.ts";
import { block, br, brIf, end, functionModule, get, I32, i32, i32Add, i32GeU, i32Load, i32Mul, instantiate, loop, set, simd, V128 } from "../wasm.ts";

/**
 * The signatures, laid out as `minhashSignatures` gives them, or undefined
 * when this runtime cannot run the module or numPerm is not a multiple of 4.
 */
export function minhashSignaturesSimd(shingles: Uint32Array, offsets: Uint32Array, numPerm = 128, seed = 1): Uint32Array | undefined {
  if (!Number.isInteger(numPerm) || numPerm < 1) throw new CellarError(`minhash: numPerm=${numPerm}: expected a positive integer`);
  for (let i = 1; i < offsets.length; i++) {
    if (offsets[i] < offsets[i - 1]) throw new CellarError(`minhash: offsets[${i}]=${offsets[i]} is less than offsets[${i - 1}]=${offsets[i - 1]}`);
  }
  if (offsets.length < 1 || offsets[offsets.length - 1] > shingles.length) {
    throw new CellarError(`minhash: offsets must hold numDocs + 1 boundaries within the ${shingles.length} shingles`);
  }
  if (numPerm % 4 !== 0) return undefined;
  const kernel = instance();
  if (!kernel) return undefined;
  const numDocs = offsets.length - 1;
  const first = offsets[0];
  const count = offsets[numDocs] - first;
  // Layout: seeds, output (16-byte aligned for v128), offsets rebased to 0, shingles.
  const seedsAt = 0;
  const outAt = align16(seedsAt + numPerm * 4);
  const offsetsAt = align16(outAt + numDocs * numPerm * 4);
  const shinglesAt = align16(offsetsAt + (numDocs + 1) * 4);
  const bytes = shinglesAt + count * 4;
  const memory = kernel.memory;
  if (bytes > memory.buffer.byteLength) memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / 65536));
  const buffer = memory.buffer;
  new Uint32Array(buffer, seedsAt, numPerm).set(permutationSeeds(numPerm, seed));
  const local = new Uint32Array(buffer, offsetsAt, numDocs + 1);
  for (let i = 0; i <= numDocs; i++) local[i] = offsets[i] - first;
  new Uint32Array(buffer, shinglesAt, count).set(shingles.subarray(first, first + count));
  // Small calls: V8 runs a WebAssembly function in its baseline tier until a call returns after the
  // optimized code is ready, so one call over a whole chunk would never leave the slow tier.
  for (let d = 0; d < numDocs; d += CALL_DOCS) {
    kernel.minhash(shinglesAt, offsetsAt + d * 4, Math.min(CALL_DOCS, numDocs - d), seedsAt, numPerm, outAt + d * numPerm * 4);
  }
  return new Uint32Array(buffer, outAt, numDocs * numPerm).slice();
}

/** Documents per call into the module. */
const CALL_DOCS = 16;

interface Kernel {
  memory: WebAssembly.Memory;
  minhash(shingles: number, offsets: number, numDocs: number, seeds: number, numPerm: number, out: number): void;
}

let compiled: Kernel | null | undefined;

function instance(): Kernel | undefined {
  if (compiled === undefined) compiled = instantiate<Kernel>(assemble()) ?? null;
  return compiled ?? undefined;
}

function align16(n: number): number {
  return (n + 15) & ~15;
}

// ---- the module ----

const v128Load = [...simd(0x00), 0x04, 0x00]; // align 16, offset 0
const v128Store = [...simd(0x0b), 0x04, 0x00];
const i32x4Splat = simd(0x11);
const v128Xor = simd(0x51);
const i32x4ShrU = simd(0xad);
const i32x4Mul = simd(0xb5);
const i32x4MinU = simd(0xb7);

// Parameters and locals of `minhash`.
const SHINGLES = 0, OFFSETS = 1, DOCS = 2, SEEDS = 3, PERMS = 4, OUT = 5;
const D = 6, P = 7, J = 8, END = 9;
const SEED = 10, ACC = 11, H = 12, C1 = 13, C2 = 14;

/** h ^= h >> shift, on the vector in local H. */
const xorShift = (shift: number) => [...get(H), ...get(H), ...i32(shift), ...i32x4ShrU, ...v128Xor, ...set(H)];

/**
 * minhash(shingles, offsets, numDocs, seeds, numPerm, out): for each document d and each
 * group of 4 permutations p, out[d × numPerm + p ..+4] = min over the document's shingles x
 * of fmix32(x ^ seeds[p ..+4]) — MurmurHash3's finalizer, lane by lane.
 */
function body(): number[] {
  return [
    ...i32(0x85ebca6b), ...i32x4Splat, ...set(C1),
    ...i32(0xc2b2ae35), ...i32x4Splat, ...set(C2),
    ...i32(0), ...set(D),
    ...block, ...loop, // documents
    ...get(D), ...get(DOCS), ...i32GeU, ...brIf(1),
    ...i32(0), ...set(P),
    ...block, ...loop, // permutations, 4 at a time
    ...get(P), ...get(PERMS), ...i32GeU, ...brIf(1),
    ...get(SEEDS), ...get(P), ...i32(4), ...i32Mul, ...i32Add, ...v128Load, ...set(SEED),
    ...i32(-1), ...i32x4Splat, ...set(ACC),
    ...get(OFFSETS), ...get(D), ...i32(4), ...i32Mul, ...i32Add, ...i32Load, ...set(J),
    ...get(OFFSETS), ...get(D), ...i32(4), ...i32Mul, ...i32Add, ...i32(4), ...i32Add, ...i32Load, ...set(END),
    ...block, ...loop, // shingles
    ...get(J), ...get(END), ...i32GeU, ...brIf(1),
    ...get(SHINGLES), ...get(J), ...i32(4), ...i32Mul, ...i32Add, ...i32Load, ...i32x4Splat,
    ...get(SEED), ...v128Xor, ...set(H),
    ...xorShift(16),
    ...get(H), ...get(C1), ...i32x4Mul, ...set(H),
    ...xorShift(13),
    ...get(H), ...get(C2), ...i32x4Mul, ...set(H),
    ...xorShift(16),
    ...get(ACC), ...get(H), ...i32x4MinU, ...set(ACC),
    ...get(J), ...i32(1), ...i32Add, ...set(J),
    ...br(0), ...end, ...end,
    // out + (d × numPerm + p) × 4
    ...get(OUT), ...get(D), ...get(PERMS), ...i32Mul, ...get(P), ...i32Add, ...i32(4), ...i32Mul, ...i32Add,
    ...get(ACC), ...v128Store,
    ...get(P), ...i32(4), ...i32Add, ...set(P),
    ...br(0), ...end, ...end,
    ...get(D), ...i32(1), ...i32Add, ...set(D),
    ...br(0), ...end, ...end,
    ...end,
  ];
}

function assemble(): Uint8Array<ArrayBuffer> {
  return functionModule("minhash", 6, [2, 4, I32, 5, V128], body());
}
