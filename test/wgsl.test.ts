/**
 * The WGSL harness and its kernels against their TypeScript references.
 * These need a WebGPU adapter (lavapipe in CI): without one they fail, never skip.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { estimateJaccard, fmix32, minhashSignatures, minhashSignaturesGpu, permutationSeeds, shingleHashes } from "../cells/dedup/minhash.ts";
import { topK, topKGpu, type TopKResult } from "../cells/index/topk.ts";
import { GpuDevice, GpuDeviceLostError } from "../kernel/compute/gpu-device.ts";
import { CellarError } from "../kernel/errors.ts";
import { rng } from "./random.ts";

let gpu: GpuDevice;

beforeAll(async () => {
  // Throws (and so fails every test) when no adapter appears: CI installs Mesa's lavapipe for this.
  gpu = await GpuDevice.open({ label: "test-gpu" });
});

afterAll(() => gpu?.destroy());


function randomCorpus(docs: number, seed: number): { shingles: Uint32Array; offsets: Uint32Array } {
  const random = rng(seed);
  const lengths = Array.from({ length: docs }, (_, i) => {
    if (i % 10 === 0) return 0; // empty documents
    if (i % 97 === 1) return 3000 + Math.floor(random() * 3000); // far longer than a workgroup
    return Math.floor(random() * 200);
  });
  const offsets = new Uint32Array(docs + 1);
  for (let i = 0; i < docs; i++) offsets[i + 1] = offsets[i] + lengths[i];
  const shingles = Uint32Array.from({ length: offsets[docs] }, () => Math.floor(random() * 2 ** 32));
  return { shingles, offsets };
}

describe("the CPU references", () => {
  it("hash with the published constants", () => {
    expect(fmix32(1)).toBe(0x514e28b7); // MurmurHash3's finalizer
    expect(fmix32(0)).toBe(0);
    expect([...permutationSeeds(4, 1)]).toEqual([0x5e2d1772, 0x14e498f0, 0xd20ea1fd, 0xb382f339]);
    expect([...shingleHashes("FooBar!")]).toEqual([0xbf9cf968]); // FNV-1a("foobar"), a published test vector
    expect([...shingleHashes("")]).toEqual([]);
    expect([...shingleHashes("A, b; C d e F.")]).toEqual([0x00664eac, 0x4faf0a99]); // "a b c d e", "b c d e f"
    expect(shingleHashes("a b c", 5).length).toBe(1);
  });

  it("takes per-permutation minima, and all ones for an empty document", () => {
    const shingles = new Uint32Array([0x00664eac, 0x00664eac, 0x4faf0a99]);
    const offsets = new Uint32Array([0, 1, 3, 3]);
    const sigs = minhashSignatures(shingles, offsets, 4, 1);
    expect([...sigs.subarray(0, 4)]).toEqual([0x78b31969, 0x03fb863d, 0x3d7b4a20, 0x98b09782]);
    expect([...sigs.subarray(4, 8)]).toEqual([0x21992ffe, 0x03fb863d, 0x3d7b4a20, 0x98b09782]);
    expect([...sigs.subarray(8, 12)]).toEqual([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff]);
  });

  it("rejects malformed offsets with a CellarError", () => {
    expect(() => minhashSignatures(new Uint32Array(4), new Uint32Array([0, 3, 2]))).toThrow(CellarError);
    expect(() => minhashSignatures(new Uint32Array(4), new Uint32Array([0, 5]))).toThrow(/past the 4 shingles/);
    expect(() => minhashSignatures(new Uint32Array(4), new Uint32Array([0, 4]), 0)).toThrow(/numPerm=0/);
  });

  it("ranks by score, then by index, and clamps k", () => {
    const vectors = new Float32Array([1, 0, 0, 1, 1, 1, -1, 0]);
    const r = topK(new Float32Array([1, 0.5]), vectors, 2, 2);
    expect([...r.indices]).toEqual([2, 0]);
    expect([...r.scores]).toEqual([1.5, 1]);
    const tie = topK(new Float32Array([1, 0, 0, 1]), new Float32Array([0, 1, 1, 0, 1, 0, 0, 1]), 2, 10);
    expect([...tie.indices]).toEqual([1, 2, 0, 3, 0, 3, 1, 2]);
    expect(tie.scores.length).toBe(8);
    expect(() => topK(new Float32Array(3), vectors, 2, 1)).toThrow(CellarError);
  });
});

describe("MinHash on the GPU", () => {
  const corpus = randomCorpus(3000, 7);

  it("is bit-identical to the reference, with empty and long documents", async () => {
    const cpu = minhashSignatures(corpus.shingles, corpus.offsets, 128, 1);
    const gpuSigs = await minhashSignaturesGpu(gpu, corpus.shingles, corpus.offsets, 128, 1);
    expect(gpuSigs.length).toBe(cpu.length);
    expect(firstMismatch(cpu, gpuSigs)).toBe(-1);
  });

  it("is bit-identical when chunks split documents and limit their count", async () => {
    const small = randomCorpus(400, 8);
    for (const numPerm of [1, 64, 100]) {
      const cpu = minhashSignatures(small.shingles, small.offsets, numPerm, 42);
      const gpuSigs = await minhashSignaturesGpu(gpu, small.shingles, small.offsets, numPerm, 42, {
        maxShinglesPerChunk: 1000,
        maxDocsPerChunk: 37,
      });
      expect(firstMismatch(cpu, gpuSigs)).toBe(-1);
    }
  });

  it("handles a corpus of only empty documents, and no documents", async () => {
    const sigs = await minhashSignaturesGpu(gpu, new Uint32Array(0), new Uint32Array([0, 0, 0]), 8);
    expect(sigs.every((x) => x === 0xffffffff)).toBe(true);
    expect((await minhashSignaturesGpu(gpu, new Uint32Array(0), new Uint32Array([0]))).length).toBe(0);
  });

  it("estimates the Jaccard similarity of near-duplicates", async () => {
    const random = rng(11);
    const vocabulary = Array.from({ length: 5000 }, (_, i) => `w${i.toString(36)}`);
    const texts: string[] = [];
    for (let pair = 0; pair < 20; pair++) {
      const words = Array.from({ length: 300 }, () => vocabulary[Math.floor(random() * vocabulary.length)]);
      // Edit a growing share of the words: similarities from near 1 down to about 0.2.
      const edited = words.map((w) => (random() < pair * 0.015 ? vocabulary[Math.floor(random() * vocabulary.length)] : w));
      texts.push(words.join(" "), edited.join(" "));
    }
    const sets = texts.map((t) => new Set(shingleHashes(t)));
    const all = texts.map((t) => shingleHashes(t));
    const offsets = new Uint32Array(all.length + 1);
    all.forEach((s, i) => (offsets[i + 1] = offsets[i] + s.length));
    const shingles = new Uint32Array(offsets[all.length]);
    all.forEach((s, i) => shingles.set(s, offsets[i]));
    const numPerm = 256;
    const sigs = await minhashSignaturesGpu(gpu, shingles, offsets, numPerm, 3);
    let totalError = 0;
    for (let pair = 0; pair < 20; pair++) {
      const [a, b] = [sets[2 * pair], sets[2 * pair + 1]];
      const shared = [...a].filter((x) => b.has(x)).length;
      const truth = shared / (a.size + b.size - shared);
      const estimate = estimateJaccard(sigs, numPerm, 2 * pair, 2 * pair + 1);
      // One standard deviation is at most sqrt(0.25 / 256) ≈ 0.031.
      expect(Math.abs(estimate - truth)).toBeLessThan(0.12);
      totalError += Math.abs(estimate - truth);
    }
    expect(totalError / 20).toBeLessThan(0.04);
  });
});

describe("top-k on the GPU", () => {
  function randomMatrix(rows: number, dim: number, seed: number): Float32Array {
    const random = rng(seed);
    return Float32Array.from({ length: rows * dim }, () => random() * 2 - 1);
  }

  /** Same answers: scores within 1e-5 relative; indices equal except between scores tied within that. */
  function expectSameTopK(cpu: TopKResult, got: TopKResult, queries: Float32Array, vectors: Float32Array, dim: number): void {
    expect(got.indices.length).toBe(cpu.indices.length);
    const close = (a: number, b: number) => Math.abs(a - b) <= 1e-5 * Math.max(Math.abs(a), Math.abs(b), 1e-3);
    const k = cpu.indices.length / (queries.length / dim);
    for (let i = 0; i < cpu.indices.length; i++) {
      if (!close(cpu.scores[i], got.scores[i])) throw new Error(`rank ${i}: score ${got.scores[i]} against ${cpu.scores[i]}`);
      if (cpu.indices[i] === got.indices[i]) continue;
      // A swap between near-equal scores: the GPU's choice must score (by the reference) as well as the reference's.
      const q = Math.floor(i / k);
      let s = 0;
      for (let d = 0; d < dim; d++) s += queries[q * dim + d] * vectors[got.indices[i] * dim + d];
      if (!close(Math.fround(s), cpu.scores[i])) throw new Error(`rank ${i}: index ${got.indices[i]} against ${cpu.indices[i]}`);
    }
    for (let q = 0; q < cpu.indices.length / k; q++) {
      expect(new Set(got.indices.subarray(q * k, (q + 1) * k)).size).toBe(k);
    }
  }

  it("matches the reference on 20 queries × 5000 vectors × 64 dims, k = 10", async () => {
    const [dim, queries, vectors] = [64, randomMatrix(20, 64, 1), randomMatrix(5000, 64, 2)];
    const cpu = topK(queries, vectors, dim, 10);
    expectSameTopK(cpu, await topKGpu(gpu, queries, vectors, dim, 10), queries, vectors, dim);
  });

  it("matches the reference across many vector and query tiles", async () => {
    const [dim, queries, vectors] = [37, randomMatrix(23, 37, 3), randomMatrix(3001, 37, 4)];
    const cpu = topK(queries, vectors, dim, 16);
    const got = await topKGpu(gpu, queries, vectors, dim, 16, { tileVectors: 450, tileQueries: 7, segment: 50 });
    expectSameTopK(cpu, got, queries, vectors, dim);
  });

  it("matches the reference above the GPU selection's k, and with k larger than the vectors", async () => {
    const [dim, queries, vectors] = [16, randomMatrix(5, 16, 5), randomMatrix(700, 16, 6)];
    expectSameTopK(topK(queries, vectors, dim, 100), await topKGpu(gpu, queries, vectors, dim, 100, { tileVectors: 300 }), queries, vectors, dim);
    const few = vectors.subarray(0, 5 * dim);
    const got = await topKGpu(gpu, queries, few, dim, 10);
    expect(got.indices.length).toBe(5 * 5);
    expectSameTopK(topK(queries, few, dim, 10), got, queries, few, dim);
  });

  it("keeps the lower index first among exactly equal scores", async () => {
    const vectors = new Float32Array(40 * 4).fill(1); // every score equal
    const got = await topKGpu(gpu, new Float32Array([1, 2, 3, 4]), vectors, 4, 5, { tileVectors: 16, segment: 8 });
    expect([...got.indices]).toEqual([0, 1, 2, 3, 4]);
  });
});

