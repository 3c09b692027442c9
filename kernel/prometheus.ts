/**
 * The kernel's Prometheus metrics, with prom-client's default process metrics (memory, CPU, event loop), in one
 * prom-client registry the server exposes at /metrics (and registers its own on, through kernel/mod.ts's metricsRegistry: the eval gauges).
 *
 * @example
 * ```ts
 * import { metrics, registry } from "./prometheus.ts";
 *
 * metrics.chunkLatency.observe({ device: "gpu0" }, 0.012);
 * await registry.metrics(); // → the text exposition format
 * ```
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

export const registry = new Registry();
let processMetrics = false;

/**
 * Adds the process's own figures (process_resident_memory_bytes, nodejs_heap_size_used_bytes, CPU, event-loop
 * lag, GC) to the registry, read at each scrape: how an operator, and bench/server-load.bench.ts, see a server's
 * memory stay flat. Called by the server, once per process: a `cellar run` serves no /metrics and need not
 * watch its event loop and GC.
 */
export function collectProcessMetrics(): void {
  if (processMetrics) return;
  processMetrics = true;
  collectDefaultMetrics({ register: registry });
}

/** The scheduler loops of this process that are sleeping between ticks: what the heartbeat reports as alive. */
export const schedulerLoops = { sleeping: 0 };

/** Cell and run durations: from 0.1 s to 4 h. */
const DURATION_BUCKETS = [0.1, 0.5, 1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14400];

/** Where `cellar_workers` is read from at each scrape: the server's worker registry, once it has one. */
export const workerCounts: { read?: () => Record<string, number> } = {};

export const metrics = {
  workers: new Gauge({
    name: "cellar_workers",
    help: "Remote kernels (cellar worker) known to this server, by state: alive, lost (missed heartbeats) or revoked",
    labelNames: ["state"],
    registers: [registry],
    collect() {
      const counts = workerCounts.read?.();
      if (counts) for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
    },
  }),
  deviceBusy: new Counter({
    name: "cellar_device_busy_fraction_seconds_total",
    help: "Seconds a device was leased, weighted by the leased fraction (1.0 = the whole device for one second)",
    labelNames: ["device"],
    registers: [registry],
  }),
  queueDepth: new Gauge({
    name: "cellar_device_queue_depth",
    help: "Claims waiting for room on a device",
    registers: [registry],
  }),
  leasesHeld: new Gauge({
    name: "cellar_device_leases_held",
    help: "Leases currently held on a device",
    labelNames: ["device"],
    registers: [registry],
  }),
  deviceClaimed: new Gauge({
    name: "cellar_device_claimed_ratio",
    help: "The fraction of a device claimed by the leases held on it (1 = the whole device)",
    labelNames: ["device"],
    registers: [registry],
  }),
  deviceMemory: new Gauge({
    name: "cellar_device_memory_bytes",
    help: "Device memory claimed by the leases held on it",
    labelNames: ["device"],
    registers: [registry],
  }),
  costUnits: new Counter({
    name: "cellar_cost_units_total",
    help: "Units cells reported with ctx.cost.add (tokens, API calls, bytes), by pipeline and unit (the resource's name)",
    labelNames: ["pipeline", "unit"],
    registers: [registry],
  }),
  chunkLatency: new Histogram({
    name: "cellar_chunk_latency_seconds",
    help: "Time to run one ctx.map chunk, from lease to result (local) or from publish to accepted result (remote), by device and placement",
    labelNames: ["device", "placement"],
    buckets: [0.0001, 0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120],
    registers: [registry],
  }),
  remoteDuplicates: new Counter({
    name: "cellar_remote_duplicate_results_total",
    help: "Results of remote chunks that a worker finished after another copy of the chunk had been accepted: discarded",
    registers: [registry],
  }),
  remoteRefusedResults: new Counter({
    name: "cellar_remote_refused_results_total",
    help: "Result or failure records of remote chunks signed by a worker this server does not accept (revoked): discarded, the chunk run again",
    registers: [registry],
  }),
  remoteLeasesExpired: new Counter({
    name: "cellar_remote_leases_expired_total",
    help: "Remote chunks delivered again because the worker holding them sent no ack within ack_wait (it died, froze or was cut off)",
    registers: [registry],
  }),
  remoteRedeliveries: new Counter({
    name: "cellar_remote_redeliveries_total",
    help: "Deliveries of remote chunks after the first (a failed try, or a worker that died or froze past ack_wait)",
    registers: [registry],
  }),
  mapChunks: new Counter({
    name: "cellar_map_chunks_total",
    help: "Tries of ctx.map chunks by how they ended: done, failed (for good: the map fails) or retried (failed, tried again)",
    labelNames: ["state"],
    registers: [registry],
  }),
  cellTries: new Counter({
    name: "cellar_cell_tries_total",
    help: "Tries of a cell's code, by how they ended (success, failed, up_for_retry, cancelled)",
    labelNames: ["pipeline", "cell", "outcome"],
    registers: [registry],
  }),
  cellDuration: new Histogram({
    name: "cellar_cell_duration_seconds",
    help: "Wall time of one try of a cell",
    labelNames: ["pipeline", "cell"],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  }),
  cellsRunning: new Gauge({
    name: "cellar_cells_running",
    help: "Cells whose code is executing now",
    labelNames: ["pipeline"],
    registers: [registry],
  }),
  runDuration: new Histogram({
    name: "cellar_run_duration_seconds",
    help: "Wall time of one execution of a run, from its start to its end, by the state it ended in",
    labelNames: ["pipeline", "state"],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  }),
  schedulerHeartbeat: new Gauge({
    name: "cellar_scheduler_heartbeat_timestamp_seconds",
    help: "Unix time a scheduler loop of this process was last seen healthy: now while it sleeps between ticks, the start of its tick while it works",
    registers: [registry],
    collect() {
      if (schedulerLoops.sleeping > 0) this.set(Date.now() / 1000);
    },
  }),
  schedulerLoop: new Histogram({
    name: "cellar_scheduler_loop_duration_seconds",
    help: "Time one scheduler tick took: creating due runs, judging triggers, starting queued runs",
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers: [registry],
  }),
  scheduleDelay: new Histogram({
    name: "cellar_schedule_delay_seconds",
    help: "From the end of a scheduled run's data interval (when it became due) to its start",
    labelNames: ["pipeline"],
    buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 14400],
    registers: [registry],
  }),
  loadErrors: new Gauge({
    name: "cellar_pipeline_load_errors",
    help: "Pipeline files whose last load (by the server, from its pipelines directory) failed",
    registers: [registry],
  }),
  pipelinePaused: new Gauge({
    name: "cellar_pipeline_paused",
    help: "1 while the pipeline's schedule is paused (cellar pause), 0 once unpaused",
    labelNames: ["pipeline"],
    registers: [registry],
  }),
  lastSuccess: new Gauge({
    name: "cellar_pipeline_last_success_timestamp_seconds",
    help: "When a run of the pipeline last succeeded in this process, as Unix time",
    labelNames: ["pipeline"],
    registers: [registry],
  }),
};
