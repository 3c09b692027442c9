/**
 * The run and cell metrics of kernel/prometheus.ts, read off the runner's events as the facade forwards
 * them: tries by outcome, cell and run durations, cells running, a pipeline's last success; and the
 * pipeline files that failed to load.
 *
 * @example
 * ```ts
 * import { recordRunMetrics } from "./run-metrics.ts";
 * import { CellState, RunState } from "./state.ts";
 *
 * recordRunMetrics({ type: "run", runId: 1, pipeline: "hello", state: RunState.Running });
 * recordRunMetrics({ type: "cell", runId: 1, cell: "greet", state: CellState.Running, tryNumber: 1 });
 * recordRunMetrics({ type: "cell", runId: 1, cell: "greet", state: CellState.Success, tryNumber: 1, ms: 12 });
 * ```
 */
import { metrics } from "./prometheus.ts";
import type { RunEvent } from "./runner.ts";
import { CellState, RunState } from "./state.ts";

/** The runs executing in this process: their pipeline (cell events carry only the run id) and start. */
const runs = new Map<number, { pipeline: string; startedMs: number; running: Set<string> }>();

/** The pipeline files whose last load failed. */
const failedFiles = new Set<string>();

/** Notes how loading `file` went last (`undefined`: it is gone), for cellar_pipeline_load_errors. */
export function recordPipelineLoad(file: string, ok: boolean | undefined): void {
  if (ok === false) failedFiles.add(file);
  else failedFiles.delete(file);
  metrics.loadErrors.set(failedFiles.size);
}

export function recordRunMetrics(event: RunEvent): void {
  if (event.type === "run") return recordRun(event);
  if (event.type !== "cell") return;
  const run = runs.get(event.runId);
  if (!run) return;
  if (event.state === CellState.Running) {
    if (!run.running.has(event.cell)) run.running.add(event.cell), metrics.cellsRunning.inc({ pipeline: run.pipeline });
    return;
  }
  // Only the end of a try that ran counts: a cached or upstream-failed cell executed nothing.
  if (!run.running.delete(event.cell)) return;
  metrics.cellsRunning.dec({ pipeline: run.pipeline });
  metrics.cellTries.inc({ pipeline: run.pipeline, cell: event.cell, outcome: event.state });
  if (event.ms !== undefined) metrics.cellDuration.observe({ pipeline: run.pipeline, cell: event.cell }, event.ms / 1000);
}

function recordRun(event: Extract<RunEvent, { type: "run" }>): void {
  if (event.state === RunState.Running) {
    runs.set(event.runId, { pipeline: event.pipeline, startedMs: Date.now(), running: new Set() });
    return;
  }
  const run = runs.get(event.runId);
  if (!run) return;
  runs.delete(event.runId);
  // Cells still marked running ended with the run (abandoned after a cancel).
  if (run.running.size > 0) metrics.cellsRunning.dec({ pipeline: run.pipeline }, run.running.size);
  metrics.runDuration.observe({ pipeline: run.pipeline, state: event.state }, (Date.now() - run.startedMs) / 1000);
  if (event.state === RunState.Success) metrics.lastSuccess.set({ pipeline: run.pipeline }, Date.now() / 1000);
}
