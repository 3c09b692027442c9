/**
 * The eval gauges of `/metrics`: `cellar_eval_metric{pipeline,metric}`, the means of each pipeline's latest
 * eval result (passed or gated), and `cellar_eval_gate_failures_total{pipeline}`, registered on the kernel's
 * registry (kernel/mod.ts's metricsRegistry) that /metrics serves. They follow the facade's cell events of the
 * eval cell: a failed gate's event carries its CheckFailed details, a passing run's checkpoint is read once
 * its success is reported; after a restart they start from each served eval pipeline's latest result in the
 * store (eval-history.ts), not from nothing until the next run.
 *
 * @example
 * ```ts
 * import { watchEvalMetrics } from "./eval-metrics.ts";
 * import type { ServerDeps } from "./deps.ts";
 * declare const deps: ServerDeps;
 *
 * const evalMetrics = watchEvalMetrics(deps);
 * await evalMetrics.settled(); // before reading the registry for /metrics
 * ```
 */
import { Counter, Gauge } from "prom-client";
import { type Cellar, type CellarEvent, CellState, metricsRegistry, RunState } from "../kernel/mod.ts";
import type { ServerDeps } from "./deps.ts";
import { asEvalResult, EVAL_CELL, type EvalResult, evalRunOf } from "./eval-history.ts";

const evalMetric = new Gauge({
  name: "cellar_eval_metric",
  help: "A mean metric (nDCG@10, recall@10, MRR, …) of the pipeline's latest eval run in this process, passed or gated",
  labelNames: ["pipeline", "metric"],
  registers: [metricsRegistry],
});

const gateFailures = new Counter({
  name: "cellar_eval_gate_failures_total",
  help: "Eval runs whose regression gate failed (a metric dropped from its baseline by more than allowed)",
  labelNames: ["pipeline"],
  registers: [metricsRegistry],
});

/** Per pipeline, the metrics its latest eval result set: the gauges are the process's, whatever the facade. */
const shown = new Map<string, Set<string>>();

export interface EvalMetrics {
  /** Resolves once the gauges show every eval result reported so far (and, the first time, the store's latest). */
  settled(): Promise<void>;
}

/** One watcher per facade: two apps over one facade must not count a failed gate twice. */
const watchers = new WeakMap<Cellar, EvalMetrics>();

/** Keeps the eval gauges current with `deps.cellar`'s runs; seeded from the store at the first settled(). */
export function watchEvalMetrics(deps: ServerDeps): EvalMetrics {
  const existing = watchers.get(deps.cellar);
  if (existing) return existing;
  const { cellar } = deps;
  /** The pipeline of each run going on: a cell event carries only its run id. */
  const pipelines = new Map<number, string>();
  // In order: a passing run's read must not land after a later run's failed gate.
  let queue: Promise<void> = Promise.resolve();
  const then = (work: () => Promise<void> | void) => void (queue = queue.then(work).catch(() => {}));
  let seeded = false;
  cellar.on((event: CellarEvent) => {
    if (event.type === "run") {
      if (event.state === RunState.Running) pipelines.set(event.runId, event.pipeline);
      else pipelines.delete(event.runId);
      return;
    }
    if (event.type !== "cell" || event.cell !== EVAL_CELL) return;
    const pipeline = pipelines.get(event.runId);
    if (pipeline === undefined) return;
    if (event.state === CellState.Failed) {
      const result = asEvalResult(event.details);
      if (result) then(() => show(pipeline, result, { counted: true }));
    } else if (event.state === CellState.Success) {
      then(async () => {
        const [found] = await cellar.cellResults({ pipeline, cell: EVAL_CELL, runId: event.runId, limit: 1 });
        const run = found && evalRunOf(found);
        if (run) show(pipeline, run, { counted: true });
      });
    }
  });
  const watcher: EvalMetrics = {
    settled() {
      if (!seeded) seeded = true, then(() => seed(deps));
      return queue;
    },
  };
  watchers.set(cellar, watcher);
  return watcher;
}

/** The latest result of each served eval pipeline that no run of this process has shown yet. */
async function seed(deps: ServerDeps): Promise<void> {
  const evals = deps.pipelines.list().filter((p) => p.cells.some((cell) => cell.name === EVAL_CELL));
  await Promise.all(evals.map(async ({ id }) => {
    // A store that failed to open fails the calls that need it; /metrics still answers with the rest.
    const [latest] = await deps.cellar.cellResults({ pipeline: id, cell: EVAL_CELL, limit: 1 }).catch(() => []);
    const run = latest && evalRunOf(latest);
    if (run && !shown.has(id)) show(id, run, { counted: false });
  }));
}

/** `result`'s means as the pipeline's gauges; a failed gate counted unless it is a seed (counted before the restart). */
function show(pipeline: string, result: EvalResult, options: { counted: boolean }): void {
  // The metrics of this result only: one the previous result had and this one lacks must not linger.
  for (const metric of shown.get(pipeline) ?? []) if (!(metric in result.metrics)) evalMetric.remove({ pipeline, metric });
  for (const [metric, value] of Object.entries(result.metrics)) evalMetric.set({ pipeline, metric }, value);
  shown.set(pipeline, new Set(Object.keys(result.metrics)));
  if (options.counted && !result.verdict.pass) gateFailures.inc({ pipeline });
}
