/**
 * The wire protocol between the server (which publishes a `ctx.map`'s chunks)
 * and remote kernels (`cellar worker`, which run them), over NATS JetStream.
 * Pure data and small functions: both sides build against this module, and
 * nothing here opens a connection.
 *
 * **The queue.** One stream, {@link STREAM} (`CELLAR_CHUNKS`): work-queue
 * retention (a message leaves the stream when acked or terminated), file
 * storage (chunks survive a nats-server restart), subjects `cellar.chunks.>`,
 * a duplicate window of {@link DUPLICATE_WINDOW_MS} for `Nats-Msg-Id`. A
 * chunk's subject is `cellar.chunks.<class>.<chunk key>` ({@link chunkSubject}):
 * `<class>` is `cpu` or `gpu` (a chunk with a GPU claim, when a remote kernel
 * with devices has joined; without one its claim travels on `cpu`, and a
 * worker without devices runs it on its CPU path), and a work-queue
 * stream wants consumers with disjoint filters, so there is one durable pull
 * consumer per class ({@link CONSUMERS}, {@link consumerConfig}): explicit ack,
 * `ack_wait` (default 30 s; a worker sends an in-progress ack every
 * ack_wait / 3, {@link inProgressEveryMs}), `max_deliver` (default 4: Ray's 3
 * retries), `max_ack_pending` (default 256: the chunks out at workers at once,
 * cluster-wide, per class). Every worker pulls `cpu`; a worker with devices
 * pulls `gpu` too. The server creates the stream, consumers and buckets
 * ({@link STREAM_CONFIG}, {@link BUCKETS}); workers only bind to them.
 *
 * **A chunk** ({@link ChunkMessage}): JSON, published with header
 * `Nats-Msg-Id` = its {@link chunkKey} (a republish after a recorded final
 * failure uses {@link republishMsgId}, which the duplicate window would
 * otherwise drop). It names the task by module (relative to the project root:
 * {@link taskModuleRef}) and export, the code version the server computed for
 * that module, the items ({@link packValues}: JSON with typed arrays and
 * bigints tagged), the GPU claim (admitted by the pool of the worker that takes
 * it), the chunk's index and first item, and run / cell / attempt for display.
 * Items over {@link INLINE_LIMIT_BYTES} go to the object store {@link BLOBS}
 * under `<chunk key>.items`, and the message carries `itemsBlob` instead.
 * It also carries its Msg-Id and the server's **ticket** for it (an HMAC only
 * the server can make, kernel/remote/ticket.ts), which every record answering
 * it must carry: the server accepts a record only from a worker that was
 * delivered the message it answers.
 *
 * **The chunk key**, `<scope>.<run>.<cell>.<index>.<digest>`: scope (the
 * server's store, so that two servers on one NATS do not meet), run id, cell
 * name ({@link keyToken}), chunk index, and a digest of the code version,
 * task, and items. The issue lists the cell's attempt in the key too; it is
 * left out on purpose: a cell that is retried, or resumed after a server
 * restart, runs as a new attempt (runner.ts's tryCell starts at the store's
 * highest try + 1), and with the attempt in the key every chunk already
 * accepted would run again — the opposite of "after a server restart, chunks
 * already accepted are not run again". Without it, a new attempt of the same
 * cell over the same items with the same code finds the accepted results under
 * the same keys; anything that changes the result (items, batch size, code)
 * changes the key. The attempt stays in the message and in the records, for
 * display.
 *
 * **A result** ({@link ChunkResult}) is accepted by a first-writer-wins
 * `kv.create(chunkKey, …)` in the KV bucket {@link RESULTS}: the worker whose
 * create succeeds acks the message; a worker whose create fails (someone else
 * finished first; a JetStream ack is not a fence, nats-server #6937) discards
 * its copy, acks, and sets its try record to Duplicate, which is how the
 * server counts rejected duplicates (`cellar_remote_duplicate_results_total`).
 * Before it runs a chunk a worker also looks the key up in {@link RESULTS}:
 * a chunk already accepted (a redelivery after a lost ack) is acked unrun.
 * A success names the worker and carries the results, or — over {@link INLINE_LIMIT_BYTES} — `blob`, the object
 * {@link resultBlobName} (written before the create, unique per worker and
 * delivery so two writers never clobber one object; the loser deletes its own).
 * A final failure is a record in the same bucket, by the same create: it
 * names the chunk, its last error, and every try.
 *
 * **Tries** ({@link TryRecord}) are recorded in the KV bucket {@link TRIES}
 * under `<chunk key>.<delivery>` ({@link tryKey}), in the states of
 * ChunkTryState (kernel/state.ts): Running when a delivery starts (so a worker
 * killed mid-chunk is still named), then Failed (the task threw), Refused (its
 * own code version of the module differs from the chunk's: the error names
 * both, and the server logs it in the cell's log) or Duplicate (see above); a
 * worker names itself as it joined. A failed
 * or refused try naks with delay {@link nakDelayMs} — unless it is the last
 * delivery (`deliveryCount >= maxDeliver`, the consumer's max_deliver, copied
 * into the message) or the error is not retryable (a CellarError: bad input
 * fails the same everywhere; a refusal on the last delivery is not retryable
 * either); then the worker reads every try of the chunk
 * (`kv.keys("<chunk key>.*")` in {@link TRIES}), writes the final failure
 * record, and terminates the message (`term()`, which removes it from the
 * work queue). The server watches both buckets under its scope: results for
 * the maps waiting on them, tries for redeliveries, duplicates and refusals
 * (logged in the cell's log). Both buckets keep one value per key
 * for {@link RECORDS_MAX_AGE_MS}: the run's checkpoint is the durable copy.
 *
 * Worker heartbeats, registration and credentials go over the server's HTTP
 * API (kernel/remote/join.ts), not over NATS: there are no heartbeat subjects.
 *
 * @example
 * ```ts
 * import { chunkKey, decodeChunk, encodeChunk, packValues } from "./protocol.ts";
 *
 * const items = packValues([1, 2, 3]);
 * const key = chunkKey({ scope: "a1b2c3", run: 7, cell: "embed docs", index: 0, codeVersion: "v1", task: { module: "cells/dedup.ts", name: "minhashChunk" }, items });
 * // key → "a1b2c3.7.embed=20docs.0.<24 hex>"
 * const bytes = encodeChunk({
 *   v: 2, key, task: { module: "cells/dedup.ts", name: "minhashChunk" }, codeVersion: "v1", items, claim: null,
 *   index: 0, first: 0, count: 3, run: 7, pipeline: "dedup", cell: "embed docs", attempt: 1, maxDeliver: 4, publishedAt: Date.now(),
 *   msgId: key, ticket: "…", // from the server's ChunkTickets
 * });
 * decodeChunk(bytes).key === key; // → true
 * ```
 */
