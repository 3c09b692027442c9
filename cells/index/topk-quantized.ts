/**
 * An optional int8-quantized scan for single-query latency: every vector is
 * stored once as int8 codes with its own scale (max |x| / 127), a query is
 * quantized the same way, and the int8 scan (WebAssembly SIMD, dots-i8-simd.ts)
 * reads a fourth of the bytes an f32 scan reads. Its best `candidates` are then
 * rescored exactly in f32 against the original vectors, with the reference's
 * arithmetic (a double sum rounded to f32), so every returned score equals
 * `topK`'s score for that vector; only a vector the scan ranked below the
 * candidates can be missed (recall, measured in bench/topk.bench.ts).
 *
 * @example
 * ```ts
 * import { quantizeVectors, topKQuantized } from "./topk-quantized.ts";
 *
 * declare const vectors: Float32Array, query: Float32Array; // rows of 512 floats
 * const quantized = quantizeVectors(vectors, 512); // once per index
 * const { indices, scores } = topKQuantized(quantized, query, 100, { candidates: 1000 });
 * ```
 */
import { CellarError } from "../../kernel/mod.ts";
import { DOTS_I8_STEP, type DotsI8Kernel, dotsI8Kernel } from "./dots-i8-simd.ts";
import { TopKHeap } from "./heap.ts";
import { checkInput, type TopKResult } from "./topk.ts";

export interface QuantizedVectors {
  readonly vectors: Float32Array;
  readonly dim: number;
  readonly count: number;
  /** Codes per row, dim rounded up to the kernel's step (the padding is zeros). */
  readonly rowBytes: number;
  /** Each row's scale: code × scale ≈ value. */
  readonly scales: Float32Array;
  /** Bytes the int8 codes take (a fourth of the f32 vectors', plus padding). */
  readonly codeBytes: number;
  /** @internal the codes: in the kernel's memory at `codesAt`, or in a plain array without WebAssembly SIMD. */
  readonly store: { kernel: DotsI8Kernel; queryAt: number; outAt: number; codesAt: number } | { codes: Int8Array };
}

export interface TopKQuantizedOptions {
  /** Scan results rescored exactly; default max(10 × k, 1000). More: higher recall, slower. */
  candidates?: number;
  /** false: the TypeScript scan even where WebAssembly SIMD runs. */
  simd?: boolean;
}

/** The int8 codes and scales of `vectors` (numVectors × dim); keeps a reference to `vectors` for rescoring. */
export function quantizeVectors(vectors: Float32Array, dim: number, options: { simd?: boolean } = {}): QuantizedVectors {
  const { numVectors } = checkInput(new Float32Array(0), vectors, dim, 0);
  const rowBytes = Math.ceil(dim / DOTS_I8_STEP) * DOTS_I8_STEP;
  const kernel = options.simd === false ? undefined : dotsI8Kernel();
  let codes: Int8Array;
  let store: QuantizedVectors["store"];
  if (kernel) {
    // Layout: one query row, one int32 per vector, then the codes; every offset 16-byte aligned.
    const queryAt = 0, outAt = rowBytes, codesAt = outAt + Math.ceil((numVectors * 4) / 16) * 16;
    const bytes = codesAt + numVectors * rowBytes;
    if (bytes > kernel.memory.buffer.byteLength) kernel.memory.grow(Math.ceil((bytes - kernel.memory.buffer.byteLength) / 65536));
    codes = new Int8Array(kernel.memory.buffer, codesAt, numVectors * rowBytes);
    store = { kernel, queryAt, outAt, codesAt };
  } else {
    codes = new Int8Array(numVectors * rowBytes);
    store = { codes };
  }
  const scales = new Float32Array(numVectors);
  for (let v = 0; v < numVectors; v++) scales[v] = quantizeRow(vectors.subarray(v * dim, (v + 1) * dim), codes, v * rowBytes);
  return { vectors, dim, count: numVectors, rowBytes, scales, codeBytes: numVectors * rowBytes, store };
}

