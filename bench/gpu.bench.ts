// GPU benchmarks. Prints one JSON object per result.
//
//   npx tsx bench/gpu.bench.ts                          (Node)
//   node_modules/deno/deno run -A bench/gpu.bench.ts    (Deno)
//
// (c) the adapter: its description and fallback flag, the submit round trip,
//     upload and readback GB/s;
// (d) the MinHash and top-k kernels against their TypeScript references on the
//     same data: throughput of each, and whether they agree.
//
// On a software adapter (Mesa's lavapipe) kernels run at a few percent of the
// CPU's peak: these numbers prove the plumbing, they are no target for tuning.
import { minhashSignatures, minhashSignaturesGpu } from "../cells/dedup/minhash.ts";
import { topK, topKGpu } from "../cells/index/topk.ts";
import { GpuDevice } from "../kernel/compute/gpu-device.ts";
import { runtime } from "../kernel/runtime/mod.ts";
import { rng } from "../test/random.ts";

const MiB = 1024 * 1024;

function emit(result: Record<string, unknown>): void {
  console.log(JSON.stringify({ ...result, runtime: runtime.name }));
}

function round(n: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}


async function time<T>(fn: () => Promise<T> | T): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

function adapter(gpu: GpuDevice): void {
  emit({ benchmark: "gpu_adapter", label: gpu.label, ...gpu.info });
}

async function roundTrip(gpu: GpuDevice): Promise<void> {
  const samples: number[] = [];
  for (let i = 0; i < 220; i++) {
    const t0 = performance.now();
    gpu.device.queue.submit([]);
    await gpu.device.queue.onSubmittedWorkDone();
    if (i >= 20) samples.push(performance.now() - t0);
  }
  emit({ benchmark: "gpu_submit_round_trip", samples: samples.length, median_ms: round(median(samples), 4), p90_ms: round(samples.sort((a, b) => a - b)[Math.floor(samples.length * 0.9)], 4) });
}

async function transfer(gpu: GpuDevice): Promise<void> {
  const bytes = 64 * MiB;
  const data = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i += 4096) data[i] = i >>> 12;
  const uploads: number[] = [];
  const readbacks: number[] = [];
  const readbacksInto: number[] = [];
  const target = new Uint8Array(bytes);
  let correct = true;
  for (let rep = 0; rep < 5; rep++) {
    const t0 = performance.now();
    const buffer = gpu.upload(data, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
    await gpu.idle();
    uploads.push(performance.now() - t0);
    const t1 = performance.now();
    const back = new Uint8Array(await gpu.readback(buffer, bytes));
    readbacks.push(performance.now() - t1);
    const t2 = performance.now();
    await gpu.readbackInto(buffer, target);
    readbacksInto.push(performance.now() - t2);
    for (let i = 0; i < bytes; i += 4096) if (back[i] !== data[i] || target[i] !== data[i]) correct = false;
    gpu.release(buffer);
  }
  const gbps = (ms: number) => round(bytes / 1e9 / (ms / 1000), 2);
  emit({ benchmark: "gpu_upload", bytes, median_ms: round(median(uploads)), gb_per_s: gbps(median(uploads)) });
  emit({ benchmark: "gpu_readback", bytes, into: "fresh ArrayBuffer", median_ms: round(median(readbacks)), gb_per_s: gbps(median(readbacks)), correct });
  emit({ benchmark: "gpu_readback", bytes, into: "reused Uint8Array", median_ms: round(median(readbacksInto)), gb_per_s: gbps(median(readbacksInto)), correct });

  // Why readback copies with TypedArray.set: the same mapped range, copied both ways.
  const staging = gpu.device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  await staging.mapAsync(GPUMapMode.READ);
  const mapped = staging.getMappedRange();
  const sets: number[] = [];
  const slices: number[] = [];
  for (let rep = 0; rep < 3; rep++) {
    sets.push((await time(() => target.set(new Uint8Array(mapped)))).ms);
    slices.push((await time(() => mapped.slice(0))).ms);
  }
  staging.unmap();
  staging.destroy();
  emit({ benchmark: "gpu_mapped_range_copy", bytes, typed_array_set_gb_per_s: gbps(median(sets)), array_buffer_slice_gb_per_s: gbps(median(slices)) });
}

