/**
 * A remote kernel's work loop (`cellar worker`): pulls chunks from the
 * JetStream chunk stream through the durable pull consumers of
 * kernel/remote/protocol.ts (`cpu` always, `gpu` too on a worker with
 * devices), runs each here — a GPU claim admitted by this worker's own device
 * pool, so fractional sharing and memory accounting hold across the cluster;
 * a CPU task on its CPU workers — and hands the result back by the protocol's
 * first-writer-wins `kv.create` on the chunk key. The ack only tells
 * JetStream to stop redelivering: it is no fence (a stale worker's late ack
 * is accepted after its chunk was redelivered, nats-server #6937), so a
 * worker whose create loses discards its copy and counts it.
 *
 * Each lane holds one chunk at a time and pulls only when free, so no chunk
 * waits in a client buffer while its ack_wait runs; the lanes are the
 * worker's capacity. While a chunk runs (or waits for a device) the lane sends
 * in-progress acks, so only a dead or frozen worker's chunk comes back after
 * ack_wait. A failed or refused try is recorded and given back with
 * `nak(delay)`; the last delivery writes the chunk's final failure record.
 * On abort the loop stops pulling, lets in-flight chunks finish for
 * `drainMs`, gives back the rest with a plain nak, and resolves.
 *
 * @example
 * ```ts
 * import type { NatsConnection } from "@nats-io/transport-node";
 * import { CpuPool } from "../compute/cpu-pool.ts";
 * import { runWorker } from "./worker-loop.ts";
 * declare const nc: NatsConnection;
 *
 * const stop = new AbortController();
 * const counts = await runWorker({ nc, name: "gpu-box-1", cpu: new CpuPool(), signal: stop.signal });
 * console.log(`${counts.done} chunks done, ${counts.duplicates} late results discarded`);
 * ```
 */
import { type Consumer, jetstream, type JetStreamClient, JetStreamApiCodes, type JsMsg } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import { type ObjectStore, Objm } from "@nats-io/obj";
import type { NatsConnection } from "@nats-io/transport-node";
import { delay } from "../async.ts";
import { parseClaim } from "../compute/claim.ts";
import type { CpuPool } from "../compute/cpu-pool.ts";
import type { DevicePool } from "../compute/device-pool.ts";
import type { GpuDevice } from "../compute/gpu-device.ts";
import { task, type TaskHandle } from "../compute/task.ts";
import { CellarError, errorLine, isRetryable } from "../errors.ts";
import { ChunkTryState } from "../state.ts";
import { codeVersion } from "./code-version.ts";
import {
  BLOBS,
  type ChunkFailure,
  type ChunkMessage,
  type ChunkSuccess,
  CONSUMERS,
  decodeChunk,
  decodeTry,
  DEFAULT_ACK_WAIT_MS,
  type DeviceClass,
  encodeResult,
  encodeTry,
  inProgressEveryMs,
  INLINE_LIMIT_BYTES,
  nakDelayMs,
  packValues,
  PROTOCOL_VERSION,
  resolveTaskModule,
  resultBlobName,
  RESULTS,
  STREAM,
  TRIES,
  type TryRecord,
  tryKey,
  unpackValues,
} from "./protocol.ts";

/** What the loop tells its caller (the CLI prints these), one event per chunk outcome. */
export type WorkerEvent =
  | { kind: "accepted"; key: string; ms: number }
  | { kind: "duplicate"; key: string }
  | { kind: "skipped"; key: string }
  | { kind: "retry"; key: string; delivery: number; error: string }
  | { kind: "exhausted"; key: string; delivery: number; error: string }
  | { kind: "refused"; key: string; error: string }
  | { kind: "given-back"; key: string };

/** Chunks by outcome since the loop started. */
export interface WorkerCounts {
  /** Results this worker wrote first: accepted. */
  done: number;
  /** Results another worker had written first for the same chunk: discarded. */
  duplicates: number;
  /** Deliveries of a chunk whose result was already written (its worker died before the ack): not run. */
  skipped: number;
  /** Tries that failed here and were given back for another delivery. */
  retried: number;
  /** Chunks whose last try failed here: their final failure record is written. */
  failed: number;
  /** Deliveries of another code version, not run. */
  refused: number;
  /** In-flight chunks handed back unfinished on abort. */
  givenBack: number;
}

/** What runs a CPU task: this worker's CpuPool. */
export type CpuRunner = Pick<CpuPool, "size" | "run">;

