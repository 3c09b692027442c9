/**
 * The device pool: Ray's fractional GPU admission, plus the memory accounting
 * Ray leaves to its users (their most common complaint about fractional GPUs
 * is running out of device memory; Cellar refuses the overcommit instead).
 *
 * Each device has a budget of 1.0 (10,000 units) and a memory limit. A claim
 * waits until a device has room for both. Admission is strictly first-in,
 * first-out, so a large claim is never starved by a stream of small ones.
 * Placement packs (fills a device before the next, Ray's rule) or spreads.
 *
 * @example
 * ```ts
 * import { parseClaim } from "./claim.ts";
 * import type { GpuDevice } from "./gpu-device.ts";
 * import type { DevicePool } from "./device-pool.ts";
 * declare const pool: DevicePool<GpuDevice>;
 * declare const signal: AbortSignal;
 * declare function work(device: GpuDevice): Promise<void>;
 *
 * const lease = await pool.acquire(parseClaim({ gpu: 0.5 }, "cell"), signal);
 * try { await work(lease.devices[0].handle); } finally { lease.release(); }
 * ```
 */
import { CellarError } from "../errors.ts";
import { metrics } from "../prometheus.ts";
import { type Claim, UNITS_PER_DEVICE } from "./claim.ts";

export interface DeviceSpec<H> {
  id: string;
  /** What the adapter says it is, e.g. "llvmpipe (LLVM 15.0.7, 256 bits)". */
  description: string;
  /** A software adapter (Mesa's lavapipe, SwiftShader): correct but slow. */
  fallback: boolean;
  memoryBytes: number;
  handle: H;
}

export interface PoolDevice<H> extends DeviceSpec<H> {
  freeUnits: number;
  freeMemory: number;
  leases: number;
  removed: boolean;
}

export interface Lease<H> {
  devices: PoolDevice<H>[];
  /** The fraction of each device held: 0.5, or 1 for whole devices. */
  share: number;
  /** Returns the claim to the pool; safe to call more than once. */
  release(): void;
}