import { z } from "zod";
import { CellarError } from "../errors.ts";
import { sha256 } from "../hash.ts";
import { ChunkTryState } from "../state.ts";

/** 2: chunks and records carry their Nats-Msg-Id and its ticket (kernel/remote/ticket.ts). */
export const PROTOCOL_VERSION = 2;

// ---- Names ------------------------------------------------------------------------------------------------------

export const STREAM = "CELLAR_CHUNKS";
export const SUBJECT_ROOT = "cellar.chunks";
/** KV bucket: chunk key → ChunkResult (first writer wins). */
export const RESULTS = "cellar_results";
/** KV bucket: `<chunk key>.<delivery>` → TryRecord. */
export const TRIES = "cellar_tries";
/** Object store: large items and results. */
export const BLOBS = "cellar_blobs";

export type DeviceClass = "cpu" | "gpu";
export const DEVICE_CLASSES: readonly DeviceClass[] = ["cpu", "gpu"];
/** The durable pull consumer of each class. */
export const CONSUMERS: Record<DeviceClass, string> = { cpu: "cellar-cpu", gpu: "cellar-gpu" };

/** Items or results above this many bytes (encoded) go through the object store: NATS's default max_payload is 1 MiB. */
export const INLINE_LIMIT_BYTES = 64 * 1024;
/** How long JetStream remembers a Nats-Msg-Id: covers a server restart that republishes a map's unaccepted chunks. */
export const DUPLICATE_WINDOW_MS = 60 * 60_000;
/** How long result and try records are kept: long enough for any resume; the checkpoint is the durable copy. */
export const RECORDS_MAX_AGE_MS = 7 * 24 * 3_600_000;

