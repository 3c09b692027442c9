// ctx.map with placement "remote" through a real nats-server (test/nats.ts): chunks over JetStream to two
// remote kernel loops (kernel/remote/worker-loop.ts's runWorker, in this process), results back through KV.
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cellar, newTicketSecret, openCellar, pipeline, RunState, task, type Pipeline } from "../kernel/mod.ts";
import type { Store } from "../kernel/store/store.ts";
import { registry } from "../kernel/prometheus.ts";
import {
  BLOBS,
  chunkKey,
  CONSUMERS,
  decodeChunk,
  decodeResult,
  encodeResult,
  encodeTry,
  mapPrefix,
  RESULTS,
  resolveTaskModule,
  scopeOf,
  STREAM,
  TRIES,
  tryKey,
  unpackValues,
  packValues,
  type TryRecord,
  PROTOCOL_VERSION,
} from "../kernel/remote/protocol.ts";
import { runWorker } from "../kernel/remote/worker-loop.ts";
import { dedupCorpus, type DedupOutput } from "../cells/dedup.ts";
import { ChunkTryState } from "../kernel/state.ts";
import { computesClosedAfterAll, storesClosedAfterEach } from "./helpers.ts";
import { natsForFile } from "./nats.ts";

const TASKS = new URL("./fixtures/tasks.ts", import.meta.url).href;
const SLOW = new URL("./fixtures/remote-tasks.ts", import.meta.url).href;
const nats = natsForFile();
const newStore = storesClosedAfterEach();
const { cpuOnly } = computesClosedAfterAll();
const ACK_WAIT_MS = 1_000;
let nc: NatsConnection;

beforeAll(async () => {
  nc = await connect({ servers: nats().servers, user: nats().admin.user, pass: nats().admin.pass, reconnectTimeWait: 100 });
});
afterAll(async () => {
  await nc?.close();
});

/**
 * A facade with remote kernels, set up (stream, buckets) before any worker binds to them; on this file's
 * connection, or (`access`) on one of its own from the servers and credentials, as `cellar serve` gives them.
 */
async function remoteCellar(options: { access?: boolean; store?: Store; refuse?: string; ticketSecret?: string } = {}): Promise<Cellar> {
  const access = { servers: nats().servers, user: nats().admin.user, pass: nats().admin.pass };
  const cellar = openCellar({
    db: options.store ?? await newStore(),
    compute: cpuOnly,
    remote: {
      nats: options.access ? access : nc,
      consumer: { ackWaitMs: ACK_WAIT_MS, maxDeliver: 2 },
      ...(options.refuse ? { acceptWorker: (name: string) => name !== options.refuse } : {}),
      ...(options.ticketSecret ? { ticketSecret: options.ticketSecret } : {}),
    },
  });
  await cellar.openRemote();
  return cellar;
}

async function execute(cellar: Cellar, p: Pipeline) {
  try {
    const result = await cellar.run(p, { date: "2026-05-03T00:00:00Z", new: true });
    return { result, detail: await cellar.show(result.runId) };
  } finally {
    await cellar.close();
  }
}

interface Worker {
  done: Promise<unknown>;
  stop(): void;
}

/** A remote kernel's loop (kernel/remote/worker-loop.ts) in this process, on this file's CPU workers. */
function worker(name: string): Worker {
  const stop = new AbortController();
  const done = cpuOnly.cpu().then((cpu) => runWorker({ nc, name, cpu, signal: stop.signal, pullExpiresMs: 1_000, drainMs: 0 }));
  return { done, stop: () => stop.abort() };
}

/**
 * A worker frozen past ack_wait, as runWorker (which sends in-progress acks) cannot be in-process —
 * test/remote-worker.test.ts freezes real worker processes with SIGSTOP. It follows protocol.ts for one
 * chunk: records its try, holds the chunk without acks until released, then writes its result by
 * first-writer-wins, losing to the worker that took the redelivery, and records the duplicate.
 */
