/**
 * The kernel's Prometheus metrics, in one prom-client registry the server
 * exposes at /metrics.
 *
 * @example
 * ```ts
 * import { metrics, registry } from "./prometheus.ts";
 *
 * metrics.chunkLatency.observe({ device: "gpu0" }, 0.012);
 * await registry.metrics(); // → the text exposition format
 * ```
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";

export const registry = new Registry();

export const metrics = {
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
  chunkLatency: new Histogram({
    name: "cellar_chunk_latency_seconds",
    help: "Time to run one ctx.map chunk, from lease to result",
    labelNames: ["device"],
    buckets: [0.0001, 0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120],
    registers: [registry],
  }),
};