export const DEFAULT_ACK_WAIT_MS = 30_000;
export const DEFAULT_MAX_DELIVER = 4;
export const DEFAULT_MAX_ACK_PENDING = 256;

/** The stream as the server creates it (JetStream's field names; durations in nanoseconds). */
export const STREAM_CONFIG = {
  name: STREAM,
  subjects: [`${SUBJECT_ROOT}.>`],
  retention: "workqueue",
  storage: "file",
  duplicate_window: DUPLICATE_WINDOW_MS * 1e6,
} as const;

/** The KV buckets and the object store as the server creates them. */
export const BUCKETS = {
  results: { name: RESULTS, history: 1, ttlMs: RECORDS_MAX_AGE_MS, storage: "file" },
  tries: { name: TRIES, history: 1, ttlMs: RECORDS_MAX_AGE_MS, storage: "file" },
  blobs: { name: BLOBS, ttlMs: RECORDS_MAX_AGE_MS, storage: "file" },
} as const;

export interface ConsumerOptions {
  ackWaitMs?: number;
  maxDeliver?: number;
  maxAckPending?: number;
}

/** The durable pull consumer of one device class (JetStream's field names; ack_wait in nanoseconds). */
export function consumerConfig(cls: DeviceClass, options: ConsumerOptions = {}) {
  const ackWaitMs = options.ackWaitMs ?? DEFAULT_ACK_WAIT_MS;
  const maxDeliver = options.maxDeliver ?? DEFAULT_MAX_DELIVER;
  const maxAckPending = options.maxAckPending ?? DEFAULT_MAX_ACK_PENDING;
  for (const [name, value] of [["ackWaitMs", ackWaitMs], ["maxDeliver", maxDeliver], ["maxAckPending", maxAckPending]] as const) {
    if (!Number.isInteger(value) || value < 1) throw new CellarError(`remote consumer ${name} ${value}; expected a whole number ≥ 1`);
  }
  return {
    durable_name: CONSUMERS[cls],
    filter_subject: `${SUBJECT_ROOT}.${cls}.>`,
    ack_policy: "explicit",
    deliver_policy: "all",
    ack_wait: ackWaitMs * 1e6,
    max_deliver: maxDeliver,
    max_ack_pending: maxAckPending,
  } as const;
}

/** How often a worker sends an in-progress ack while it runs a chunk: three per ack_wait, so one lost one is not fatal. */
export function inProgressEveryMs(ackWaitMs: number): number {
  return Math.max(100, Math.floor(ackWaitMs / 3));
}

/** The nak delay after the `delivery`-th try failed: 250 ms, doubling, at most 10 s. */
export function nakDelayMs(delivery: number): number {
  return Math.min(10_000, 250 * 2 ** Math.max(0, delivery - 1));
}

// ---- Keys -------------------------------------------------------------------------------------------------------

/**
 * A string as one token of a KV key or subject (`[A-Za-z0-9_-]` kept, any other byte as `=HH`): reversible,
 * readable for plain names, and never a `.`, `*` or `>`.
 */
