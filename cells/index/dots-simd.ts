/**
 * Dot products on the CPU with WebAssembly SIMD: for a block of query rows and
 * a tile of vector rows in the module's memory, every query · vector score,
 * four f32 lanes per instruction and four independent sums per pair. The
 * fast CPU top-k (topk-cpu.ts) feeds it tiles and selects from the scores.
 *
 * The module is assembled here from its instructions (below, one line each)
 * rather than shipped as a binary, so that what runs can be read — as
 * cells/dedup/minhash-simd.ts does (encodings in cells/wasm.ts).
 *
 * @example
 * ```ts
 * import { dotsKernel } from "./dots-simd.ts";
 *
 * declare const queriesAt: number, vectorsAt: number, outAt: number; // byte offsets into kernel.memory
 * declare const numQueries: number, numVectors: number, dim: number;
 * const kernel = dotsKernel(); // undefined where the runtime has no WebAssembly SIMD
 * kernel?.dots(queriesAt, numQueries, vectorsAt, numVectors, dim * 4, outAt); // out[q × numVectors + v]
 * ```
 */
import { block, br, brIf, end, f32Add, f32Store, functionModule, get, I32, i32, i32Add, i32GeU, i32Mul, instantiate, loop, set, simd, uleb, V128 } from "../wasm.ts";

export interface DotsKernel {
  memory: WebAssembly.Memory;
  /**
   * out[q × nv + v] = Σ queries[q][d] × vectors[v][d] for q < nq, v < nv; pointers
   * are byte offsets into `memory`, rows are `rowBytes` long, a multiple of 64.
   */
  dots(queries: number, nq: number, vectors: number, nv: number, rowBytes: number, out: number): void;
}

/** Row length (in floats) the kernel needs: 16 floats, one step of its four sums. */
export const DOTS_STEP = 16;

let compiled: DotsKernel | null | undefined;

/** The kernel, compiled once per process; undefined when this runtime cannot run it. */
export function dotsKernel(): DotsKernel | undefined {
  if (compiled === undefined) compiled = instantiate<DotsKernel>(assemble()) ?? null;
  return compiled ?? undefined;
}

// ---- the module ----

const v128Load = (offset: number) => [...simd(0x00), 0x04, ...uleb(offset)]; // align 16
const v128Zero = [...simd(0x0c), ...new Array(16).fill(0)];
const f32x4ExtractLane = (lane: number) => [...simd(0x1f), lane];
const f32x4Add = simd(0xe4);
const f32x4Mul = simd(0xe6);

// Parameters and locals of `dots`.
const QUERIES = 0, NQ = 1, VECTORS = 2, NV = 3, ROW = 4, OUT = 5;
const V = 6, Q = 7, VP = 8, QP = 9, D = 10;
const A0 = 11, A1 = 12, A2 = 13, A3 = 14;

/** acc += queries[QP + D + offset ..+4] × vectors[VP + D + offset ..+4] */
const multiplyAdd = (acc: number, offset: number) => [
  ...get(acc),
  ...get(QP), ...get(D), ...i32Add, ...v128Load(offset),
  ...get(VP), ...get(D), ...i32Add, ...v128Load(offset),
  ...f32x4Mul, ...f32x4Add, ...set(acc),
];

/**
 * Vector rows outside, query rows inside: a vector row is read from memory once per call and
 * stays in L1 while every query of the block meets it.
 */
function body(): number[] {
  return [
    ...i32(0), ...set(V),
    ...block, ...loop, // vectors
    ...get(V), ...get(NV), ...i32GeU, ...brIf(1),
    ...get(VECTORS), ...get(V), ...get(ROW), ...i32Mul, ...i32Add, ...set(VP),
    ...i32(0), ...set(Q),
    ...block, ...loop, // queries
    ...get(Q), ...get(NQ), ...i32GeU, ...brIf(1),
    ...get(QUERIES), ...get(Q), ...get(ROW), ...i32Mul, ...i32Add, ...set(QP),
    ...v128Zero, ...set(A0), ...v128Zero, ...set(A1), ...v128Zero, ...set(A2), ...v128Zero, ...set(A3),
    ...i32(0), ...set(D),
    ...block, ...loop, // 16 floats a step, four independent sums so the adds need not wait on each other
    ...get(D), ...get(ROW), ...i32GeU, ...brIf(1),
    ...multiplyAdd(A0, 0), ...multiplyAdd(A1, 16), ...multiplyAdd(A2, 32), ...multiplyAdd(A3, 48),
    ...get(D), ...i32(64), ...i32Add, ...set(D),
    ...br(0), ...end, ...end,
    // out + (q × nv + v) × 4  ←  ((a0 + a1) + (a2 + a3)) summed across its lanes
    ...get(OUT), ...get(Q), ...get(NV), ...i32Mul, ...get(V), ...i32Add, ...i32(4), ...i32Mul, ...i32Add,
    ...get(A0), ...get(A1), ...f32x4Add, ...get(A2), ...get(A3), ...f32x4Add, ...f32x4Add, ...set(A0),
    ...get(A0), ...f32x4ExtractLane(0), ...get(A0), ...f32x4ExtractLane(1), ...f32Add,
    ...get(A0), ...f32x4ExtractLane(2), ...get(A0), ...f32x4ExtractLane(3), ...f32Add,
    ...f32Add,
    ...f32Store,
    ...get(Q), ...i32(1), ...i32Add, ...set(Q),
    ...br(0), ...end, ...end,
    ...get(V), ...i32(1), ...i32Add, ...set(V),
    ...br(0), ...end, ...end,
    ...end,
  ];
}

function assemble(): Uint8Array<ArrayBuffer> {
  return functionModule("dots", 6, [2, 5, I32, 4, V128], body());
}