describe("the harness", () => {
  const SHADER = `
@group(0) @binding(0) var<storage, read_write> xs: array<u32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3u) {
  if (id.x < arrayLength(&xs)) { xs[id.x] = xs[id.x] * 2u + 1u; }
}`;

  it("compiles a shader once per device, and runs it", async () => {
    const before = gpu.stats().pipelinesCompiled;
    const [a, b] = await Promise.all([gpu.pipeline("double", SHADER), gpu.pipeline("double", SHADER)]);
    const c = await gpu.pipeline("double again", SHADER);
    expect(a).toBe(b);
    expect(c).toBe(a);
    expect(gpu.stats().pipelinesCompiled).toBe(before + 1);
    const xs = gpu.upload(new Uint32Array([1, 2, 3, 4, 5]), GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
    gpu.dispatch(a, [{ buffer: xs, size: 20 }], 1);
    expect([...new Uint32Array(await gpu.readback(xs, 20))]).toEqual([3, 5, 7, 9, 11]);
    gpu.release(xs);
  });

  it("reports a WGSL compile error with its line, column and the compiler's message", async () => {
    const bad = `fn f() -> i32 {\n  let x: i32 = 1;\n  return 1u;\n}\n@compute @workgroup_size(1) fn main() {}`;
    const err = await gpu.pipeline("broken.wgsl", bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CellarError);
    const message = (err as Error).message;
    expect(message).toContain(`"broken.wgsl"`);
    expect(message).toContain("line 3:");
    expect(message).toMatch(/return statement type must match/);
    expect(message).not.toContain("\n");
  });

  it("reports a pipeline that fails validation, such as a missing entry point", async () => {
    const err = await gpu.pipeline("double", SHADER, "nope").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CellarError);
    expect((err as Error).message).toMatch(/"double", entry point "nope"/);
  });

  it("reports a dispatch that fails validation at the next readback, not as zeros", async () => {
    const pipeline = await gpu.pipeline("double", SHADER);
    const wrong = gpu.acquire(16, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST); // not a storage buffer
    gpu.dispatch(pipeline, [{ buffer: wrong, size: 16 }], 1);
    const out = gpu.upload(new Uint32Array([7]), GPUBufferUsage.COPY_SRC);
    await expect(gpu.readback(out, 4)).rejects.toThrow(/test-gpu: dispatching "double": .*STORAGE|test-gpu: dispatching "double": .*Storage/);
    // Reported once: the device is usable afterwards.
    expect([...new Uint32Array(await gpu.readback(out, 4))]).toEqual([7]);
    gpu.release(wrong);
    gpu.release(out);
  });

  it("reuses a released buffer of the same usage and size class", () => {
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
    const a = gpu.acquire(1000, usage);
    expect(a.size).toBe(1024);
    gpu.release(a);
    const reused = gpu.stats().buffersReused;
    const b = gpu.acquire(700, usage);
    expect(b).toBe(a);
    expect(gpu.stats().buffersReused).toBe(reused + 1);
    const other = gpu.acquire(700, usage | GPUBufferUsage.COPY_SRC);
    expect(other).not.toBe(a);
    gpu.release(b);
    gpu.release(other);
    expect(() => gpu.release(b)).toThrow(/not live/);
  });

  it("reads back a 16 MiB buffer exactly, and odd lengths", async () => {
    const random = rng(99);
    const data = Uint32Array.from({ length: 4 << 20 }, () => Math.floor(random() * 2 ** 32));
    const buffer = gpu.upload(data, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
    const back = new Uint32Array(await gpu.readback(buffer, data.byteLength));
    expect(firstMismatch(data, back)).toBe(-1);
    const tail = new Uint8Array(await gpu.readback(buffer, 7, 4096));
    expect([...tail]).toEqual([...new Uint8Array(data.buffer, 4096, 7)]);
    gpu.release(buffer);
    const bytes = gpu.upload(new Uint8Array([1, 2, 3]), GPUBufferUsage.COPY_SRC);
    expect([...new Uint8Array(await gpu.readback(bytes, 3))]).toEqual([1, 2, 3]);
    gpu.release(bytes);
  });

  it("describes its adapter", () => {
    expect(typeof gpu.info.isFallbackAdapter).toBe("boolean");
    expect(gpu.info.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
    expect(gpu.limits.maxStorageBufferBindingSize).toBe(gpu.info.limits.maxStorageBufferBindingSize);
  });

  it("makes device loss visible and refuses work after it", async () => {
    const other = await GpuDevice.open({ label: "doomed" });
    expect(other.isLost).toBe(false);
    other.destroy();
    const lost = await other.lost;
    expect(lost.reason).toBe("destroyed");
    expect(other.isLost).toBe(true);
    expect(other.lostReason).toBe("destroyed");
    expect(() => other.acquire(4, GPUBufferUsage.STORAGE)).toThrow(GpuDeviceLostError);
    await expect(other.pipeline("double", SHADER)).rejects.toThrow(/doomed: device lost/);
  });
});

function firstMismatch(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}
