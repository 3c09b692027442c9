/**
 * The kernel's working parts that the facade (kernel/cellar.ts) drives, in
 * one module it imports at first use.
 *
 * Why not statically: kernel/mod.ts, which exports the facade, is what
 * pipeline files import, and Node loads a pipeline file outside a
 * `"type": "module"` package as CommonJS, requiring mod.ts's whole graph —
 * where runtime/mod.ts's top-level await cannot be. Through this module the
 * runtime, the store and the runner load only when a facade first needs them.
 *
 * @example
 * ```ts
 * const { Store } = await import("./engine.ts");
 * const store = await Store.open(".cellar/cellar.duckdb");
 * ```
 */
export { parseReprocess, prepareBackfill } from "./backfill-plan.ts";
export { cellLogTails } from "./cell-log-tails.ts";
export { cellResults } from "./cell-results.ts";
export { compute } from "./compute/devices.ts";
export { costLines } from "./cost.ts";
export { costDays } from "./cost-days.ts";
export { deviceSnapshot } from "./compute/device-snapshot.ts";
export { isPipelineId, loadPipeline } from "./loader.ts";
export { adoptionLine, handOver, orphanedRuns, resumePoint, SHUTDOWN_NOTE } from "./orphans.ts";
export { runDetail, runLogs } from "./report.ts";
export { logPage } from "./run-logs.ts";
export { runGrid } from "./run-grid.ts";
export { Runner } from "./runner.ts";
export { claimRun, createManualRun, createScheduledRuns, getRun, hasCheckpoint, listRuns, markInterrupted, pageRuns, scheduledRunKey } from "./run-records.ts";
export { registry, workerCounts } from "./prometheus.ts";
export { recordPipelineLoad, recordRunMetrics } from "./run-metrics.ts";
export { runtime } from "./runtime/mod.ts";
export { pausedPipelines, setPaused } from "./pause.ts";
export { Scheduler } from "./scheduler.ts";
export { staleCells } from "./stale.ts";
export { Store } from "./store/store.ts";
export { vectorReader } from "./store/vectors.ts";
