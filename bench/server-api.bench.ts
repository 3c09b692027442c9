// GET /api/v1/runs under 200 concurrent clients. Prints one JSON object per result. Node only.
//
//   npx tsx bench/server-api.bench.ts [--runs 1000] [--seconds 10] [--rate 1000] [--db <path>]
//
// The store is bench/server-store.ts's (1,000 runs × 50 cells, made through the facade, or reused with
// --db). The server runs in a process of its own and autocannon in another, so the load generator does not
// take the server's core on this 2-core machine. Each target gets 2 s of warm-up, then --seconds of load:
// (a) closed loop: 200 connections, each sending its next request as the last one answers (latency there
//     is 200 ÷ throughput, by Little's law);
// (b) open loop: the same 200 connections sending --rate requests a second between them (autocannon sends
//     each tick's share at once, so these come in bursts);
// (c) steady clients (bench/steady-clients.ts): 200 clients, each on its own keep-alive connection at
//     --rate ÷ 200 requests a second with jitter, unsynchronized, latency counted from when each was due;
// for /api/v1/runs (its first page, 50 runs; target p99 ≤ 20 ms) and for /healthz, the reference: what
// the HTTP stack and the machine's noise cost under the same load.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { arg, gridStore, ROOT, serveProcess } from "./server-store.ts";

const CONNECTIONS = 200;
const RUNS = Number(arg("runs") ?? 1000);
const SECONDS = Number(arg("seconds") ?? 10);
const RATE = Number(arg("rate") ?? 1000);

interface Cannon {
  latency: { p50: number; p90: number; p99: number; max: number; average: number };
  requests: { average: number; total: number };
  errors: number;
  timeouts: number;
  non2xx: number;
}

/** autocannon in its own process, its JSON result parsed. */
function autocannon(url: string, extra: string[]): Promise<Cannon> {
  const bin = join(ROOT, "node_modules/autocannon/autocannon.js");
  const args = [bin, "-c", String(CONNECTIONS), "-d", String(SECONDS), "--warmup", "[", "-c", String(CONNECTIONS), "-d", "2", "]", "-j", "-n", ...extra, url];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    // With a warm-up it prints the warm-up's result on a line of its own before the run's.
    child.once("exit", (code) => {
      try {
        if (code !== 0) throw new Error(`autocannon exited ${code}: ${out}`);
        resolve(JSON.parse(out.trim().split("\n").at(-1)!) as Cannon);
      } catch (err) {
        reject(err);
      }
    });
  });
}

type Figures = ReturnType<typeof figures>;

/** bench/steady-clients.ts in its own process, its JSON result parsed. */
function steadyClients(url: string): Promise<Figures> {
  const args = ["--import", "tsx", join(ROOT, "bench/steady-clients.ts"), url, String(CONNECTIONS), String(RATE), String(SECONDS), "2"];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.once("exit", (code) => {
      try {
        if (code !== 0) throw new Error(`steady-clients exited ${code}: ${out}`);
        resolve(JSON.parse(out.trim().split("\n").at(-1)!) as Figures);
      } catch (err) {
        reject(err);
      }
    });
  });
}

function figures(r: Cannon) {
  return {
    p50_ms: r.latency.p50,
    p90_ms: r.latency.p90,
    p99_ms: r.latency.p99,
    max_ms: r.latency.max,
    requests_per_second: Math.round(r.requests.average),
    requests: r.requests.total,
    errors: r.errors + r.timeouts,
    non_2xx: r.non2xx,
  };
}

const store = await gridStore(RUNS, arg("db"));
const server = await serveProcess(store);
try {
  const runsUrl = `${server.url}/api/v1/runs`;
  const page = (await (await fetch(runsUrl)).json()) as { runs: unknown[]; next: number | null };
  if (page.runs.length !== 50 || page.next === null) throw new Error(`${runsUrl}: expected a first page of 50 runs with a next cursor`);
  const modes: Array<[string, (url: string) => Promise<Figures>, string]> = [
    ["closed_loop", async (url) => figures(await autocannon(url, [])), "autocannon 9.0.0"],
    ["open_loop", async (url) => figures(await autocannon(url, ["-R", String(RATE)])), "autocannon 9.0.0 (-R: each tick's requests together)"],
    ["steady_clients", steadyClients, "bench/steady-clients.ts (each client on its own timer, jittered)"],
  ];
  for (const [mode, load, client] of modes) {
    const healthz = await load(`${server.url}/healthz`);
    const runs = await load(runsUrl);
    console.log(JSON.stringify({
      bench: `server_api_runs_${mode}`,
      runtime: "node",
      processes: `server (the app as cellar serve starts it) and ${client} in separate processes, over 127.0.0.1`,
      connections: CONNECTIONS,
      ...(mode === "closed_loop" ? {} : { overall_rate_per_second: RATE }),
      seconds: SECONDS,
      store_runs: RUNS,
      store_build_ms: store.buildMs,
      api_v1_runs: runs,
      healthz_reference: healthz,
      p99_over_healthz: Math.round((runs.p99_ms / Math.max(1, healthz.p99_ms)) * 10) / 10,
      target_p99_ms: 20,
      target_met: runs.p99_ms <= 20,
    }));
  }
} finally {
  await server.close();
}
