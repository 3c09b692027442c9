/**
 * The server side of remote fan-out: what `ctx.map(items, task(...), { placement: "remote" | "auto" })`
 * uses to send chunks to remote kernels over NATS JetStream and take their results back, as
 * kernel/remote/protocol.ts describes.
 *
 * `openRemote` makes sure the stream, its consumers, the two KV buckets and the object store exist, and
 * starts two watchers for the whole process: one on the results bucket (a map's chunk is settled by the
 * first record under its key) and one on the tries bucket (redeliveries, rejected duplicates, refusals and
 * failed tries, counted on /metrics and logged in the cell's log). A map opens a session
 * (`RemoteChunks.open`); each chunk it submits is looked up first — a chunk already accepted, by an
 * earlier attempt of the cell or before a server restart, is not run again — then published with its
 * chunk key as `Nats-Msg-Id`, and its promise settles when its record arrives. ctx.map (compute/map.ts)
 * keeps the order and bounds the chunks in flight, as for local chunks.
 *
 * **What "commits accepted results idempotently on the chunk key" comes to here.** The results are not
 * written to DuckDB one chunk at a time: a chunk's accepted record in KV is the one copy of its result
 * until the cell's checkpoint commits. Each chunk's results reach the cell once (a session settles a key's
 * waiter once and ignores any later record), and whatever the cell makes of them — its output, its
 * `ctx.table` rows — commits with its checkpoint in the try's one transaction (attempt.ts). A crash before
 * that commit leaves the accepted records in KV, where the resumed cell finds them under the same keys
 * (the key leaves the attempt out for this reason: protocol.ts); a cell whose checkpoint committed is not
 * run at all. So no chunk is committed twice and none is run again once accepted, without a table of
 * chunk keys in the store.
 *
 * @example
 * ```ts
 * import type { NatsConnection } from "@nats-io/transport-node";
 * import { openRemote } from "./remote-placement.ts";
 * declare const nc: NatsConnection;
 *
 * const remote = await openRemote({ nats: nc, consumer: { ackWaitMs: 30_000 } }, ".cellar/cellar.duckdb");
 * // openCellar({ db, remote: { nats: nc } }) does this itself; then in a cell:
 * // await ctx.map(texts, task(import.meta.url, "minhashChunk"), { placement: "remote" });
 * await remote.close(); // the connection stays open: its owner closes it
 * ```
 */
