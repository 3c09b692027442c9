/**
 * Remote kernels' work loop (kernel/remote/worker-loop.ts) as real worker processes on a real nats-server
 * (test/nats.ts): chunks published as kernel/remote/protocol.ts says, results read back from the results
 * bucket. ack_wait is 1 s here so that a dead or frozen worker's chunk comes back fast.
 *
 * - kill -9 a worker in the middle of a chunk at 10 points (items 0–9 of 10 chunks): every chunk's result
 *   accepted exactly once, none lost, each equal to the in-process run's;
 * - a stale worker (SIGSTOP past ack_wait, its chunk finished elsewhere, SIGCONT): its late result is
 *   discarded and counted;
 * - a chunk of another code version refused on every delivery, its final failure naming both versions;
 *   a chunk that fails on every worker fails with the workers that tried it;
 * - SIGTERM: a running chunk finishes within the drain time, one that would not is given back and finished
 *   by another worker.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { jetstream, type JetStreamClient, jetstreamManager } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openCellar, pipeline, RunState, task } from "../kernel/mod.ts";
import { codeVersion } from "../kernel/remote/code-version.ts";
import {
  BUCKETS,
  type ChunkClaim,
  type ChunkFailure,
  chunkKey,
  chunkSubject,
  consumerConfig,
  decodeResult,
  decodeTry,
  DEVICE_CLASSES,
  deviceClassOf,
  encodeChunk,
  packValues,
  STREAM,
  STREAM_CONFIG,
  tryKey,
  PROTOCOL_VERSION,
} from "../kernel/remote/protocol.ts";
import { type WorkerEvent } from "../kernel/remote/worker-loop.ts";
import { startServer } from "../server/serve.ts";
import { ROOT, tempDir, TSX } from "./helpers.ts";
import { natsForFile } from "./nats.ts";
import * as tasks from "./fixtures/remote/tasks.ts";

const ACK_WAIT_MS = 1_000;
const MAX_DELIVER = 3;
const DRAIN_MS = 1_000;
const TASKS = "test/fixtures/remote/tasks.ts";
const TASKS_URL = new URL("./fixtures/remote/tasks.ts", import.meta.url).href;
const CONSUMER = { ackWaitMs: ACK_WAIT_MS, maxDeliver: MAX_DELIVER };
const WORKER = join(ROOT, "test/fixtures/remote/worker.ts");

const nats = natsForFile();
let nc: NatsConnection;
let js: JetStreamClient;
let results: KV;
let tries: KV;
let version: string;
const markers = tempDir("cellar-remote-");
const workers: Worker[] = [];

interface Worker {
  name: string;
  child: ChildProcess;
  events: WorkerEvent[];
  stdout: string;
  exited: Promise<number | null>;
  /** Sets a spare pulling; resolves when it does. */
  go(): Promise<void>;
}

beforeAll(async () => {
  const { servers, admin } = nats();
  nc = await connect({ servers, ...admin });
  js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add(STREAM_CONFIG as never);
  for (const cls of DEVICE_CLASSES) await jsm.consumers.add(STREAM, consumerConfig(cls, CONSUMER) as never);
  results = await new Kvm(js).create(BUCKETS.results.name, { history: 1, storage: "file" as never });
  tries = await new Kvm(js).create(BUCKETS.tries.name, { history: 1, storage: "file" as never });
  await new Objm(js).create(BUCKETS.blobs.name, { storage: "file" as never });
  version = await codeVersion(TASKS_URL);
  await Promise.all([startWorker(), startWorker(), startWorker(), startWorker({ gpuOnly: true })]);
  for (let i = 0; i < 3; i++) spares.push(startWorker({ spare: true }));
});

afterAll(async () => {
  await Promise.allSettled(spares);
  for (const w of workers) w.child.kill("SIGKILL");
  await nc?.close();
});

/**
 * A worker process, resolved once it pulls. A standby one (`spare`) is resolved warm but idle: `go()` sets it
 * pulling, which is how a killed worker is replaced without waiting for a process to start.
 */