function staleWorker(name: string): Worker & { stalled: Promise<void>; release(): void } {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let onStall!: () => void;
  const stalled = new Promise<void>((r) => (onStall = r));
  const done = (async () => {
    const js = jetstream(nc);
    const [results, tries] = [await new Kvm(js).open(RESULTS), await new Kvm(js).open(TRIES)];
    const consumer = await js.consumers.get(STREAM, CONSUMERS.cpu);
    let m = null;
    while (!m) m = await consumer.next({ expires: 1_000 });
    const chunk = decodeChunk(m.data);
    const delivery = m.info.deliveryCount;
    const record = (state: TryRecord["state"]) =>
      tries.put(tryKey(chunk.key, delivery), encodeTry({ v: PROTOCOL_VERSION, key: chunk.key, worker: name, delivery, state, at: Date.now() }));
    await record(ChunkTryState.Running);
    onStall();
    await released;
    const out = (await import(resolveTaskModule(chunk.task.module)))[chunk.task.name](unpackValues(chunk.items!));
    const result = encodeResult({
      v: PROTOCOL_VERSION, key: chunk.key, ok: true, worker: name, delivery, results: packValues(out), count: out.length, ms: 0,
      msgId: chunk.msgId, ticket: chunk.ticket,
    });
    if (!(await results.create(chunk.key, result).then(() => true, () => false))) await record(ChunkTryState.Duplicate);
    m.ack();
  })();
  return { done, stalled, release, stop: release };
}

async function stopAll(workers: Worker[]) {
  for (const w of workers) w.stop();
  await Promise.all(workers.map((w) => w.done));
}

async function metric(name: string): Promise<number> {
  const text = await registry.metrics();
  return Number(text.split("\n").find((line) => line.startsWith(`${name} `))?.slice(name.length + 1) ?? 0);
}

async function until(check: () => Promise<boolean>, ms = 5_000): Promise<void> {
  const t0 = performance.now();
  while (!(await check()) && performance.now() - t0 < ms) await new Promise((r) => setTimeout(r, 20));
}

/** crawl_seeds (600 documents, 200 of them exact copies: two sign chunks) → dedup_corpus, on `p`. */
function withDedup(p: Pipeline): Pipeline {
  const texts = Array.from({ length: 600 }, (_, i) => `document ${i % 400} about alpha beta gamma delta epsilon zeta eta theta`);
  return p.cell("crawl_seeds", { needs: [] }, async (ctx) => {
    const crawled = await ctx.table("crawled", {
      id: "VARCHAR", url: "VARCHAR", title: "VARCHAR", text: "VARCHAR", content_hash: "VARCHAR", bytes: "BIGINT",
      fetched_at: "TIMESTAMPTZ", status: "VARCHAR", etag: "VARCHAR", last_modified: "VARCHAR",
    });
    await crawled.append(texts.map((text, i) => ({
      id: `d${String(i).padStart(4, "0")}`, url: null, title: null, text, content_hash: String(i), bytes: text.length,
      fetched_at: new Date("2026-05-03T00:00:00Z"), status: "new", etag: null, last_modified: null,
    })));
    return { documents: await crawled.finish(), fetched: texts.length, unchanged: 0, failed: 0 };
  }).cell("dedup_corpus", { gpu: 0.5 }, dedupCorpus);
}

/**
 * Restarts nats-server as a slow JetStream recovery looks to a client: on the same port with the same users but
 * without JetStream, so connections come back and every JetStream request has no responder. The function it
 * resolves to starts the real server again.
 */
async function restartWithoutJetStream(): Promise<() => Promise<void>> {
  await nats().stop();
  const plainConfig = `${nats().configPath}.plain`;
  writeFileSync(plainConfig, readFileSync(nats().configPath, "utf8").replace(/^jetstream \{.*\}$/m, ""), { mode: 0o600 });
  const plain = spawn("nats-server", ["-c", plainConfig], { stdio: ["ignore", "ignore", "pipe"] });
  const exited = new Promise((resolve) => plain.on("exit", resolve));
  await new Promise<void>((resolve, reject) => {
    plain.stderr.on("data", (text: Buffer) => text.includes("Server is ready") && resolve());
    void exited.then((code) => reject(new Error(`nats-server without JetStream exited with code ${code}`)));
  });
  return async () => {
    plain.kill("SIGKILL");
    await exited;
    await nats().start();
  };
}

