/**
 * A small WebAssembly assembler for the CPU kernels of the cells (MinHash,
 * dot products): instruction encodings, one line each, and a module of one
 * exported function over one exported memory. The kernels are written as
 * instructions in their own files rather than shipped as binaries, so that
 * what runs can be read.
 *
 * @example
 * ```ts
 * import { end, functionModule, I32, i32, instantiate, set } from "./wasm.ts";
 *
 * const body = [...i32(0), ...set(2), ...end];
 * const kernel = instantiate<{ memory: WebAssembly.Memory; run(a: number, b: number): void }>(
 *   functionModule("run", 2, [1, I32], body),
 * ); // undefined where the runtime cannot compile it (no SIMD)
 * ```
 */

/** Unsigned LEB128. */
export function uleb(n: number): number[] {
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

// Value types.
export const I32 = 0x7f;
export const V128 = 0x7b;

// Locals, constants, control.
export const get = (i: number) => [0x20, ...uleb(i)];
export const set = (i: number) => [0x21, ...uleb(i)];
export const i32 = (n: number) => [0x41, ...sleb(n)];
export const block = [0x02, 0x40];
export const loop = [0x03, 0x40];
export const end = [0x0b];
export const br = (depth: number) => [0x0c, ...uleb(depth)];
export const brIf = (depth: number) => [0x0d, ...uleb(depth)];

// Scalar memory and arithmetic.
export const i32Load = [0x28, 0x02, 0x00]; // align 4, offset 0
export const f32Store = [0x38, 0x02, 0x00]; // align 4, offset 0
export const i32Add = [0x6a];
export const i32Mul = [0x6c];
export const i32GeU = [0x4f];
export const f32Add = [0x92];

/** A SIMD instruction by its opcode after the 0xfd prefix. */
export const simd = (op: number) => [0xfd, ...uleb(op)];

function section(id: number, content: number[]): number[] {
  return [id, ...uleb(content.length), ...content];
}

function name(text: string): number[] {
  return [...uleb(text.length), ...new TextEncoder().encode(text)];
}

/**
 * A module exporting "memory" (at least one page) and one function `exported`
 * of `params` i32 parameters and no result. `locals` is the function's local
 * declarations as encoded: [groups, count, type, count, type, …].
 */
export function functionModule(exported: string, params: number, locals: number[], body: number[]): Uint8Array<ArrayBuffer> {
  const code = [...locals, ...body];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, params, ...new Array(params).fill(I32), 0]), // type: (i32 × params) → ()
    ...section(3, [1, 0]), // one function of type 0
    ...section(5, [1, 0x00, 1]), // one memory, at least 1 page
    ...section(7, [2, ...name("memory"), 0x02, 0, ...name(exported), 0x00, 0]),
    ...section(10, [1, ...uleb(code.length), ...code]),
  ]);
}

/** The module's exports, or undefined when this runtime cannot compile it (no WebAssembly SIMD). */
export function instantiate<T>(bytes: Uint8Array<ArrayBuffer>): T | undefined {
  try {
    return new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports as unknown as T;
  } catch {
    return undefined;
  }
}