async function startWorker(options: { spare?: boolean; gpuOnly?: boolean } = {}): Promise<Worker> {
  const { servers, admin } = nats();
  const name = options.gpuOnly ? "gpu-worker" : `w${workers.length + 1}`;
  const args = [servers.join(","), admin.user, admin.pass, name, options.gpuOnly ? "0" : "1", String(DRAIN_MS), ...(options.spare ? ["standby"] : [])];
  const child = spawn(process.execPath, ["--import", TSX, WORKER, ...args], {
    stdio: [options.spare ? "pipe" : "ignore", "pipe", "pipe"],
    // One logical device on the host's adapter (lavapipe here) with a memory budget of 1 GiB.
    env: { ...process.env, ...(options.gpuOnly ? { CELLAR_DEVICES: "1", CELLAR_GPU_MEMORY: "1GiB" } : {}) },
  });
  let go = () => {};
  const ready = new Promise<void>((resolve) => (go = resolve));
  const worker: Worker = {
    name, child, events: [], stdout: "", exited: new Promise((resolve) => child.on("exit", (code) => resolve(code))),
    go: async () => {
      child.stdin!.end("go\n");
      await ready;
    },
  };
  workers.push(worker);
  // Dawn's notes on its limits are no news; anything else a worker says on stderr is.
  child.stderr!.on("data", (data: Buffer) => {
    const lines = String(data).split("\n").filter((l) => l && !l.startsWith("Warning: maxDynamic"));
    if (lines.length > 0) process.stderr.write(`${name}: ${lines.join("\n")}\n`);
  });
  let buffered = "";
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (data: Buffer) => {
      worker.stdout += data;
      buffered += data;
      for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line === "warm" && options.spare) resolve();
        else if (line === "ready") go(), resolve();
        else if (line.startsWith("{\"kind\"")) worker.events.push(JSON.parse(line));
      }
    });
    child.on("exit", (code) => reject(new Error(`worker ${name} exited (${code}) before it was ready: ${worker.stdout}`)));
  });
  return worker;
}

/** Spares started ahead, each warm. */
const spares: Array<Promise<Worker>> = [];

/** A killed worker's replacement: a spare set pulling, and another spare started while more kills are to come. */
function replaceWorker(killsToCome: number): void {
  const spare = spares.shift() ?? startWorker({ spare: true });
  if (spares.length < killsToCome) spares.push(startWorker({ spare: true }));
  spare.then((w) => w.go()).catch((err) => console.error(err));
}

function workerOf(pid: number): Worker {
  const worker = workers.find((w) => w.child.pid === pid);
  if (!worker) throw new Error(`no worker with pid ${pid}`);
  return worker;
}

/** Publishes one chunk per item list as the server does, as run `runId`; returns their keys. */
async function publish(runId: number, task: string, chunks: tasks.Item[][], options: { codeVersion?: string; claim?: ChunkClaim } = {}): Promise<string[]> {
  const keys: string[] = [];
  let first = 0;
  for (const [index, chunk] of chunks.entries()) {
    const items = packValues(chunk);
    const codeVersion = options.codeVersion ?? version;
    const ref = { module: TASKS, name: task };
    const key = chunkKey({ scope: "test", run: runId, cell: task, index, codeVersion, task: ref, items });
    const message = encodeChunk({
      v: PROTOCOL_VERSION, key, task: ref, codeVersion, items, claim: options.claim ?? null, index, first, count: chunk.length, run: runId, pipeline: "remote",
      cell: task, attempt: 1, maxDeliver: MAX_DELIVER, publishedAt: Date.now(),
      // This test plays the server and reads the records itself: no ticket to check, any string travels.
      msgId: key, ticket: "unchecked",
    });
    await js.publish(chunkSubject(deviceClassOf(options.claim ?? null), key), message, { msgID: key });
    keys.push(key);
    first += chunk.length;
  }
  return keys;
}

/** A chunk's items; `tag` names its markers. */
function items(tag: number, count: number, at: number): tasks.Item[] {
  return Array.from({ length: count }, (_, i) => ({ n: tag * 100 + i, dir: markers, chunk: tag, at }));
}

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function resultOf(key: string) {
  const entry = await results.get(key);
  return entry?.operation === "PUT" ? decodeResult(entry.value) : undefined;
}

function marker(name: string): number | undefined {
  try {
    return Number(readFileSync(join(markers, name), "utf8"));
  } catch {
    return undefined;
  }
}