export interface WorkerOptions {
  /** The worker's connection to NATS, with the credential the server issued it. */
  nc: NatsConnection;
  /** The worker's name, as registered: it signs every result and try record. */
  name: string;
  /** This worker's CPU workers, for CPU tasks and GPU claims on a host without an adapter. */
  cpu: CpuRunner;
  /** This worker's devices: a chunk's GPU claim is admitted here, as on the server. With none, only `cpu` chunks are pulled. */
  gpu?: DevicePool<GpuDevice>;
  /** CPU chunks in flight at once (0: GPU chunks only). Default: the CPU workers. */
  capacity?: number;
  /** GPU chunks in flight at once (each still waits for its device lease). Default: 2 per device. */
  gpuCapacity?: number;
  /** Aborting stops the loop: no more pulls, in-flight chunks finish or are given back. */
  signal: AbortSignal;
  /** How long in-flight chunks may still run after the abort before they are given back. Default 5 s. */
  drainMs?: number;
  /** How long one pull waits for a chunk: how late an idle lane sees the abort. Default 1 s (JetStream's least). */
  pullExpiresMs?: number;
  /** Where task modules named relative to the project root resolve. Default: this checkout's root. */
  rootUrl?: string;
  /** A module's code version here. Default code-version.ts's, computed once per module. */
  versionOf?: (moduleUrl: string) => Promise<string>;
  /** Kept up to date by the loop: the chunks running now (what the heartbeat reports) and the counts so far. */
  status?: { inFlight: number; counts?: WorkerCounts };
  /** Called once the consumers and buckets are bound, as the first pulls go out. */
  onReady?: () => void;
  /** Hears each chunk's outcome. */
  onEvent?: (event: WorkerEvent) => void;
  /** Hears trouble the loop survives (a pull failing while NATS reconnects, a record not written). */
  onError?: (message: string) => void;
}

/** Pulls and runs chunks until `signal` aborts; resolves with the counts once every in-flight chunk is settled. */
export async function runWorker(options: WorkerOptions): Promise<WorkerCounts> {
  const loop = await WorkerLoop.open(options);
  return loop ? await loop.run() : { ...NO_CHUNKS };
}

const ROOT_URL = new URL("../../", import.meta.url).href;
/** How often a worker reads its consumers' ack_wait again. */
const ACK_WAIT_REFRESH_MS = 15_000;

/** The buckets a worker writes: results (first writer wins), try records, and large blobs. */
interface Buckets {
  results: KV;
  tries: KV;
  blobs: ObjectStore;
}

interface Lane {
  consumer: Consumer;
  ackWaitMs: number;
}

const NO_CHUNKS: WorkerCounts = { done: 0, duplicates: 0, skipped: 0, retried: 0, failed: 0, refused: 0, givenBack: 0 };

class WorkerLoop {
  readonly counts: WorkerCounts = { ...NO_CHUNKS };
  /** Aborted `drainMs` after the caller's signal: what is still running then is given back. */
  readonly #giveBack = new AbortController();
  readonly #versions = new Map<string, Promise<string>>();

  private constructor(readonly o: WorkerOptions, readonly b: Buckets, readonly lanes: Lane[]) {
    if (o.status) o.status.counts = this.counts;
  }

  /**
   * Binds to the stream's consumers and the buckets, which the server creates when it first sets up remote
   * placement: until then the worker waits (saying so once) rather than fail; an abort ends the wait
   * (undefined: nothing to run).
   */
  static async open(o: WorkerOptions): Promise<WorkerLoop | undefined> {
    if (!o.name) throw new CellarError("runWorker: expected the worker's name");
    for (let waited = false;;) {
      try {
        return await WorkerLoop.#bind(o);
      } catch (err) {
        if (o.signal.aborted) return undefined;
        if (o.nc.isClosed()) throw new CellarError(`worker ${o.name}: cannot bind to the chunk stream and buckets on NATS: ${errorLine(err)}`);
        if (!waited) o.onError?.(`waiting for the server to set up the chunk stream and buckets on NATS (${errorLine(err)})`);
        waited = true;
        await delay(1_000, o.signal).catch(() => {});
      }
    }
  }

