// The server under load: 200 API clients and 100 SSE clients on a real `cellar serve` child process for 10
// minutes while runs are triggered (one every 1.5 s, each 2–3 s of ctx.map chunks) and a quarter of them
// cancelled. The trigger waits while --max-active runs (12) have not ended, so that the load is what the
// server gets through rather than a backlog that grows for the whole phase (two CPU workers finish fewer runs
// than one per 1.5 s under this load); `--max-active 0` triggers on the clock alone. The driver learns of a
// run's end by polling the API it loads (seconds late at this load), so a small bound holds triggers back
// long after the runs ended: 4 reached 6.4 runs/min where the clock alone reached 25. After the load, the runs
// left are drained (timed) and the server is sampled for --settle-minutes (2) with no client at all, so that
// memory a backlog held can be told from memory that stays. Then (--remote, or --both) the same with `--nats-local` (a real nats-server), the map's chunks
// on two `cellar worker` processes, one of them killed with SIGKILL every 60 s and started again. Prints one
// JSON object per phase, and its memory plot on stderr. Exits 1 if any phase had an error. Node drives the
// load; the server runs under Node, or Deno with --runtime deno.
//
//   npx tsx bench/server-load.bench.ts [--minutes 10] [--api 200] [--sse 100] [--runtime node|deno] [--think-ms 1000]
//                                      [--max-active 12] [--settle-minutes 2] [--heap <dir>] [--remote | --both] [--profile <dir>]
//
// --heap (Node): a heap snapshot of the server before the load and one after the settle, into <dir>; V8
// collects all garbage before each, so the two heaps compare what is really held, and the groups of
// objects that grew most are listed (bench/load-heap.ts).
//
// Errors (listed by kind, with examples): any non-2xx answer but a cancel's 409 (the run had ended, or was
// not executing yet); a refused or broken connection (a keep-alive race on a reused socket is retried once
// and counted apart, as browsers do); an SSE stream the server ended, a `missed` event, or a client that
// never heard of a run's end; a run that did not succeed and was not cancelled. Latency per route class
// (p50/p95/p99/max) with /healthz as the reference in the same load; memory: the server's RSS and V8 heap
// from its /metrics every 10 s, and their slope (least squares, MB/min) after the first minute.
import asciichart from "asciichart";
import type { ChildProcess } from "node:child_process";
import { LOAD_TOKEN, type LoadServer, startLoadServer } from "./load-server.ts";
import { heapGrowth } from "./load-heap.ts";
import { runLoad, type Stage } from "./load-run.ts";
import { arg } from "./server-store.ts";

const MINUTES = Number(arg("minutes") ?? 10);
const API = Number(arg("api") ?? 200);
const SSE = Number(arg("sse") ?? 100);
const RUNTIME = (arg("runtime") ?? "node") as "node" | "deno";
/** Each API client's mean pause between requests: 200 clients at 1 s offer ~200 requests a second. */
const THINK_MS = Number(arg("think-ms") ?? 1_000);
const MAX_ACTIVE = Number(arg("max-active") ?? 12);
const SETTLE_MINUTES = Number(arg("settle-minutes") ?? 2);
const HEAP_DIR = RUNTIME === "node" ? arg("heap") : undefined;
const PHASES = process.argv.includes("--both") ? [false, true] : [process.argv.includes("--remote")];
const SAMPLE_MS = 10_000;
const KILL_EVERY_MS = 60_000;
const WARMUP_S = Math.min(60, MINUTES * 12);

interface Sample {
  t_s: number;
  stage: Stage;
  rss_mb: number;
  heap_mb: number;
  external_mb: number;
  store_mb: number;
}

/** Least-squares slope of `y` over `t_s`, in MB per minute. */
function slope(samples: Sample[], y: (s: Sample) => number): number | null {
  if (samples.length < 3) return null;
  const n = samples.length;
  const mt = samples.reduce((a, s) => a + s.t_s, 0) / n;
  const my = samples.reduce((a, s) => a + y(s), 0) / n;
  const num = samples.reduce((a, s) => a + (s.t_s - mt) * (y(s) - my), 0);
  const den = samples.reduce((a, s) => a + (s.t_s - mt) ** 2, 0);
  return Math.round((num / den) * 60 * 100) / 100;
}

function plot(title: string, values: number[]): string[] {
  if (values.length < 2) return [title];
  return [`${title} (one point every ${SAMPLE_MS / 1000} s)`, ...asciichart.plot(values, { height: 8, format: (x) => x.toFixed(1).padStart(8) }).split("\n")];
}

/** Every KILL_EVERY_MS, SIGKILL one of the two workers (in turn) and start a new one in its place. */
function workerKiller(server: LoadServer, workers: ChildProcess[]) {
  let kills = 0;
  let nextKillMs = KILL_EVERY_MS;
  const restarts: Promise<void>[] = [];
  const failures: string[] = [];
  return {
    tick(elapsedMs: number) {
      if (elapsedMs < nextKillMs || elapsedMs > MINUTES * 60_000 - 15_000) return;
      nextKillMs += KILL_EVERY_MS;
      const slot = kills++ % workers.length;
      workers[slot].kill("SIGKILL");
      restarts.push(server.startWorker(`load-w${slot}-${kills}`).then((w) => void (workers[slot] = w), (err) => void failures.push(String(err))));
    },
    async done() {
      await Promise.all(restarts);
      return { kills, restart_failures: failures };
    },
  };
}

