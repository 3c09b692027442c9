/**
 * A remote kernel cut off the network for longer than ack_wait, in a network namespace this test makes: a
 * real `cellar worker` process runs inside it (`ip netns exec`), joined over a veth pair to a server and a
 * nats-server bound to the host end. The addresses are link-local (169.254.77.0/30): they exist on this
 * machine only and are never routed. Cutting the host end of the link mid-chunk: the server takes the worker
 * as lost, the chunk comes back after ack_wait and another worker (in the host's namespace) finishes it;
 * the link back, the cut worker is alive again, its late result is discarded as a duplicate, and it runs the
 * next map's chunk. Needs root (creating a namespace); CI and the README's test command run as root.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pipeline, startLocalNats, task, type LocalNats, WorkerState } from "../kernel/mod.ts";
import { decodeResult, mapPrefix, RESULTS, scopeOf } from "../kernel/remote/protocol.ts";
import { type RunningServer, startServer } from "../server/serve.ts";
import { ROOT, tempDir, TSX } from "./helpers.ts";

const root = process.getuid?.() === 0;
const NS = `cellar-cut-${process.pid}`;
const [HOST_END, WORKER_END] = [`vh${process.pid % 100_000}`, `vw${process.pid % 100_000}`];
const [HOST_IP, WORKER_IP] = ["169.254.77.1", "169.254.77.2"];
const TOKEN = "netns-token";
const ACK_WAIT_MS = 1_000;
const TASKS = new URL("./fixtures/remote/tasks.ts", import.meta.url).href;
const dir = tempDir("cellar-netns-");
const markers = join(dir, "markers");
let nats: LocalNats;
let server: RunningServer;
const children: ChildProcess[] = [];

const ip = (...args: string[]) => execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });

beforeAll(async () => {
  if (!root) return;
  mkdirSync(markers);
  ip("netns", "add", NS);
  ip("link", "add", HOST_END, "type", "veth", "peer", "name", WORKER_END);
  ip("link", "set", WORKER_END, "netns", NS);
  ip("addr", "add", `${HOST_IP}/30`, "dev", HOST_END);
  ip("link", "set", HOST_END, "up");
  ip("netns", "exec", NS, "ip", "addr", "add", `${WORKER_IP}/30`, "dev", WORKER_END);
  ip("netns", "exec", NS, "ip", "link", "set", WORKER_END, "up");
  ip("netns", "exec", NS, "ip", "link", "set", "lo", "up");
  nats = await startLocalNats({ dir: join(dir, "nats"), host: HOST_IP });
  server = await startServer({
    db: join(dir, "cellar.duckdb"), host: HOST_IP, port: 0, pipelines: dir, schedule: false, token: TOKEN, nats: nats.url,
    workerHeartbeatMs: 200, remote: { consumer: { ackWaitMs: ACK_WAIT_MS, maxDeliver: 4 } },
  });
}, 60_000);

afterAll(async () => {
  if (!root) return;
  for (const child of children) child.kill("SIGKILL");
  await server?.close();
  await nats?.stop();
  // The veth pair goes with the namespace.
  ip("netns", "del", NS);
});

/** A `cellar worker` process (`inNamespace`: inside the cut-able namespace), resolved once it joined. */
async function startWorker(name: string, inNamespace: boolean): Promise<{ child: ChildProcess; out: () => string }> {
  const command = [process.execPath, "--import", TSX, join(ROOT, "kernel/cli.ts"), "worker", "--server", server.url, "--token", TOKEN,
    "--devices", "cpu", "--name", name, "--capacity", "1", "--drain", "0"];
  const child = inNamespace ? spawn("ip", ["netns", "exec", NS, ...command]) : spawn(command[0], command.slice(1));
  children.push(child);
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  await until(`${name} to join`, () => out.includes(`joined ${server.url} as ${name}`), 30_000, () => out);
  return { child, out: () => out };
}