  static async #bind(o: WorkerOptions): Promise<WorkerLoop> {
    const js = jetstream(o.nc);
    const [results, tries, blobs] = await Promise.all([new Kvm(js).open(RESULTS), new Kvm(js).open(TRIES), new Objm(js).open(BLOBS)]);
    const devices = o.gpu?.live.length ?? 0;
    const classes: Array<[DeviceClass, number]> = [["cpu", o.capacity ?? Math.max(1, o.cpu.size)]];
    if (devices > 0) classes.push(["gpu", o.gpuCapacity ?? 2 * devices]);
    const lanes: Lane[] = [];
    for (const [cls, count] of classes) {
      const lane = await openLane(js, cls);
      for (let i = 0; i < count; i++) lanes.push(lane);
    }
    return new WorkerLoop(o, { results, tries, blobs }, lanes);
  }

  async run(): Promise<WorkerCounts> {
    const { signal } = this.o;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onAbort = () => (timer = setTimeout(() => this.#giveBack.abort(signal.reason), this.o.drainMs ?? 5_000));
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    // A server that starts with another ack_wait updates the consumers: the in-progress acks must follow it.
    const refresh = setInterval(() => {
      for (const lane of new Set(this.lanes)) {
        lane.consumer.info().then(({ config }) => (lane.ackWaitMs = ackWaitOf(config)), () => {});
      }
    }, ACK_WAIT_REFRESH_MS);
    try {
      const lanes = this.lanes.map((lane) => this.#lane(lane));
      this.o.onReady?.();
      await Promise.all(lanes);
    } finally {
      clearInterval(refresh);
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
    }
    return this.counts;
  }

  /** One chunk at a time, pulled only when the lane is free. */
  async #lane(lane: Lane): Promise<void> {
    const { signal } = this.o;
    while (!signal.aborted) {
      let msg: JsMsg | null;
      try {
        msg = await lane.consumer.next({ expires: this.o.pullExpiresMs ?? 1_000 });
      } catch (err) {
        // A closed connection (not one reconnecting) never serves again: whoever opened it decides what next.
        if (signal.aborted || this.o.nc.isClosed()) break;
        this.o.onError?.(`pulling a chunk: ${errorLine(err)}`);
        await delay(1_000, signal).catch(() => {});
        continue;
      }
      if (!msg) continue;
      if (signal.aborted) {
        // Pulled as the abort came: straight back for another worker.
        this.#givenBack(msg, keyOf(msg));
        break;
      }
      if (this.o.status) this.o.status.inFlight++;
      try {
        await this.#handle(msg, lane);
      } finally {
        if (this.o.status) this.o.status.inFlight--;
      }
    }
  }

  /** One delivery of one chunk, from the pull to its ack, nak or term, with in-progress acks all along. */
  async #handle(msg: JsMsg, lane: Lane): Promise<void> {
    const beat = setInterval(() => msg.working(), inProgressEveryMs(lane.ackWaitMs));
    const delivery = msg.info.deliveryCount;
    let chunk: ChunkMessage | undefined;
    // Names this worker while the task runs, so that one killed mid-chunk is still among the chunk's tries.
    let running: Promise<void> | undefined;
    try {
      chunk = decodeChunk(msg.data);
      const moduleUrl = resolveTaskModule(chunk.task.module, this.o.rootUrl ?? ROOT_URL);
      // A module this checkout lacks is another version too: a worker that has it may take the chunk.
      const version = await this.#versionOf(moduleUrl).catch((err) => `unreadable (${errorLine(err)})`);
      if (version !== chunk.codeVersion) return await this.#refuse(msg, chunk, delivery, version);
      // Already accepted (a worker wrote it and died short of its ack, or an earlier attempt's): not run again.
      if ((await this.b.results.get(chunk.key))?.operation === "PUT") return this.#skipped(msg, chunk.key);
      running = this.#try(chunk.key, delivery, ChunkTryState.Running);
      running.catch(() => {}); // the record only names the worker: the result does not wait on it
      const t0 = performance.now();
      const results = await this.#execute(chunk, task(moduleUrl, chunk.task.name));
      const ms = performance.now() - t0;
      this.#settled(msg, chunk.key, await this.#accept(chunk, delivery, results, ms), ms);
    } catch (err) {
      if (this.#giveBack.signal.aborted) return this.#givenBack(msg, chunk?.key ?? keyOf(msg));
      await running?.catch(() => {}); // so that the failed try's record lands after its running one
      await this.#fail(msg, chunk, delivery, err);
    } finally {
      clearInterval(beat);
    }
  }

  async #versionOf(moduleUrl: string): Promise<string> {
    let version = this.#versions.get(moduleUrl);
    if (!version) {
      version = (this.o.versionOf ?? codeVersion)(moduleUrl);
      this.#versions.set(moduleUrl, version);
      version.catch(() => this.#versions.delete(moduleUrl)); // a module that appears later is read again
    }
    return await version;
  }

  /** Runs the chunk's task: under a device lease of this worker's pool for a GPU claim, else on its CPU workers. */
  async #execute(chunk: ChunkMessage, handle: TaskHandle): Promise<unknown[]> {
    const where = `worker ${this.o.name}: chunk ${chunk.key}`;
    const items = chunk.items !== undefined ? unpackValues(chunk.items) : await this.#blobValues(chunk.itemsBlob!, where);
    const signal = this.#giveBack.signal;
    const pool = this.o.gpu && this.o.gpu.live.length > 0 ? this.o.gpu : undefined;
    let result: unknown;
    if (chunk.claim && pool) {
      const claim = parseClaim(chunk.claim, where);
      const impossible = pool.whyImpossible(claim);
      // Another worker's devices may hold it: give it back rather than fail it.
      if (impossible) throw new CellarError(`${where}: ${impossible}`, { retryable: true });
      const lease = await pool.acquire(claim, signal);
      try {
        const devices = lease.devices.map((d) => d.handle);
        result = await (await handle.load())(items, { device: devices[0], devices, share: lease.share, signal, index: chunk.index });
      } finally {
        lease.release();
      }
    } else result = await this.o.cpu.run(handle, items, signal, chunk.index);
    if (!Array.isArray(result) || result.length !== chunk.count) {
      // A wrong shape is a bug in the task, not bad luck: no other worker would do better.
      const got = Array.isArray(result) ? `${result.length} results` : `a ${result === null ? "null" : typeof result}`;
      throw new CellarError(`${where}: task ${chunk.task.name} returned ${got} for ${chunk.count} items; expected one result per item`);
    }
    return result;
  }

  async #blobValues(name: string, where: string): Promise<unknown[]> {
    const bytes = await this.b.blobs.getBlob(name);
    if (!bytes) throw new CellarError(`${where}: its items object ${name} is not in the object store`);
    return unpackValues(new TextDecoder().decode(bytes));
  }

  /**
   * The first-writer-wins write of a success: true when this worker's create made it the chunk's result.
   * A large result goes to an object of this worker and delivery first; a loser deletes its own.
   */
  async #accept(chunk: ChunkMessage, delivery: number, results: unknown[], ms: number): Promise<boolean> {
    const packed = packValues(results);
    const { msgId, ticket } = chunk; // the proof that this worker was delivered the chunk it answers
    const base = { v: PROTOCOL_VERSION, key: chunk.key, ok: true, worker: this.o.name, delivery, count: results.length, ms, msgId, ticket } as const;
    let record = encodeResult({ ...base, results: packed } satisfies ChunkSuccess);
    let blob: string | undefined;
    if (record.length > INLINE_LIMIT_BYTES) {
      blob = resultBlobName(chunk.key, this.o.name, delivery);
      await this.b.blobs.putBlob({ name: blob }, new TextEncoder().encode(packed));
      record = encodeResult({ ...base, blob } satisfies ChunkSuccess);
    }
    const won = await createOnce(this.b.results, chunk.key, record);
    if (!won) {
      // The server counts rejected duplicates by this record.
      await this.#try(chunk.key, delivery, ChunkTryState.Duplicate).catch(() => {});
      if (blob) await this.b.blobs.delete(blob).catch(() => {});
    }
    return won;
  }

  /** Acks a chunk whose result is written; `won` says whether by this worker (else its result was discarded). */
  #settled(msg: JsMsg, key: string, won: boolean, ms: number): void {
    msg.ack();
    if (won) {
      this.counts.done++;
      this.o.onEvent?.({ kind: "accepted", key, ms });
    } else {
      this.counts.duplicates++;
      this.o.onEvent?.({ kind: "duplicate", key });
    }
  }

  #skipped(msg: JsMsg, key: string): void {
    msg.ack();
    this.counts.skipped++;
    this.o.onEvent?.({ kind: "skipped", key });
  }

  #givenBack(msg: JsMsg, key: string): void {
    msg.nak();
    this.counts.givenBack++;
    this.o.onEvent?.({ kind: "given-back", key });
  }

  /** A chunk of another code version: the module here is not the code the chunk was made for, so it must not run. */
  async #refuse(msg: JsMsg, chunk: ChunkMessage, delivery: number, version: string): Promise<void> {
    const error = `chunk ${chunk.key}: task module ${chunk.task.module} is code version ${chunk.codeVersion} on the server, ` +
      `but ${version} on worker ${this.o.name}; refused`;
    this.counts.refused++;
    this.o.onEvent?.({ kind: "refused", key: chunk.key, error });
    // A worker of the chunk's version may take it on another delivery; on the last, no new attempt of the cell would help.
    await this.#fail(msg, chunk, delivery, new CellarError(error, { retryable: delivery < chunk.maxDeliver }), ChunkTryState.Refused);
  }

  /**
   * A failed or refused try: recorded, and given back with the protocol's delay while deliveries remain and
   * another try could help; otherwise the chunk's final failure record (with every try) is written and the
   * message terminated. A message that is not a chunk at all is terminated at once.
   */
  async #fail(msg: JsMsg, chunk: ChunkMessage | undefined, delivery: number, err: unknown, state: ChunkTryState = ChunkTryState.Failed) {
    const error = errorLine(err);
    if (!chunk) {
      this.o.onError?.(`message ${keyOf(msg)} is no chunk, terminated: ${error}`);
      return msg.term(error);
    }
    const retryable = isRetryable(err);
    try {
      await this.#try(chunk.key, delivery, state, error);
      if (retryable && delivery < chunk.maxDeliver) {
        msg.nak(nakDelayMs(delivery));
        this.counts.retried++;
        return this.o.onEvent?.({ kind: "retry", key: chunk.key, delivery, error });
      }
      const tries = await this.#tries(chunk.key);
      const failure: ChunkFailure = {
        v: PROTOCOL_VERSION, key: chunk.key, ok: false, worker: this.o.name, delivery, error, retryable, attempt: chunk.attempt, tries,
        msgId: chunk.msgId, ticket: chunk.ticket,
      };
      // Another worker's success came first (this delivery was a stale one): the chunk is done, not failed.
      if (!(await createOnce(this.b.results, chunk.key, encodeResult(failure)))) return this.#settled(msg, chunk.key, false, 0);
    } catch (recordErr) {
      // Unrecorded, the failure would be lost with the message: let it come back instead.
      this.o.onError?.(`chunk ${chunk.key}: recording its failure: ${errorLine(recordErr)}`);
      return msg.nak(nakDelayMs(delivery));
    }
    msg.term(error);
    this.counts.failed++;
    this.o.onEvent?.({ kind: "exhausted", key: chunk.key, delivery, error });
  }

  async #try(key: string, delivery: number, state: ChunkTryState, error?: string): Promise<void> {
    const record: TryRecord = { v: PROTOCOL_VERSION, key, worker: this.o.name, delivery, state, at: Date.now(), ...(error ? { error } : {}) };
    await this.b.tries.put(tryKey(key, delivery), encodeTry(record));
  }

  /** Every try of a chunk, in delivery order. */
  async #tries(key: string): Promise<TryRecord[]> {
    const keys: string[] = [];
    for await (const k of await this.b.tries.keys(`${key}.*`)) keys.push(k);
    const entries = await Promise.all(keys.map((k) => this.b.tries.get(k)));
    return entries.flatMap((e) => (e && e.operation === "PUT" ? [decodeTry(e.value)] : [])).sort((a, b) => a.delivery - b.delivery);
  }
}

async function openLane(js: JetStreamClient, cls: DeviceClass): Promise<Lane> {
  const consumer = await js.consumers.get(STREAM, CONSUMERS[cls]);
  const { config } = await consumer.info(true);
  return { consumer, ackWaitMs: ackWaitOf(config) };
}

function ackWaitOf(config: { ack_wait?: number }): number {
  return Math.floor((config.ack_wait ?? DEFAULT_ACK_WAIT_MS * 1e6) / 1e6);
}

/** KV create: true when this write made the key; false when the key was already written (someone won first). */
async function createOnce(kv: KV, key: string, value: Uint8Array): Promise<boolean> {
  try {
    await kv.create(key, value);
    return true;
  } catch (err) {
    // By the code, not instanceof: @nats-io/kv may carry a copy of @nats-io/jetstream of its own.
    const code = (err as { code?: unknown } | null)?.code;
    if (code === JetStreamApiCodes.StreamWrongLastSequence || code === JetStreamApiCodes.StreamWrongLastSequenceUnknown) return false;
    throw err;
  }
}

/** A message's chunk key from its subject, for a message that cannot be decoded. */
function keyOf(msg: JsMsg): string {
  return msg.subject.split(".").slice(3).join(".") || msg.subject;
}