export function keyToken(text: string): string {
  let out = "";
  for (const byte of new TextEncoder().encode(text)) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9_-]/.test(c) ? c : `=${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out === "" ? "=" : out;
}

export interface TaskRef {
  /** The module, relative to the project root (`cells/dedup.ts`), or its URL when outside it. */
  module: string;
  /** The export's name. */
  name: string;
}

export interface ChunkKeyParts {
  /** The server's store ({@link scopeOf}); a `[A-Za-z0-9_-]+` token. */
  scope: string;
  run: number;
  cell: string;
  index: number;
  codeVersion: string;
  task: TaskRef;
  /** The items as packed into the message ({@link packValues}). */
  items: string;
}

/** The chunk's deterministic key (see the module doc for why the attempt is not part of it). */
export function chunkKey(parts: ChunkKeyParts): string {
  if (!/^[A-Za-z0-9_-]+$/.test(parts.scope)) throw new CellarError(`chunk key scope ${JSON.stringify(parts.scope)}; expected [A-Za-z0-9_-]+`);
  const digest = sha256(`${parts.codeVersion}\n${parts.task.module}#${parts.task.name}\n${parts.items}`).slice(0, 24);
  return `${mapPrefix(parts.scope, parts.run, parts.cell)}.${parts.index}.${digest}`;
}

/** The key prefix of every chunk of one cell of one run: what the server watches. */
export function mapPrefix(scope: string, run: number, cell: string): string {
  return `${scope}.${run}.${keyToken(cell)}`;
}

/** A store's scope token: a short hash of what identifies it (its path). */
export function scopeOf(storeId: string): string {
  return sha256(storeId).slice(0, 12);
}

export function chunkSubject(cls: DeviceClass, key: string): string {
  return `${SUBJECT_ROOT}.${cls}.${key}`;
}

/** The class a chunk's claim asks for (the server sends it on `cpu` when no remote kernel has devices). */
export function deviceClassOf(claim: ChunkClaim | null): DeviceClass {
  return claim && claim.gpu > 0 ? "gpu" : "cpu";
}

/** The Nats-Msg-Id of a chunk published again after the final failure record of revision `failureRevision`. */
export function republishMsgId(key: string, failureRevision: number): string {
  return `${key}.r${failureRevision}`;
}

/** Whether `msgId` is one the chunk `key` is published under: the key itself, or a {@link republishMsgId} of it. */
export function isMsgIdOf(key: string, msgId: string): boolean {
  return msgId === key || (msgId.startsWith(`${key}.r`) && /^\d+$/.test(msgId.slice(key.length + 2)));
}

/** A try record's key. */
export function tryKey(key: string, delivery: number): string {
  return `${key}.${delivery}`;
}

/** The object of a large result: unique per worker and delivery, so two writers never write one object. */
export function resultBlobName(key: string, worker: string, delivery: number): string {
  return `${key}.result.${keyToken(worker)}.${delivery}`;
}

export function itemsBlobName(key: string): string {
  return `${key}.items`;
}

/** This checkout's root, against which task modules are named on the wire. */
export const PROJECT_ROOT = new URL("../../", import.meta.url).href;

/** A task module as the wire names it: relative to the project root when under it, so that it resolves on any checkout. */
export function taskModuleRef(moduleUrl: string, rootUrl: string = PROJECT_ROOT): string {
  const root = rootUrl.endsWith("/") ? rootUrl : `${rootUrl}/`;
  return moduleUrl.startsWith(root) ? moduleUrl.slice(root.length) : moduleUrl;
}

/** A wire module name as this kernel's import URL. */
export function resolveTaskModule(ref: string, rootUrl: string = PROJECT_ROOT): string {
  if (/^(file|https?):/.test(ref)) return ref;
  if (ref.split("/").includes("..")) throw new CellarError(`task module ${JSON.stringify(ref)}; expected a path inside the project`);
  return new URL(ref, rootUrl.endsWith("/") ? rootUrl : `${rootUrl}/`).href;
}

// ---- Values -----------------------------------------------------------------------------------------------------

const TYPED = {
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, Float32Array, Float64Array,
  BigInt64Array, BigUint64Array,
} as const;
type TypedName = keyof typeof TYPED;
const TAG = "$cellar";

