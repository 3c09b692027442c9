/**
 * `ctx.map`: fans a cell's items out in chunks — over device leases when the
 * cell claims a GPU share, over CPU workers for task handles, on the kernel's
 * own thread for inline functions, on remote kernels for task handles placed
 * "remote" or "auto" (MapHost.remote) — keeping input order, bounding the work
 * in flight, retrying failed chunks, and reporting progress and device cost.
 *
 * @example
 * ```ts
 * import type { Context } from "../context.ts";
 * import type { GpuDevice } from "./gpu-device.ts";
 * declare const ctx: Context;
 * declare const texts: string[];
 * declare function embed(batch: string[], device: GpuDevice | undefined, signal: AbortSignal): Promise<Float32Array[]>;
 * declare function rows(): AsyncIterable<{ question: string }>;
 * declare function judge(chunk: { question: string }[]): Promise<number[]>;
 *
 * const vectors = await ctx.map(texts, (batch, { device, signal }) => embed(batch, device, signal), { gpu: 0.5, batchSize: 64 });
 * for await (const score of ctx.map(rows(), judge, { concurrency: 8 })) console.log(score); // streaming, bounded memory
 * ```
 */
import { CellarError, errorLine, isRetryable } from "../errors.ts";
import { metrics } from "../prometheus.ts";
import { ChunkState } from "../state.ts";
import { type ChunkCounts, ChunkTally } from "./chunk-tally.ts";
import { type Claim, type ClaimOptions, parseClaim, UNITS_PER_DEVICE } from "./claim.ts";
import { ShaderError } from "./gpu-device.ts";
import type { DevicePool, Lease } from "./device-pool.ts";
import { isTask, type TaskHandle } from "./task.ts";

/**
 * Where a map's chunks run: `local` (the default) in this process; `remote` on remote kernels over NATS
 * (task handles only); `auto` here until the local devices or workers are saturated, then on remote kernels
 * while one waits for work. `pack` and `spread` mean local, with the device pool's packing (claim.ts).
 */
export type MapPlacement = "local" | "remote" | "auto";

export interface MapOptions extends Omit<ClaimOptions, "placement"> {
  /** Where chunks run (MapPlacement); or, locally, how devices are packed ("pack", "spread"). */
  placement?: MapPlacement | "pack" | "spread";
  /** Items per chunk. Default 64. */
  batchSize?: number;
  /** Chunks in flight at once. Default: 2 per device for GPU claims, the CPU workers for tasks, 8 otherwise. */
  concurrency?: number;
  /** Tries after the first for a failed chunk. Default 3, Ray's. */
  retries?: number;
}

/** What a chunk function receives besides its items. */
export interface ChunkInfo<D = unknown> {
  /** The device of the lease, or undefined on the CPU path. */
  device: D | undefined;
  /** Every device of a multi-device lease. */
  devices: D[];
  /** The fraction of the device held (0 on the CPU path). */
  share: number;
  signal: AbortSignal;
  /** The chunk's position: chunk i holds items [i × batchSize, (i + 1) × batchSize). */
  index: number;
}

/** A chunk function: one result per item, in the items' order. */
export type ChunkFn<T, R, D = unknown> = (chunk: T[], info: ChunkInfo<D>) => R[] | Promise<R[]>;

/** What a remote map is about: remote-placement.ts's session needs it for its chunk keys and messages. */
export interface RemoteJob {
  where: string;
  task: TaskHandle;
  /** `required`: only a remote kernel with devices may take the chunks (else a CPU path may, as here without an adapter). */
  claim: { gpu: number; gpuMemory: number; required: boolean } | null;
  pipeline: string;
  run: number;
  cell: string;
  attempt: number;
  signal: AbortSignal;
  /** A chunk was delivered again (its worker failed it, died, or froze past ack_wait). */
  retried(): void;
  notice(message: string): void;
}

