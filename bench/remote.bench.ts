// Remote placement benchmark (issue 12): no-op chunks through JetStream to 2 local worker processes against
// the in-process path. Prints one JSON object per result.
//
//   XDG_RUNTIME_DIR=/tmp/xdg npx tsx bench/remote.bench.ts [chunks] [lanes per worker]
//
// A real nats-server (kernel/remote/nats-local.ts, file storage) and two real worker processes
// (test/fixtures/remote/worker.ts: runWorker with 2 lanes each, as `cellar worker` runs it once joined). The
// server side is openCellar({ remote }) running a cell whose ctx.map sends `chunks` one-item chunks of the
// no-op task `warm` with placement "remote"; the same map with placement "local" runs them in this
// process's CPU workers. Per-chunk overhead = wall time / chunks (chunks run concurrently, so this is the
// throughput cost, the figure comparable with Ray's ~124 µs per async task).
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { Compute } from "../kernel/compute/devices.ts";
import { openCellar, pipeline, task } from "../kernel/mod.ts";
import { startLocalNats } from "../kernel/remote/nats-local.ts";
import { runtime } from "../kernel/runtime/mod.ts";
import { spawnWorker, untilReady } from "./remote-workers.ts";

const CHUNKS = Number(process.argv[2] ?? 4_000);
const TASKS = new URL("../test/fixtures/remote/tasks.ts", import.meta.url).href;
const LANES = Number(process.argv[3] ?? 2);

const dir = mkdtempSync(join(tmpdir(), "cellar-bench-remote-"));
const nats = await startLocalNats({ dir: join(dir, "nats") });
const nc = await connect({ servers: nats.servers, user: nats.admin.user, pass: nats.admin.pass });
const compute = new Compute({ devices: "cpu" });
const children: ChildProcess[] = [];

/** A worker process, resolved once it pulls. */
function startWorker(name: string): Promise<void> {
  const child = spawnWorker(nats, name, LANES);
  children.push(child);
  return untilReady(child, name);
}

/** ms for one map of CHUNKS one-item chunks of `warm`, placed as asked; its results checked. */
async function timeMap(placement: "remote" | "local", db: string): Promise<number> {
  const cellar = openCellar({ db, compute, remote: { nats: nc } });
  try {
    await cellar.openRemote();
    const items = Array.from({ length: CHUNKS }, (_, i) => i);
    const p = pipeline({ id: `bench_${placement}` }).cell("m", { cache: false }, async (ctx) => {
      const t0 = performance.now();
      const out = await ctx.map(items, task(TASKS, "warm"), { placement, batchSize: 1, concurrency: 256 });
      return { ms: performance.now() - t0, n: out.length };
    });
    const result = await cellar.run(p, { new: true });
    const { ms, n } = result.outputs.get("m") as { ms: number; n: number };
    if (n !== CHUNKS) throw new Error(`${placement}: ${n} results for ${CHUNKS} items`);
    return ms;
  } finally {
    await cellar.close();
  }
}

try {
  const db = join(dir, "bench.duckdb");
  // The stream and buckets exist before the workers bind (cellar serve sets them up at start).
  const setup = openCellar({ db, compute, remote: { nats: nc } });
  await setup.openRemote();
  await setup.close();
  await Promise.all([startWorker("w1"), startWorker("w2")]);
  await timeMap("remote", db); // warm-up: code versions, connections, the JIT
  const remoteMs = await timeMap("remote", db);
  await timeMap("local", db);
  const localMs = await timeMap("local", db);
  console.log(JSON.stringify({
    benchmark: "remote_map_noop_chunks",
    runtime: runtime.name,
    chunks: CHUNKS,
    workers: 2,
    lanes_per_worker: LANES,
    remote: { ms: Math.round(remoteMs), chunks_per_s: Math.round(CHUNKS / (remoteMs / 1000)), us_per_chunk: Math.round((remoteMs * 1000) / CHUNKS) },
    in_process_cpu_workers: { ms: Math.round(localMs), chunks_per_s: Math.round(CHUNKS / (localMs / 1000)), us_per_chunk: Math.round((localMs * 1000) / CHUNKS) },
    overhead_us_per_chunk: Math.round(((remoteMs - localMs) * 1000) / CHUNKS),
    ray_async_task_us: 124,
  }));
} finally {
  for (const child of children) child.kill("SIGTERM");
  await Promise.all(children.map((child) => new Promise((resolve) => child.exitCode !== null ? resolve(null) : child.once("exit", resolve))));
  await nc.close();
  await compute.close();
  await nats.stop();
  rmSync(dir, { recursive: true, force: true });
}