/**
 * Values as JSON text, with what task chunks pass and JSON cannot hold tagged: typed arrays (as base64 of
 * their bytes, little-endian as every machine Cellar runs on) and bigints. An object that itself has a
 * `$cellar` key is wrapped, so decoding never mistakes user data for a tag.
 */
export function packValues(values: unknown[]): string {
  return JSON.stringify(values.map(toWire));
}

export function unpackValues(text: string): unknown[] {
  const parsed: unknown = JSON.parse(text);
  if (!Array.isArray(parsed)) throw new CellarError(`packed values: expected a JSON array, got ${typeof parsed}`);
  return parsed.map(fromWire);
}

function toWire(value: unknown): unknown {
  if (typeof value === "bigint") return { [TAG]: "bigint", value: value.toString() };
  if (value === undefined) return null;
  if (typeof value !== "object" || value === null) return value;
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    // By instanceof, so that a subclass (Node's Buffer) travels as its base type.
    const name = (Object.keys(TYPED) as TypedName[]).find((n) => value instanceof TYPED[n]);
    if (!name) throw new CellarError(`packed values: a ${value.constructor.name} cannot be sent to a remote kernel`);
    return { [TAG]: name, base64: toBase64(new Uint8Array(value.buffer, value.byteOffset, value.byteLength)) };
  }
  if (Array.isArray(value)) return value.map(toWire);
  if (value instanceof Date) return value.toISOString();
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = toWire(v);
  return TAG in out ? { [TAG]: "object", value: out } : out;
}

function fromWire(value: unknown): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) return value.map(fromWire);
  const record = value as Record<string, unknown>;
  const tag = record[TAG];
  if (tag === "bigint") return BigInt(String(record.value));
  if (tag === "object") return Object.fromEntries(Object.entries(record.value as Record<string, unknown>).map(([k, v]) => [k, fromWire(v)]));
  if (typeof tag === "string" && tag in TYPED) {
    const bytes = fromBase64(String(record.base64));
    const Type = TYPED[tag as TypedName];
    return new Type(bytes.buffer, bytes.byteOffset, bytes.byteLength / Type.BYTES_PER_ELEMENT);
  }
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, fromWire(v)]));
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  // A fresh buffer, aligned for any element size.
  const bytes = new Uint8Array(new ArrayBuffer(binary.length));
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

// ---- Messages ---------------------------------------------------------------------------------------------------

const Claim = z.object({ gpu: z.number().positive(), gpuMemory: z.number().nonnegative() });
export type ChunkClaim = z.infer<typeof Claim>;

const Task = z.object({ module: z.string().min(1), name: z.string().min(1) });
const Key = z.string().regex(/^[-/_=.a-zA-Z0-9]+$/);

/** The message a record answers, as its writer was delivered it: its Nats-Msg-Id and the server's ticket for that id. */
const Delivery = z.object({ msgId: Key, ticket: z.string().min(1) });

const Chunk = z.object({
  v: z.literal(PROTOCOL_VERSION),
  key: Key,
  task: Task,
  codeVersion: z.string().min(1),
  /** packValues of the items; absent when they are in the object store under itemsBlob. */
  items: z.string().optional(),
  itemsBlob: z.string().optional(),
  claim: Claim.nullable(),
  index: z.number().int().nonnegative(),
  /** The index of the chunk's first item in the map's input. */
  first: z.number().int().nonnegative(),
  /** How many items: a result must have this many. */
  count: z.number().int().positive(),
  run: z.number().int().nonnegative(),
  pipeline: z.string(),
  cell: z.string(),
  attempt: z.number().int().nonnegative(),
  /** The consumer's max_deliver when published: the delivery that is the chunk's last. */
  maxDeliver: z.number().int().positive(),
  publishedAt: z.number(),
  ...Delivery.shape,
}).refine((c) => (c.items === undefined) !== (c.itemsBlob === undefined), { message: "exactly one of items and itemsBlob" });
export type ChunkMessage = z.infer<typeof Chunk>;