/** One map's chunks on remote kernels (kernel/remote/remote-placement.ts). */
export interface RemoteSession {
  /** Chunks out at once by default: the consumer's max_ack_pending. */
  readonly window: number;
  /** Whether a remote kernel waits for chunks of this map's class now. */
  hasCapacity(): Promise<boolean>;
  /** One chunk's results, in its items' order; rejects with the chunk's final failure. */
  submit(items: unknown[], index: number, first: number): Promise<unknown[]>;
  close(): void;
}

/** Remote kernels, when the kernel was opened with a NATS connection. */
export interface RemoteHost {
  open(job: RemoteJob): Promise<RemoteSession>;
}

/** What ctx.map needs from the kernel. */
export interface MapHost<D> {
  cell: string;
  /** The run and try, which remote chunk keys and messages name. */
  pipeline?: string;
  runId?: number;
  tryNumber?: number;
  /** Remote kernels, if any. */
  remote?(): RemoteHost | undefined;
  signal: AbortSignal;
  gpu: () => Promise<DevicePool<D>>;
  cpu: () => Promise<{ size: number; run(task: TaskHandle, chunk: unknown[], signal: AbortSignal, index?: number): Promise<unknown[]> }>;
  progress(done: number, total?: number): void;
  /** The map's chunks so far, as they change (throttled: see chunk-tally.ts). */
  chunks?(counts: ChunkCounts): void;
  cost(resource: string, amount: number): void;
  notice(message: string): void;
}

/** Both a promise of all results (in input order) and an async iterable of them. */
export interface MapResult<R> extends PromiseLike<R[]>, AsyncIterable<R> {}

export function map<T, R, D>(
  host: MapHost<D>,
  items: Iterable<T> | AsyncIterable<T>,
  fn: ChunkFn<T, R, D> | TaskHandle,
  options: MapOptions = {},
): MapResult<R> {
  const where = `cell "${host.cell}": ctx.map`;
  const batchSize = options.batchSize ?? 64;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new CellarError(`${where}: batchSize ${batchSize}; expected a whole number ≥ 1`);
  const retries = options.retries ?? 3;
  if (!Number.isInteger(retries) || retries < 0) throw new CellarError(`${where}: retries ${retries}; expected a whole number ≥ 0`);
  if (options.concurrency !== undefined && (!Number.isInteger(options.concurrency) || options.concurrency < 1)) {
    throw new CellarError(`${where}: concurrency ${options.concurrency}; expected a whole number ≥ 1`);
  }
  if (typeof fn !== "function" && !isTask(fn)) throw new CellarError(`${where}: expected a function or a task(import.meta.url, "name") handle`);
  const { place, packing } = splitPlacement(options.placement, where);
  if (place === "remote" && !isTask(fn)) {
    throw new CellarError(`${where}: placement "remote" needs a task(import.meta.url, "name") handle; an inline function cannot leave this process`);
  }
  if (items === null || typeof items !== "object" || (!(Symbol.iterator in items) && !(Symbol.asyncIterator in items))) {
    throw new CellarError(`${where}: items must be an array or an (async) iterable`);
  }
  const claim = options.gpu === undefined ? undefined : parseClaim({ ...options, placement: packing }, where);
  const total = Array.isArray(items) ? items.length : undefined;

  let started: AsyncIterable<R[]> | undefined;
  const chunks = () => (started ??= run(host, where, items, fn, claim, batchSize, retries, options.concurrency, total, place));
  return {
    then(onFulfilled, onRejected) {
      return collect(chunks()).then(onFulfilled, onRejected);
    },
    async *[Symbol.asyncIterator]() {
      for await (const results of chunks()) yield* results;
    },
  };
}

/** The two meanings of `placement`: where chunks run, and how local devices are packed. */
function splitPlacement(placement: MapOptions["placement"], where: string): { place: MapPlacement; packing: "pack" | "spread" | undefined } {
  if (placement === undefined || placement === "pack" || placement === "spread") return { place: "local", packing: placement };
  if (placement === "local" || placement === "remote" || placement === "auto") return { place: placement, packing: undefined };
  throw new CellarError(`${where}: placement ${JSON.stringify(placement)}; expected "local", "remote" or "auto" (or "pack" or "spread" for local devices)`);
}

