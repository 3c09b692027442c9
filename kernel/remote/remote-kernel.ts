/**
 * A remote kernel's life, what `cellar worker` runs: open this machine's compute (devices as `--devices`
 * says, CPU workers), join the server with them and the code versions of its task modules
 * (kernel/remote/join.ts), connect to NATS with the credential the server answers, run chunks
 * (worker-loop.ts) with heartbeats to the server, and on abort drain NATS (bounded), then deregister.
 *
 * A server that answers a heartbeat with 403 has revoked the worker: it stops at once and fails with the
 * server's line. A 401 (the server restarted and forgot it) joins again under the same name.
 *
 * @example
 * ```ts
 * import { runRemoteKernel } from "./remote-kernel.ts";
 *
 * const stop = new AbortController();
 * await runRemoteKernel({
 *   server: "http://10.0.0.5:7878", token: "join-token", devices: "auto", name: "gpu-box-1", modules: "cells",
 *   signal: stop.signal, say: (line) => console.log(line), warn: (line) => console.error(line),
 * });
 * ```
 */
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Compute, type DeviceConfig } from "../compute/devices.ts";
import { CpuPool } from "../compute/cpu-pool.ts";
import type { DevicePool } from "../compute/device-pool.ts";
import type { GpuDevice } from "../compute/gpu-device.ts";
import { delay } from "../async.ts";
import { CellarError, errorLine } from "../errors.ts";
import { runtime } from "../runtime/mod.ts";
import { codeVersions } from "./code-version.ts";
import { type Joined, joinServer, JoinRefused, type JoinRequest, type WorkerDevice } from "./join.ts";
import { runWorker, type WorkerCounts, type WorkerEvent } from "./worker-loop.ts";

export interface RemoteKernelOptions {
  /** The `cellar serve` URL. */
  server: string;
  /** The join token. */
  token?: string;
  /** "auto", "cpu" or a number of logical devices, as CELLAR_DEVICES. */
  devices: string;
  name: string;
  /** CPU workers, and so CPU chunks at once; default one per core. */
  capacity?: number;
  /** The directory of task modules offered, relative to the project root. */
  modules: string;
  drainMs?: number;
  signal: AbortSignal;
  /** What it does, a line at a time. */
  say: (line: string) => void;
  /** Trouble it survives, a line at a time. */
  warn: (line: string) => void;
}

const ROOT = runtime.fromFileUrl(new URL("../../", import.meta.url).href);
/** How often the chunk counts are said while they change. */
const SAY_COUNTS_EVERY_MS = 10_000;

/** Runs the remote kernel until `signal` aborts (or the server revokes it); resolves with its chunk counts. */
export async function runRemoteKernel(o: RemoteKernelOptions): Promise<WorkerCounts> {
  const compute = new Compute({ devices: parseDevices(o.devices) });
  // Its own CPU pool, of --capacity workers: what the worker offers is what it runs at once.
  const cpu = new CpuPool(o.capacity);
  try {
    const gpu = await compute.gpu();
    const request: JoinRequest = {
      server: o.server,
      ...(o.token ? { token: o.token } : {}),
      name: o.name,
      devices: offered(gpu, cpu),
      codeVersions: await codeVersions(await taskModules(o.modules)),
      host: runtime.hostname(),
    };
    const joined = await joinServer(request);
    o.say(`joined ${o.server} as ${joined.name} with devices ${describeDevices(request.devices)}`);
    const nc = await connect({
      servers: joined.nats.servers,
      ...(joined.nats.user ? { user: joined.nats.user, pass: joined.nats.pass } : {}),
      ...(joined.nats.inboxPrefix ? { inboxPrefix: joined.nats.inboxPrefix } : {}),
      name: `cellar-worker-${joined.name}`,
      maxReconnectAttempts: -1,
    });
    return await serve(o, request, joined, nc, gpu, cpu);
  } finally {
    cpu.close();
    await compute.close();
  }
}

/** The joined part: the loop with heartbeats and count lines, then leave and close, whatever ended it. */
async function serve(o: RemoteKernelOptions, request: JoinRequest, joined: Joined, nc: NatsConnection, gpu: DevicePool<GpuDevice>, cpu: CpuPool) {
  const stop = new AbortController();
  const abort = () => stop.abort(o.signal.reason);
  o.signal.addEventListener("abort", abort, { once: true });
  if (o.signal.aborted) abort();
  let closed: string | undefined;
  void nc.closed().then((err) => {
    if (stop.signal.aborted) return;
    closed = err ? errorLine(err) : "closed";
    stop.abort(new CellarError(`the NATS connection ended: ${closed}`));
  });
  const status: { inFlight: number; counts?: WorkerCounts } = { inFlight: 0 };
  let revoked: JoinRefused | undefined;
  let member = joined;
  const beat = setInterval(async () => {
    try {
      await member.heartbeat({ inFlight: status.inFlight });
    } catch (err) {
      if (err instanceof JoinRefused && err.status === 403) {
        revoked = err;
        return stop.abort(err);
      }
      if (err instanceof JoinRefused && err.status === 401) member = await joinServer(request).catch(() => member);
      else o.warn(`heartbeat: ${errorLine(err)}`);
    }
  }, joined.heartbeatMs);
  let counts: WorkerCounts | undefined;
  let said = summary({ done: 0, duplicates: 0, skipped: 0, retried: 0, failed: 0, refused: 0, givenBack: 0 });
  const sayCounts = setInterval(() => {
    const line = status.counts ? summary(status.counts) : said;
    if (line !== said) o.say((said = line));
  }, SAY_COUNTS_EVERY_MS);
  try {
    const running = runWorker({
      nc, name: joined.name, cpu, gpu, signal: stop.signal, status,
      ...(o.capacity ? { capacity: o.capacity } : {}),
      ...(o.drainMs !== undefined ? { drainMs: o.drainMs } : {}),
      onEvent: (event) => {
        const line = eventLine(event);
        if (line) o.say(line);
      },
      onError: o.warn,
    });
    counts = await running;
  } finally {
    clearInterval(beat);
    clearInterval(sayCounts);
    o.signal.removeEventListener("abort", abort);
    // NATS may cut a revoked worker off before its next heartbeat hears the 403: ask once.
    if (closed && !revoked) revoked = await refusedNow(member);
    // Drained before leaving: leaving withdraws the worker's NATS user (under --nats-local), and a drain after
    // that waits on a connection that reconnects forever, until the CLI's stop deadline (8 s) ends the process.
    await closeNats(nc);
    if (!revoked) await member.leave().catch((err) => o.warn(`leaving the server: ${errorLine(err)}`));
  }
  if (revoked) throw new CellarError(`${revoked.message} (the server answered 403); stopped after ${summary(counts)}`);
  if (closed) throw new CellarError(`the NATS connection ended (${closed}); stopped after ${summary(counts)}`);
  o.say(`stopped: ${summary(counts)}; left ${o.server}`);
  return counts;
}