const squares = (n: number) => Array.from({ length: n }, (_, i) => i * i);

describe("ctx.map with placement remote", () => {
  it("runs a task's chunks on two worker loops and returns the in-process results in input order; auto spills over to them", async () => {
    // A third worker the server does not accept (as a revoked one whose shared NATS credentials still connect):
    // its records are discarded and its chunks run again elsewhere.
    const store = await newStore();
    const cellar = await remoteCellar({ refuse: "revoked", store });
    const refused = await metric("cellar_remote_refused_results_total");
    const workers = [worker("w1"), worker("w2"), worker("revoked")];
    try {
      const items = Array.from({ length: 50 }, (_, i) => i);
      const big = Array.from({ length: 100 }, (_, i) => `${i}`.padEnd(1_024, "x"));
      const remoteChunks = () => metric('cellar_chunk_latency_seconds_count{device="remote",placement="remote"}');
      let afterRemote = 0;
      const p = pipeline({ id: "remote_square", params: { dedupPlacement: "remote" } })
        .cell("m", async (ctx) => await ctx.map(items, task(TASKS, "square"), { placement: "remote", batchSize: 4 }))
        .cell("auto", async (ctx) => {
          afterRemote = await remoteChunks();
          return await ctx.map(items, task(TASKS, "square"), { placement: "auto", batchSize: 1 });
        })
        // A GPU claim with no remote kernel that has devices: the chunks run on the workers' CPU path.
        .cell("gpu", async (ctx) => await ctx.map(items, task(TASKS, "square"), { placement: "remote", gpu: 0.5, batchSize: 10 }))
        // 100 KiB of items in one chunk, and as much back: both travel through the object store.
        .cell("big", async (ctx) => await ctx.map(big, task(SLOW, "echo"), { placement: "remote", batchSize: 100 }));
      withDedup(p);
      const before = await remoteChunks();
      const { result } = await execute(cellar, p);
      expect(result.outputs.get("m")).toEqual(squares(50));
      expect(result.outputs.get("auto")).toEqual(squares(50));
      // Every one of m's 13 chunks has its accepted result in the KV, from an accepted worker. (Not counted from the
      // latency samples alone: on a loaded host a chunk held past ack_wait is redelivered and timed twice.)
      const accepted = new Map<number, string>();
      const resultsKv = await new Kvm(jetstream(nc)).open(RESULTS);
      const mPrefix = mapPrefix(scopeOf(store.path), result.runId, "m");
      for await (const key of await resultsKv.keys(`${mPrefix}.>`)) {
        accepted.set(Number(key.slice(mPrefix.length + 1).split(".")[0]), decodeResult((await resultsKv.get(key))!.value).worker);
      }
      expect([...accepted.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 13 }, (_, i) => i));
      expect(new Set(accepted.values()).has("revoked")).toBe(false);
      expect(afterRemote - before).toBeGreaterThanOrEqual(13);
      expect(result.outputs.get("gpu")).toEqual(squares(50));
      expect(result.outputs.get("big")).toEqual(big);
      const bigPrefix = mapPrefix(scopeOf(store.path), result.runId, "big");
      const blobs = (await (await new Objm(jetstream(nc)).open(BLOBS)).list()).map((info) => info.name).filter((name) => name.startsWith(bigPrefix));
      expect(blobs.filter((name) => name.endsWith(".items")).length).toBe(1);
      expect(blobs.filter((name) => /\.result\.w[12]\.1$/.test(name)).length).toBe(1);
      // The local CPU workers take the first chunks; the rest go to the remote kernels waiting for work.
      expect(await remoteChunks() - afterRemote).toBeGreaterThan(0);
      expect(await metric("cellar_remote_refused_results_total")).toBeGreaterThan(refused);
      // dedup_corpus with dedupPlacement "remote": its signature chunks went to the remote kernels, and its
      // tables are those of a run in this process alone (the default, "local").
      const sent: string[] = [];
      const tries = await new Kvm(jetstream(nc)).open(TRIES);
      for await (const key of await tries.keys(`${mapPrefix(scopeOf(store.path), result.runId, "dedup_corpus")}.>`)) sent.push(key);
      expect(sent.length).toBeGreaterThan(0);
      const alone = await openCellar({ db: await newStore(), compute: cpuOnly }).run(withDedup(pipeline({ id: "remote_square" })), { date: "2026-05-03T00:00:00Z", new: true });
      const [remoteDedup, localDedup] = [result, alone].map((r) => r.outputs.get("dedup_corpus") as DedupOutput);
      expect(remoteDedup.duplicates.rows).toBeGreaterThan(0);
      for (const table of ["documents", "duplicates", "pairs"] as const) expect(remoteDedup[table].hash).toBe(localDedup[table].hash);
    } finally {
      await stopAll(workers);
    }
  });

  it("accepts one copy of a chunk two workers finished, and counts the other as a rejected duplicate", async () => {
    const duplicates = await metric("cellar_remote_duplicate_results_total");
    const redeliveries = await metric("cellar_remote_redeliveries_total");
    const expired = await metric("cellar_remote_leases_expired_total");
    const cellar = await remoteCellar();
    const stale = staleWorker("stale");
    const workers: Worker[] = [stale];
    try {
      const p = pipeline({ id: "remote_stale" }).cell("m", async (ctx) => await ctx.map([1, 2, 3], task(TASKS, "square"), { placement: "remote" }));
      const running = cellar.run(p, { date: "2026-05-03T00:00:00Z", new: true });
      // The stale worker holds the chunk past ack_wait without in-progress acks; a fresh one takes the redelivery.
      await stale.stalled;
      workers.push(worker("fresh"));
      const result = await running;
      expect(result.outputs.get("m")).toEqual([1, 4, 9]);
      // The stale worker's late result loses the create; the server (still up: it counts) sees its duplicate record.
      stale.release();
      await until(async () => await metric("cellar_remote_duplicate_results_total") > duplicates);
      expect(await metric("cellar_remote_duplicate_results_total")).toBe(duplicates + 1);
      expect(await metric("cellar_remote_redeliveries_total")).toBe(redeliveries + 1);
      // The stale worker's try was still Running when the chunk came back: its lease expired.
      expect(await metric("cellar_remote_leases_expired_total")).toBe(expired + 1);
    } finally {
      await stopAll(workers);
      await cellar.close();
    }
  });

  it("accepts a chunk's result only from a worker that was delivered it: forged records are discarded and the chunks run", async () => {
    const refused = await metric("cellar_remote_refused_results_total");
    const cellar = await remoteCellar();
    const workers: Worker[] = [];
    try {
      const p = pipeline({ id: "remote_forged" })
        .cell("m", async (ctx) => await ctx.map([0, 1, 2, 3, 4, 5], task(TASKS, "square"), { placement: "remote", batchSize: 2 }));
      const running = cellar.run(p, { date: "2026-05-03T00:00:00Z", new: true });
      // A worker on the bus that was delivered chunk 0 only: it knows chunk 0's ticket, and can compute the
      // other chunks' keys. It answers chunk 1 with chunk 0's ticket and chunk 2 as if it were chunk 0's
      // message, with wrong results, then gives chunk 0 back.
      const js = jetstream(nc);
      const results = await new Kvm(js).open(RESULTS);
      const consumer = await js.consumers.get(STREAM, CONSUMERS.cpu);
      let m = null;
      while (!m) m = await consumer.next({ expires: 1_000 });
      const delivered = decodeChunk(m.data);
      const [scope, run, cell] = delivered.key.split(".");
      const keyOf = (index: number, items: number[]) =>
        chunkKey({ scope, run: Number(run), cell, index, codeVersion: delivered.codeVersion, task: delivered.task, items: packValues(items) });
      const forged = (key: string, msgId: string) => encodeResult({
        v: PROTOCOL_VERSION, key, ok: true, worker: "w1", delivery: 1, results: packValues([-1, -1]), count: 2, ms: 0, msgId, ticket: delivered.ticket,
      });
      const [key1, key2] = [keyOf(1, [2, 3]), keyOf(2, [4, 5])];
      await results.create(key1, forged(key1, key1));
      await results.create(key2, forged(key2, delivered.msgId));
      m.nak();
      workers.push(worker("w1"));
      const result = await running;
      expect(result.outputs.get("m")).toEqual(squares(6));
      expect(await metric("cellar_remote_refused_results_total")).toBe(refused + 2);
      const log = (await cellar.show(result.runId, { logs: true })).logs!.map((line) => line.message).join("\n");
      expect(log).toMatch(/chunk 1: a record of worker w1, which answers no message of it delivered to that worker/);
      expect(log).toMatch(/chunk 2: a record of worker w1, which answers no message of it delivered to that worker/);
    } finally {
      await stopAll(workers);
      await cellar.close();
    }
  });

  it("fails the cell when a chunk fails on every try, naming the chunk, its error and the workers; a cell retry runs it again", async () => {
    const expired = await metric("cellar_remote_leases_expired_total");
    const cellar = await remoteCellar({ access: true });
    const workers = [worker("w1"), worker("w2")];
    try {
      // The second try of the cell finds the first's final failure record under the chunk's key, deletes it,
      // and publishes the chunk again (a new Nats-Msg-Id: the duplicate window would drop the old one).
      const p = pipeline({ id: "remote_fail" }).cell("m", { retries: 1, retryDelay: "1ms" }, async (ctx) =>
        await ctx.map(Array.from({ length: 16 }, (_, i) => i), task(TASKS, "explode"), { placement: "remote", batchSize: 4 }));
      const { detail } = await execute(cellar, p);
      expect(detail.cells[0].tries).toBe(2);
      expect(detail.cells[0].error).toMatch(
        /^cell "m": ctx\.map: chunk 3 \(items 12–15\) failed after 2 tries on workers? (w1|w2)(, (w1|w2))?: RangeError: 13 is unlucky$/,
      );
      // Its redeliveries followed failed tries, given back at once: no lease expired.
      expect(await metric("cellar_remote_leases_expired_total")).toBe(expired);
    } finally {
      await stopAll(workers);
    }
  });

  it("resumes after a server restart without running a chunk already accepted (or still queued) again", async () => {
    const store = await newStore();
    const w1 = worker("w1");
    const workers = [w1];
    try {
      const items = Array.from({ length: 24 }, (_, i) => i);
      const p = pipeline({ id: "remote_resume" }).cell("m", async (ctx) =>
        await ctx.map(items, task(SLOW, "slowSquare"), { placement: "remote", batchSize: 2, concurrency: 4 }));
      // One ticket secret for both processes, as cellar serve keeps it beside the store: the results accepted
      // before the restart still verify after it.
      const ticketSecret = newTicketSecret();
      const first = await remoteCellar({ store, ticketSecret });
      first.on((e) => {
        if (e.type === "chunks" && e.done >= 4) first.cancel();
      });
      const interrupted = await first.run(p, { date: "2026-05-03T00:00:00Z", new: true });
      expect(interrupted.state).toBe(RunState.Interrupted);
      await first.close();
      // Some chunks were accepted before the cancel, not all: the resumed map finds the rest to do.
      const results = await new Kvm(jetstream(nc)).open(RESULTS);
      const accepted: string[] = [];
      for await (const key of await results.keys(`${scopeOf(store.path)}.>`)) accepted.push(key);
      expect(accepted.length).toBeGreaterThanOrEqual(4);
      expect(accepted.length).toBeLessThan(12);
      // A new facade on the same store: the server restarted.
      const second = await remoteCellar({ store, ticketSecret });
      try {
        const resumed = await second.resume(interrupted.runId, { pipeline: p });
        expect(resumed.outputs.get("m")).toEqual(squares(24));
      } finally {
        await second.close();
      }
      // Each of the 12 chunks ran once, on its first delivery: none again after the restart.
      await stopAll(workers);
      expect(await w1.done).toMatchObject({ done: 12, duplicates: 0, skipped: 0, retried: 0 });
      const tries = await new Kvm(jetstream(nc)).open(TRIES);
      const keys: string[] = [];
      for await (const key of await tries.keys(`${scopeOf(store.path)}.>`)) keys.push(key);
      expect(keys.sort()).toEqual(keys.map((key) => key.replace(/\.\d+$/, ".1")).sort());
    } finally {
      await stopAll(workers);
    }
  });

  it("completes a run across a nats-server restart (file storage): the chunks, the results and the watchers come back", async () => {
    const cellar = await remoteCellar();
    const workers = [worker("w1")];
    try {
      const items = Array.from({ length: 24 }, (_, i) => i);
      let restarted: Promise<void> | undefined;
      cellar.on((e) => {
        if (e.type === "chunks" && e.done >= 3) restarted ??= nats().restart();
      });
      const p = pipeline({ id: "remote_nats_restart" }).cell("m", async (ctx) =>
        await ctx.map(items, task(SLOW, "slowSquare"), { placement: "remote", batchSize: 2, concurrency: 4 }));
      const { result, detail } = await execute(cellar, p);
      expect(restarted).toBeDefined();
      await restarted;
      // A failed run says why (its cell's error), not only that the output is missing. On a loaded host it failed with
      // "TimeoutError: timeout": a JetStream request of the server's side outlasted nats.js's 5 s default across the restart.
      expect({ state: result.state, error: detail.cells[0]?.error ?? null }).toEqual({ state: RunState.Success, error: null });
      expect(result.outputs.get("m")).toEqual(squares(24));
    } finally {
      await stopAll(workers);
    }
  });

  it("completes a run started while, after a restart, the server takes connections and JetStream does not answer yet", async () => {
    const cellar = await remoteCellar();
    const workers = [worker("w1")];
    try {
      const restore = await restartWithoutJetStream();
      // The client is back on the server: from now on every JetStream request has no responder, until restore().
      await until(() => nc.flush().then(() => true, () => false));
      const restored = new Promise((resolve) => setTimeout(resolve, 1_500)).then(restore);
      const p = pipeline({ id: "remote_js_late" }).cell("m", async (ctx) =>
        await ctx.map(Array.from({ length: 24 }, (_, i) => i), task(SLOW, "slowSquare"), { placement: "remote", batchSize: 2, concurrency: 4 }));
      const { result, detail } = await execute(cellar, p);
      await restored;
      // Before: a chunk's first look-up (a KV direct get) failed the cell with "RequestError: no responders: '$JS.API.DIRECT.GET…'";
      // CI saw the same window as "JetStreamNotEnabled: jetstream is not enabled", nats.js's error for a publish with no responder.
      expect({ state: result.state, error: detail.cells[0]?.error ?? null }).toEqual({ state: RunState.Success, error: null });
      expect(result.outputs.get("m")).toEqual(squares(24));
    } finally {
      await stopAll(workers);
    }
  });

  it("refuses an inline function with placement remote in one line", async () => {
    const p = pipeline({ id: "remote_inline" }).cell("m", async (ctx) => await ctx.map([1], (chunk: number[]) => chunk, { placement: "remote" }));
    const { detail } = await execute(await remoteCellar(), p);
    expect(detail.cells[0].error).toBe(
      'cell "m": ctx.map: placement "remote" needs a task(import.meta.url, "name") handle; an inline function cannot leave this process',
    );
  });
});