/** All results in order; chunk by chunk, since a per-item await costs more than a small chunk's work. */
async function collect<R>(chunks: AsyncIterable<R[]>): Promise<R[]> {
  const parts: R[][] = [];
  for await (const results of chunks) parts.push(results);
  return parts.flat();
}

/** Where one map's chunks run, and how many are in flight at once. */
interface Placement<T, R, D> {
  where: string;
  host: MapHost<D>;
  fn: ChunkFn<T, R, D> | TaskHandle;
  claim: Claim | undefined;
  /** The device pool, for a GPU claim on a host that has devices. */
  pool: DevicePool<D> | undefined;
  /** The CPU workers, for a task handle off the device path. */
  cpu: CpuHost | undefined;
  retries: number;
  batchSize: number;
  /** Aborted on the cell's abort, or when one chunk has failed for good: a map's chunks stop together. */
  signal: AbortSignal;
  tally: ChunkTally;
}

type CpuHost = Awaited<ReturnType<MapHost<unknown>["cpu"]>>;

async function* run<T, R, D>(
  host: MapHost<D>,
  where: string,
  items: Iterable<T> | AsyncIterable<T>,
  fn: ChunkFn<T, R, D> | TaskHandle,
  claim: Claim | undefined,
  batchSize: number,
  retries: number,
  concurrency: number | undefined,
  total: number | undefined,
  place: MapPlacement,
): AsyncGenerator<R[]> {
  const controller = new AbortController();
  const tally = new ChunkTally(host.chunks?.bind(host), total === undefined ? undefined : Math.ceil(total / batchSize));
  const remote = place === "local" ? undefined : await remoteSession(host, where, fn, claim, place, controller.signal, tally);
  const pool = place === "remote" ? undefined : await devicePool(host, where, claim);
  const cpu = place !== "remote" && !pool && isTask(fn) ? await host.cpu() : undefined;
  const localWindow = place === "remote" ? 0 : concurrency ?? (pool ? 2 * pool.live.length * Math.max(1, Math.floor(10_000 / claim!.units)) : cpu ? cpu.size : 8);
  const slots = new Slots(localWindow, remote ? concurrency ?? remote.window : 0, place === "auto" ? remote : undefined);
  const stop = () => controller.abort(host.signal.reason);
  host.signal.addEventListener("abort", stop, { once: true });
  const placement: Placement<T, R, D> = { where, host, fn, claim, pool, cpu, retries, batchSize, signal: controller.signal, tally };
  // Chunks start in order, as many at a time as the slots allow; results are yielded in input order.
  const pending: Array<Promise<R[]>> = [];
  let [done, read, chunks] = [0, 0, 0];
  const source = chunksOf(items, batchSize)[Symbol.asyncIterator]();
  let exhausted = false;
  try {
    for (;;) {
      for (let target; !exhausted && (target = await slots.next(pending.length));) {
        const next = await source.next().catch((err) => Promise.reject(new CellarError(`${where}: the items iterable threw after ${read} items: ${errorLine(err)}`)));
        if (next.done) {
          exhausted = true;
          break;
        }
        read += next.value.length;
        const index = chunks++;
        const task = slots.track(target, target === "remote" ? remoteChunk(placement, remote!, next.value, index) : runChunk(placement, next.value, index));
        task.catch(() => {}); // awaited in order below; this only keeps an early failure from being "unhandled"
        pending.push(task);
      }
      const head = pending.shift();
      if (!head) break;
      const results = await head;
      host.progress((done += results.length), total);
      yield results;
    }
  } finally {
    // On failure, or when a streaming consumer stops early: stop the other chunks and wait for
    // them, since each releases its lease only when it settles.
    if (pending.length > 0) {
      controller.abort(new CellarError(`${where}: stopped`));
      await Promise.allSettled(pending);
    }
    host.signal.removeEventListener("abort", stop);
    remote?.close();
    tally.end();
    if (!exhausted) await source.return?.(undefined);
  }
}

