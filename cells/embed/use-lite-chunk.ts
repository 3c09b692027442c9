/**
 * USE-lite's chunk function as a task handle, so that embed_docs' `ctx.map` runs
 * it in the kernel's CPU workers: TensorFlow.js's WebAssembly backend computes on
 * the calling thread, so one model per worker thread is what puts every core to
 * work. Each worker loads the model once (`loadEmbedder` caches it per thread) on
 * its first chunk and keeps it while the worker lives (an aborted chunk's worker is
 * terminated and its replacement loads again).
 *
 * The worker runs the same `Embedder.embed` as the kernel's thread on the same
 * batch, with the same WebAssembly binary, so its vectors are bit-for-bit the
 * single-thread path's (test/embed-workers.test.ts checks it).
 *
 * @example
 * ```ts
 * import { type Context, task } from "../../kernel/mod.ts";
 * import { USE_LITE_MODULE } from "./use-lite-chunk.ts";
 *
 * declare const ctx: Context, texts: string[];
 * const vectors = await ctx.map<string, Float32Array>(texts, task(USE_LITE_MODULE, "useLiteChunk"), { gpu: undefined, batchSize: 64 });
 * ```
 */
import { loadEmbedder } from "./embedder.ts";

export const USE_LITE_MODULE = import.meta.url;

/** One 512-dimensional vector per text, in order, from this thread's USE-lite. */
export async function useLiteChunk(texts: string[]): Promise<Float32Array[]> {
  const embedder = await loadEmbedder("use-lite");
  return await embedder.embed(texts);
}