async function minhash(gpu: GpuDevice): Promise<void> {
  const docs = 20_000;
  const numPerm = 128;
  const random = rng(1);
  const offsets = new Uint32Array(docs + 1);
  // Web documents: mostly a few hundred words, some empty, a few long.
  for (let i = 0; i < docs; i++) {
    const n = i % 50 === 0 ? 0 : i % 500 === 1 ? 5000 : Math.floor(random() * 300);
    offsets[i + 1] = offsets[i] + n;
  }
  const shingles = Uint32Array.from({ length: offsets[docs] }, () => Math.floor(random() * 2 ** 32));
  const cold = await time(() => minhashSignaturesGpu(gpu, shingles, offsets, numPerm, 1));
  const warm = await time(() => minhashSignaturesGpu(gpu, shingles, offsets, numPerm, 1));
  const cpu = await time(() => minhashSignatures(shingles, offsets, numPerm, 1));
  let mismatches = 0;
  for (let i = 0; i < cpu.value.length; i++) if (cpu.value[i] !== warm.value[i] || cpu.value[i] !== cold.value[i]) mismatches++;
  emit({
    benchmark: "minhash_gpu_vs_ts",
    docs,
    shingles: shingles.length,
    num_perm: numPerm,
    gpu_cold_ms: round(cold.ms),
    gpu_ms: round(warm.ms),
    ts_ms: round(cpu.ms),
    gpu_docs_per_s: Math.round(docs / (warm.ms / 1000)),
    ts_docs_per_s: Math.round(docs / (cpu.ms / 1000)),
    gpu_hashes_per_s: Math.round((shingles.length * numPerm) / (warm.ms / 1000)),
    bit_identical: mismatches === 0,
    mismatches,
  });
}

async function topk(gpu: GpuDevice, numQueries: number, numVectors: number, dim: number, k: number): Promise<void> {
  const random = rng(2);
  const queries = Float32Array.from({ length: numQueries * dim }, () => random() * 2 - 1);
  const vectors = Float32Array.from({ length: numVectors * dim }, () => random() * 2 - 1);
  const cold = await time(() => topKGpu(gpu, queries, vectors, dim, k));
  const warm = await time(() => topKGpu(gpu, queries, vectors, dim, k));
  const cpu = await time(() => topK(queries, vectors, dim, k));
  let maxRelError = 0;
  let indexDiffs = 0;
  let unexplained = 0;
  for (let i = 0; i < cpu.value.scores.length; i++) {
    const [a, b] = [cpu.value.scores[i], warm.value.scores[i]];
    const rel = Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b), 1e-3);
    maxRelError = Math.max(maxRelError, rel);
    if (rel > 1e-5) unexplained++;
    if (cpu.value.indices[i] !== warm.value.indices[i]) indexDiffs++;
  }
  const flops = 2 * numQueries * numVectors * dim;
  emit({
    benchmark: "topk_gpu_vs_ts",
    queries: numQueries,
    vectors: numVectors,
    dim,
    k,
    vector_bytes: vectors.byteLength,
    exceeds_one_binding: vectors.byteLength > gpu.limits.maxStorageBufferBindingSize,
    gpu_cold_ms: round(cold.ms),
    gpu_ms: round(warm.ms),
    ts_ms: round(cpu.ms),
    gpu_queries_per_s: round(numQueries / (warm.ms / 1000), 1),
    ts_queries_per_s: round(numQueries / (cpu.ms / 1000), 1),
    gpu_gflop_per_s: round(flops / 1e9 / (warm.ms / 1000), 2),
    ts_gflop_per_s: round(flops / 1e9 / (cpu.ms / 1000), 2),
    max_rel_score_error: maxRelError,
    // Index differences are allowed only between scores tied within 1e-5.
    index_differences: indexDiffs,
    match: unexplained === 0,
  });
}

const gpu = await GpuDevice.open({ label: "bench-gpu" });
try {
  adapter(gpu);
  await roundTrip(gpu);
  await transfer(gpu);
  await minhash(gpu);
  await topk(gpu, 50, 50_000, 128, 10);
  // 200 MB of vectors: more than one storage binding holds, so the kernel must tile.
  await topk(gpu, 20, 100_000, 512, 10);
} finally {
  gpu.destroy();
}