const Try = z.object({
  v: z.literal(PROTOCOL_VERSION),
  key: Key,
  worker: z.string().min(1),
  delivery: z.number().int().positive(),
  state: z.enum([ChunkTryState.Running, ChunkTryState.Failed, ChunkTryState.Refused, ChunkTryState.Duplicate]),
  error: z.string().optional(),
  at: z.number(),
});
export type TryRecord = z.infer<typeof Try>;

const Success = z.object({
  v: z.literal(PROTOCOL_VERSION),
  key: Key,
  ok: z.literal(true),
  worker: z.string().min(1),
  delivery: z.number().int().positive(),
  /** packValues of the results; absent when they are in the object store under blob. */
  results: z.string().optional(),
  blob: z.string().optional(),
  count: z.number().int().nonnegative(),
  /** The task's run time on the worker. */
  ms: z.number().nonnegative(),
  ...Delivery.shape,
}).refine((r) => (r.results === undefined) !== (r.blob === undefined), { message: "exactly one of results and blob" });

const Failure = z.object({
  v: z.literal(PROTOCOL_VERSION),
  key: Key,
  ok: z.literal(false),
  /** The worker that wrote the record (its try was the last). */
  worker: z.string().min(1),
  delivery: z.number().int().positive(),
  error: z.string(),
  /** Whether a new attempt of the cell could help (the last error's retryability). */
  retryable: z.boolean(),
  /** The message's attempt, for display, and so a later attempt knows the record is an earlier one's. */
  attempt: z.number().int().nonnegative(),
  tries: z.array(Try),
  ...Delivery.shape,
});

export type ChunkSuccess = z.infer<typeof Success>;
export type ChunkFailure = z.infer<typeof Failure>;
export type ChunkResult = ChunkSuccess | ChunkFailure;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeChunk(chunk: ChunkMessage): Uint8Array {
  return encoder.encode(JSON.stringify(Chunk.parse(chunk)));
}

export function decodeChunk(bytes: Uint8Array): ChunkMessage {
  return decode(Chunk, bytes, "chunk message");
}

export function encodeResult(result: ChunkResult): Uint8Array {
  return encoder.encode(JSON.stringify(result.ok ? Success.parse(result) : Failure.parse(result)));
}

export function decodeResult(bytes: Uint8Array): ChunkResult {
  const raw = parseJson(bytes, "chunk result");
  const schema = (raw as { ok?: unknown })?.ok === false ? Failure : Success;
  return check(schema, raw, "chunk result");
}

export function encodeTry(record: TryRecord): Uint8Array {
  return encoder.encode(JSON.stringify(Try.parse(record)));
}

export function decodeTry(bytes: Uint8Array): TryRecord {
  return decode(Try, bytes, "try record");
}

/** The final failure's one line: the chunk, its last error, and the workers that tried it. */
export function describeFailure(failure: ChunkFailure, first: number, count: number): string {
  const index = failure.key.split(".").at(-2);
  const workers = [...new Set(failure.tries.map((t) => t.worker))];
  const tries = failure.tries.length;
  return `chunk ${index} (items ${first}–${first + count - 1}) failed after ${tries} ${tries === 1 ? "try" : "tries"} on ${
    workers.length === 1 ? "worker" : "workers"
  } ${workers.join(", ")}: ${failure.error}`;
}

function decode<S extends z.ZodType>(schema: S, bytes: Uint8Array, what: string): z.infer<S> {
  return check(schema, parseJson(bytes, what), what);
}

function parseJson(bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(decoder.decode(bytes));
  } catch {
    throw new CellarError(`${what}: not JSON (${bytes.length} bytes)`);
  }
}

function check<S extends z.ZodType>(schema: S, raw: unknown, what: string): z.infer<S> {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const v = (raw as { v?: unknown })?.v;
    const version = v !== PROTOCOL_VERSION ? ` (protocol version ${JSON.stringify(v)}; this kernel speaks ${PROTOCOL_VERSION})` : "";
    throw new CellarError(`${what}: ${issue.path.join(".") || "value"}: ${issue.message}${version}`);
  }
  return parsed.data;
}