type Target = "local" | "remote";

/** How many chunks run here and remotely, and where the next one goes: here while there is room, then remote. */
class Slots {
  readonly busy = { local: 0, remote: 0 };

  /** `auto`: the session asked whether a remote kernel waits for work before each remote chunk. */
  constructor(readonly local: number, readonly remote: number, readonly auto: RemoteSession | undefined) {}

  /** Where the next chunk goes, or undefined to wait for the oldest one (its results bound what is held). */
  async next(pending: number): Promise<Target | undefined> {
    if (pending >= this.local + this.remote) return undefined;
    if (this.busy.local < this.local) return "local";
    if (this.busy.remote < this.remote && (!this.auto || await this.auto.hasCapacity())) return "remote";
    return undefined;
  }

  track<X>(target: Target, task: Promise<X>): Promise<X> {
    this.busy[target]++;
    return task.finally(() => this.busy[target]--);
  }
}

/** The map's remote session, for placement remote or auto with a task handle on a kernel that has remote kernels. */
async function remoteSession<D>(
  host: MapHost<D>,
  where: string,
  fn: unknown,
  claim: Claim | undefined,
  place: MapPlacement,
  signal: AbortSignal,
  tally: ChunkTally,
): Promise<RemoteSession | undefined> {
  const remote = isTask(fn) ? host.remote?.() : undefined;
  if (!remote || !isTask(fn)) {
    if (place === "remote") throw new CellarError(`${where}: placement "remote", but this kernel has no remote kernels; serve it with a NATS connection (cellar serve --nats <url>)`);
    return undefined;
  }
  return await remote.open({
    where, task: fn,
    claim: claim ? { gpu: claim.devices > 1 ? claim.devices : claim.units / UNITS_PER_DEVICE, gpuMemory: claim.memory, required: claim.required } : null,
    pipeline: host.pipeline ?? "", run: host.runId ?? 0, cell: host.cell, attempt: host.tryNumber ?? 0, signal,
    retried: () => tally.count(ChunkState.Retried),
    notice: (message) => host.notice(message),
  });
}

/** One chunk on a remote kernel: the session retries it (max_deliver) and names it when it fails for good. */
async function remoteChunk<T, R, D>(p: Placement<T, R, D>, session: RemoteSession, chunk: T[], index: number): Promise<R[]> {
  try {
    const results = await session.submit(chunk, index, index * p.batchSize);
    p.tally.count(ChunkState.Done);
    return results as R[];
  } catch (err) {
    if (!p.signal.aborted) p.tally.count(ChunkState.Failed);
    throw err;
  }
}

/** The device pool a GPU claim runs on; undefined on the CPU path (no claim, or no adapter and not required). */
async function devicePool<D>(host: MapHost<D>, where: string, claim: Claim | undefined): Promise<DevicePool<D> | undefined> {
  if (!claim) return undefined;
  const pool = await host.gpu();
  if (pool.live.length === 0) {
    if (claim.required) {
      throw new CellarError(`${where}: asked for gpu ${claim.units / 10_000} with required: true, but this host has no WebGPU adapter`);
    }
    host.notice(`no WebGPU adapter on this host: gpu ${claim.units / 10_000} chunks run on the CPU path`);
    return undefined;
  }
  const impossible = pool.whyImpossible(claim);
  if (impossible) throw new CellarError(`${where}: ${impossible}`);
  return pool;
}