/** Writes row's codes at `at` and returns its scale (0 for an all-zero row). */
function quantizeRow(row: Float32Array, codes: Int8Array, at: number): number {
  let max = 0;
  for (let d = 0; d < row.length; d++) max = Math.max(max, Math.abs(row[d]));
  if (max === 0) return 0;
  const inverse = 127 / max;
  for (let d = 0; d < row.length; d++) codes[at + d] = Math.round(row[d] * inverse);
  return max / 127;
}

/** For each query, the k best vectors by exact f32 score among the quantized scan's best `candidates`. */
export function topKQuantized(index: QuantizedVectors, queries: Float32Array, k: number, options: TopKQuantizedOptions = {}): TopKResult {
  const { numQueries, kk } = checkInput(queries, index.vectors, index.dim, k);
  if (options.candidates !== undefined && !(Number.isInteger(options.candidates) && options.candidates >= 1)) {
    throw new CellarError(`topKQuantized: candidates=${options.candidates}: expected a whole number ≥ 1`);
  }
  const candidates = Math.min(index.count, Math.max(kk, options.candidates ?? Math.max(10 * kk, 1000)));
  const indices = new Uint32Array(numQueries * kk);
  const scores = new Float32Array(numQueries * kk);
  if (kk === 0) return { indices, scores };
  const query = new Int8Array(index.rowBytes);
  for (let q = 0; q < numQueries; q++) {
    const row = queries.subarray(q * index.dim, (q + 1) * index.dim);
    query.fill(0);
    quantizeRow(row, query, 0);
    const shortlist = scan(index, query, candidates, options.simd !== false);
    rescore(index, row, shortlist, kk).drainInto(indices, scores, q * kk);
  }
  return { indices, scores };
}

/** The `candidates` best rows by approximate score (int8 dot × the row's scale; the query's scale is the same for all). */
function scan(index: QuantizedVectors, query: Int8Array, candidates: number, simd: boolean): Uint32Array {
  const { count, rowBytes, scales, store } = index;
  const heap = new TopKHeap(candidates);
  let dots: Int32Array;
  if ("kernel" in store && simd) {
    const { kernel, queryAt, outAt, codesAt } = store;
    new Int8Array(kernel.memory.buffer, queryAt, rowBytes).set(query);
    kernel.dotsI8(queryAt, codesAt, count, rowBytes, outAt);
    dots = new Int32Array(kernel.memory.buffer, outAt, count);
  } else {
    dots = loopDots(codesOf(index), query, count, rowBytes);
  }
  let floor = heap.floor;
  for (let v = 0; v < count; v++) {
    const s = dots[v] * scales[v];
    if (s > floor) {
      heap.push(s, v);
      floor = heap.floor;
    }
  }
  const out = new Uint32Array(candidates);
  heap.drainInto(out, new Float32Array(candidates), 0);
  return out;
}

function codesOf(index: QuantizedVectors): Int8Array {
  const store = index.store;
  return "codes" in store ? store.codes : new Int8Array(store.kernel.memory.buffer, store.codesAt, index.count * index.rowBytes);
}

function loopDots(codes: Int8Array, query: Int8Array, count: number, rowBytes: number): Int32Array {
  const out = new Int32Array(count);
  for (let v = 0; v < count; v++) {
    const at = v * rowBytes;
    let s = 0;
    for (let d = 0; d < rowBytes; d++) s += query[d] * codes[at + d];
    out[v] = s;
  }
  return out;
}

/** The shortlist's k best by the reference's exact score: a double sum over the f32 values, rounded to f32. */
function rescore(index: QuantizedVectors, query: Float32Array, shortlist: Uint32Array, k: number): TopKHeap {
  const { vectors, dim } = index;
  const heap = new TopKHeap(k);
  for (const v of shortlist) {
    const vo = v * dim;
    let s = 0;
    for (let d = 0; d < dim; d++) s += query[d] * vectors[vo + d];
    heap.push(Math.fround(s), v);
  }
  return heap;
}
