// The WGSL kernels under Deno (Dawn through Node-API): the same answers as the
// TypeScript references, as test/wgsl.test.ts proves under Node. Needs an
// adapter; without one it fails. Run with: deno task test
import assert from "node:assert/strict";
import { minhashSignatures, minhashSignaturesGpu, shingleCorpus } from "../../cells/dedup/minhash.ts";
import { topK, topKGpu } from "../../cells/index/topk.ts";
import { GpuDevice } from "../../kernel/compute/gpu-device.ts";
import { CellarError } from "../../kernel/errors.ts";

Deno.test("WGSL kernels match their references under Deno", async () => {
  const gpu = await GpuDevice.open({ label: "deno-test" });
  try {
    const texts = Array.from({ length: 300 }, (_, i) => Array.from({ length: i % 120 }, (_, w) => `w${(w * 7 + i) % 53}`).join(" "));
    const { shingles, offsets } = shingleCorpus(texts);
    const cpu = minhashSignatures(shingles, offsets, 64, 5);
    assert.deepEqual(await minhashSignaturesGpu(gpu, shingles, offsets, 64, 5, { maxShinglesPerChunk: 500 }), cpu);

    // Small integers: every score is exact in f32, so both sides agree to the bit.
    const dim = 24;
    const queries = Float32Array.from({ length: 6 * dim }, (_, i) => ((i * 13) % 7) - 3);
    const vectors = Float32Array.from({ length: 900 * dim }, (_, i) => ((i * 31) % 11) - 5);
    assert.deepEqual(await topKGpu(gpu, queries, vectors, dim, 8, { tileVectors: 250 }), topK(queries, vectors, dim, 8));

    await assert.rejects(gpu.pipeline("bad", "fn main( {"), (err: Error) => err instanceof CellarError && /line 1:/.test(err.message));
  } finally {
    gpu.destroy();
  }
});
