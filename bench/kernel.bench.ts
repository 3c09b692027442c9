// Kernel overhead benchmarks. Prints one JSON object per result.
//
//   npx tsx bench/kernel.bench.ts            (Node)
//   node_modules/deno/deno run -A bench/kernel.bench.ts   (Deno)
//
// (a) a linear pipeline of 1,000 no-op cells with durable checkpoints in a
//     DuckDB file: median per-cell overhead (target ≤ 1 ms);
// (b) catchup of 5 years of @daily on an empty store: run records created
//     per second (target ≥ 5,000/s).
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "../kernel/mod.ts";
import { Runner } from "../kernel/runner.ts";
import { createManualRun, lastScheduledDate } from "../kernel/run-records.ts";
import { runtime } from "../kernel/runtime/mod.ts";
import { Scheduler } from "../kernel/scheduler.ts";
import { Store } from "../kernel/store/store.ts";

const CELLS = 1_000;

async function linearPipeline(): Promise<void> {
  const store = await Store.open(join(mkdtempSync(join(tmpdir(), "cellar-bench-")), "bench.duckdb"));
  const p = pipeline({ id: "linear" });
  // Each cell notes when it starts: the gap between two starts is one cell's whole cost to the kernel.
  const started: number[] = [];
  for (let i = 0; i < CELLS; i++) {
    p.cell(`c${i}`, (_ctx, input: number | undefined) => {
      started.push(performance.now());
      return (input ?? 0) + 1;
    });
  }
  const runner = new Runner(store);
  const date = new Date();
  const run = await createManualRun(store, p.id, "manual", date, { start: date, end: date }, {}, {});
  const t0 = performance.now();
  const result = await runner.execute(p, run);
  const total = performance.now() - t0;
  if (result.state !== "success" || result.outputs.get(`c${CELLS - 1}`) !== CELLS) throw new Error("benchmark run failed");
  const gaps = started.slice(1).map((t, i) => t - started[i]).sort((a, b) => a - b);
  const committed = await store.query("SELECT count(*)::INT AS n FROM outputs WHERE run_id = ?", [run.runId]);
  await store.close();
  console.log(JSON.stringify({
    benchmark: "linear_pipeline_noop_cells",
    runtime: runtime.name,
    cells: CELLS,
    checkpoints_committed: committed[0].n,
    total_ms: round(total),
    median_cell_overhead_ms: round(gaps[Math.floor(gaps.length / 2)]),
    p90_cell_overhead_ms: round(gaps[Math.floor(gaps.length * 0.9)]),
    // total includes waiting for every checkpoint to be durable
    mean_cell_overhead_ms: round(total / CELLS),
    target_ms: 1,
  }));
}

async function catchup(): Promise<void> {
  const store = await Store.open(join(mkdtempSync(join(tmpdir(), "cellar-bench-")), "bench.duckdb"));
  const p = pipeline({ id: "daily", schedule: "@daily", startDate: "2021-01-01", catchup: true }).cell("noop", () => null);
  const now = new Date("2026-01-01T00:00:00Z");
  const scheduler = new Scheduler(store, new Runner(store), [p], () => now);
  const t0 = performance.now();
  const created = await scheduler.createDueRuns();
  const ms = performance.now() - t0;
  const last = await lastScheduledDate(store, p.id);
  await store.close();
  console.log(JSON.stringify({
    benchmark: "catchup_5y_daily",
    runtime: runtime.name,
    runs_created: created,
    last_logical_date: last?.toISOString(),
    ms: round(ms),
    runs_per_second: Math.round(created / (ms / 1000)),
    target_runs_per_second: 5000,
  }));
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

await linearPipeline();
await catchup();
