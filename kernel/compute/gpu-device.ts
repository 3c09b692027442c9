/**
 * The WGSL harness around one WebGPU device: compute pipelines compiled once
 * and cached by source, pooled buffers, upload and readback, and device loss
 * made visible so the device pool can take the device out.
 *
 * @example
 * ```ts
 * import { GpuDevice } from "./gpu-device.ts";
 *
 * const gpu = await GpuDevice.open();
 * const pipeline = await gpu.pipeline("double", `
 *   @group(0) @binding(0) var<storage, read_write> xs: array<u32>;
 *   @compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3u) {
 *     if (id.x < arrayLength(&xs)) { xs[id.x] *= 2u; }
 *   }`);
 * const xs = gpu.upload(new Uint32Array([1, 2, 3]), GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
 * gpu.dispatch(pipeline, [{ buffer: xs, size: 12 }], 1); // pooled buffers round up: bind the bytes you mean
 * new Uint32Array(await gpu.readback(xs, 12)); // → [2, 4, 6]
 * gpu.release(xs);
 * gpu.destroy();
 * ```
 */
import { CellarError, errorLine } from "../errors.ts";
import { runtime } from "../runtime/mod.ts";

/** What the device pool shows and schedules by. */
export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** True for a software adapter (lavapipe, SwiftShader): correct, but 30–100× slower than a GPU. */
  isFallbackAdapter: boolean;
  limits: {
    maxBufferSize: number;
    maxStorageBufferBindingSize: number;
    maxComputeWorkgroupsPerDimension: number;
    maxComputeInvocationsPerWorkgroup: number;
    maxComputeWorkgroupStorageSize: number;
  };
}

export interface OpenOptions {
  /** An adapter already requested (the pool's); it is consumed: WebGPU gives one device per adapter. */
  adapter?: GPUAdapter;
  powerPreference?: GPUPowerPreference;
  /** Names the device in errors and logs. */
  label?: string;
  /** Idle bytes the buffer pool keeps before it destroys released buffers instead. Default 256 MiB. */
  maxIdleBytes?: number;
}

export interface GpuStats {
  pipelinesCompiled: number;
  buffersCreated: number;
  buffersReused: number;
  /** Bytes of buffers handed out and not yet released. */
  liveBytes: number;
  /** Bytes of released buffers waiting in the pool. */
  idleBytes: number;
}

/** A binding: a whole buffer, or a range of one. Bindings are numbered by position in group 0. */
export type Binding = GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number };

/** The device was lost (driver reset, out of memory, destroyed): the chunk should be retried on another device. */
export class GpuDeviceLostError extends CellarError {
  override name = "GpuDeviceLostError";
}

/** A shader that does not compile or link: the same on every try and every device, so never retried. */
export class ShaderError extends CellarError {
  override name = "ShaderError";
}

const MIN_BUFFER_BYTES = 256;

