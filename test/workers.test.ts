/**
 * The control plane for remote kernels (issue 12, items 1, 2, 6 and 7): `cellar serve` with `--nats-local`
 * (a real nats-server from PATH, JetStream files beside the store, a generated password, 127.0.0.1), workers
 * joining with the join token over real HTTP (kernel/remote/join.ts), heartbeats, lost after missed ones,
 * leave, revoke — its HTTP calls refused, its NATS user removed and its open connection closed by the
 * reload — `cellar workers` as a real process, the devices page and `cellar_workers{state}` on /metrics.
 */
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { KvWatchInclude, Kvm } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codeVersions } from "../kernel/remote/code-version.ts";
import { joinServer, JoinRefused, type Joined } from "../kernel/remote/join.ts";
import { processAlive } from "../kernel/runtime/node.ts";
import { type RunningServer, startServer } from "../server/serve.ts";
import { parseNatsUrl, RevokedNames, sharedNatsControl, WorkerNames, WorkerRegistry } from "../server/workers.ts";
import { pipeline, RunState, task } from "../kernel/mod.ts";
import { runWorker } from "../kernel/remote/worker-loop.ts";
import {
  CONSUMERS, decodeChunk, decodeResult, encodeResult, mapPrefix, packValues, PROTOCOL_VERSION, resolveTaskModule, RESULTS, scopeOf, STREAM, unpackValues,
} from "../kernel/remote/protocol.ts";
import { registry } from "../kernel/prometheus.ts";
import { cli, computesClosedAfterAll, ROOT, tempDir, TSX } from "./helpers.ts";

const TASKS = new URL("./fixtures/tasks.ts", import.meta.url).href;

const ADMIN = "operator-token";
const JOIN = "join-token";
const HEARTBEAT_MS = 150;
const dir = tempDir("cellar-workers-");
const db = join(dir, "cellar.duckdb");
let server: RunningServer;
const devices = [{ id: "gpu0", kind: "gpu" as const, description: "lavapipe <b>", budget: 1, memoryBytes: 8 * 2 ** 30 }, { id: "cpu", kind: "cpu" as const, budget: 2, memoryBytes: 0 }];

/** The server's own NATS user: what a worker holding shared --nats credentials could connect as. */
let adminNc: NatsConnection;

beforeAll(async () => {
  mkdirSync(join(dir, "pipelines"));
  server = await startServer({
    db, host: "127.0.0.1", port: 0, pipelines: join(dir, "pipelines"), schedule: false,
    token: ADMIN, joinToken: JOIN, natsLocal: true, workerHeartbeatMs: HEARTBEAT_MS,
  });
  adminNc = await connect({ servers: server.nats!.servers, user: server.nats!.user!, pass: server.nats!.pass! });
});
afterAll(async () => {
  await adminNc?.close();
  await server?.close();
});

const admin = (path: string, init: RequestInit = {}) =>
  fetch(`${server.url}${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN}`, ...(init.headers as Record<string, string> | undefined) } });
const join_ = async (name: string, token = JOIN) =>
  await joinServer({ server: server.url, token, name, devices, codeVersions: await codeVersions([new URL("../cells/dedup.ts", import.meta.url).href]), host: "box-1" });
const refusal = async (p: Promise<unknown>) => {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(JoinRefused);
  return err as JoinRefused;
};
const metric = async (state: string) => Number((await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).text()).match(new RegExp(`^cellar_workers\\{state="${state}"\\} (\\d+)`, "m"))?.[1]);