/** With --heap: the heap after a full collection before the load, and after the settle, and what grew. */
function heapCheck(server: LoadServer) {
  let before: { file: string; heap_mb: number } | undefined;
  const snap = async () => ({ file: await server.heapSnapshot(), heap_mb: Math.round((await server.memory()).heap / 2 ** 20 * 10) / 10 });
  return {
    async before() {
      if (HEAP_DIR) before = await snap();
    },
    async after() {
      if (!HEAP_DIR || !before) return undefined;
      const after = await snap();
      return { before_load: before, after_settle: after, grew_most: heapGrowth(before.file, after.file) };
    },
  };
}

async function phase(remote: boolean) {
  const profileDir = arg("profile");
  const server = await startLoadServer({ runtime: RUNTIME, remote, ...(profileDir ? { profileDir } : {}), ...(HEAP_DIR ? { heapDir: HEAP_DIR } : {}) });
  try {
    const heap = heapCheck(server);
    await heap.before();
    const workers = remote ? await Promise.all([server.startWorker("load-w0-0"), server.startWorker("load-w1-0")]) : [];
    const killer = workerKiller(server, workers);
    const samples: Sample[] = [];
    const result = await runLoad({
      url: server.url,
      token: LOAD_TOKEN,
      apiClients: API,
      sseClients: SSE,
      seconds: MINUTES * 60,
      thinkMs: THINK_MS,
      tickEveryMs: SAMPLE_MS,
      maxActive: MAX_ACTIVE,
      drainMs: 30 * 60_000,
      settleMs: SETTLE_MINUTES * 60_000,
      onTick: async (elapsedMs, stage) => {
        const { rss, heap, external } = await server.memory();
        const mb = (bytes: number) => Math.round(bytes / 2 ** 20 * 10) / 10;
        samples.push({ t_s: Math.round(elapsedMs / 1000), stage, rss_mb: mb(rss), heap_mb: mb(heap), external_mb: mb(external), store_mb: mb(server.storeBytes()) });
        if (remote && stage === "load") killer.tick(elapsedMs);
      },
    });
    const kills = await killer.done();
    const heapAfterGc = await heap.after();
    const chunks = await server.chunkCounters();
    if (kills.restart_failures.length > 0) {
      result.errors["worker restart failed"] = { count: kills.restart_failures.length, examples: kills.restart_failures.slice(0, 3) };
      result.error_count += kills.restart_failures.length;
    }
    const steady = samples.filter((s) => s.t_s >= WARMUP_S && s.stage === "load");
    const plots = [...plot("server RSS, MB", samples.map((s) => s.rss_mb)), ...plot("server V8 heap used, MB", samples.map((s) => s.heap_mb))];
    const healthz = result.latency_by_route.healthz_reference?.p99_ms ?? 0;
    return {
      bench: remote ? "server_load_remote" : "server_load",
      runtime: RUNTIME,
      processes: remote
        ? "cellar serve --nats-local (its nats-server a child of it), 2 cellar worker processes, the clients in this one; 2 cores shared"
        : "cellar serve in a child process, the clients in this one; 2 cores shared",
      think_ms: THINK_MS,
      ...result,
      p99_over_healthz_p99: Math.round((result.latency_api_overall.p99_ms / Math.max(0.1, healthz)) * 10) / 10,
      ...(remote ? { worker_kills: kills.kills } : {}),
      server_counters: chunks,
      memory: {
        samples,
        warmup_s: WARMUP_S,
        rss_slope_mb_per_min: slope(steady, (s) => s.rss_mb),
        heap_slope_mb_per_min: slope(steady, (s) => s.heap_mb),
        external_slope_mb_per_min: slope(steady, (s) => s.external_mb),
        // The store grows with every run (its logs, outputs); DuckDB keeps its blocks in memory as it reads them.
        store_file_slope_mb_per_min: slope(steady, (s) => s.store_mb),
        // The last sample of each stage: what the load left, what the drain left, what stays once idle.
        at_end_of: Object.fromEntries((["load", "drain", "settle"] as const).map((stage) => {
          const last = samples.filter((s) => s.stage === stage).at(-1);
          return [stage, last ? { t_s: last.t_s, rss_mb: last.rss_mb, heap_mb: last.heap_mb } : null];
        })),
        plot: plots,
        ...(heapAfterGc ? { heap_after_full_gc: heapAfterGc } : {}),
      },
      server_stderr_tail: server.stderr().split("\n").slice(-10).filter(Boolean),
    };
  } finally {
    await server.close();
  }
}

let errors = 0;
for (const remote of PHASES) {
  const out = await phase(remote);
  errors += out.error_count;
  process.stderr.write(`${out.bench}:\n${out.memory.plot.join("\n")}\n`);
  console.log(JSON.stringify(out));
}
process.exit(errors > 0 ? 1 : 0);
