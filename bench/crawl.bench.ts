// crawl_seeds benchmark: the PostgreSQL manual (Debian's postgresql-doc-15, 1,169 interlinked
// pages, 18 MB of HTML) served on 127.0.0.1 by a plain static file server in a child process
// (so that serving does not share the crawler's thread), crawled from index.html with the
// default politeness (4 requests per host in flight, no delay) into a DuckDB file; then a
// re-crawl in the same store, where every page is answered 304.
// Prints one JSON object per result: pages/s (target ≥ 300), CPU per page and the crawling process's peak RSS;
// then `crawl_vs_wget`: the crawl's pages/s against `wget --recursive --level=inf` on the same server in the
// same run (wget before and after the crawl, averaged), their ratio (target ≥ 1), and both sides' CPU per page;
// BENCH_ROUNDS such rounds (default 3, each crawl into a new store), the host's load average at each, and
// `crawl_vs_wget_rounds`: the ratios, their median, and both sides' CPU per page in each round. On a shared
// host the ratio moves with the load; CPU per page much less so.
// Both are timed from their start to their end: wget from its spawn to its exit (through bash, whose `times`
// gives wget's CPU; a few ms of bash's start are in its window), the crawl from Runner.execute to its
// committed run (fingerprint, tables, every page fetched, parsed, extracted and appended to DuckDB, commit).
// The crawl's CPU is its process's (user + sys, every thread: the main one fetching and storing, the worker
// extracting pages, V8's GC and compiler threads); the static server's is neither side's.
//
//   XDG_RUNTIME_DIR=/tmp/xdg npx tsx bench/crawl.bench.ts
//   XDG_RUNTIME_DIR=/tmp/xdg node_modules/deno/deno run -A bench/crawl.bench.ts
//
// BENCH_SERVER=inline serves from the crawler's own process instead.
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import process from "node:process";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { crawlSeeds } from "../cells/crawl.ts";
import { Compute } from "../kernel/compute/devices.ts";
import { pipeline } from "../kernel/mod.ts";
import { Runner } from "../kernel/runner.ts";
import { createManualRun } from "../kernel/run-records.ts";
import { runtime } from "../kernel/runtime/mod.ts";
import { Store } from "../kernel/store/store.ts";
import { startStaticServer } from "../test/fixtures/crawl/static-server.ts";

const PG_DOCS = "/usr/share/doc/postgresql-doc-15/html";
const PAGES = 1169;
const SERVER = fileURLToPath(new URL("../test/fixtures/crawl/static-server.ts", import.meta.url));
const TSX = pathToFileURL(fileURLToPath(new URL("../node_modules/tsx/dist/loader.mjs", import.meta.url))).href;

/** The static server, in a child process (Node with tsx, or Deno), or inline; its URL and how to stop it. */
async function serve(): Promise<{ url: string; where: string; close: () => Promise<void> }> {
  if (runtime.env("BENCH_SERVER") === "inline") {
    const server = await startStaticServer(PG_DOCS);
    return { url: server.url, where: "inline", close: () => server.close() };
  }
  const args = runtime.name === "deno" ? ["run", "-A", SERVER, PG_DOCS] : ["--import", TSX, SERVER, PG_DOCS];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d) => {
      out += d;
      if (out.includes("\n")) resolve(out.trim());
    });
    child.on("exit", (code) => reject(new Error(`static server exited with ${code}`)));
  });
  return { url, where: "child process", close: () => Promise.resolve(void child.kill()) };
}

const server = await serve();
/** Rounds of wget, crawl, wget: each crawl into a new store, so that each fetches every page. */
const ROUNDS = Number(runtime.env("BENCH_ROUNDS") ?? 3);
const newStore = () => Store.open(join(mkdtempSync(join(tmpdir(), "cellar-bench-")), "bench.duckdb"));
const compute = new Compute({ devices: "cpu" });
const p = pipeline({
  id: "ingest",
  params: {
    seeds: `${server.url}/index.html`, maxDepth: 50, maxPages: 10_000, perHostConcurrency: 4, perHostDelayMs: 0,
    timeoutMs: 10_000, maxBytes: 10_485_760, userAgent: "CellarBot/0.1",
  },
}).cell("crawl_seeds", { cache: false }, crawlSeeds);

// Peak RSS of this (the crawling) process, sampled every 20 ms.
let peakRss = 0;
const sample = () => (peakRss = Math.max(peakRss, process.memoryUsage.rss()));
const sampler = setInterval(sample, 20);

