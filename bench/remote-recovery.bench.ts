// Remote placement, recovery (issue 12): how long a chunk whose worker is killed (kill -9 mid-chunk) takes to
// be redelivered and accepted from another worker, against the consumer's ack_wait. One JSON line.
//
//   XDG_RUNTIME_DIR=/tmp/xdg npx tsx bench/remote-recovery.bench.ts [repeats=5] [ack_wait ms=2000]
//
// A real nats-server (kernel/remote/nats-local.ts) and two real worker processes of capacity 1
// (test/fixtures/remote/worker.ts). Each repeat runs a cell whose ctx.map sends two one-item chunks of the
// fixture task `busy` (each try writes a marker naming its process, then blocks RUN_MS) with placement
// "remote": each worker takes one. At a point inside chunk 0's try (another in each repeat, evenly spaced),
// its process is killed with SIGKILL; the other worker finishes chunk 1, and chunk 0 comes back to it once ack_wait has passed since its
// delivery. Measured from the kill: the redelivered try starting (its marker), that try's result accepted
// (the surviving worker's "accepted" event: its first-writer-wins write, timed when its stdout line arrives
// here, so it may trail the next figure by a few ms), and the cell's map returning on the server. A new worker replaces the killed one between repeats.
import type { ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { Compute } from "../kernel/compute/devices.ts";
import { openCellar, pipeline, task } from "../kernel/mod.ts";
import { startLocalNats } from "../kernel/remote/nats-local.ts";
import { runtime } from "../kernel/runtime/mod.ts";
import { spawnWorker } from "./remote-workers.ts";

const REPEATS = Number(process.argv[2] ?? 5);
const ACK_WAIT_MS = Number(process.argv[3] ?? 2_000);
const TASKS = new URL("../test/fixtures/remote/tasks.ts", import.meta.url).href;
/** How long each try of a chunk runs. */
const RUN_MS = 500;

interface Worker {
  child: ChildProcess;
  /** When this process reported each chunk index accepted (performance.now()). */
  accepted: Map<number, number>;
}

const dir = mkdtempSync(join(tmpdir(), "cellar-bench-remote-recovery-"));
const nats = await startLocalNats({ dir: join(dir, "nats") });
const nc = await connect({ servers: nats.servers, user: nats.admin.user, pass: nats.admin.pass });
const compute = new Compute({ devices: "cpu" });
const consumer = { ackWaitMs: ACK_WAIT_MS, maxDeliver: 4 };
const workers: Worker[] = [];

/** A worker process of capacity 1, resolved once it pulls; its "accepted" events are timed as they arrive. */
function startWorker(name: string): Promise<Worker> {
  const child = spawnWorker(nats, name, 1);
  const worker: Worker = { child, accepted: new Map() };
  workers.push(worker);
  let rest = "";
  return new Promise((resolve, reject) => {
    child.stdout!.on("data", (data: Buffer) => {
      const lines = (rest + String(data)).split("\n");
      rest = lines.pop()!;
      for (const line of lines) {
        if (line === "ready") resolve(worker);
        if (!line.startsWith("{")) continue;
        const event = JSON.parse(line) as { kind?: string; key?: string };
        const index = event.kind === "accepted" ? /\.(\d+)\.[0-9a-f]+$/.exec(event.key ?? "")?.[1] : undefined;
        if (index !== undefined) worker.accepted.set(Number(index), performance.now());
      }
    });
    child.on("exit", (code, signal) => reject(new Error(`worker ${name} exited (${code ?? signal}) before it was ready`)));
  });
}

/** Resolves with the first value `probe` gives, polling every 2 ms. */
async function until<T>(what: string, probe: () => T | undefined, ms = 30_000): Promise<T> {
  const end = performance.now() + ms;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (performance.now() > end) throw new Error(`no ${what} within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** The pid in a `busy-<chunk>-<pid>` marker of `markers`, other than `not`. */
function markerPid(markers: string, chunk: number, not?: number): number | undefined {
  for (const name of readdirSync(markers)) {
    const match = new RegExp(`^busy-${chunk}-(\\d+)$`).exec(name);
    if (match && Number(match[1]) !== not) return Number(match[1]);
  }
  return undefined;
}

interface Repeat {
  delivery_to_kill_ms: number;
  kill_to_redelivered_ms: number;
  kill_to_accepted_ms: number;
  kill_to_map_done_ms: number;
  delivery_to_redelivery_ms: number;
}

/** One repeat: the map started, chunk 0's worker killed mid-chunk, the times to its recovery. */
async function repeat(db: string, n: number): Promise<Repeat> {
  const markers = join(dir, `markers-${n}`);
  mkdirSync(markers);
  const items = [0, 1].map((chunk) => ({ n: chunk, dir: markers, chunk, at: RUN_MS }));
  const cellar = openCellar({ db, compute, remote: { nats: nc, consumer } });
  try {
    await cellar.openRemote();
    let done = 0;
    const p = pipeline({ id: "bench_recovery" }).cell("m", { cache: false }, async (ctx) => {
      const out = await ctx.map(items, task(TASKS, "busy"), { placement: "remote", batchSize: 1 });
      done = performance.now();
      return out;
    });
    const run = cellar.run(p, { new: true });
    const victimPid = await until("chunk 0 starting", () => markerPid(markers, 0));
    const delivered = performance.now();
    // Each repeat kills at another point of the chunk: the n-th of REPEATS evenly spaced points inside RUN_MS.
    await new Promise((resolve) => setTimeout(resolve, (RUN_MS * (n + 1)) / (REPEATS + 1)));
    const victim = workers.find((w) => w.child.pid === victimPid && w.child.exitCode === null && w.child.signalCode === null);
    const survivor = workers.find((w) => w !== victim && w.child.exitCode === null && w.child.signalCode === null);
    if (!victim || !survivor) throw new Error(`chunk 0 ran in pid ${victimPid}, not one of the two live workers`);
    const killed = performance.now();
    victim.child.kill("SIGKILL");
    const redelivered = await until("chunk 0 redelivered", () => (markerPid(markers, 0, victimPid) ? performance.now() : undefined));
    const accepted = await until("chunk 0 accepted", () => survivor.accepted.get(0));
    const result = await run;
    const out = result.outputs.get("m") as number[];
    if (out.join() !== "1,3") throw new Error(`results ${out.join()}; expected 1,3`);
    workers.splice(workers.indexOf(victim), 1);
    return {
      delivery_to_kill_ms: Math.round(killed - delivered),
      kill_to_redelivered_ms: Math.round(redelivered - killed),
      kill_to_accepted_ms: Math.round(accepted - killed),
      kill_to_map_done_ms: Math.round(done - killed),
      delivery_to_redelivery_ms: Math.round(redelivered - delivered),
    };
  } finally {
    await cellar.close();
  }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : Math.round((sorted[mid - 1] + sorted[mid]) / 2);
};

try {
  const db = join(dir, "bench.duckdb");
  // The consumers exist with this ack_wait before the workers bind, so the workers' in-progress acks follow it.
  const setup = openCellar({ db, compute, remote: { nats: nc, consumer } });
  await setup.openRemote();
  await setup.close();
  await Promise.all([startWorker("w1"), startWorker("w2")]);
  const repeats: Repeat[] = [];
  for (let n = 0; n < REPEATS; n++) {
    repeats.push(await repeat(db, n));
    await startWorker(`w${n + 3}`);
  }
  const summary = (key: keyof Repeat) => {
    const values = repeats.map((r) => r[key]);
    return { median: median(values), max: Math.max(...values), ratio_to_ack_wait_median: Number((median(values) / ACK_WAIT_MS).toFixed(2)) };
  };
  console.log(JSON.stringify({
    benchmark: "remote_recovery_after_kill",
    runtime: runtime.name,
    ack_wait_ms: ACK_WAIT_MS,
    chunk_run_ms: RUN_MS,
    repeats: REPEATS,
    kill_to_redelivered_ms: summary("kill_to_redelivered_ms"),
    kill_to_accepted_ms: summary("kill_to_accepted_ms"),
    kill_to_map_done_ms: summary("kill_to_map_done_ms"),
    delivery_to_redelivery_ms: summary("delivery_to_redelivery_ms"),
    each: repeats,
  }));
} finally {
  for (const worker of workers) worker.child.kill("SIGTERM");
  await Promise.all(workers.map(({ child }) => new Promise((resolve) => child.exitCode !== null || child.signalCode !== null ? resolve(null) : child.once("exit", resolve))));
  await nc.close();
  await compute.close();
  await nats.stop();
  rmSync(dir, { recursive: true, force: true });
}
