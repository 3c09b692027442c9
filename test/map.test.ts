import { threadId } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { Compute } from "../kernel/compute/devices.ts";
import type { GpuDevice } from "../kernel/compute/gpu-device.ts";
import { type CellarEvent, openCellar, pipeline, task, type Pipeline } from "../kernel/mod.ts";
import { registry } from "../kernel/prometheus.ts";
import { storesClosedAfterEach, computesClosedAfterAll } from "./helpers.ts";

const TASKS = new URL("./fixtures/tasks.ts", import.meta.url).href;
const { cpuOnly, withGpu } = computesClosedAfterAll();

const newStore = storesClosedAfterEach();

async function execute(p: Pipeline, compute: Compute, events: CellarEvent[] = []) {
  const store = await newStore();
  const cellar = openCellar({ db: store, compute });
  cellar.on((e) => events.push(e));
  const result = await cellar.run(p, { date: "2026-05-03T00:00:00Z", new: true });
  return { result, store, detail: await cellar.show(result.runId) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("ctx.map on the CPU path", () => {
  it("returns results in input order whatever order chunks finish in, and reports progress", async () => {
    const events: CellarEvent[] = [];
    const p = pipeline({ id: "ordered" }).cell("m", async (ctx) =>
      await ctx.map(Array.from({ length: 100 }, (_, i) => i), async (chunk: number[]) => {
        await sleep(chunk[0] % 3 === 0 ? 15 : 1);
        return chunk.map((x) => x * 2);
      }, { batchSize: 7, concurrency: 4 }));
    const { result } = await execute(p, cpuOnly, events);
    expect(result.outputs.get("m")).toEqual(Array.from({ length: 100 }, (_, i) => i * 2));
    const progress = events.filter((e) => e.type === "progress").map((e) => (e as { done: number }).done);
    expect(progress.at(-1)).toBe(100);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
  });

  it("streams an async iterable with memory bounded by the chunks in flight", async () => {
    let produced = 0;
    let consumed = 0;
    let maxAhead = 0;
    async function* source() {
      for (let i = 0; i < 2_000; i++) {
        produced++;
        maxAhead = Math.max(maxAhead, produced - consumed);
        yield i;
      }
    }
    const p = pipeline({ id: "streaming" }).cell("m", async (ctx) => {
      let sum = 0;
      for await (const x of ctx.map(source(), (chunk: number[]) => chunk.map((v) => v + 1), { batchSize: 10, concurrency: 3 })) {
        consumed++;
        sum += x;
      }
      return sum;
    });
    const { result } = await execute(p, cpuOnly);
    expect(result.outputs.get("m")).toBe((2_000 * 2_001) / 2);
    // 3 chunks in flight and one being read: never the whole input.
    expect(maxAhead).toBeLessThanOrEqual(10 * 5);
  });

  it("retries a failed chunk, then fails the cell naming the chunk and its error", async () => {
    const tries = new Map<number, number>();
    const p = pipeline({ id: "flaky-chunks" })
      .cell("recovers", async (ctx) =>
        await ctx.map([1, 2, 3, 4], (chunk: number[], { index }) => {
          tries.set(index, (tries.get(index) ?? 0) + 1);
          if (index === 1 && tries.get(1)! < 3) throw new Error("transient");
          return chunk;
        }, { batchSize: 2 }))
      .cell("fails", async (ctx) =>
        await ctx.map([1, 2, 3, 4, 5, 6], (chunk: number[]) => {
          if (chunk.includes(5)) throw "a string, not an Error";
          return chunk;
        }, { batchSize: 2, retries: 1 }));
    const events: CellarEvent[] = [];
    const { result, detail } = await execute(p, cpuOnly, events);
    expect(result.outputs.get("recovers")).toEqual([1, 2, 3, 4]);
    expect(tries.get(1)).toBe(3);
    // The chunks' counts as the cells' last "chunks" events (the server's live progress) have them.
    const lastChunks = (cell: string) => events.filter((e) => e.type === "chunks" && e.cell === cell).at(-1);
    expect(lastChunks("recovers")).toMatchObject({ done: 2, failed: 0, retried: 2, total: 2 });
    expect(lastChunks("fails")).toMatchObject({ failed: 1, retried: 1, total: 3 });
    expect(await registry.metrics()).toMatch(/^cellar_map_chunks_total\{state="retried"\} [1-9]/m);
    expect(detail.cells.find((c) => c.cell === "fails")?.error).toBe(
      `cell "fails": ctx.map: chunk 2 (items 4–5) failed after 2 tries: non-Error value thrown: "a string, not an Error"`,
    );
  });

  it("runs task handles in CPU worker threads", async () => {
    const p = pipeline({ id: "workers" })
      .cell("squares", async (ctx) => await ctx.map([1, 2, 3, 4, 5], task(TASKS, "square"), { batchSize: 2 }))
      .cell("threads", async (ctx) => await ctx.map([1, 2, 3, 4], task(TASKS, "whichThread"), { batchSize: 1 }))
      .cell("boom", async (ctx) => await ctx.map([11, 12, 13], task(TASKS, "explode"), { batchSize: 1, retries: 0 }));
    const { result, detail } = await execute(p, cpuOnly);
    expect(result.outputs.get("squares")).toEqual([1, 4, 9, 16, 25]);
    const threads = result.outputs.get("threads") as number[];
    expect(threads.every((t) => t !== threadId)).toBe(true);
    expect(detail.cells.find((c) => c.cell === "boom")?.error).toMatch(/chunk 2 \(items 2–2\) failed after 1 try: RangeError: 13 is unlucky/);
  });

  it.each([
    ["batchSize 0", (ctx: any) => ctx.map([1], (c: number[]) => c, { batchSize: 0 }), /ctx.map: batchSize 0; expected a whole number ≥ 1/],
    ["gpu 1.5", (ctx: any) => ctx.map([1], (c: number[]) => c, { gpu: 1.5 }), /ctx.map: gpu 1.5; above 1 a claim must be a whole number/],
    ["gpu NaN", (ctx: any) => ctx.map([1], (c: number[]) => c, { gpu: Number.NaN }), /ctx.map: gpu NaN/],
    ["wrong shape", (ctx: any) => ctx.map([1, 2], () => [1]), /chunk 0 returned 1 results for 2 items; expected one result per item/],
    [
      "an iterable that throws midway",
      (ctx: any) =>
        ctx.map((async function* () {
          yield 1;
          yield 2;
          throw new Error("source went away");
        })(), (c: number[]) => c, { batchSize: 1 }),
      /ctx.map: the items iterable threw after 2 items: source went away/,
    ],
  ])("fails the cell with a clear error for %s", async (_name, body, message) => {
    const p = pipeline({ id: "bad" }).cell("m", { retries: 0 }, async (ctx) => await body(ctx));
    const { detail } = await execute(p, cpuOnly);
    expect(detail.cells[0].state).toBe("failed");
    expect(detail.cells[0].error).toMatch(/^cell "m": /);
    expect(detail.cells[0].error).toMatch(message);
  });

  it("runs a gpu claim on the CPU path with one notice when the host has no adapter, unless required", async () => {
    const events: CellarEvent[] = [];
    const p = pipeline({ id: "fallback" })
      .cell("soft", { gpu: 0.5 }, async (ctx) =>
        await ctx.map([1, 2, 3], (chunk: number[], { device, share }) => chunk.map(() => [device === undefined, share]), { batchSize: 1 }))
      .cell("hard", async (ctx) => await ctx.map([1], (c: number[]) => c, { gpu: 0.5, required: true }));
    const { result, detail } = await execute(p, cpuOnly, events);
    expect(result.outputs.get("soft")).toEqual([[true, 0], [true, 0], [true, 0]]);
    // The notice, not the failed try's error line (a log event too, marked failure), which names the adapter as well.
    const notices = events.filter((e) => e.type === "log" && !e.failure && /no WebGPU adapter/.test(e.message));
    expect(notices).toHaveLength(1);
    expect(detail.cells.find((c) => c.cell === "hard")?.error).toMatch(/required: true, but this host has no WebGPU adapter/);
  });
});

describe("ctx.map on a WebGPU device", () => {
  it("finds the adapter (CI installs Mesa's lavapipe; no adapter is a failure, never a skip)", async () => {
    const pool = await withGpu.gpu();
    expect(pool.live.length).toBe(1);
    expect(typeof pool.live[0].fallback).toBe("boolean");
  });

  it("runs two half-device cells at the same time, records device cost, and leaks no lease", async () => {
    const windows: Record<string, [number, number]> = {};
    const half = (name: string) => async (ctx: any) =>
      await ctx.map([1], async (chunk: number[], { device, share }: { device: GpuDevice; share: number }) => {
        windows[name] = [performance.now(), 0];
        await device.idle();
        await sleep(150);
        windows[name][1] = performance.now();
        return chunk.map(() => share);
      });
    const p = pipeline({ id: "shared" })
      .cell("a", { needs: [], gpu: 0.5 }, half("a"))
      .cell("b", { needs: [], gpu: 0.5 }, half("b"));
    const { result, detail } = await execute(p, withGpu);
    expect(result.outputs.get("a")).toEqual([0.5]);
    expect(windows.a[0]).toBeLessThan(windows.b[1]);
    expect(windows.b[0]).toBeLessThan(windows.a[1]);
    expect(detail.cells.find((c) => c.cell === "a")?.costs.gpu_seconds).toBeGreaterThan(0.05);
    const pool = await withGpu.gpu();
    expect(pool.leasesHeld).toBe(0);
  });

  it("releases leases when chunks fail, time out or are cancelled", async () => {
    const p = pipeline({ id: "leaky" })
      .cell("throws", { needs: [], gpu: 0.25, retries: 0 }, async (ctx) =>
        await ctx.map([1, 2, 3], () => {
          throw new Error("kernel bug");
        }, { batchSize: 1, retries: 1 }))
      .cell("slow", { needs: [], gpu: 0.25, timeout: 100, retries: 0 }, async (ctx) =>
        await ctx.map([1, 2, 3, 4], async (c: number[], { signal }) => {
          await new Promise((resolve, reject) => {
            const t = setTimeout(resolve, 5_000);
            signal.addEventListener("abort", () => (clearTimeout(t), reject(signal.reason)));
          });
          return c;
        }, { batchSize: 1 }));
    const { detail } = await execute(p, withGpu);
    expect(detail.cells.map((c) => c.state)).toEqual(["failed", "failed"]);
    expect((await withGpu.gpu()).leasesHeld).toBe(0);
  });

  it("refuses at once a memory claim no device can hold, naming the cell", async () => {
    let calls = 0;
    const p = pipeline({ id: "too-big" }).cell("huge", { gpu: 0.5, gpuMemory: 2 ** 50 }, async (ctx) =>
      await ctx.map([1, 2], (c: number[]) => (calls++, c)));
    const { detail } = await execute(p, withGpu);
    expect(detail.cells[0].error).toMatch(/^cell "huge": ctx.map: a claim of gpu 0.5 with 1024 TiB cannot be placed: the largest device has .* of memory$/);
    expect(calls).toBe(0);
    expect((await withGpu.gpu()).leasesHeld).toBe(0);
  });

  it("fails a shader that does not compile once, with its line, without retrying it", async () => {
    let tries = 0;
    const p = pipeline({ id: "bad-shader" }).cell("kernel", { gpu: 0.5, retries: 0 }, async (ctx) =>
      await ctx.map([1], async (c: number[], { device }) => {
        tries++;
        await device!.pipeline("broken", "@compute @workgroup_size(1) fn main() {\n  let x: u32 = 1.5;\n}");
        return c;
      }));
    const { detail } = await execute(p, withGpu);
    expect(tries).toBe(1);
    expect(detail.cells[0].error).toMatch(/^cell "kernel": ctx.map: chunk 0: WGSL shader "broken" does not compile: line 2:/);
    expect((await withGpu.gpu()).leasesHeld).toBe(0);
  });

  it("takes a lost device out of the pool and retries its chunks on another", async () => {
    const two = new Compute({ devices: 2 });
    try {
      const pool = await two.gpu();
      expect(pool.live.map((d) => d.id)).toEqual(["gpu0", "gpu1"]);
      const ran: string[] = [];
      const p = pipeline({ id: "lossy" }).cell("work", { gpu: 1 }, async (ctx) =>
        await ctx.map([1, 2, 3, 4, 5, 6], async (chunk: number[], { device }) => {
          ran.push(device!.label);
          if (device!.label === "gpu0" && ran.length === 2) {
            device!.device.destroy(); // what a driver reset looks like from here
            await device!.lost;
          }
          const buffer = device!.upload(new Uint32Array(chunk), GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
          const [value] = new Uint32Array(await device!.readback(buffer, 4));
          device!.release(buffer);
          return [value * 10];
        }, { batchSize: 1, concurrency: 1 }));
      const { result } = await execute(p, two);
      expect(result.outputs.get("work")).toEqual([10, 20, 30, 40, 50, 60]);
      expect(pool.live.map((d) => d.id)).toEqual(["gpu1"]);
      expect(ran.slice(ran.lastIndexOf("gpu0") + 1).every((id) => id === "gpu1")).toBe(true);
      expect(pool.leasesHeld).toBe(0);
    } finally {
      await two.close();
    }
  });

  it("exports device busy time, leases, queue depth and chunk latency as Prometheus metrics", async () => {
    const text = await registry.metrics();
    const busy = /cellar_device_busy_fraction_seconds_total\{device="gpu0"\} ([\d.e-]+)/.exec(text);
    expect(Number(busy?.[1])).toBeGreaterThan(0.1);
    expect(text).toMatch(/cellar_device_leases_held\{device="gpu0"\} 0/);
    expect(text).toMatch(/cellar_device_queue_depth 0/);
    expect(Number(/cellar_chunk_latency_seconds_count\{device="gpu0",placement="local"\} (\d+)/.exec(text)?.[1])).toBeGreaterThan(0);
  });
});
