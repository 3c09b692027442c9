/**
 * WebGPU through Dawn (npm `webgpu`), in Node and — through Node-API — in Deno.
 *
 * Dawn's submit round trip here is 0.07 ms in Node and 0.15 ms in Deno, while
 * Deno's own `navigator.gpu` waits in a blocking 10 ms poll loop, so Dawn is
 * preferred in both runtimes.
 *
 * @example
 * ```ts
 * import { loadDawn } from "./dawn.ts";
 *
 * const gpu = await loadDawn();
 * const adapter = await gpu?.requestAdapter(); // undefined where Dawn cannot load
 * ```
 */

/**
 * The object `create()` returns must outlive every adapter and device made
 * from it: Dawn crashes when it is collected. So it is kept here for the life
 * of the process.
 */
let instance: Promise<GPU | undefined> | undefined;

/** The Dawn GPU object, or undefined when the native module cannot load on this host. */
export function loadDawn(): Promise<GPU | undefined> {
  instance ??= (async () => {
    try {
      const { create, globals } = await import("webgpu");
      // Dawn's GPUBufferUsage, GPUMapMode, ... constants are globals in browsers; code expects them there.
      for (const [name, value] of Object.entries(globals)) {
        if (!(name in globalThis)) Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
      }
      return create([]);
    } catch {
      return undefined;
    }
  })();
  return instance;
}