/** One chunk, tried until it succeeds, fails for good, or has used its retries. */
async function runChunk<T, R, D>(p: Placement<T, R, D>, chunk: T[], index: number): Promise<R[]> {
  let lastError: unknown;
  let attempts = 0;
  let lost = false;
  for (let attempt = 0; attempt <= p.retries; attempt++) {
    attempts++;
    p.signal.throwIfAborted();
    const lease: Lease<D> | undefined = p.pool && p.claim ? await p.pool.acquire(p.claim, p.signal) : undefined;
    const t0 = performance.now();
    try {
      const result = await callOnce(p, chunk, index, lease);
      if (lease) p.host.cost("gpu_seconds", ((performance.now() - t0) / 1000) * lease.share * lease.devices.length);
      p.tally.count(ChunkState.Done);
      return result;
    } catch (err) {
      if (p.signal.aborted) throw err;
      if (err instanceof ShapeError || err instanceof ShaderError) p.tally.count(ChunkState.Failed);
      if (err instanceof ShapeError) throw err;
      if (err instanceof ShaderError) throw new CellarError(`${p.where}: chunk ${index}: ${err.message}`);
      lastError = err;
      lost = false;
      for (const device of lease?.devices ?? []) {
        if (isLost(device.handle)) p.pool!.remove(device, "device lost"), lost = true;
      }
      // Bad input (a CellarError, unless it says it is transient) fails the same on every try; a lost device does not.
      if (!lost && !isRetryable(err)) break;
      if (attempt < p.retries) p.tally.count(ChunkState.Retried);
    } finally {
      lease?.release();
      metrics.chunkLatency.observe({ device: lease?.devices.map((d) => d.id).join("+") ?? "cpu", placement: "local" }, (performance.now() - t0) / 1000);
    }
  }
  p.tally.count(ChunkState.Failed);
  const first = index * p.batchSize;
  // The cell keeps the chunk error's retryability: a lost device or a network error leaves the cell's own
  // retries to apply; bad input fails it at once.
  throw new CellarError(
    `${p.where}: chunk ${index} (items ${first}–${first + chunk.length - 1}) failed after ${attempts} ${attempts === 1 ? "try" : "tries"}: ${errorLine(lastError)}`,
    { retryable: lost || isRetryable(lastError), cause: lastError },
  );
}

/** One try of one chunk: in a CPU worker, or here with its lease's devices; its results checked for shape. */
async function callOnce<T, R, D>(p: Placement<T, R, D>, chunk: T[], index: number, lease: Lease<D> | undefined): Promise<R[]> {
  const { fn } = p;
  let result: unknown;
  if (p.cpu && isTask(fn)) result = await p.cpu.run(fn, chunk, p.signal, index);
  else {
    const info: ChunkInfo<D> = {
      device: lease?.devices[0].handle,
      devices: lease?.devices.map((d) => d.handle) ?? [],
      share: lease?.share ?? 0,
      signal: p.signal,
      index,
    };
    result = isTask(fn) ? await (await fn.load<T, R, D>())(chunk, info) : await fn(chunk, info);
  }
  if (!Array.isArray(result) || result.length !== chunk.length) {
    // A wrong shape is a bug in fn, not bad luck: do not retry it.
    throw new ShapeError(
      `${p.where}: chunk ${index} returned ${Array.isArray(result) ? `${result.length} results for ${chunk.length} items` : describe(result)}; expected one result per item`,
    );
  }
  return result as R[];
}

/** Items grouped into arrays of `size`, from an array or any (async) iterable. */
async function* chunksOf<T>(items: Iterable<T> | AsyncIterable<T>, size: number): AsyncGenerator<T[]> {
  if (Array.isArray(items)) {
    for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
    return;
  }
  let chunk: T[] = [];
  for await (const item of items as AsyncIterable<T>) {
    chunk.push(item);
    if (chunk.length === size) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length > 0) yield chunk;
}

class ShapeError extends CellarError {}

function isLost(handle: unknown): boolean {
  return typeof handle === "object" && handle !== null && (handle as { isLost?: boolean }).isLost === true;
}

function describe(value: unknown): string {
  return value === null ? "null" : Array.isArray(value) ? "an array" : `a ${typeof value}`;
}