/** wget's recursive crawl of the same server from the same page: its pages/s and CPU milliseconds per page. */
async function wget(): Promise<{ pps: number; cpuMsPerPage: number }> {
  const dir = mkdtempSync(join(tmpdir(), "cellar-wget-"));
  const script = 'wget --recursive --level=inf -q -P "$1" "$2"; times >&2'; // exit status 8 = some links answered 404
  const t0 = performance.now();
  const times = await new Promise<string>((resolve, reject) => {
    const child = spawn("bash", ["-c", script, "wget", dir, `${server.url}/index.html`], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr!.on("data", (d) => (err += d));
    child.on("error", reject);
    child.on("exit", () => resolve(err));
  });
  const seconds = (performance.now() - t0) / 1000;
  // `times` prints the shell's user and sys times, then its children's (wget's): "0m0.052s 0m0.101s".
  const children = times.trim().split("\n").at(-1) ?? "";
  const cpu = [...children.matchAll(/(\d+)m([\d.]+)s/g)].reduce((sum, m) => sum + Number(m[1]) * 60 + Number(m[2]), 0);
  return { pps: PAGES / seconds, cpuMsPerPage: (cpu * 1000) / PAGES };
}

async function crawlOnce(store: Store, name: string): Promise<{ pps: number; cpuMsPerPage: number }> {
  const date = new Date();
  const run = await createManualRun(store, p.id, "manual", date, { start: date, end: date }, p.resolveParams({}), {});
  const rssBefore = process.memoryUsage.rss();
  peakRss = rssBefore;
  const cpu0 = runtime.cpuTimeMs();
  const t0 = performance.now();
  const result = await new Runner(store, { compute }).execute(p, run);
  const seconds = (performance.now() - t0) / 1000;
  const cpuSeconds = (runtime.cpuTimeMs() - cpu0) / 1000;
  sample();
  const output = result.outputs.get("crawl_seeds") as { fetched: number; unchanged: number; failed: number };
  if (result.state !== "success" || output.fetched + output.unchanged !== PAGES || output.failed !== 0) {
    throw new Error(`${name}: the crawl did not get all ${PAGES} pages: ${result.state} ${JSON.stringify(output)}`);
  }
  console.log(JSON.stringify({
    benchmark: name,
    runtime: runtime.name,
    server: server.where,
    pages: PAGES,
    fetched: output.fetched,
    unchanged: output.unchanged,
    seconds: Number(seconds.toFixed(3)),
    cpu_seconds: Number(cpuSeconds.toFixed(3)),
    cpu_ms_per_page: Number(((cpuSeconds * 1000) / PAGES).toFixed(3)),
    pages_per_second: Math.round(PAGES / seconds),
    target_pages_per_second: 300,
    rss_before_mb: Math.round(rssBefore / 2 ** 20),
    peak_rss_mb: Math.round(peakRss / 2 ** 20),
  }));
  return { pps: PAGES / seconds, cpuMsPerPage: (cpuSeconds * 1000) / PAGES };
}

/** One round: wget, the crawl, wget, against the same server; the ratio is against wget's mean. */
async function round(store: Store, n: number): Promise<{ ratio: number; cellarCpu: number; wgetCpu: number; load: number }> {
  const load = loadavg()[0];
  const wgetBefore = await wget();
  const cellar = await crawlOnce(store, "crawl_postgresql_manual");
  const wgetAfter = await wget();
  const wgetPps = (wgetBefore.pps + wgetAfter.pps) / 2;
  const wgetCpu = (wgetBefore.cpuMsPerPage + wgetAfter.cpuMsPerPage) / 2;
  const ratio = cellar.pps / wgetPps;
  console.log(JSON.stringify({
    benchmark: "crawl_vs_wget", runtime: runtime.name, round: n, load_average_1m: Number(load.toFixed(2)),
    cellar_pages_per_second: Math.round(cellar.pps),
    wget_pages_per_second: Math.round(wgetPps), wget_runs_pages_per_second: [Math.round(wgetBefore.pps), Math.round(wgetAfter.pps)],
    ratio: Number(ratio.toFixed(2)), target_ratio: 1,
    cellar_cpu_ms_per_page: Number(cellar.cpuMsPerPage.toFixed(3)), wget_cpu_ms_per_page: Number(wgetCpu.toFixed(3)),
    timing: "each side from its start to its end against the same server in this run: wget from spawn to exit, " +
      "the crawl from Runner.execute to its committed run (the process's start, loading the kernel, is not counted)",
  }));
  return { ratio, cellarCpu: cellar.cpuMsPerPage, wgetCpu, load };
}

const stores: Store[] = [];
try {
  const rounds = [];
  for (let n = 1; n <= ROUNDS; n++) {
    const store = await newStore();
    stores.push(store);
    rounds.push(await round(store, n));
    // The re-crawl, answered 304, once: in the first round's store.
    if (n === 1) await crawlOnce(store, "recrawl_postgresql_manual_304");
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(JSON.stringify({
    benchmark: "crawl_vs_wget_rounds", runtime: runtime.name, rounds: rounds.length,
    ratios: rounds.map((r) => Number(r.ratio.toFixed(2))), median_ratio: Number(median(rounds.map((r) => r.ratio)).toFixed(2)),
    target_ratio: 1, load_averages_1m: rounds.map((r) => Number(r.load.toFixed(2))),
    cellar_cpu_ms_per_page: rounds.map((r) => Number(r.cellarCpu.toFixed(3))),
    wget_cpu_ms_per_page: rounds.map((r) => Number(r.wgetCpu.toFixed(3))),
  }));
} finally {
  clearInterval(sampler);
  for (const store of stores) await store.close();
  await compute.close();
  await server.close();
}