interface Waiter<H> {
  claim: Claim;
  resolve: (lease: Lease<H>) => void;
  reject: (err: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

export class DevicePool<H> {
  readonly devices: PoolDevice<H>[];
  readonly #queue: Waiter<H>[] = [];
  #lastBusyUpdate = performance.now();

  constructor(specs: DeviceSpec<H>[]) {
    this.devices = specs.map((spec) => ({ ...spec, freeUnits: UNITS_PER_DEVICE, freeMemory: spec.memoryBytes, leases: 0, removed: false }));
    for (const d of this.devices) report(d);
  }

  /** Devices still in service. */
  get live(): PoolDevice<H>[] {
    return this.devices.filter((d) => !d.removed);
  }

  /** Leases held now, over all devices. */
  get leasesHeld(): number {
    return this.devices.reduce((n, d) => n + d.leases, 0);
  }

  get waiting(): number {
    return this.#queue.length;
  }

  /**
   * Resolves with a lease once the claim fits; rejects at once when no device
   * could ever hold it, and when `signal` aborts while it waits.
   */
  acquire(claim: Claim, signal?: AbortSignal): Promise<Lease<H>> {
    const impossible = this.#impossible(claim);
    if (impossible) return Promise.reject(new CellarError(impossible));
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const waiter: Waiter<H> = { claim, resolve, reject, signal };
      if (signal) {
        waiter.onAbort = () => {
          const index = this.#queue.indexOf(waiter);
          if (index >= 0) this.#queue.splice(index, 1);
          metrics.queueDepth.set(this.#queue.length);
          reject(signal.reason);
          this.#pump();
        };
        signal.addEventListener("abort", waiter.onAbort, { once: true });
      }
      this.#queue.push(waiter);
      metrics.queueDepth.set(this.#queue.length);
      this.#pump();
    });
  }

  /** Takes a device out of service (lost); claims that can no longer ever fit are refused. */
  remove(device: PoolDevice<H>, reason: string): void {
    if (device.removed) return;
    device.removed = true;
    for (const waiter of [...this.#queue]) {
      const impossible = this.#impossible(waiter.claim);
      if (impossible) this.#drop(waiter, new CellarError(`${impossible} (device ${device.id} was lost: ${reason})`));
    }
    this.#pump();
  }

  /** Why no device could ever hold `claim`, or undefined if one could. */
  whyImpossible(claim: Claim): string | undefined {
    return this.#impossible(claim);
  }

  #impossible(claim: Claim): string | undefined {
    const live = this.live;
    const what = `a claim of ${describe(claim)}`;
    if (live.length === 0) return `${what} cannot be placed: the pool has no devices`;
    if (live.length < claim.devices) return `${what} cannot be placed: the pool has ${live.length} device(s)`;
    const fitting = live.filter((d) => d.memoryBytes >= claim.memory);
    if (fitting.length < claim.devices) {
      const largest = Math.max(...live.map((d) => d.memoryBytes));
      return `${what} cannot be placed: the largest device has ${formatBytes(largest)} of memory`;
    }
    return undefined;
  }

  /** Grants waiting claims in order, stopping at the first that does not fit yet. */
  #pump(): void {
    while (this.#queue.length > 0) {
      const waiter = this.#queue[0];
      const devices = this.#place(waiter.claim);
      if (!devices) break;
      this.#queue.shift();
      metrics.queueDepth.set(this.#queue.length);
      if (waiter.onAbort) waiter.signal!.removeEventListener("abort", waiter.onAbort);
      waiter.resolve(this.#grant(waiter.claim, devices));
    }
  }

  #place(claim: Claim): PoolDevice<H>[] | undefined {
    const fits = this.live.filter((d) => d.freeUnits >= claim.units && d.freeMemory >= claim.memory);
    if (fits.length < claim.devices) return undefined;
    // pack: the fullest device that fits (fill it before the next); spread: the emptiest.
    const order = claim.placement === "spread"
      ? (a: PoolDevice<H>, b: PoolDevice<H>) => b.freeUnits - a.freeUnits
      : (a: PoolDevice<H>, b: PoolDevice<H>) => a.freeUnits - b.freeUnits;
    return fits.sort((a, b) => order(a, b) || this.devices.indexOf(a) - this.devices.indexOf(b)).slice(0, claim.devices);
  }

  #grant(claim: Claim, devices: PoolDevice<H>[]): Lease<H> {
    this.#accountBusy();
    for (const d of devices) {
      d.freeUnits -= claim.units;
      d.freeMemory -= claim.memory;
      d.leases++;
      report(d);
    }
    let released = false;
    return {
      devices,
      share: claim.devices > 1 ? 1 : claim.units / UNITS_PER_DEVICE,
      release: () => {
        if (released) return;
        released = true;
        this.#accountBusy();
        for (const d of devices) {
          d.freeUnits += claim.units;
          d.freeMemory += claim.memory;
          d.leases--;
          report(d);
        }
        this.#pump();
      },
    };
  }

  #drop(waiter: Waiter<H>, err: unknown): void {
    this.#queue.splice(this.#queue.indexOf(waiter), 1);
    metrics.queueDepth.set(this.#queue.length);
    if (waiter.onAbort) waiter.signal!.removeEventListener("abort", waiter.onAbort);
    waiter.reject(err);
  }

  /** Adds each device's leased fraction × elapsed seconds since the last change to its busy counter. */
  #accountBusy(): void {
    const now = performance.now();
    const seconds = (now - this.#lastBusyUpdate) / 1000;
    this.#lastBusyUpdate = now;
    for (const d of this.devices) {
      const busy = (UNITS_PER_DEVICE - d.freeUnits) / UNITS_PER_DEVICE;
      if (busy > 0 && seconds > 0) metrics.deviceBusy.inc({ device: d.id }, busy * seconds);
    }
  }
}

/** A device's leases, claimed fraction and claimed memory, as /metrics shows them. */
function report(d: PoolDevice<unknown>): void {
  metrics.leasesHeld.set({ device: d.id }, d.leases);
  metrics.deviceClaimed.set({ device: d.id }, (UNITS_PER_DEVICE - d.freeUnits) / UNITS_PER_DEVICE);
  metrics.deviceMemory.set({ device: d.id }, d.memoryBytes - d.freeMemory);
}

function describe(claim: Claim): string {
  const gpu = claim.devices > 1 ? `${claim.devices} devices` : `gpu ${claim.units / UNITS_PER_DEVICE}`;
  return claim.memory > 0 ? `${gpu} with ${formatBytes(claim.memory)}` : gpu;
}

function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) value /= 1024, unit++;
  return `${Number.isInteger(value) ? value : value.toFixed(1)} ${units[unit]}`;
}
