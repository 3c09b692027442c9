// ctx.map benchmarks. Prints one JSON object per result.
//
//   XDG_RUNTIME_DIR=/tmp/xdg npx tsx bench/map.bench.ts
//   XDG_RUNTIME_DIR=/tmp/xdg node_modules/deno/deno run -A bench/map.bench.ts
//
// (a) ctx.map over 1M tiny items on the CPU path: items per second and the
//     median per-chunk overhead (target ≤ 20 µs; Ray's async task ≈ 124 µs);
// (b) two cells claiming gpu 0.5 on one device run at the same time while a
//     third claiming 0.6 waits for room — shown with timestamps.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Compute } from "../kernel/compute/devices.ts";
import { pipeline, type Pipeline } from "../kernel/mod.ts";
import { Runner } from "../kernel/runner.ts";
import { createManualRun } from "../kernel/run-records.ts";
import { runtime } from "../kernel/runtime/mod.ts";
import { Store } from "../kernel/store/store.ts";

async function execute(p: Pipeline, compute: Compute) {
  const store = await Store.open(join(mkdtempSync(join(tmpdir(), "cellar-bench-")), "bench.duckdb"));
  const date = new Date();
  const run = await createManualRun(store, p.id, "manual", date, { start: date, end: date }, {}, {});
  const result = await new Runner(store, { compute }).execute(p, run);
  await store.close();
  if (result.state !== "success") throw new Error(`benchmark pipeline ${p.id} failed`);
  return result;
}

async function millionItems(): Promise<void> {
  const ITEMS = 1_000_000;
  const BATCH = 1_000;
  const compute = new Compute({ devices: "cpu" });
  const items = Array.from({ length: ITEMS }, (_, i) => i);
  // Per chunk: the time the kernel spends around the function, measured as the gap between one
  // chunk's function returning and the next one's starting (the function itself is the "work").
  const enter: number[] = [];
  const leave: number[] = [];
  let work = 0;
  const p = pipeline({ id: "million" }).cell("map", async (ctx) => {
    const t0 = performance.now();
    const out = await ctx.map(items, (chunk: number[]) => {
      enter.push(performance.now());
      const r = chunk.map((x) => x + 1);
      const t = performance.now();
      work += t - enter[enter.length - 1];
      leave.push(t);
      return r;
    }, { batchSize: BATCH, concurrency: 1 });
    return { ms: performance.now() - t0, n: out.length, last: out[out.length - 1] };
  });
  const result = await execute(p, compute);
  const { ms, n, last } = result.outputs.get("map") as { ms: number; n: number; last: number };
  if (n !== ITEMS || last !== ITEMS) throw new Error("wrong results");
  const gaps = enter.slice(1).map((t, i) => (t - leave[i]) * 1000).sort((a, b) => a - b);
  console.log(JSON.stringify({
    benchmark: "ctx_map_1M_tiny_items_cpu",
    runtime: runtime.name,
    items: ITEMS,
    batch_size: BATCH,
    chunks: enter.length,
    total_ms: round(ms),
    items_per_second: Math.round(ITEMS / (ms / 1000)),
    median_chunk_overhead_us: round(gaps[Math.floor(gaps.length / 2)]),
    p90_chunk_overhead_us: round(gaps[Math.floor(gaps.length * 0.9)]),
    work_ms: round(work),
    target_chunk_overhead_us: 20,
  }));
  await compute.close();
}

async function sharedDevice(): Promise<void> {
  const compute = new Compute({ devices: 1 });
  const pool = await compute.gpu();
  if (pool.live.length === 0) {
    console.log(JSON.stringify({ benchmark: "fractional_gpu_sharing", skipped: "no WebGPU adapter on this host" }));
    return;
  }
  const t0 = performance.now();
  const timeline: Array<{ cell: string; claim: number; event: string; at_ms: number }> = [];
  const hold = (name: string, claim: number, ms: number) =>
    ({ needs: [] as string[], gpu: claim, cell: async (ctx: any) =>
      await ctx.map([name], async (chunk: string[], { device }: { device: { idle(): Promise<void> } }) => {
        timeline.push({ cell: name, claim, event: "lease granted", at_ms: round(performance.now() - t0) });
        await device.idle();
        await new Promise((r) => setTimeout(r, ms));
        timeline.push({ cell: name, claim, event: "released", at_ms: round(performance.now() - t0) });
        return chunk;
      }) });
  const a = hold("half_a", 0.5, 300);
  const b = hold("half_b", 0.5, 300);
  const c = hold("more_than_half", 0.6, 100);
  const p = pipeline({ id: "sharing" })
    .cell("half_a", { needs: [], gpu: a.gpu }, a.cell)
    .cell("half_b", { needs: [], gpu: b.gpu }, b.cell)
    .cell("more_than_half", { needs: [], gpu: c.gpu }, c.cell);
  await execute(p, compute);
  timeline.sort((x, y) => x.at_ms - y.at_ms);
  const at = (cell: string, event: string) => timeline.find((t) => t.cell === cell && t.event === event)!.at_ms;
  console.log(JSON.stringify({
    benchmark: "fractional_gpu_sharing",
    runtime: runtime.name,
    device: `${pool.live[0].id}: ${pool.live[0].description}${pool.live[0].fallback ? " (software fallback)" : ""}`,
    timeline,
    halves_overlapped: at("half_a", "lease granted") < at("half_b", "released") && at("half_b", "lease granted") < at("half_a", "released"),
    more_than_half_waited: at("more_than_half", "lease granted") >= Math.min(at("half_a", "released"), at("half_b", "released")),
    leases_held_after: pool.leasesHeld,
  }));
  await compute.close();
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

await millionItems();
await sharedDevice();
