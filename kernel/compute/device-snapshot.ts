/**
 * A device pool as it is now: each device's claimed fraction and memory and its leases, and the claims
 * waiting. Plain data, tagged with the host it describes, so a server can show one host's pool or, later,
 * several kernels' side by side.
 *
 * @example
 * ```ts
 * import { deviceSnapshot } from "./device-snapshot.ts";
 * import { DevicePool } from "./device-pool.ts";
 *
 * const pool = new DevicePool([{ id: "gpu0", description: "test", fallback: true, memoryBytes: 2 ** 30, handle: null }]);
 * deviceSnapshot(pool, "localhost");
 * // → { host: "localhost", queued: 0, devices: [{ id: "gpu0", claimed: 0, memoryClaimedBytes: 0, leases: 0, … }] }
 * ```
 */
import { UNITS_PER_DEVICE } from "./claim.ts";
import type { DevicePool } from "./device-pool.ts";

export interface DeviceState {
  /** The host whose device this is. */
  host: string;
  id: string;
  description: string;
  /** A software adapter (lavapipe): correct but slow. */
  fallback: boolean;
  /** The fraction of the device claimed by leases, 0 to 1. */
  claimed: number;
  memoryBytes: number;
  memoryClaimedBytes: number;
  leases: number;
  /** Lost: out of service. */
  removed: boolean;
}

export interface DeviceSnapshot {
  host: string;
  /** Claims waiting for room on a device. */
  queued: number;
  devices: DeviceState[];
}

export function deviceSnapshot<H>(pool: DevicePool<H>, host: string): DeviceSnapshot {
  return {
    host,
    queued: pool.waiting,
    devices: pool.devices.map((d) => ({
      host,
      id: d.id,
      description: d.description,
      fallback: d.fallback,
      claimed: (UNITS_PER_DEVICE - d.freeUnits) / UNITS_PER_DEVICE,
      memoryBytes: d.memoryBytes,
      memoryClaimedBytes: d.memoryBytes - d.freeMemory,
      leases: d.leases,
      removed: d.removed,
    })),
  };
}