describe("remote worker processes", () => {
  it("kill -9 a worker in the middle of a chunk at 10 points under a ctx.map placed remote: every result accepted once, none lost, the output equal to the in-process run's", async () => {
    // Chunk c's first delivery stops at item c; the test kills its worker there and starts another.
    const input = Array.from({ length: 10 }, (_, c) => items(100 + c, 10, c)).flat();
    const cellar = openCellar({ db: join(tempDir("cellar-remote-map-"), "cellar.duckdb"), remote: { nats: nc, consumer: CONSUMER } });
    try {
      const p = pipeline({ id: "remote_map" })
        .cell("doubled", async (ctx) => await ctx.map(input, task(TASKS_URL, "stopAt"), { placement: "remote", batchSize: 10 }));
      let ended = false;
      const running = cellar.cell(p, "doubled").finally(() => (ended = true));
      const killed = new Set<string>();
      await until("the cell to end", () => {
        for (const name of readdirSync(markers).filter((n) => n.startsWith("at-") && !n.endsWith(".tmp") && !killed.has(n))) {
          killed.add(name);
          workerOf(marker(name)!).child.kill("SIGKILL");
          replaceWorker(10 - killed.size);
        }
        return ended || undefined;
      }, 30_000);
      const result = await running;
      expect(result.state).toBe(RunState.Success);
      expect(killed.size).toBe(10);
      // The markers exist now: in this process the task runs through.
      expect(result.outputs.get("doubled")).toEqual(tasks.stopAt(input));
      // Each chunk accepted once: one accepted event per chunk key over every worker, dead ones' included.
      const accepted = () => workers.flatMap((w) => w.events).filter((e) => e.kind === "accepted" && e.key.includes(".doubled."));
      await until("the last accepted event", () => accepted().length >= 10 || undefined); // the line follows the create
      const keys = accepted().map((e) => e.key);
      expect(new Set(keys).size).toBe(10);
      expect(keys.length).toBe(10);
      for (const key of keys) expect((await resultOf(key))!.delivery, `${key} was redelivered after its worker died`).toBeGreaterThan(1);
      const jsm = await jetstreamManager(nc);
      await until("every chunk acked", async () => (await jsm.streams.info(STREAM)).state.messages === 0 || undefined);
    } finally {
      cellar.cancel(undefined, "the test ended"); // a cell still waiting on its chunks must not hold close() up
      await cellar.close();
    }
  });

  it("admits a chunk's GPU claim through the worker's own device pool: gpu 0.5 two at a time on one device, gpuMemory by its budget", async () => {
    const GiB = 2 ** 30;
    const shared = await publish(6, "onDevice", [0, 1, 2, 3].map((i) => items(600, 2, 300).map((item) => ({ ...item, chunk: 600 + i }))), { claim: { gpu: 0.5, gpuMemory: 0 } });
    const memory = await publish(7, "onDevice", [0, 1].map((i) => items(700, 2, 300).map((item) => ({ ...item, chunk: 700 + i }))), { claim: { gpu: 0.25, gpuMemory: 0.6 * GiB } });
    const [tooBig] = await publish(8, "onDevice", [items(800, 2, 0)], { claim: { gpu: 0.25, gpuMemory: 2 * GiB } });
    const records = await Promise.all([...shared, ...memory, tooBig].map((key) => until(`the record of ${key}`, () => resultOf(key))));
    expect(records.slice(0, 6).every((r) => r.ok && r.worker === "gpu-worker")).toBe(true);
    const ran = (chunks: number[]) => chunks.map((c) => JSON.parse(readFileSync(join(markers, `gpu-${c}.log`), "utf8")));
    // The most spans running at once: at each start, the spans begun by then and not yet ended.
    const overlap = (spans: Array<{ start: number; end: number }>) => Math.max(...spans.map((a) => spans.filter((b) => b.start <= a.start && a.start < b.end).length));
    const halves = ran([600, 601, 602, 603]);
    expect(halves.map((r) => [r.device, r.share])).toEqual(Array(4).fill(["gpu0", 0.5]));
    expect(overlap(halves)).toBe(2); // two halves of the one device at once, never three
    const quarters = ran([700, 701]);
    expect(quarters.map((r) => r.share)).toEqual([0.25, 0.25]);
    expect(overlap(quarters)).toBe(1); // a quarter each, but 0.6 GiB each of a 1 GiB budget: one at a time
    expect(records[6].ok).toBe(false);
    expect(!records[6].ok && records[6].error).toContain("cannot be placed: the largest device has 1 GiB of memory");
  });

  it("a stale worker (SIGSTOP past ack_wait) finds its chunk finished elsewhere: its late result is discarded and counted", async () => {
    const [key] = await publish(2, "slowOnce", [items(200, 5, 1_500)]);
    const pid = await until("the chunk to start", () => marker("slow-200"));
    const stale = workerOf(pid);
    process.kill(pid, "SIGSTOP");
    const record = await until("the chunk to be finished by another worker", () => resultOf(key));
    process.kill(pid, "SIGCONT");
    expect(record.ok && record.worker).not.toBe(stale.name);
    expect(record.ok && record.delivery).toBe(2);
    await until("the stale worker's duplicate", () => stale.events.find((e) => e.kind === "duplicate" && e.key === key));
    expect(stale.events.filter((e) => e.key === key).map((e) => e.kind)).toEqual(["duplicate"]);
    // What the server counts rejected duplicates by: the stale worker's try record.
    const staleTry = await tries.get(tryKey(key, 1));
    expect(decodeTry(staleTry!.value)).toMatchObject({ worker: stale.name, state: "duplicate" });
  });

  it("refuses a chunk of another code version on every delivery, and fails a chunk that fails on every worker, naming its tries", async () => {
    const [refused] = await publish(3, "stopAt", [items(300, 3, -1)], { codeVersion: "f00d" });
    const [failing] = await publish(3, "alwaysFails", [items(301, 3, -1)]);
    const [a, b] = await Promise.all([refused, failing].map((key) => until(`the final record of ${key}`, () => resultOf(key)))) as ChunkFailure[];
    expect(a.ok).toBe(false);
    expect(a.error).toContain(`code version f00d on the server, but ${version} on worker`);
    expect(a.tries.map((t) => t.state)).toEqual(["refused", "refused", "refused"]);
    expect(b.ok).toBe(false);
    expect(b.error).toBe("no luck with 3 items");
    expect(b.tries.map((t) => [t.delivery, t.state])).toEqual([[1, "failed"], [2, "failed"], [3, "failed"]]);
    expect(b.retryable).toBe(true);
    expect(workers.some((w) => w.events.some((e) => e.kind === "refused" && e.key === refused))).toBe(true);
  });

  it("SIGTERM drains: a running chunk finishes, one that would outlast the drain is given back and finished elsewhere", async () => {
    // The long one first: its worker is then busy, so the quick one goes to another.
    const [long] = await publish(4, "slowOnce", [items(401, 2, 20_000)]);
    const longPid = await until("the long chunk to start", () => marker("slow-401"));
    const [quick] = await publish(4, "busy", [items(400, 2, 300)]);
    const quickPid = await until("the quick chunk to start", () => {
      const name = readdirSync(markers).find((n) => n.startsWith("busy-400-") && !n.endsWith(".tmp"));
      return name ? marker(name) : undefined;
    });
    process.kill(quickPid, "SIGTERM");
    process.kill(longPid, "SIGTERM");
    const [q, l] = [workerOf(quickPid), workerOf(longPid)];
    expect(await q.exited).toBe(0);
    expect(await l.exited).toBe(0);
    expect(q.events.filter((e) => e.key === quick).map((e) => e.kind)).toEqual(["accepted"]);
    expect((await resultOf(quick))!.ok && (await resultOf(quick) as { worker: string }).worker).toBe(q.name);
    expect(l.events.filter((e) => e.key === long).map((e) => e.kind)).toEqual(["given-back"]);
    const record = await until("the given-back chunk to be finished", () => resultOf(long));
    expect(record.ok && record.worker).not.toBe(l.name);
    expect(JSON.parse(l.stdout.trim().split("\n").at(-1)!).counts.givenBack).toBe(1);
  });

  it("cellar worker joins the server, runs chunks, and on SIGTERM finishes its chunk and deregisters", async () => {
    await Promise.allSettled(spares);
    for (const w of workers) w.child.kill("SIGKILL"); // the chunk is for the CLI's worker alone
    const dir = tempDir("cellar-worker-cli-");
    const server = await startServer({ db: join(dir, "cellar.duckdb"), host: "127.0.0.1", port: 0, pipelines: dir, schedule: false, token: "s3cret", nats: nats().url });
    try {
      const child = spawn(process.execPath, [
        "--import", TSX, join(ROOT, "kernel/cli.ts"), "worker", "--server", server.url, "--token", "s3cret", "--devices", "cpu", "--name", "cli-1",
        "--capacity", "1", "--drain", "5",
      ], { stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      child.stdout.on("data", (d) => (out += d));
      child.stderr.on("data", (d) => (out += d));
      const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
      await until("the worker to join", () => out.includes("joined") || undefined);
      expect(out).toContain(`cellar worker: joined ${server.url} as cli-1 with devices cpu ×1`);
      expect(server.workers.list().map((w) => w.name)).toEqual(["cli-1"]);
      const [key] = await publish(5, "busy", [items(500, 3, 400)]);
      await until("the chunk to start", () => readdirSync(markers).some((n) => n.startsWith("busy-500-") && !n.endsWith(".tmp")) || undefined);
      child.kill("SIGTERM");
      expect(await exited, out).toBe(0);
      const record = await resultOf(key);
      expect(record!.ok && record!.worker).toBe("cli-1");
      expect(out).toContain(`cellar worker: stopped: 1 chunks done; left ${server.url}`);
      expect(server.workers.list()).toEqual([]);
    } finally {
      await server.close();
    }
  });
});