describe("cellar serve --nats-local", () => {
  it("runs a nats-server beside the store, on 127.0.0.1, with a password in a 0600 config", async () => {
    const nats = server.localNats!;
    expect(nats.dir).toBe(`${db}.nats`);
    expect(server.nats!.servers).toEqual([`nats://127.0.0.1:${nats.port}`]);
    expect(statSync(nats.configPath).mode & 0o777).toBe(0o600);
    await expect(connect({ servers: server.nats!.servers, reconnect: false })).rejects.toThrow(/auth/i);
    const nc = await connect({ servers: server.nats!.servers, user: server.nats!.user!, pass: server.nats!.pass!, reconnect: false });
    await nc.close();
  });

  it("sets up the chunk stream, its consumers and the results bucket at start, before any remote map", async () => {
    const jsm = await jetstreamManager(adminNc);
    expect((await jsm.streams.info(STREAM)).config.name).toBe(STREAM);
    expect((await jsm.consumers.info(STREAM, CONSUMERS.gpu)).config.durable_name).toBe(CONSUMERS.gpu);
    expect((await (await new Kvm(jetstream(adminNc)).open(RESULTS)).status()).bucket).toBe(RESULTS);
  });
});

describe("cellar serve --nats-local, the process", () => {
  it("says where workers join, takes CELLAR_JOIN_TOKEN, and stops its nats-server on SIGINT", async () => {
    const own = join(dir, "own");
    mkdirSync(own);
    const child = spawn(process.execPath, ["--import", TSX, join(ROOT, "kernel/cli.ts"), "--db", join(own, "c.duckdb"), "serve", "--port", "0", "--nats-local", "--pipelines", join(dir, "pipelines")], {
      cwd: own, env: { ...process.env, CELLAR_JOIN_TOKEN: "from-env" },
    });
    let stdout = "";
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const [, url, pid, servers] = await new Promise<RegExpExecArray>((resolve, reject) => {
      child.stdout.on("data", (d) => {
        stdout += d;
        const match = /remote kernels join at (http:\S+)\/api\/v1\/workers; a nats-server of its own \(pid (\d+), files in \S+\) at (\S+)\n/.exec(stdout);
        if (match) resolve(match);
      });
      child.on("close", () => reject(new Error(`cellar serve exited: ${stderr}`)));
    });
    expect(servers).toMatch(/^nats:\/\/127\.0\.0\.1:\d+$/);
    expect((await refusal(joinServer({ server: url, name: "p1", devices: [], codeVersions: {} }))).status).toBe(401);
    expect((await joinServer({ server: url, token: "from-env", name: "p1", devices: [], codeVersions: {} })).nats.servers).toEqual([servers]);
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    child.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(processAlive(Number(pid))).toBe(false);
  }, 30_000);
});

describe("cellar serve's NATS in ctx.map", () => {
  const { cpuOnly } = computesClosedAfterAll();

  it("sends a remote map's chunks to a joined worker on its own restricted NATS user, and gets them back in order", async () => {
    const joined = await join_("mapper");
    // With the inbox prefix the join gave: the only subjects its user may subscribe to (where its pulls are answered).
    const wnc = await connect({ servers: joined.nats.servers, user: joined.nats.user!, pass: joined.nats.pass!, inboxPrefix: joined.nats.inboxPrefix! });
    const stop = new AbortController();
    const troubles: string[] = [];
    try {
      // No remote map ran yet: the server set up the stream at start, so the worker does not wait for it.
      const loop = runWorker({ nc: wnc, name: "mapper", cpu: await cpuOnly.cpu(), signal: stop.signal, pullExpiresMs: 1_000, drainMs: 0, onError: (line) => troubles.push(line) });
      const squares = pipeline({ id: "squares" })
        .cell("m", async (ctx) => await ctx.map([1, 2, 3, 4, 5, 6, 7], task(TASKS, "square"), { placement: "remote", batchSize: 2 }));
      const result = await server.cellar.run(squares, { date: "2026-05-03T00:00:00Z", new: true });
      expect(result.state).toBe(RunState.Success);
      expect(result.outputs.get("m")).toEqual([1, 4, 9, 16, 25, 36, 49]);
      stop.abort();
      expect((await loop).done).toBe(4);
      expect(troubles).toEqual([]);
    } finally {
      stop.abort();
      await wnc.close();
      await joined.leave();
    }
  });
});

