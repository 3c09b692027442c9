/**
 * Dot products on the CPU with WebAssembly SIMD: for a block of query rows and
 * a tile of vector rows in the module's memory, every query · vector score,
 * four f32 lanes per instruction and four independent sums per pair. The
 * fast CPU top-k (topk-cpu.ts) feeds it tiles and selects from the scores.
 *
 * The module is assembled here from its instructions (below, one line each)
 * rather than shipped as a binary, so that what runs can be read — as
 * cells/dedup/minhash-simd.ts does.
 *
 * @example
 * const kernel = dotsKernel(); // undefined where the runtime has no WebAssembly SIMD
 * kernel.dots(queriesAt, numQueries, vectorsAt, numVectors, dim * 4, outAt); // out[q × numVectors + v]
 */

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
  if (compiled === undefined) {
    try {
      const module = new WebAssembly.Module(assemble());
      compiled = new WebAssembly.Instance(module).exports as unknown as DotsKernel;
    } catch {
      compiled = null; // no WebAssembly SIMD here
    }
  }
  return compiled ?? undefined;
}

// ---- the module ----

/** Unsigned LEB128. */
function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 of a 32-bit integer. */
function sleb(n: number): number[] {
  const out: number[] = [];
  n |= 0;
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

const I32 = 0x7f;
const V128 = 0x7b;
const get = (i: number) => [0x20, ...uleb(i)];
const set = (i: number) => [0x21, ...uleb(i)];
const i32 = (n: number) => [0x41, ...sleb(n)];
const simd = (op: number) => [0xfd, ...uleb(op)];
const block = [0x02, 0x40];
const loop = [0x03, 0x40];
const end = [0x0b];
const br = (depth: number) => [0x0c, ...uleb(depth)];
const brIf = (depth: number) => [0x0d, ...uleb(depth)];
const i32Add = [0x6a];
const i32Mul = [0x6c];
const i32GeU = [0x4f];
const f32Add = [0x92];
const f32Store = [0x38, 0x02, 0x00]; // align 4, offset 0
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

function section(id: number, content: number[]): number[] {
  return [id, ...uleb(content.length), ...content];
}

function name(text: string): number[] {
  return [...uleb(text.length), ...new TextEncoder().encode(text)];
}

function assemble(): Uint8Array<ArrayBuffer> {
  const locals = [2, 5, I32, 4, V128];
  const code = [...locals, ...body()];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, 6, I32, I32, I32, I32, I32, I32, 0]), // type: (i32 × 6) → ()
    ...section(3, [1, 0]), // one function of type 0
    ...section(5, [1, 0x00, 1]), // one memory, at least 1 page
    ...section(7, [2, ...name("memory"), 0x02, 0, ...name("dots"), 0x00, 0]),
    ...section(10, [1, ...uleb(code.length), ...code]),
  ]);
}