import { jetstream, type JetStreamClient, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { type KV, type KvWatchEntry, KvWatchInclude, Kvm } from "@nats-io/kv";
import { type ObjectStore, Objm } from "@nats-io/obj";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { backoffMs, retry, type RetryPolicy } from "../async.ts";
import { CellarError, errorLine } from "../errors.ts";
import { metrics } from "../prometheus.ts";
import { ChunkTryState } from "../state.ts";
import type { RemoteHost, RemoteJob, RemoteSession } from "../compute/map.ts";
import { codeVersion as moduleCodeVersion } from "./code-version.ts";
import { ChunkTickets } from "./ticket.ts";
import type { NatsAccess } from "./join.ts";
import {
  BLOBS,
  BUCKETS,
  type ChunkClaim,
  chunkKey,
  type ChunkMessage,
  type ChunkResult,
  chunkSubject,
  CONSUMERS,
  consumerConfig,
  type ConsumerOptions,
  decodeResult,
  decodeTry,
  DEFAULT_MAX_ACK_PENDING,
  DEFAULT_MAX_DELIVER,
  describeFailure,
  DEVICE_CLASSES,
  type DeviceClass,
  encodeChunk,
  INLINE_LIMIT_BYTES,
  isMsgIdOf,
  itemsBlobName,
  mapPrefix,
  packValues,
  PROJECT_ROOT,
  PROTOCOL_VERSION,
  republishMsgId,
  RESULTS,
  scopeOf,
  STREAM,
  STREAM_CONFIG,
  taskModuleRef,
  TRIES,
  tryKey,
  unpackValues,
} from "./protocol.ts";

export interface RemoteOptions {
  /**
   * NATS: a connection, which its owner closes (close() here leaves it open); or where to connect
   * (`cellar serve`'s NatsAccess: servers, user, pass), a connection of its own that close() closes.
   */
  nats: NatsConnection | NatsAccess;
  /** The server's store ({@link scopeOf} of its path): chunk keys start with it. The facade sets it. */
  scope?: string;
  /** The chunk consumers' ack_wait, max_deliver and max_ack_pending. */
  consumer?: ConsumerOptions;
  /** A task module's code version. Default: kernel/remote/code-version.ts's. */
  codeVersion?: (moduleUrl: string) => Promise<string>;
  /** The checkout task modules are named against on the wire. Default: this one. */
  root?: string;
  /**
   * Whether records signed by this worker count (default: every worker's): `cellar serve` refuses revoked
   * workers', whose shared NATS credentials may still connect. A refused record is deleted, counted, and its
   * chunk published again for another worker.
   */
  acceptWorker?: (worker: string) => boolean;
  /**
   * Whether a remote kernel with devices has joined (cellar serve: its worker registry). Default: whether one
   * waits for GPU chunks now. Without one, a map's GPU chunks (unless `required`) go to the remote kernels'
   * CPU path, as a local GPU claim runs on the CPU path without an adapter.
   */
  gpuWorkers?: () => boolean;
  /**
   * The secret the chunk tickets are signed under (kernel/remote/ticket.ts): `cellar serve` keeps one beside its
   * store, so that results written before a restart still verify after it. Default: one made for this process.
   */
  ticketSecret?: string;
}

/** How long a "does any worker wait for chunks" answer is reused by placement "auto". */
const CAPACITY_TTL_MS = 500;

/**
 * For a JetStream request of a map's chunk while nats-server restarts: it times out, finds the connection
 * closed, or, after the client reconnected and before the server has recovered its streams, has no responder,
 * which nats.js reports as JetStreamNotEnabled. Six tries span up to 8 s of backoff; the map's signal ends the wait.
 */
const ACROSS_NATS_RESTART: RetryPolicy = {
  tries: 6,
  retryable: (err) => err instanceof Error && /timeout|connection|closed|JetStreamNotEnabled|no responders/i.test(`${err.name} ${err.message}`),
  delayMs: (n) => backoffMs(n, { baseMs: 250, maxMs: 4000 }),
};

/**
 * Makes sure the stream, consumers and buckets exist, and starts the process's two watchers. `storeId` (the
 * store's path) gives the scope when `options.scope` does not.
 */
export async function openRemote(options: RemoteOptions, storeId = ""): Promise<RemoteChunks> {
  const scope = options.scope ?? scopeOf(storeId);
  const own = isConnection(options.nats) ? undefined : await connectTo(options.nats);
  const nc = own ?? (options.nats as NatsConnection);
  try {
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    await ensureStream(jsm, options.consumer ?? {});
    const kvm = new Kvm(js);
    const [results, tries, blobs] = await Promise.all([
      kvm.create(RESULTS, { history: BUCKETS.results.history, ttl: BUCKETS.results.ttlMs, storage: BUCKETS.results.storage }),
      kvm.create(TRIES, { history: BUCKETS.tries.history, ttl: BUCKETS.tries.ttlMs, storage: BUCKETS.tries.storage }),
      new Objm(js).create(BLOBS, { ttl: BUCKETS.blobs.ttlMs * 1e6, storage: BUCKETS.blobs.storage }),
    ]);
    const tickets = await ChunkTickets.create(options.ticketSecret);
    const remote = new RemoteChunks({ ...options, scope }, js, jsm, { results, tries, blobs, tickets }, own);
    await remote.watch();
    remote.rewatchOnReconnect(nc);
    return remote;
  } catch (err) {
    await own?.close().catch(() => {});
    throw new CellarError(`remote kernels: cannot set up the chunk stream and buckets on NATS ${nc.getServer()}: ${errorLine(err)}`, { retryable: true });
  }
}

function isConnection(nats: NatsConnection | NatsAccess): nats is NatsConnection {
  return typeof (nats as NatsConnection).publish === "function";
}

async function connectTo(access: NatsAccess): Promise<NatsConnection> {
  try {
    return await connect({
      servers: access.servers,
      ...(access.user ? { user: access.user, pass: access.pass ?? "" } : {}),
      name: "cellar-serve",
      maxReconnectAttempts: -1,
    });
  } catch (err) {
    throw new CellarError(`remote kernels: cannot connect to NATS at ${access.servers.join(", ")}: ${errorLine(err)}`, { retryable: true });
  }
}

async function ensureStream(jsm: JetStreamManager, consumer: ConsumerOptions): Promise<void> {
  try {
    await jsm.streams.info(STREAM);
  } catch {
    await jsm.streams.add({ ...STREAM_CONFIG, subjects: [...STREAM_CONFIG.subjects] });
  }
  for (const cls of DEVICE_CLASSES) {
    const config = consumerConfig(cls, consumer);
    try {
      await jsm.consumers.add(STREAM, config);
    } catch {
      // It exists with other settings (an earlier server's): take this server's.
      const { ack_wait, max_deliver, max_ack_pending } = config;
      await jsm.consumers.update(STREAM, config.durable_name, { ack_wait, max_deliver, max_ack_pending });
    }
  }
}

interface Waiter {
  session: Session;
  key: string;
  index: number;
  first: number;
  count: number;
  publishedAt: number;
  /** Publishes the chunk again under a new Msg-Id, once its record was refused. */
  republish?: (msgID: string) => Promise<void>;
  /** The Msg-Ids this process published the chunk under: a record must answer one of them (none yet: any of the key's). */
  msgIds: Set<string>;
  /** The revision of the record last seen: the watcher and the look-up may both bring the same one. */
  seen?: number;
  resolve(results: unknown[]): void;
  reject(err: unknown): void;
}

/** The process's remote executor: what ctx.map's MapHost.remote() returns. */
export class RemoteChunks implements RemoteHost {
  readonly scope: string;
  readonly results: KV;
  readonly tries: KV;
  readonly blobs: ObjectStore;
  /** Signs the messages published and checks that each record answers one its writer was delivered. */
  readonly tickets: ChunkTickets;
  readonly maxDeliver: number;
  readonly window: number;
  /** Each chunk key's waiters: usually one; two when one cell maps the same chunk twice at once. */
  readonly #waiters = new Map<string, Set<Waiter>>();
  /** The sessions of each map prefix (run and cell), for their chunks' tries. */
  readonly #sessions = new Map<string, Set<Session>>();
  readonly #versions = new Map<string, Promise<string>>();
  readonly #capacity = new Map<DeviceClass, { at: number; value: Promise<boolean> }>();
  readonly #stops: Array<() => void> = [];
  readonly #watching: Promise<void>[] = [];
  #closed = false;
  #stopStatus: () => void = () => {};

  constructor(
    readonly options: RemoteOptions & { scope: string },
    readonly js: JetStreamClient,
    readonly jsm: JetStreamManager,
    { results, tries, blobs, tickets }: { results: KV; tries: KV; blobs: ObjectStore; tickets: ChunkTickets },
    /** The connection openRemote made itself (from a NatsAccess), which close() closes. */
    readonly own?: NatsConnection,
  ) {
    [this.results, this.tries, this.blobs, this.tickets] = [results, tries, blobs, tickets];
    this.scope = options.scope;
    this.maxDeliver = options.consumer?.maxDeliver ?? DEFAULT_MAX_DELIVER;
    this.window = options.consumer?.maxAckPending ?? DEFAULT_MAX_ACK_PENDING;
  }

  /**
   * After a reconnect (a nats-server restart), starts the watchers again and looks up every chunk still
   * waiting: a watch's consumer lives in the server's memory, and the client would only notice it gone
   * after missing its heartbeats, seconds later; a record written meanwhile would be missed.
   */
  rewatchOnReconnect(nc: NatsConnection): void {
    const statuses = nc.status();
    // A QueuedIterator: stop() ends the loop below, which close() waits for.
    this.#stopStatus = () => (statuses as { stop?: () => void }).stop?.();
    this.#watching.push((async () => {
      for await (const status of statuses) {
        if (status.type !== "reconnect" || this.#closed) continue;
        for (const stop of this.#stops.splice(0)) stop();
        await this.watch().catch(() => {});
        for (const key of this.#waiters.keys()) {
          this.results.get(key).then((entry) => entry?.operation === "PUT" && this.#onResult(entry as KvWatchEntry), () => {});
        }
      }
    })().catch(() => {}));
  }

  /** Starts the two watchers: results for waiting chunks, tries for the counters and the cells' logs. */
  async watch(): Promise<void> {
    const filter = { key: `${this.scope}.>`, include: KvWatchInclude.UpdatesOnly };
    const results = await this.results.watch(filter);
    const tries = await this.tries.watch(filter);
    this.#stops.push(() => results.stop(), () => tries.stop());
    this.#watching.push(
      (async () => {
        for await (const entry of results) if (entry.operation === "PUT") this.#onResult(entry);
      })().catch(() => {}),
      (async () => {
        for await (const entry of tries) if (entry.operation === "PUT") this.#onTry(entry);
      })().catch(() => {}),
    );
  }

  async open(job: RemoteJob): Promise<RemoteSession> {
    const version = await this.codeVersion(job.task.module).catch((err) => {
      throw new CellarError(`${job.where}: task ${job.task.name} of ${job.task.module}: no code version for remote kernels: ${errorLine(err)}`);
    });
    const gpu = job.claim !== null && (job.claim.required || (this.options.gpuWorkers?.() ?? await this.hasCapacity("gpu")));
    if (job.claim && !gpu) job.notice(`no remote kernel with a GPU: gpu ${job.claim.gpu} chunks run on the remote kernels' CPU path`);
    const session = new Session(this, job, version, gpu ? "gpu" : "cpu");
    const prefix = mapPrefix(this.scope, job.run, job.cell);
    let sessions = this.#sessions.get(prefix);
    if (!sessions) this.#sessions.set(prefix, sessions = new Set());
    sessions.add(session);
    session.closed.then(() => {
      sessions.delete(session);
      if (sessions.size === 0) this.#sessions.delete(prefix);
    });
    return session;
  }

  codeVersion(moduleUrl: string): Promise<string> {
    let version = this.#versions.get(moduleUrl);
    if (!version) {
      version = (this.options.codeVersion ?? moduleCodeVersion)(moduleUrl);
      this.#versions.set(moduleUrl, version);
      version.catch(() => this.#versions.delete(moduleUrl));
    }
    return version;
  }

  /** Whether a worker of the class is waiting for chunks now (a pull request outstanding): what `auto` asks. */
  hasCapacity(cls: DeviceClass): Promise<boolean> {
    const cached = this.#capacity.get(cls);
    if (cached && performance.now() - cached.at < CAPACITY_TTL_MS) return cached.value;
    const value = this.jsm.consumers.info(STREAM, CONSUMERS[cls]).then((info) => info.num_waiting > 0, () => false);
    this.#capacity.set(cls, { at: performance.now(), value });
    return value;
  }

  /** Registers a waiter for `key`; the returned function removes it. */
  wait(key: string, waiter: Waiter): () => void {
    let set = this.#waiters.get(key);
    if (!set) this.#waiters.set(key, set = new Set());
    set.add(waiter);
    return () => {
      set.delete(waiter);
      if (set.size === 0 && this.#waiters.get(key) === set) this.#waiters.delete(key);
    };
  }

  /** Settles every waiter of a record's key with it. */
  settle(key: string, result: ChunkResult, revision: number): void {
    for (const waiter of this.#waiters.get(key) ?? []) waiter.session.settle(waiter, result, revision);
  }

  #onResult(entry: KvWatchEntry): void {
    if (!this.#waiters.has(entry.key)) return;
    let result: ChunkResult;
    try {
      result = decodeResult(entry.value);
    } catch (err) {
      // Anyone on the bus can write a record: one this kernel cannot read is discarded, not the map failed.
      for (const waiter of this.#waiters.get(entry.key) ?? []) {
        if (waiter.seen !== entry.revision) waiter.session.discard(waiter, entry.revision, unreadable(waiter, err));
      }
      return;
    }
    this.settle(entry.key, result, entry.revision);
  }

  #onTry(entry: KvWatchEntry): void {
    let record;
    try {
      record = decodeTry(entry.value);
    } catch {
      return; // a record this kernel cannot read counts for nothing; its chunk's result still settles the map
    }
    if (record.state === ChunkTryState.Running && record.delivery > 1) {
      metrics.remoteRedeliveries.inc();
      this.#countExpiredLease(record.key, record.delivery);
    }
    if (record.state === ChunkTryState.Duplicate) metrics.remoteDuplicates.inc();
    const prefix = record.key.split(".").slice(0, 3).join(".");
    for (const session of this.#sessions.get(prefix) ?? []) session.onTry(record);
  }

  /**
   * A redelivery whose previous try is still Running: that worker neither finished nor gave the chunk back
   * (a failed try records Failed before its nak), so its lease ran out after ack_wait.
   */
  #countExpiredLease(key: string, delivery: number): void {
    this.tries.get(tryKey(key, delivery - 1)).then((entry) => {
      if (entry?.operation === "PUT" && decodeTry(entry.value).state === ChunkTryState.Running) metrics.remoteLeasesExpired.inc();
    }, () => {});
  }

  /** Stops the watchers and fails the chunks still waiting; a connection given stays open, one made here is closed. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#stopStatus();
    for (const stop of this.#stops.splice(0)) stop();
    for (const [, set] of this.#waiters) for (const waiter of set) waiter.reject(new CellarError("remote kernels: closed while a chunk was out"));
    await Promise.allSettled(this.#watching);
    await this.own?.close().catch(() => {});
  }
}

/** One map's chunks on remote kernels. */
class Session implements RemoteSession {
  readonly window: number;
  readonly claim: ChunkClaim | null;
  readonly module: string;
  /** The chunk keys this map waits for, by key: their index, for the try records of the tries watcher. */
  readonly #keys = new Map<string, number>();
  /** The chunks waiting: one abort listener rejects them all (not one listener per chunk on the map's signal). */
  readonly #waiting = new Set<Waiter>();
  readonly #onAbort = () => {
    for (const waiter of this.#waiting) waiter.reject(this.job.signal.reason);
  };
  #close!: () => void;
  readonly closed = new Promise<void>((resolve) => (this.#close = resolve));

  constructor(readonly remote: RemoteChunks, readonly job: RemoteJob, readonly codeVersion: string, readonly cls: DeviceClass) {
    job.signal.addEventListener("abort", this.#onAbort, { once: true });
    this.claim = job.claim ? { gpu: job.claim.gpu, gpuMemory: job.claim.gpuMemory } : null;
    this.window = remote.window;
    this.module = taskModuleRef(job.task.module, remote.options.root ?? PROJECT_ROOT);
  }

  hasCapacity(): Promise<boolean> {
    return this.remote.hasCapacity(this.cls);
  }

  /** Runs one chunk remotely (or takes its accepted result): resolves to its results, in the items' order. */
  async submit(items: unknown[], index: number, first: number): Promise<unknown[]> {
    const { job, remote } = this;
    job.signal.throwIfAborted();
    const packed = packValues(items);
    const task = { module: this.module, name: job.task.name };
    const key = chunkKey({ scope: remote.scope, run: job.run, cell: job.cell, index, codeVersion: this.codeVersion, task, items: packed });
    let waiter!: Waiter;
    const settled = new Promise<unknown[]>((resolve, reject) => {
      waiter = { session: this, key, index, first, count: items.length, publishedAt: performance.now(), msgIds: new Set(), resolve, reject };
    });
    settled.catch(() => {}); // awaited below, unless the look-up or the publish throws first
    const unwait = remote.wait(key, waiter);
    this.#keys.set(key, index);
    this.#waiting.add(waiter);
    try {
      // Registered before the look-up, so a record written between the two is not missed.
      waiter.republish = (id) => {
        waiter.msgIds.add(id);
        return this.#publish(key, id, task, packed, index, first, items.length);
      };
      const msgID = await this.#lookUp(key, waiter);
      if (msgID !== undefined) await waiter.republish(msgID);
      const results = await settled;
      metrics.chunkLatency.observe({ device: "remote", placement: "remote" }, (performance.now() - waiter.publishedAt) / 1000);
      return results;
    } finally {
      this.#waiting.delete(waiter);
      this.#keys.delete(key);
      unwait();
    }
  }

  /**
   * The chunk's record, if it has one: an accepted result settles the waiter (the chunk is not run again);
   * a final failure left by an earlier attempt is deleted, and the chunk published again under a new
   * Nats-Msg-Id (the duplicate window would drop the old one). Returns the Msg-Id to publish under, or
   * undefined when there is nothing to publish.
   */
  async #lookUp(key: string, waiter: Waiter): Promise<string | undefined> {
    const entry = await retry(() => this.remote.results.get(key), { ...ACROSS_NATS_RESTART, signal: this.job.signal });
    if (!entry || entry.operation !== "PUT") return key;
    let result: ChunkResult;
    try {
      result = decodeResult(entry.value);
    } catch (err) {
      this.discard(waiter, entry.revision, unreadable(waiter, err));
      return undefined;
    }
    if (result.ok || (await this.#refusal(waiter, result)) !== undefined) {
      this.settle(waiter, result, entry.revision);
      return undefined;
    }
    // Its tries go with it: the new message's deliveries count from 1 again, and its final failure lists its own.
    for await (const tried of await this.remote.tries.keys(`${key}.*`)) await this.remote.tries.delete(tried).catch(() => {});
    await this.remote.results.delete(key, { previousSeq: entry.revision }).catch(() => {});
    return republishMsgId(key, entry.revision);
  }

  async #publish(key: string, msgID: string, task: { module: string; name: string }, packed: string, index: number, first: number, count: number) {
    const { job, remote } = this;
    const large = packed.length > INLINE_LIMIT_BYTES;
    if (large) await remote.blobs.putBlob({ name: itemsBlobName(key) }, new TextEncoder().encode(packed));
    const message: ChunkMessage = {
      v: PROTOCOL_VERSION, key, task, codeVersion: this.codeVersion, ...(large ? { itemsBlob: itemsBlobName(key) } : { items: packed }),
      claim: this.claim, index, first, count, run: job.run, pipeline: job.pipeline, cell: job.cell, attempt: job.attempt,
      maxDeliver: remote.maxDeliver, publishedAt: Date.now(), msgId: msgID, ticket: await remote.tickets.sign(msgID),
    };
    // The msgID makes a second publish of the chunk a duplicate JetStream drops, so trying again is safe.
    await retry(() => remote.js.publish(chunkSubject(this.cls, key), encodeChunk(message), { msgID }), { ...ACROSS_NATS_RESTART, signal: job.signal });
  }

  /**
   * Settles a waiter with its chunk's record: its results (from the object store if large), or its final
   * failure; a record this server does not accept is discarded and the chunk published again.
   */
  settle(waiter: Waiter, result: ChunkResult, revision: number): void {
    if (waiter.seen === revision) return;
    this.#settling(waiter, result, revision);
  }

  #settling(waiter: Waiter, result: ChunkResult, revision: number): void {
    waiter.seen = revision;
    this.#refusal(waiter, result).then((refusal) => {
      if (refusal === undefined) this.#take(waiter, result);
      else this.discard(waiter, revision, `chunk ${waiter.index}: ${refusal}, was discarded; the chunk runs again`);
    }, (err) => waiter.reject(err));
  }

  #take(waiter: Waiter, result: ChunkResult): void {
    const { job } = this;
    if (!result.ok) {
      waiter.reject(new CellarError(`${job.where}: ${describeFailure(result, waiter.first, waiter.count)}`, { retryable: result.retryable }));
      return;
    }
    const text = result.results !== undefined
      ? Promise.resolve(result.results)
      : this.remote.blobs.getBlob(result.blob!).then((bytes) => {
        if (!bytes) throw new CellarError(`${job.where}: chunk ${waiter.index}: its result object ${result.blob} is missing from ${BLOBS}`);
        return new TextDecoder().decode(bytes);
      });
    text.then((packed) => {
      const values = unpackValues(packed);
      if (values.length !== waiter.count) {
        throw new CellarError(`${job.where}: chunk ${waiter.index} returned ${values.length} results for ${waiter.count} items on worker ${result.worker}; expected one result per item`);
      }
      waiter.resolve(values);
    }).catch((err) => waiter.reject(err));
  }

  /**
   * Why the record does not count, or undefined when it does: its worker must be accepted (not revoked,
   * known), and it must answer a message of this chunk it was delivered — one of the Msg-Ids published for
   * the chunk, with the server's ticket for that id (kernel/remote/ticket.ts).
   */
  async #refusal(waiter: Waiter, result: ChunkResult): Promise<string | undefined> {
    const by = `a record of worker ${result.worker}`;
    if (!(this.remote.options.acceptWorker?.(result.worker) ?? true)) return `${by}, which this server does not accept (revoked or unknown)`;
    const answers = isMsgIdOf(result.key, result.msgId) && (waiter.msgIds.size === 0 || waiter.msgIds.has(result.msgId));
    if (!answers || !(await this.remote.tickets.verify(result.msgId, result.ticket))) {
      return `${by}, which answers no message of it delivered to that worker (message ${result.msgId}; its ticket does not verify)`;
    }
    return undefined;
  }

  /** A record that does not count: deleted (if still the one read), counted, and the chunk published again. */
  discard(waiter: Waiter, revision: number, notice: string): void {
    waiter.seen = revision;
    metrics.remoteRefusedResults.inc();
    this.job.notice(notice);
    this.remote.results.delete(waiter.key, { previousSeq: revision })
      .then(() => waiter.republish?.(republishMsgId(waiter.key, revision)))
      // Another waiter of the key deleted it first and republished under the same Msg-Id: this one answers to it too.
      .catch(() => void waiter.msgIds.add(republishMsgId(waiter.key, revision)));
  }

  /** A try of one of this map's chunks: a redelivery counts as a retry; a refusal or a failed try is logged. */
  onTry(record: { key: string; worker: string; delivery: number; state: string; error?: string | undefined }): void {
    const index = this.#keys.get(record.key);
    if (index === undefined) return;
    if (record.state === ChunkTryState.Running && record.delivery > 1) this.job.retried();
    if (record.state === ChunkTryState.Refused || record.state === ChunkTryState.Failed) {
      this.job.notice(`chunk ${index}: try ${record.delivery} on worker ${record.worker} ${record.state}: ${record.error ?? "no error given"}`);
    }
  }

  close(): void {
    this.job.signal.removeEventListener("abort", this.#onAbort);
    this.#close();
  }
}

/** The notice of a record under a waiter's key that is not a chunk result at all. */
function unreadable(waiter: Waiter, err: unknown): string {
  return `chunk ${waiter.index}: a record that is not a chunk result (${errorLine(err)}) was discarded; the chunk runs again`;
}