describe("workers", () => {
  let w1: Joined;
  let nc: NatsConnection;
  let beating: ReturnType<typeof setInterval> | undefined;
  const closers: NatsConnection[] = [];
  afterAll(async () => {
    clearInterval(beating);
    for (const c of closers) await c.close();
  });

  it("join with the join token only, and get a credential and a NATS user of their own", async () => {
    expect((await refusal(join_("w1", "wrong"))).status).toBe(401);
    expect((await refusal(join_("w1", ADMIN))).status).toBe(401);
    w1 = await join_("w1");
    expect(w1.credential).toMatch(/^[0-9a-f]{64}$/);
    expect(w1.heartbeatMs).toBe(HEARTBEAT_MS);
    expect(w1.nats).toEqual({ servers: server.nats!.servers, user: "worker-w1", pass: expect.stringMatching(/^[0-9a-f]{64}$/), inboxPrefix: "_INBOX_worker-w1" });
    nc = await connect({ servers: w1.nats.servers, user: w1.nats.user!, pass: w1.nats.pass!, inboxPrefix: w1.nats.inboxPrefix!, reconnect: false });
    // It sees a chunk only by being delivered it: no listening to the chunk subjects or to another worker's
    // replies, no reading the queue by sequence, no consumer of its own on it (a chunk carries its ticket).
    for (const subject of ["cellar.chunks.>", "_INBOX.>", "_INBOX_worker-w2.>"]) {
      expect(await subscriptionRefusal(nc, subject), subject).toMatch(/permissions? violation for subscription/i);
    }
    const mine = await jetstreamManager(nc);
    await expect(mine.streams.getMessage(STREAM, { seq: 1 })).rejects.toThrow(/permissions? violation/i);
    await expect(mine.consumers.add(STREAM, { name: "spy", filter_subject: "cellar.chunks.cpu.>" })).rejects.toThrow(/permissions? violation/i);
    // Its NATS user may use JetStream but not remove what the server keeps there.
    const js = await jetstreamManager(await connect({ servers: server.nats!.servers, user: server.nats!.user!, pass: server.nats!.pass! }).then((admin) => (closers.push(admin), admin)));
    await js.streams.add({ name: "KEEP", subjects: ["keep.>"] });
    expect((await mine.streams.info("KEEP")).config.name).toBe("KEEP");
    await expect(mine.streams.delete("KEEP")).rejects.toThrow(/permissions? violation/i);
    await expect(mine.streams.update("KEEP", { subjects: ["keep.>", "more.>"] })).rejects.toThrow(/permissions? violation/i);
    expect((await js.streams.info("KEEP")).config.name).toBe("KEEP");
    await w1.heartbeat({ inFlight: 2 });
    // As `cellar worker` does, at the interval the server asked for (until it is revoked below).
    beating = setInterval(() => void w1.heartbeat({ inFlight: 2 }).catch(() => {}), HEARTBEAT_MS / 3);
    // The operator's routes are the operator's: neither a worker's credential nor the join token lists them.
    expect((await fetch(`${server.url}/api/v1/workers`, { headers: { authorization: `Bearer ${w1.credential}` } })).status).toBe(401);
    const { workers } = await (await admin("/api/v1/workers")).json() as { workers: Array<Record<string, unknown>> };
    expect(workers).toEqual([expect.objectContaining({ name: "w1", host: "box-1", state: "alive", inFlight: 2, natsUser: "worker-w1", devices })]);
    expect(Object.values(workers[0].codeVersions as object)).toEqual([expect.stringMatching(/^[0-9a-f]{64}$/)]);
  });

  it("are lost after three missed heartbeats, alive again at the next; leave deregisters; each change a live event", async () => {
    const live = await admin("/api/v1/events");
    const reader = live.body!.pipeThrough(new TextDecoderStream()).getReader();
    let stream = "";
    const seen = (async () => {
      while (!stream.includes('"name":"w2","state":null')) {
        const { done, value } = await reader.read();
        if (done) return;
        stream += value;
      }
    })();
    const w2 = await join_("w2");
    await new Promise((r) => setTimeout(r, HEARTBEAT_MS * 4));
    const states = async () => Object.fromEntries(((await (await admin("/api/v1/workers")).json()) as { workers: Array<{ name: string; state: string }> }).workers.map((w) => [w.name, w.state]));
    expect(await states()).toEqual({ w1: "alive", w2: "lost" });
    expect([await metric("alive"), await metric("lost")]).toEqual([1, 1]);
    await w2.heartbeat();
    expect((await states()).w2).toBe("alive");
    await w2.leave();
    expect(await states()).toEqual({ w1: "alive" });
    expect((await refusal(w2.heartbeat())).message).toMatch(/w2: unknown here .*join again/);
    await seen;
    await reader.cancel();
    const w2Events = [...stream.matchAll(/event: worker\ndata: (\{[^\n]*"name":"w2"[^\n]*\})/g)].map((m) => JSON.parse(m[1]).state);
    expect(w2Events).toEqual(["alive", "lost", "alive", null]);
  });

  it("are listed by cellar workers and shown, escaped, on the devices page", async () => {
    const listed = await cli(["workers", "--server", server.url, "--token", ADMIN], { cwd: dir });
    expect(listed.stderr).toBe("");
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/w1\s*│\s*alive\s*│\s*box-1\s*│\s*gpu0 \(gpu, 1\), cpu \(cpu, 2\)\s*│\s*2\s*│/);
    const page = await (await admin("/devices")).text();
    expect(page).toMatch(/data-worker="w1" data-worker-state="alive"/);
    expect(page).toContain("lavapipe &lt;b&gt;");
    expect(page).toContain("8 GiB");
  });

  it("revoked: cellar workers revoke closes its NATS connection, refuses its calls and a new join under its name", async () => {
    const closed = nc.closed();
    clearInterval(beating);
    const revoked = await cli(["workers", "revoke", "w1", "--server", server.url], { cwd: dir, env: { CELLAR_TOKEN: ADMIN } });
    expect([revoked.code, revoked.stdout, revoked.stderr]).toEqual([0, "revoked worker w1 (NATS user worker-w1 removed)\n", ""]);
    // nats-server's reload closed the connection of the user it no longer has, and refuses a new one.
    await closed;
    expect(nc.isClosed()).toBe(true);
    await expect(connect({ servers: w1.nats.servers, user: w1.nats.user!, pass: w1.nats.pass!, reconnect: false })).rejects.toThrow(/auth/i);
    const beat = await refusal(w1.heartbeat());
    expect([beat.status, beat.message]).toEqual([403, "worker w1 was revoked"]);
    expect((await refusal(w1.leave())).status).toBe(403);
    expect((await refusal(join_("w1"))).message).toBe("worker w1 was revoked; it cannot join again under that name");
    expect([await metric("alive"), await metric("revoked")]).toEqual([0, 1]);
    expect(await (await admin("/devices")).text()).toMatch(/data-worker="w1" data-worker-state="revoked"/);
    // The revocation outlives the server: a registry over the same store refuses the name.
    expect(JSON.parse(readFileSync(`${db}.revoked-workers.json`, "utf8"))).toEqual(["w1"]);
    const after = new WorkerRegistry({ revoked: await RevokedNames.load(`${db}.revoked-workers.json`), nats: sharedNatsControl({ servers: [] }) });
    await expect(after.join({ name: "w1", devices: [], codeVersions: {} })).rejects.toThrow("worker w1 was revoked; it cannot join again under that name");
    expect((await after.join({ name: "w3", devices: [], codeVersions: {} })).name).toBe("w3");
    expect([after.isRevoked("w1"), after.isRevoked("w3"), server.workers.isRevoked("w1")]).toEqual([true, false, true]);
    const missing = await cli(["workers", "revoke", "nobody", "--server", server.url, "--token", ADMIN], { cwd: dir });
    expect([missing.code, missing.stderr]).toEqual([2, "cellar: worker nobody: no such worker\n"]);
  });

  it("under an external --nats are given its URL's credentials, and cannot join a server without NATS", async () => {
    expect(() => parseNatsUrl("http://x:4222")).toThrow("--nats http://x:4222: expected nats://[user:password@]host:port (or tls://), not http://");
    const external = await startServer({
      db: ":memory:", host: "127.0.0.1", port: 0, pipelines: join(dir, "pipelines"), schedule: false, nats: "nats://ci:p%40ss@127.0.0.1:4999,tls://127.0.0.2:4999",
    });
    try {
      const w = await joinServer({ server: external.url, name: "w8", devices: [], codeVersions: {} });
      expect(w.nats).toEqual({ servers: ["nats://127.0.0.1:4999", "tls://127.0.0.2:4999"], user: "ci", pass: "p@ss" });
      expect((await external.workers.revoke("w8")).natsUser).toBeNull();
      expect((await refusal(w.heartbeat())).status).toBe(403);
    } finally {
      await external.close();
    }
    await expect(startServer({ db: ":memory:", host: "127.0.0.1", port: 0, pipelines: join(dir, "pipelines"), nats: "nats://h:1", natsLocal: true }))
      .rejects.toThrow("--nats and --nats-local: give one");
    const bare = await startServer({ db: ":memory:", host: "127.0.0.1", port: 0, pipelines: join(dir, "pipelines"), schedule: false });
    try {
      const err = await joinServer({ server: bare.url, name: "w9", devices: [], codeVersions: {} }).catch((e: Error) => e);
      expect(String(err)).toMatch(/no NATS for workers; start it with --nats <url> \(or CELLAR_NATS\) or --nats-local/);
    } finally {
      await bare.close();
    }
  });

  it("are in the OpenAPI document", async () => {
    const doc = await (await admin("/api/v1/openapi.json")).json() as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths).filter((p) => p.startsWith("/workers"))).toEqual(["/workers", "/workers/{name}/heartbeat", "/workers/{name}", "/workers/{name}/revoke"]);
  });
});