async function until(what: string, check: () => boolean, ms = 15_000, detail = () => ""): Promise<void> {
  const t0 = Date.now();
  while (!check()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}: ${detail()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const stateOf = (name: string) => server.workers.list().find((w) => w.name === name)?.state;
const counter = async (name: string) => Number((await server.cellar.metrics()).text.match(new RegExp(`^${name} (\\d+)`, "m"))?.[1] ?? 0);
/** One chunk of `busy` (fixtures/remote/tasks.ts): it marks `busy-<tag>-<pid>`, then takes `ms`. */
const chunkOf = (tag: number, ms: number) => Array.from({ length: 2 }, (_, i) => ({ n: tag * 10 + i, dir: markers, chunk: tag, at: ms }));
const mapOf = (id: string, items: ReturnType<typeof chunkOf>) =>
  pipeline({ id }).cell("m", async (ctx) => await ctx.map(items, task(TASKS, "busy"), { placement: "remote", batchSize: items.length }));

describe.skipIf(!root)("a remote kernel cut off the network", () => {
  it("loses its chunk to another worker after ack_wait, is lost and alive again, and runs the next chunk", async () => {
    const cut = await startWorker("cut-1", true);
    const expired = await counter("cellar_remote_leases_expired_total");
    const first = Object.assign(chunkOf(1, 1_500), { runId: 0 });
    const running = server.cellar.run(mapOf("netns_first", first), { date: "2026-05-03T00:00:00Z", new: true });
    await until("cut-1 to start the chunk", () => readdirSync(markers).some((n) => n.startsWith("busy-1-") && !n.endsWith(".tmp")));
    ip("link", "set", HOST_END, "down");
    try {
      await until("the server to take cut-1 as lost", () => stateOf("cut-1") === WorkerState.Lost);
      const host = await startWorker("host-1", false);
      const result = await running;
      first.runId = result.runId;
      expect(result.outputs.get("m")).toEqual(first.map((item) => item.n * 2 + 1));
      // Finished on the host while the cut worker's acks could not reach NATS: its lease ran out.
      expect(await counter("cellar_remote_leases_expired_total")).toBe(expired + 1);
      // `ip netns exec` execs the worker: its pid is the child's. Both ran the chunk; the host's copy counts.
      expect(marks(1)).toEqual([`busy-1-${cut.child.pid}`, `busy-1-${host.child.pid}`].sort());
      host.child.kill("SIGTERM");
      await new Promise((resolve) => host.child.on("exit", resolve));
    } finally {
      ip("link", "set", HOST_END, "up");
    }
    await until("cut-1 to be alive again", () => stateOf("cut-1") === WorkerState.Alive, 30_000, cut.out);
    // Back on the network, its late result loses the create (or its write timed out meanwhile and it gave the
    // chunk back): either way the record that counts is the host worker's.
    await until("cut-1 to let its late copy go", () => /another worker's result came first|given back/.test(cut.out()), 30_000, cut.out);
    expect(await acceptedBy(first.runId)).toEqual(["host-1"]);
    // The only worker left is the one that was cut off: the next map's chunk is its.
    const next = chunkOf(2, 10);
    const again = await server.cellar.run(mapOf("netns_next", next), { date: "2026-05-03T00:00:00Z", new: true });
    expect(again.outputs.get("m")).toEqual(next.map((item) => item.n * 2 + 1));
    expect(marks(2)).toEqual([`busy-2-${cut.child.pid}`]);
  }, 120_000);
});

/** The workers whose records were accepted for run `runId`'s map, read from the results bucket. */
async function acceptedBy(runId: number): Promise<string[]> {
  const nc = await connect({ servers: nats.servers, user: nats.admin.user, pass: nats.admin.pass });
  try {
    const results = await new Kvm(jetstream(nc)).open(RESULTS);
    const workers: string[] = [];
    for await (const key of await results.keys(`${mapPrefix(scopeOf(join(dir, "cellar.duckdb")), runId, "m")}.>`)) {
      const entry = await results.get(key);
      workers.push((decodeResult(entry!.value) as { worker: string }).worker);
    }
    return workers;
  } finally {
    await nc.close();
  }
}

/** The markers of chunk `tag`'s deliveries, sorted: one per worker process that ran it. */
function marks(tag: number): string[] {
  return readdirSync(markers).filter((n) => n.startsWith(`busy-${tag}-`) && !n.endsWith(".tmp")).sort();
}
