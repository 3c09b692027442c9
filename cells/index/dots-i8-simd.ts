/**
 * int8 dot products on the CPU with WebAssembly SIMD, for the quantized scan
 * (topk-quantized.ts): one query row of int8 codes against a run of vector
 * rows, each 16 bytes multiplied to int16 lanes (extmul) and summed pairwise
 * into int32 lanes, two independent sums per row. A fourth of the bytes an
 * f32 scan reads: a single query's scan is bound by memory bandwidth, so the
 * bytes are the time.
 *
 * Codes lie in [-127, 127], so a product fits int16 and a 512-dimension sum
 * fits int32 many times over. Each instance owns its memory: the quantized
 * index lives in it, so a scan copies nothing.
 *
 * @example
 * ```ts
 * import { dotsI8Kernel } from "./dots-i8-simd.ts";
 *
 * declare const queryAt: number, vectorsAt: number, outAt: number; // byte offsets into kernel.memory
 * declare const numVectors: number, rowBytes: number; // rowBytes a multiple of 32
 * const kernel = dotsI8Kernel(); // a new instance, or undefined without WebAssembly SIMD
 * kernel?.dotsI8(queryAt, vectorsAt, numVectors, rowBytes, outAt); // out[v] = Σ q[d] × vectors[v][d], int32
 * ```
 */
import { block, br, brIf, end, functionModule, get, I32, i32, i32Add, i32GeU, i32Mul, loop, set, simd, uleb, V128 } from "../wasm.ts";

export interface DotsI8Kernel {
  memory: WebAssembly.Memory;
  /** out[v] (int32) = Σ query[d] × vectors[v][d] for v < nv; byte offsets into `memory`, rows `rowBytes` long, a multiple of 32. */
  dotsI8(query: number, vectors: number, nv: number, rowBytes: number, out: number): void;
}

/** Row length (in bytes) the kernel needs: one step of its two sums. */
export const DOTS_I8_STEP = 32;

let compiled: WebAssembly.Module | null | undefined;

/** A new instance (with its own memory); undefined when this runtime cannot run it. */
export function dotsI8Kernel(): DotsI8Kernel | undefined {
  if (compiled === undefined) {
    try {
      compiled = new WebAssembly.Module(assemble());
    } catch {
      compiled = null; // no WebAssembly SIMD here
    }
  }
  return compiled ? (new WebAssembly.Instance(compiled).exports as unknown as DotsI8Kernel) : undefined;
}

// ---- the module ----

const v128Load = (offset: number) => [...simd(0x00), 0x04, ...uleb(offset)]; // align 16
const v128Zero = [...simd(0x0c), ...new Array(16).fill(0)];
const i16x8ExtmulLowI8x16S = simd(0x9c);
const i16x8ExtmulHighI8x16S = simd(0x9d);
const i32x4ExtaddPairwiseI16x8S = simd(0x7e);
const i32x4Add = simd(0xae);
const i32x4ExtractLane = (lane: number) => [...simd(0x1b), lane];
const i32Store = [0x36, 0x02, 0x00]; // align 4, offset 0

// Parameters and locals of `dotsI8`.
const QUERY = 0, VECTORS = 1, NV = 2, ROW = 3, OUT = 4;
const END = 5, VP = 6, D = 7;
const A0 = 8, A1 = 9;

/** acc += pairwise sums of query[D + offset ..+16] × vector[VP + D + offset ..+16], low and high halves. */
const multiplyAdd = (acc: number, offset: number) => [
  ...get(acc),
  ...get(QUERY), ...get(D), ...i32Add, ...v128Load(offset),
  ...get(VP), ...get(D), ...i32Add, ...v128Load(offset),
  ...i16x8ExtmulLowI8x16S, ...i32x4ExtaddPairwiseI16x8S, ...i32x4Add,
  ...get(QUERY), ...get(D), ...i32Add, ...v128Load(offset),
  ...get(VP), ...get(D), ...i32Add, ...v128Load(offset),
  ...i16x8ExtmulHighI8x16S, ...i32x4ExtaddPairwiseI16x8S, ...i32x4Add,
  ...set(acc),
];

function body(): number[] {
  return [
    // END = out + nv × 4; VP walks the vector rows while OUT walks the results.
    ...get(OUT), ...get(NV), ...i32(4), ...i32Mul, ...i32Add, ...set(END),
    ...get(VECTORS), ...set(VP),
    ...block, ...loop, // vectors
    ...get(OUT), ...get(END), ...i32GeU, ...brIf(1),
    ...v128Zero, ...set(A0), ...v128Zero, ...set(A1),
    ...i32(0), ...set(D),
    ...block, ...loop, // 32 bytes a step
    ...get(D), ...get(ROW), ...i32GeU, ...brIf(1),
    ...multiplyAdd(A0, 0), ...multiplyAdd(A1, 16),
    ...get(D), ...i32(32), ...i32Add, ...set(D),
    ...br(0), ...end, ...end,
    ...get(OUT),
    ...get(A0), ...get(A1), ...i32x4Add, ...set(A0),
    ...get(A0), ...i32x4ExtractLane(0), ...get(A0), ...i32x4ExtractLane(1), ...i32Add,
    ...get(A0), ...i32x4ExtractLane(2), ...get(A0), ...i32x4ExtractLane(3), ...i32Add,
    ...i32Add,
    ...i32Store,
    ...get(OUT), ...i32(4), ...i32Add, ...set(OUT),
    ...get(VP), ...get(ROW), ...i32Add, ...set(VP),
    ...br(0), ...end, ...end,
    ...end,
  ];
}

function assemble(): Uint8Array<ArrayBuffer> {
  return functionModule("dotsI8", 5, [2, 3, I32, 2, V128], body());
}