describe("cellar serve's remote placement asks its registry", () => {
  const { cpuOnly } = computesClosedAfterAll();
  const refusedCount = async () => Number((await registry.metrics()).match(/^cellar_remote_refused_results_total (\d+)/m)?.[1] ?? 0);
  const runMap = (id: string, options: { gpu?: number; batchSize: number }) =>
    server.cellar.run(pipeline({ id }).cell("m", async (ctx) => await ctx.map([1, 2, 3, 4, 5, 6], task(TASKS, "square"), { placement: "remote", ...options })), {
      date: "2026-05-03T00:00:00Z", new: true,
    });
  /** The worker named in each accepted record of the run's cell m. */
  const acceptedBy = async (runId: number) => {
    const results = await new Kvm(jetstream(adminNc)).open(RESULTS);
    const workers: string[] = [];
    for await (const key of await results.keys(`${mapPrefix(scopeOf(db), runId, "m")}.>`)) workers.push(decodeResult((await results.get(key))!.value).worker);
    return workers;
  };

  it("refuses results signed by a revoked worker or one that never joined, and another worker finishes their chunks", async () => {
    await join_("rv");
    await server.workers.revoke("rv");
    const before = await refusedCount();
    // Both sign with a name on the server's own connection, as holders of shared --nats credentials could.
    const stops = new AbortController();
    const seen = new Set<string>();
    const watch = await (await new Kvm(jetstream(adminNc)).open(RESULTS)).watch({ key: `${scopeOf(db)}.>`, include: KvWatchInclude.UpdatesOnly });
    void (async () => {
      for await (const entry of watch) if (entry.operation === "PUT") seen.add(decodeResult(entry.value).worker);
    })();
    const cpu = await cpuOnly.cpu();
    const bad = ["rv", "stranger"].map((name) => runWorker({ nc: adminNc, name, cpu, signal: stops.signal, pullExpiresMs: 1_000, drainMs: 0 }));
    const running = runMap("refusals", { batchSize: 2 });
    const t0 = performance.now();
    while (!(seen.has("rv") && seen.has("stranger")) && performance.now() - t0 < 5_000) await new Promise((r) => setTimeout(r, 20));
    stops.abort();
    await Promise.all(bad);
    watch.stop();
    expect([...seen].sort()).toEqual(["rv", "stranger"]);
    const good = await join_("good");
    const gnc = await connect({ servers: good.nats.servers, user: good.nats.user!, pass: good.nats.pass!, inboxPrefix: good.nats.inboxPrefix! });
    const stop = new AbortController();
    const loop = runWorker({ nc: gnc, name: "good", cpu, signal: stop.signal, pullExpiresMs: 1_000, drainMs: 0 });
    try {
      const result = await running;
      expect(result.outputs.get("m")).toEqual([1, 4, 9, 16, 25, 36]);
      expect(await acceptedBy(result.runId)).toEqual(["good", "good", "good"]);
      expect(await refusedCount()).toBeGreaterThanOrEqual(before + 2);
      expect([server.workers.accepts("good"), server.workers.accepts("rv"), server.workers.accepts("stranger")]).toEqual([true, false, false]);
      // After a restart the names that joined still count (their accepted chunks are not run again).
      const later = new WorkerRegistry({ known: await WorkerNames.load(`${db}.known-workers.json`) });
      expect([later.accepts("good"), later.accepts("mapper"), later.accepts("stranger")]).toEqual([true, true, false]);
    } finally {
      stop.abort();
      await loop;
      await gnc.close();
      await good.leave();
    }
  });

  it("sends GPU chunks to the gpu queue when a worker with a GPU has joined, though none is pulling yet", async () => {
    const gpuBox = await join_("gpu-box"); // its devices have gpu0
    const beating = setInterval(() => void gpuBox.heartbeat().catch(() => {}), HEARTBEAT_MS / 3);
    try {
      const running = runMap("gpu_chunks", { gpu: 0.5, batchSize: 6 });
      // No pull waits on the gpu queue when the map opens: only the registry says a GPU worker is there.
      const jsm = await jetstreamManager(adminNc);
      const pending = async () => await Promise.all([CONSUMERS.cpu, CONSUMERS.gpu].map(async (c) => (await jsm.consumers.info(STREAM, c)).num_pending));
      const t0 = performance.now();
      while ((await pending()).every((n) => n === 0) && performance.now() - t0 < 5_000) await new Promise((r) => setTimeout(r, 20));
      expect(await pending()).toEqual([0, 1]);
      // Playing gpu-box's loop by protocol.ts, which needs a real adapter in-process (remote-worker.test.ts runs one).
      const consumer = await jetstream(adminNc).consumers.get(STREAM, CONSUMERS.gpu);
      const m = await consumer.next({ expires: 3_000 });
      expect(m, "no chunk on the gpu queue").not.toBeNull();
      const chunk = decodeChunk(m!.data);
      expect(chunk.claim).toEqual({ gpu: 0.5, gpuMemory: expect.anything() });
      const out = (await import(resolveTaskModule(chunk.task.module)))[chunk.task.name](unpackValues(chunk.items!));
      const results = await new Kvm(jetstream(adminNc)).open(RESULTS);
      await results.create(chunk.key, encodeResult({
        v: PROTOCOL_VERSION, key: chunk.key, ok: true, worker: "gpu-box", delivery: 1, results: packValues(out), count: out.length, ms: 0,
        msgId: chunk.msgId, ticket: chunk.ticket,
      }));
      m!.ack();
      const result = await running;
      expect(result.outputs.get("m")).toEqual([1, 4, 9, 16, 25, 36]);
      expect(await acceptedBy(result.runId)).toEqual(["gpu-box"]);
    } finally {
      clearInterval(beating);
      await gpuBox.leave();
    }
  });
});

/** The error a subscription to `subject` ends with (within 2 s), or "" when the server let it stand. */
async function subscriptionRefusal(nc: NatsConnection, subject: string): Promise<string> {
  const sub = nc.subscribe(subject);
  const standing = setTimeout(() => sub.unsubscribe(), 2_000);
  try {
    for await (const _ of sub) continue;
    return "";
  } catch (err) {
    return String(err);
  } finally {
    clearTimeout(standing);
  }
}