/** How long the acks still queued may take to reach NATS as the worker stops: a NATS that is gone gets no longer. */
const DRAIN_BOUND_MS = 2_000;

/** Drains the connection (the acks and naks sent reach NATS), closing it anyway after DRAIN_BOUND_MS. */
async function closeNats(nc: NatsConnection): Promise<void> {
  if (nc.isClosed()) return;
  const drained = new AbortController(); // so that the bound's timer does not hold the process once drained
  await Promise.race([nc.drain().catch(() => {}), delay(DRAIN_BOUND_MS, drained.signal).catch(() => {})]);
  drained.abort();
  await nc.close().catch(() => {});
}

/** The server's 403, if it now refuses the worker's heartbeat: it was revoked. */
async function refusedNow(member: Joined): Promise<JoinRefused | undefined> {
  try {
    await member.heartbeat();
  } catch (err) {
    if (err instanceof JoinRefused && err.status === 403) return err;
  }
  return undefined;
}

/** A chunk's outcome worth a line of its own: all but the accepted ones, which are counted. */
function eventLine(event: WorkerEvent): string | undefined {
  switch (event.kind) {
    case "accepted":
      return undefined;
    case "duplicate":
      return `chunk ${event.key}: another worker's result came first; this one discarded`;
    case "retry":
      return `chunk ${event.key}: try ${event.delivery} failed, given back for another: ${event.error}`;
    case "exhausted":
      return `chunk ${event.key}: failed for good on try ${event.delivery}: ${event.error}`;
    case "refused":
      return event.error;
    case "skipped":
      return `chunk ${event.key}: its result was already written; not run again`;
    case "given-back":
      return `chunk ${event.key}: given back unfinished`;
  }
}

function summary(c: WorkerCounts): string {
  const parts = [`${c.done} chunks done`];
  if (c.duplicates) parts.push(`${c.duplicates} duplicate results discarded`);
  if (c.skipped) parts.push(`${c.skipped} already done, not run again`);
  if (c.retried) parts.push(`${c.retried} tries failed and given back`);
  if (c.failed) parts.push(`${c.failed} chunks failed for good`);
  if (c.refused) parts.push(`${c.refused} refused (code version)`);
  if (c.givenBack) parts.push(`${c.givenBack} given back unfinished`);
  return parts.join(", ");
}

function parseDevices(text: string): DeviceConfig["devices"] {
  if (text === "auto" || text === "cpu") return text;
  const n = Number(text);
  if (/^\d+$/.test(text) && n >= 1) return n;
  throw new CellarError(`--devices ${text}: expected "auto", "cpu" or a number of logical devices`);
}

/** What the worker offers the server: each GPU with its whole budget and memory, and its CPU pool. */
function offered(gpu: DevicePool<GpuDevice>, cpu: CpuPool): WorkerDevice[] {
  const gpus = gpu.live.map((d): WorkerDevice => ({ id: d.id, kind: "gpu", description: d.description, budget: 1, memoryBytes: d.memoryBytes }));
  return [...gpus, { id: "cpu", kind: "cpu", description: `${cpu.size} CPU workers`, budget: cpu.size, memoryBytes: 0 }];
}

function describeDevices(devices: WorkerDevice[]): string {
  return devices.map((d) => d.kind === "cpu" ? `cpu ×${d.budget}` : `${d.id} (${d.description}, ${Math.round(d.memoryBytes / 2 ** 20)} MiB)`).join(", ");
}

/** The task modules under `dir` of the project, as file URLs. */
async function taskModules(dir: string): Promise<string[]> {
  const path = runtime.resolve(ROOT, dir);
  if (!(await runtime.stat(path))?.directory) throw new CellarError(`--modules ${dir}: no such directory in the project (${path})`);
  const names = (await runtime.readDirEntries(path)).filter((e) => !e.directory && /\.(ts|js|mjs)$/.test(e.name) && !e.name.endsWith(".d.ts"));
  return names.map((e) => runtime.toFileUrl(runtime.resolve(path, e.name))).sort();
}
