/**
 * Device claims, Ray's rules: a fraction of one device in (0, 1] to 0.0001,
 * or a whole number of whole devices. Cellar also accounts device memory,
 * which Ray leaves to the user.
 *
 * @example
 * ```ts
 * import { parseClaim } from "./claim.ts";
 *
 * parseClaim({ gpu: 0.5, gpuMemory: 2 ** 30 }, 'cell "embed_docs"'); // → { units: 5000, devices: 1, memory: 1073741824, ... }
 * ```
 */
import { CellarError } from "../errors.ts";

/** What a cell or a `ctx.map` asks of the device pool. */
export interface ClaimOptions {
  /** Fraction of one device in (0, 1], or a whole number of devices. */
  gpu?: number;
  /** Bytes of device memory per device. */
  gpuMemory?: number;
  /** Fail instead of falling back to the CPU path when the host has no adapter. */
  required?: boolean;
  /** "pack" (default) fills a device before using the next; "spread" prefers the emptiest. */
  placement?: "pack" | "spread";
}

/** A claim in integer units, so that 0.1 + 0.2 of a device adds up exactly. */
export interface Claim {
  /** Units per device: 10,000 is a whole device. */
  units: number;
  /** How many devices (1 for any fraction). */
  devices: number;
  memory: number;
  required: boolean;
  placement: "pack" | "spread";
}

export const UNITS_PER_DEVICE = 10_000;

export function parseClaim(options: ClaimOptions, where: string): Claim {
  const { gpu, gpuMemory = 0, required = false, placement = "pack" } = options;
  if (typeof gpu !== "number" || Number.isNaN(gpu) || gpu <= 0) {
    throw new CellarError(`${where}: gpu ${String(gpu)}; expected a fraction in (0, 1] or a whole number of devices`);
  }
  if (gpu > 1 && !Number.isInteger(gpu)) {
    throw new CellarError(`${where}: gpu ${gpu}; above 1 a claim must be a whole number of devices (Ray's rule)`);
  }
  const units = gpu > 1 ? UNITS_PER_DEVICE : Math.round(gpu * UNITS_PER_DEVICE);
  if (gpu <= 1 && Math.abs(units / UNITS_PER_DEVICE - gpu) > 1e-9) {
    throw new CellarError(`${where}: gpu ${gpu}; fractions have a precision of 0.0001`);
  }
  if (!Number.isFinite(gpuMemory) || gpuMemory < 0) {
    throw new CellarError(`${where}: gpuMemory ${gpuMemory}; expected a number of bytes ≥ 0`);
  }
  if (placement !== "pack" && placement !== "spread") {
    throw new CellarError(`${where}: placement ${JSON.stringify(placement)}; expected "pack" or "spread"`);
  }
  return { units, devices: gpu > 1 ? gpu : 1, memory: gpuMemory, required, placement };
}
