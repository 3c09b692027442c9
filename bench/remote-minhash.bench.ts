// Remote placement, CPU-bound (issue 12): MinHash signatures of synthetic documents through dedup_corpus's own
// signing task (cells/dedup/signatures.ts signChunk, the task `dedupPlacement: "remote"` sends, in its chunks
// of 512) on 1 and on 2 worker processes of capacity 1 each, against the in-process run. One JSON line.
//
//   XDG_RUNTIME_DIR=/tmp/xdg npx tsx bench/remote-minhash.bench.ts [docs=100000]
//
// A real nats-server (kernel/remote/nats-local.ts) and real worker processes (test/fixtures/remote/worker.ts,
// runWorker as `cellar worker` runs it once joined). The documents are made here, seeded, so every run signs
// the same ones; the map reads them from memory, not DuckDB, so the figure is the signing and its transport.
// This machine has 2 cores, shared by the server process (it publishes chunks and takes results) and the
// workers: the 2-worker scaling is bounded by that, which the JSON says.
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { SIGN_MODULE, type SignItem, type Signed } from "../cells/dedup/signatures.ts";
import { Compute } from "../kernel/compute/devices.ts";
import { openCellar, pipeline, task } from "../kernel/mod.ts";
import { startLocalNats } from "../kernel/remote/nats-local.ts";
import { INLINE_LIMIT_BYTES, packValues } from "../kernel/remote/protocol.ts";
import { runtime } from "../kernel/runtime/mod.ts";
import { spawnWorker, untilReady } from "./remote-workers.ts";

const DOCS = Number(process.argv[2] ?? 100_000);
/** dedup_corpus's chunk size and default numPerm (cells/dedup.ts SIGN_BATCH, dedupParams). */
const SIGN_BATCH = 512;
const NUM_PERM = 128;

/** A small seeded generator (mulberry32), so the documents are the same on every run. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` documents of 80–300 words from a 5,000-word made-up lexicon. */
function documents(count: number): SignItem[] {
  const next = random(12);
  const lexicon = Array.from({ length: 5_000 }, () => Array.from({ length: 3 + Math.floor(next() * 7) }, () => String.fromCharCode(97 + Math.floor(next() * 26))).join(""));
  return Array.from({ length: count }, () => {
    const words = Array.from({ length: 80 + Math.floor(next() * 221) }, () => lexicon[Math.floor(next() * lexicon.length)]);
    return { text: words.join(" "), numPerm: NUM_PERM };
  });
}

const items = documents(DOCS);
const dir = mkdtempSync(join(tmpdir(), "cellar-bench-remote-minhash-"));
const nats = await startLocalNats({ dir: join(dir, "nats") });
const nc = await connect({ servers: nats.servers, user: nats.admin.user, pass: nats.admin.pass });
const compute = new Compute({ devices: "cpu" });
const children: ChildProcess[] = [];
/** The first chunk's signatures, to weigh one chunk's result as it travels. */
const firstChunk: Signed[] = [];

/** A worker process of capacity 1 (one CPU lane), resolved once it pulls. */
function startWorker(name: string): Promise<void> {
  const child = spawnWorker(nats, name, 1);
  children.push(child);
  return untilReady(child, name);
}

/** ms for signing every document, placed as asked; returns a checksum of the signatures so runs can be compared. */
async function timeMap(placement: "remote" | "local", db: string, count = DOCS): Promise<{ ms: number; sum: number }> {
  const cellar = openCellar({ db, compute, remote: { nats: nc } });
  try {
    await cellar.openRemote();
    const p = pipeline({ id: `bench_minhash_${placement}` }).cell("sign", { cache: false }, async (ctx) => {
      const t0 = performance.now();
      let n = 0;
      let sum = 0;
      for await (const signed of ctx.map<SignItem, Signed>(items.slice(0, count), task(SIGN_MODULE, "signChunk"), { placement, batchSize: SIGN_BATCH, concurrency: 8 })) {
        if (n++ < SIGN_BATCH && firstChunk.length < SIGN_BATCH) firstChunk.push(signed);
        sum = (sum + signed.signature[0] + signed.signature[NUM_PERM - 1]) % 2 ** 32;
      }
      return { ms: performance.now() - t0, n, sum };
    });
    const result = await cellar.run(p, { new: true });
    const { ms, n, sum } = result.outputs.get("sign") as { ms: number; n: number; sum: number };
    if (n !== count) throw new Error(`${placement}: ${n} signatures for ${count} documents`);
    return { ms, sum };
  } finally {
    await cellar.close();
  }
}

const rate = (ms: number) => Math.round(DOCS / (ms / 1000));
const CHUNKS = Math.ceil(DOCS / SIGN_BATCH);
/** Wall time per chunk per lane: what one chunk costs where it runs, transport included. */
const perChunk = (ms: number, lanes: number) => Number(((ms * lanes) / CHUNKS).toFixed(1));

try {
  const db = join(dir, "bench.duckdb");
  const setup = openCellar({ db, compute, remote: { nats: nc } });
  await setup.openRemote();
  await setup.close();
  await timeMap("local", db, SIGN_BATCH * 4); // warm-up: the CPU workers, the JIT
  const local = await timeMap("local", db);
  await startWorker("w1");
  await timeMap("remote", db, SIGN_BATCH * 4); // warm-up: code versions, the worker's JIT
  const one = await timeMap("remote", db);
  await startWorker("w2");
  await timeMap("remote", db, SIGN_BATCH * 4);
  const two = await timeMap("remote", db);
  if (one.sum !== local.sum || two.sum !== local.sum) throw new Error(`signatures differ: local ${local.sum}, 1 worker ${one.sum}, 2 workers ${two.sum}`);
  const scaling = one.ms / two.ms;
  console.log(JSON.stringify({
    benchmark: "remote_map_minhash",
    runtime: runtime.name,
    docs: DOCS,
    chunk_docs: SIGN_BATCH,
    chunks: CHUNKS,
    num_perm: NUM_PERM,
    in_process: { cpu_workers: availableParallelism(), ms: Math.round(local.ms), docs_per_s: rate(local.ms), ms_per_chunk_per_lane: perChunk(local.ms, availableParallelism()) },
    remote_1_worker: { capacity: 1, ms: Math.round(one.ms), docs_per_s: rate(one.ms), ms_per_chunk_per_lane: perChunk(one.ms, 1) },
    remote_2_workers: { capacity_each: 1, ms: Math.round(two.ms), docs_per_s: rate(two.ms), ms_per_chunk_per_lane: perChunk(two.ms, 2) },
    scaling_2_over_1: Number(scaling.toFixed(2)),
    scaling_vs_ideal_2x: Number((scaling / 2).toFixed(2)),
    signatures_equal: true,
    // What one chunk moves each way, packed (kernel/remote/protocol.ts): above inline_limit it goes through the object store.
    chunk_wire_bytes: { items: packValues(items.slice(0, SIGN_BATCH)).length, results: packValues(firstChunk).length, inline_limit: INLINE_LIMIT_BYTES },
    note: `${availableParallelism()} cores on this machine, shared by the server process (nats-server, publishing, taking results) and the workers`,
  }));
} finally {
  for (const child of children) child.kill("SIGTERM");
  await Promise.all(children.map((child) => new Promise((resolve) => child.exitCode !== null ? resolve(null) : child.once("exit", resolve))));
  await nc.close();
  await compute.close();
  await nats.stop();
  rmSync(dir, { recursive: true, force: true });
}