/** Describes an adapter without opening a device on it. */
export function describeAdapter(adapter: GPUAdapter): AdapterDescription {
  const info = adapter.info;
  const limits = adapter.limits;
  return {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    // Older implementations had the flag on the adapter rather than its info.
    isFallbackAdapter: Boolean(info.isFallbackAdapter ?? (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter),
    limits: {
      maxBufferSize: limits.maxBufferSize,
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
      maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
    },
  };
}

export class GpuDevice {
  readonly device: GPUDevice;
  readonly info: AdapterDescription;
  readonly label: string;
  /** Resolves when the device is lost, including by `destroy()`. */
  readonly lost: Promise<{ reason: string; message: string }>;

  readonly #pipelines = new Map<string, Promise<GPUComputePipeline>>();
  readonly #idle = new Map<string, GPUBuffer[]>();
  /** Buffers handed out, with their pool key; a release of anything else is a bug. */
  readonly #live = new Map<GPUBuffer, string>();
  readonly #maxIdleBytes: number;
  #idleBytes = 0;
  #liveBytes = 0;
  #compiled = 0;
  #created = 0;
  #reused = 0;
  #lostInfo: { reason: string; message: string } | undefined;
  /** Error scopes of buffer creations and dispatches still open, and the failures they found: the next readback reports them. */
  readonly #checks = new Set<Promise<void>>();
  #failures: string[] = [];

  private constructor(device: GPUDevice, info: AdapterDescription, label: string, maxIdleBytes: number) {
    this.device = device;
    this.info = info;
    this.label = label;
    this.#maxIdleBytes = maxIdleBytes;
    this.lost = device.lost.then((lost) => (this.#lostInfo = { reason: lost.reason ?? "unknown", message: lost.message }));
  }

  /** Requests an adapter (unless given one) and a device with the adapter's full buffer limits. */
  static async open(options: OpenOptions = {}): Promise<GpuDevice> {
    const label = options.label ?? "gpu";
    let adapter = options.adapter;
    if (!adapter) {
      const gpu = await runtime.gpu();
      if (!gpu) throw new CellarError(`${label}: no WebGPU implementation loads on this host (npm package "webgpu")`);
      adapter = (await gpu.requestAdapter({ powerPreference: options.powerPreference })) ?? undefined;
      if (!adapter) {
        throw new CellarError(`${label}: no WebGPU adapter found (install a Vulkan driver, e.g. mesa-vulkan-drivers, and set XDG_RUNTIME_DIR)`);
      }
    }
    const info = describeAdapter(adapter);
    let device: GPUDevice;
    try {
      // The defaults (256 MiB buffers, 128 MiB bindings) are below what most adapters allow; kernels tile by these.
      device = await adapter.requestDevice({
        label,
        requiredLimits: {
          maxBufferSize: info.limits.maxBufferSize,
          maxStorageBufferBindingSize: info.limits.maxStorageBufferBindingSize,
        },
      });
    } catch (err) {
      throw new CellarError(`${label}: requesting a device on ${info.description || info.vendor} failed: ${errorLine(err)}`);
    }
    return new GpuDevice(device, info, label, options.maxIdleBytes ?? 256 * 1024 * 1024);
  }

  get limits(): GPUSupportedLimits {
    return this.device.limits;
  }

  get isLost(): boolean {
    return this.#lostInfo !== undefined;
  }

  /** "destroyed", "unknown" (the driver's doing), or undefined while the device is alive. */
  get lostReason(): string | undefined {
    return this.#lostInfo?.reason;
  }

  stats(): GpuStats {
    return {
      pipelinesCompiled: this.#compiled,
      buffersCreated: this.#created,
      buffersReused: this.#reused,
      liveBytes: this.#liveBytes,
      idleBytes: this.#idleBytes,
    };
  }

  /**
   * The compute pipeline for `code`'s `entryPoint`, compiled once per device.
   * A shader that does not compile rejects with a CellarError naming `name`,
   * the WGSL line:column and the compiler's message.
   */
  pipeline(name: string, code: string, entryPoint = "main"): Promise<GPUComputePipeline> {
    if (this.#lostInfo) return Promise.reject(this.#lostError());
    const key = `${entryPoint}\0${code}`;
    let pipeline = this.#pipelines.get(key);
    if (!pipeline) {
      pipeline = this.#compile(name, code, entryPoint);
      // Concurrent callers share one compilation; a failure is not kept, so a retry compiles again.
      pipeline.catch(() => this.#pipelines.delete(key));
      this.#pipelines.set(key, pipeline);
    }
    return pipeline;
  }

  async #compile(name: string, code: string, entryPoint: string): Promise<GPUComputePipeline> {
    // Error scopes capture what would otherwise be printed by Dawn as an uncaptured error.
    this.device.pushErrorScope("validation");
    const module = this.device.createShaderModule({ label: name, code });
    const moduleError = this.device.popErrorScope();
    const { messages } = await module.getCompilationInfo();
    await moduleError;
    const errors = messages.filter((m) => m.type === "error");
    if (errors.length > 0) {
      const [e] = errors;
      const more = errors.length > 1 ? ` (and ${errors.length - 1} more error${errors.length > 2 ? "s" : ""})` : "";
      throw new ShaderError(`WGSL shader "${name}" does not compile: line ${e.lineNum}:${e.linePos}: ${e.message}${more}`);
    }
    this.device.pushErrorScope("validation");
    const pipeline = this.device.createComputePipeline({ label: name, layout: "auto", compute: { module, entryPoint } });
    const error = await this.device.popErrorScope();
    if (error) throw new ShaderError(`WGSL shader "${name}", entry point "${entryPoint}": ${oneLine(error.message)}`);
    this.#compiled++;
    return pipeline;
  }

  /**
   * A buffer of at least `byteLength` bytes, from the pool when one of the
   * same usage and size class is idle. Sizes round up to a power of two so
   * that chunks of varying size reuse each other's buffers.
   */
  acquire(byteLength: number, usage: GPUBufferUsageFlags): GPUBuffer {
    this.#assertAlive();
    const size = this.#sizeClass(byteLength);
    const key = `${usage}:${size}`;
    const idle = this.#idle.get(key)?.pop();
    let buffer: GPUBuffer;
    if (idle) {
      this.#idleBytes -= size;
      this.#reused++;
      buffer = idle;
    } else {
      this.device.pushErrorScope("out-of-memory");
      buffer = this.device.createBuffer({ label: `${this.label}:${key}`, size, usage });
      this.#check(this.device.popErrorScope(), `creating a buffer of ${size} bytes`);
      this.#created++;
    }
    this.#live.set(buffer, key);
    this.#liveBytes += size;
    return buffer;
  }

  /** Returns a buffer from `acquire`/`upload` to the pool. It must not be mapped or used by pending work's successors. */
  release(buffer: GPUBuffer): void {
    const key = this.#live.get(buffer);
    if (key === undefined) throw new Error(`${this.label}: released a buffer that is not live in this pool`);
    this.#live.delete(buffer);
    this.#liveBytes -= buffer.size;
    if (this.isLost || this.#idleBytes + buffer.size > this.#maxIdleBytes) {
      buffer.destroy();
      return;
    }
    let list = this.#idle.get(key);
    if (!list) this.#idle.set(key, (list = []));
    list.push(buffer);
    this.#idleBytes += buffer.size;
  }

  /** A pooled buffer holding `data` (padded to 4 bytes). Usage gains COPY_DST. */
  upload(data: ArrayBufferView, usage: GPUBufferUsageFlags = GPUBufferUsage.STORAGE): GPUBuffer {
    const buffer = this.acquire(Math.max(4, data.byteLength), usage | GPUBufferUsage.COPY_DST);
    this.write(buffer, data);
    return buffer;
  }

  /** Writes `data` at `offset` of `buffer`; a length that is not a multiple of 4 is zero-padded, as WebGPU requires. */
  write(buffer: GPUBuffer, data: ArrayBufferView, offset = 0): void {
    // Dawn copies from either kind of buffer; the typings only admit ArrayBuffer.
    const bytes = new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
    const aligned = bytes.byteLength - (bytes.byteLength % 4);
    if (aligned > 0) this.device.queue.writeBuffer(buffer, offset, bytes, 0, aligned);
    if (aligned < bytes.byteLength) {
      // Only the last few bytes are copied to pad them, not the whole array.
      const tail = new Uint8Array(4);
      tail.set(bytes.subarray(aligned));
      this.device.queue.writeBuffer(buffer, offset + aligned, tail);
    }
  }

  /** Encodes and submits one dispatch of `pipeline` with `bindings` as group 0, bindings 0, 1, 2, … */
  dispatch(pipeline: GPUComputePipeline, bindings: Binding[], workgroups: number | [number, number?, number?]): void {
    this.#assertAlive();
    const [x, y = 1, z = 1] = typeof workgroups === "number" ? [workgroups] : workgroups;
    const max = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (x > max || y > max || z > max) {
      throw new Error(`${this.label}: dispatch of ${x}×${y}×${z} workgroups exceeds ${max} per dimension`);
    }
    this.device.pushErrorScope("validation");
    const bindGroup = this.device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: bindings.map((b, i) => ({ binding: i, resource: "buffer" in b ? b : { buffer: b } })),
    });
    const encoder = this.device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    pass.end();
    this.device.queue.submit([encoder.finish()]);
    this.#check(this.device.popErrorScope(), `dispatching "${pipeline.label}"`);
  }

  /**
   * Copies `byteLength` bytes at `offset` of `buffer` (which needs COPY_SRC)
   * to the host, after all work submitted so far.
   */
  async readback(buffer: GPUBuffer, byteLength: number, offset = 0): Promise<ArrayBuffer> {
    const out = new ArrayBuffer(byteLength);
    await this.readbackInto(buffer, new Uint8Array(out), offset);
    return out;
  }

  /**
   * Like `readback`, into memory the caller reuses: the first write to fresh
   * pages costs more than the copy itself (1.8 against 11 GB/s measured here).
   */
  async readbackInto(buffer: GPUBuffer, target: ArrayBufferView, offset = 0): Promise<void> {
    this.#assertAlive();
    const byteLength = target.byteLength;
    if (byteLength === 0) return;
    const size = align4(byteLength);
    const staging = this.acquire(size, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    try {
      this.device.pushErrorScope("validation");
      const encoder = this.device.createCommandEncoder();
      encoder.copyBufferToBuffer(buffer, offset, staging, 0, size);
      this.device.queue.submit([encoder.finish()]);
      const copyError = await this.device.popErrorScope();
      // Without this, a source buffer lacking COPY_SRC reads back as zeros.
      if (copyError) throw new CellarError(`${this.label}: cannot read back ${buffer.label || "a buffer"}: ${oneLine(copyError.message)}`);
      try {
        await staging.mapAsync(GPUMapMode.READ, 0, size);
      } catch (err) {
        // A lost device rejects every map; say so, so that the chunk goes to another device.
        await Promise.race([this.lost, new Promise((r) => setTimeout(r, 0))]);
        this.#assertAlive();
        throw new CellarError(`${this.label}: reading back ${byteLength} bytes failed: ${errorLine(err)}`);
      }
      try {
        // A dispatch that failed validation did nothing: its output is not to be trusted.
        await this.#reportErrors();
        // TypedArray.set, not ArrayBuffer.slice: slicing a Dawn mapped range copies at 0.2 GB/s against 12 GB/s.
        new Uint8Array(target.buffer, target.byteOffset, byteLength).set(new Uint8Array(staging.getMappedRange(0, size), 0, byteLength));
      } finally {
        // A buffer goes back to the pool unmapped, or the next copy into it fails.
        staging.unmap();
      }
    } finally {
      this.release(staging);
    }
  }

  /** Resolves when the queue has finished all work submitted so far. */
  idle(): Promise<void> {
    return this.device.queue.onSubmittedWorkDone();
  }

  /** Destroys pooled buffers and the device; every buffer still handed out dies with it. */
  destroy(): void {
    for (const list of this.#idle.values()) for (const buffer of list) buffer.destroy();
    this.#idle.clear();
    this.#idleBytes = 0;
    this.#pipelines.clear();
    this.device.destroy();
    this.#lostInfo ??= { reason: "destroyed", message: "destroyed by its owner" };
  }

  /**
   * Without a scope, a failed dispatch or allocation would only be printed by
   * Dawn and its output read back as zeros. The message names the operation;
   * with kernels running concurrently it may surface in another's readback.
   */
  #check(scope: Promise<GPUError | null>, what: string): void {
    const check: Promise<void> = scope.then(
      (error) => {
        if (error) this.#failures.push(`${what}: ${oneLine(error.message)}`);
      },
      () => {}, // a lost device rejects its scopes; loss is reported on its own
    ).finally(() => this.#checks.delete(check));
    this.#checks.add(check);
  }

  async #reportErrors(): Promise<void> {
    if (this.#checks.size > 0) await Promise.all(this.#checks);
    if (this.#failures.length === 0) return;
    const failures = this.#failures;
    this.#failures = [];
    throw new CellarError(`${this.label}: ${failures[0]}${failures.length > 1 ? ` (and ${failures.length - 1} more)` : ""}`);
  }

  #sizeClass(byteLength: number): number {
    const size = Math.max(MIN_BUFFER_BYTES, 2 ** Math.ceil(Math.log2(Math.max(1, byteLength))));
    // Near the limit the power of two may not fit: such buffers are rare and pooled at their exact size.
    return size <= this.device.limits.maxBufferSize ? size : align4(byteLength);
  }

  #assertAlive(): void {
    if (this.#lostInfo) throw this.#lostError();
  }

  #lostError(): GpuDeviceLostError {
    const { reason, message } = this.#lostInfo!;
    return new GpuDeviceLostError(`${this.label}: device lost (${reason}): ${oneLine(message)}`);
  }
}

function align4(n: number): number {
  return Math.ceil(n / 4) * 4;
}

function oneLine(text: string): string {
  return text.split("\n").map((l) => l.trim().replace(/^- /, "")).filter((l) => l !== "").join("; ");
}

