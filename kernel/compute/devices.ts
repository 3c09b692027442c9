/**
 * The process's compute: which GPU devices the pool holds, and the CPU
 * workers. Devices are opened on first use, so a pipeline that never claims a
 * GPU never touches the driver.
 *
 * Configuration (`CELLAR_DEVICES`, or `new Compute({ ... })`):
 * - `auto` (default): one device per WebGPU adapter found;
 * - `cpu`: no GPU devices; GPU claims run on the CPU path;
 * - a number N: N logical devices on the first adapter (two jobs sharing one
 *   card by fraction need only one; N > 1 splits a card into separate queues).
 *
 * WebGPU does not tell how much memory a device has, so each device's memory
 * budget is `CELLAR_GPU_MEMORY` (e.g. "8GiB") or, failing that, 4 × the
 * adapter's largest buffer.
 *
 * @example
 * ```ts
 * import { compute } from "./devices.ts";
 *
 * const pool = await compute().gpu();
 * pool.live.map((d) => `${d.id}: ${d.description}${d.fallback ? " (software)" : ""}`);
 * ```
 */
import { CellarError } from "../errors.ts";
import { runtime } from "../runtime/mod.ts";
import { describeAdapter, GpuDevice } from "./gpu-device.ts";
import { DevicePool } from "./device-pool.ts";
import { CpuPool } from "./cpu-pool.ts";

export interface DeviceConfig {
  devices: "auto" | "cpu" | number;
  /** Memory budget per device in bytes; default 4 × the adapter's maxBufferSize. */
  memoryBytes?: number;
}

export class Compute {
  #gpu: Promise<DevicePool<GpuDevice>> | undefined;
  #cpu: CpuPool | undefined;

  constructor(readonly config: DeviceConfig = deviceConfigFromEnv()) {}

  gpu(): Promise<DevicePool<GpuDevice>> {
    this.#gpu ??= openGpuPool(this.config);
    return this.#gpu;
  }

  cpu(): Promise<CpuPool> {
    this.#cpu ??= new CpuPool();
    return Promise.resolve(this.#cpu);
  }

  async close(): Promise<void> {
    this.#cpu?.close();
    if (this.#gpu) for (const d of (await this.#gpu).devices) d.handle.destroy();
  }
}

let shared: Compute | undefined;

/** The process-wide compute, configured from the environment. */
export function compute(): Compute {
  shared ??= new Compute();
  return shared;
}

function deviceConfigFromEnv(): DeviceConfig {
  const devices = runtime.env("CELLAR_DEVICES") ?? "auto";
  const memory = runtime.env("CELLAR_GPU_MEMORY");
  return { devices: parseDevices(devices), memoryBytes: memory === undefined ? undefined : parseBytes(memory, "CELLAR_GPU_MEMORY") };
}

function parseDevices(text: string): DeviceConfig["devices"] {
  if (text === "auto" || text === "cpu") return text;
  const n = Number(text);
  if (Number.isInteger(n) && n >= 1) return n;
  throw new CellarError(`CELLAR_DEVICES=${text}: expected "auto", "cpu" or a number of logical devices`);
}

/** "8GiB", "512MiB", "2GB" or plain bytes. */
function parseBytes(text: string, what: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?\s*$/i.exec(text);
  if (!match) throw new CellarError(`${what}=${text}: expected bytes like "8GiB" or "512MiB"`);
  const unit = (match[2] ?? "B").toLowerCase();
  const scale: Record<string, number> = {
    b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40,
  };
  return Math.floor(Number(match[1]) * scale[unit]);
}

async function openGpuPool(config: DeviceConfig): Promise<DevicePool<GpuDevice>> {
  if (config.devices === "cpu") return new DevicePool([]);
  const gpu = await runtime.gpu();
  if (!gpu) return new DevicePool([]);
  const adapters: GPUAdapter[] = [];
  if (config.devices === "auto") {
    // WebGPU has no adapter list; the two power preferences are how a host with two GPUs shows both.
    const seen = new Set<string>();
    for (const powerPreference of ["high-performance", "low-power"] as const) {
      const adapter = await gpu.requestAdapter({ powerPreference });
      if (!adapter) continue;
      const d = describeAdapter(adapter);
      const key = `${d.vendor}/${d.architecture}/${d.device}/${d.description}`;
      if (!seen.has(key)) seen.add(key), adapters.push(adapter);
    }
  } else {
    for (let i = 0; i < config.devices; i++) {
      const adapter = await gpu.requestAdapter();
      if (!adapter) break;
      adapters.push(adapter);
    }
  }
  const devices = await Promise.all(adapters.map((adapter, i) => GpuDevice.open({ adapter, label: `gpu${i}` })));
  const pool = new DevicePool(devices.map((device) => ({
    id: device.label,
    description: device.info.description || `${device.info.vendor} ${device.info.architecture}`.trim() || "WebGPU adapter",
    fallback: device.info.isFallbackAdapter,
    memoryBytes: config.memoryBytes ?? 4 * device.info.limits.maxBufferSize,
    handle: device,
  })));
  for (const d of pool.devices) d.handle.lost.then((lost) => pool.remove(d, `${lost.reason}: ${lost.message}`));
  return pool;
}
