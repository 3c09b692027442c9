// The ingest pipeline end to end at scale (issue 13, item 6): N generated documents (default 100,000;
// bench/ingest-corpus.ts: Cranfield sentences and titles, abstracts of Cranfield's lengths, ~4% longer
// pages, ~3% near and ~1% exact copies) through `cellar run ingest` — crawl_seeds from the JSONL seed →
// dedup_corpus → embed_docs → build_index — on the transformers path with a generated model in
// all-MiniLM-L6-v2's shape (test/fixtures/tiny-bert.ts: hidden 384, 6 layers, 12 heads, intermediate 1536,
// seeded random weights; no model weights can be downloaded here). Prints one JSON object per line.
//
//   XDG_RUNTIME_DIR=/tmp/xdg npx tsx bench/ingest-100k.bench.ts [--docs 100000] [--docs 5000,20000]
//       [--model minilm|tiny] [--dtype fp32|q8|fp32,q8] [--timeout-min 45] [--sample-ms 200] [--keep]
//       [--node-flags=--single-threaded-gc]
//
// --dtype q8 embeds with the model's dynamically quantized weights (onnx/model_quantized.onnx, int8 MatMuls as
// onnxruntime's quantize_dynamic writes them: what the hub's transformers.js models ship beside model.onnx).
// Given both, each size runs with each, and a last line gives embed_docs' CPU per chunk of q8 against fp32.
//
// --node-flags passes V8/Node flags to the child. On a busy host V8's concurrent marking threads get little CPU and
// the heap grows on while they mark, so peak RSS moves with the load; --single-threaded-gc makes the GC's timing,
// and so the peaks, the same on a busy host as on an idle one: the flag to compare runs (and slopes) with.
//
// The run is a child `cellar run ingest` (node --import tsx kernel/cli.ts), so the memory measured is
// the process doing the work alone (its CPU workers are threads of it): its RSS is read from
// /proc/<pid>/status every --sample-ms, each sample given to the cell running then (read live from the
// run's own log lines), with the kernel's high-water mark (VmHWM) beside it. Wall and CPU time per cell
// come from the store's attempts after the run. Per cell: wall ms, CPU ms, docs/s (documents that
// entered the cell), peak and end RSS. Given several --docs, one last line gives each cell's peak-RSS slope
// in MB per 1,000 documents between the smallest and the largest run: "flat in N" means near 0.
// Target: 100K documents in ≤ 45 min on this 2-core machine; runs of fewer documents print the linear
// extrapolation to 100K. --timeout-min stops the run (SIGINT: the run is interrupted, resumable) and
// prints the cells that finished and how far the running one got.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Store } from "../kernel/store/store.ts";
import { writeTinyBert } from "../test/fixtures/tiny-bert.ts";
import { writeIngestCorpus } from "./ingest-corpus.ts";

const ROOT = resolve(fileURLToPath(new URL("..", import.meta.url)));
const CELLS = ["crawl_seeds", "dedup_corpus", "embed_docs", "build_index"] as const;
const TARGET_MINUTES = 45;
const SHAPES = {
  minilm: { hidden: 384, layers: 6, heads: 12, intermediate: 1536 },
  tiny: { hidden: 32, layers: 2, heads: 4, intermediate: 64 },
} as const;

const args = process.argv.slice(2);
const option = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const SIZES = (option("docs") ?? "100000").split(",").map(Number);
const MODEL = (option("model") ?? "minilm") as keyof typeof SHAPES;
const DTYPES = (option("dtype") ?? "fp32").split(",");
const TIMEOUT_MS = Number(option("timeout-min") ?? 600) * 60_000;
const SAMPLE_MS = Number(option("sample-ms") ?? 200);
const KEEP = args.includes("--keep");
const NODE_FLAGS = (args.find((a) => a.startsWith("--node-flags="))?.slice("--node-flags=".length) ?? "").split(" ").filter(Boolean);
if (SIZES.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--docs: expected whole numbers ≥ 1, comma-separated, got ${option("docs")}`);
if (DTYPES.some((d) => d !== "fp32" && d !== "q8")) throw new Error(`--dtype: expected fp32 or q8, comma-separated, got ${option("dtype")}`);
if (!(MODEL in SHAPES)) throw new Error(`--model: expected minilm or tiny, got ${MODEL}`);

const mb = (bytes: number) => Math.round(bytes / 1048576);
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

/** RSS and high-water mark of a process, in bytes; undefined once it has gone. */
function memory(pid: number): { rss: number; hwm: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0) * 1024;
    return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
  } catch {
    return undefined;
  }
}

interface CellMemory {
  /** RSS when the cell started: what the cells before it left. */
  start: number;
  peak: number;
  end: number;
  hwm: number;
  samples: number;
}

interface Watched {
  code: number | null;
  timedOut: boolean;
  peak: number;
  hwm: number;
  /** RSS once the CLI has loaded, before the first cell. */
  idle: number;
  cells: Map<string, CellMemory>;
  /** The running cell's last progress line, for a run stopped early. */
  lastProgress: string;
  /** The first failed try's line: the run is stopped there (ingest's retries wait 15 min; a retried run is not the figure). */
  failure?: string;
  ms: number;
}

/** Runs the CLI, sampling its memory per cell until it exits (or is stopped at the timeout). */
async function watch(argv: string[], logFile: string): Promise<Watched> {
  const child: ChildProcess = spawn(process.execPath, [...NODE_FLAGS, "--import", "tsx", "kernel/cli.ts", ...argv], {
    cwd: ROOT,
    env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? "/tmp/xdg" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const out: string[] = [];
  const state: Watched = { code: null, timedOut: false, peak: 0, hwm: 0, idle: 0, cells: new Map(), lastProgress: "", ms: 0 };
  let cell: string | undefined;
  const sample = () => {
    const m = memory(child.pid!);
    if (!m) return;
    state.peak = Math.max(state.peak, m.rss);
    state.hwm = Math.max(state.hwm, m.hwm);
    if (!cell) {
      if (state.cells.size === 0) state.idle = Math.max(state.idle, m.rss);
      return;
    }
    const c = state.cells.get(cell) ?? { start: m.rss, peak: 0, end: 0, hwm: 0, samples: 0 };
    c.peak = Math.max(c.peak, m.rss);
    c.end = m.rss;
    c.hwm = m.hwm;
    c.samples++;
    state.cells.set(cell, c);
  };
  // The run's lines go to stdout and its progress to stderr: both are read, each line whole.
  const pending = { stdout: "", stderr: "" };
  const read = (stream: "stdout" | "stderr") => (data: Buffer) => {
    out.push(data.toString());
    pending[stream] += data.toString();
    const lines = pending[stream].split("\n");
    pending[stream] = lines.pop()!;
    for (const line of lines) {
      // A progress line is "n/total (p%)" when the cell knows its total, or a bare count (embed_docs, build_index).
      const m = / run \d+ (\w+): (running|success|failed|try \d+ failed|\d+(?:\/\d+)?)/.exec(line);
      if (!m || !(CELLS as readonly string[]).includes(m[1])) continue;
      if (m[2].endsWith("failed") && state.failure === undefined) {
        state.failure = line.slice(line.indexOf(`run `)).trim();
        process.stderr.write(`${new Date().toISOString()} ${state.failure}\n  (stopping the run: a try failed)\n`);
        child.kill("SIGINT");
      }
      // Every state change is sampled on both sides, so a short cell still has its own figures.
      sample();
      // The next cell's start can be printed before the last one's end: only the running cell's end clears it.
      // The live line names the running cell: a cell's start forgets the progress of the one before.
      if (m[2] === "running") [cell, state.lastProgress] = [m[1], ""];
      else if ((m[2] === "success" || m[2] === "failed") && cell === m[1]) cell = undefined;
      else if (m[1] === cell) state.lastProgress = `${m[1]} ${m[2]}`;
      sample();
    }
  };
  child.stdout!.on("data", read("stdout"));
  child.stderr!.on("data", read("stderr"));
  const t0 = performance.now();
  const timer = setInterval(sample, SAMPLE_MS);
  const progress = setInterval(() => {
    const m = memory(child.pid!);
    process.stderr.write(`${new Date().toISOString()} ${((performance.now() - t0) / 60000).toFixed(1)} min: ${state.lastProgress || cell || "starting"}, RSS ${m ? mb(m.rss) : "?"} MB\n`);
  }, 60_000);
  const stop = setTimeout(() => {
    state.timedOut = true;
    child.kill("SIGINT");
    setTimeout(() => child.kill("SIGKILL"), 30_000).unref();
  }, TIMEOUT_MS);
  state.code = await new Promise<number | null>((done) => child.on("exit", (code) => done(code)));
  state.ms = performance.now() - t0;
  clearInterval(timer);
  clearInterval(progress);
  clearTimeout(stop);
  writeFileSync(logFile, out.join(""));
  return state;
}

interface CellTimes {
  cell: string;
  state: string;
  wall_ms: number;
  cpu_ms: number;
  output: Record<string, unknown> | undefined;
}

/** Each cell's last try in the store, with its output's counts. */
async function cellTimes(db: string): Promise<CellTimes[]> {
  const store = await Store.open(db);
  try {
    const rows = await store.query(
      `SELECT a.cell, a.state, a.wall_ms, a.cpu_ms, epoch_ms(a.started_at)::DOUBLE AS started, epoch_ms(now())::DOUBLE AS now, o.output::VARCHAR AS output
       FROM attempts a LEFT JOIN outputs o USING (run_id, cell)
       WHERE a.run_id = (SELECT max(run_id) FROM runs) ORDER BY a.started_at`,
    );
    return rows.map((r) => ({
      cell: String(r.cell),
      state: String(r.state),
      // A try cut short has no wall time of its own: it ran from its start until the run was stopped.
      wall_ms: (r.wall_ms as number | null) ?? ((r.now as number) - (r.started as number)),
      cpu_ms: (r.cpu_ms as number | null) ?? 0,
      output: r.output ? JSON.parse(String(r.output)) : undefined,
    }));
  } finally {
    await store.close();
  }
}

/** Documents (or chunks) that entered each cell, from the outputs of the cells before it. */
function inputs(times: CellTimes[], docs: number): Record<string, { docs: number; chunks?: number }> {
  const out = (cell: string) => times.find((t) => t.cell === cell)?.output;
  const rows = (ref: unknown) => (ref as { rows?: number } | undefined)?.rows;
  const crawled = rows(out("crawl_seeds")?.documents) ?? docs;
  const kept = (out("dedup_corpus")?.kept as number | undefined) ?? crawled;
  const chunks = rows(out("embed_docs")?.chunks);
  return {
    crawl_seeds: { docs },
    dedup_corpus: { docs: crawled },
    embed_docs: { docs: kept, chunks },
    build_index: { docs: kept, chunks },
  };
}

type Figures = {
  docs: number;
  dtype: string;
  cells: Map<string, CellMemory & { wall_ms: number }>;
  total_ms: number;
  peak: number;
  embed: { cpu_ms: number; wall_ms: number; chunks: number };
};

async function measure(docs: number, dir: string, model: string, dtype: string): Promise<Figures> {
  const corpus = join(dir, `corpus-${docs}.jsonl`);
  const g0 = performance.now();
  const stats = writeIngestCorpus(corpus, docs);
  console.log(JSON.stringify({ benchmark: "ingest_corpus", ...stats, mb: mb(stats.bytes), generate_ms: Math.round(performance.now() - g0) }));
  const db = join(dir, `ingest-${docs}.duckdb`);
  rmSync(db, { force: true });
  rmSync(`${db}.wal`, { force: true });
  const argv = ["--db", db, "run", "ingest", "--new", "--param", `seeds=${corpus}`, "--param", "model=transformers", "--param", `modelPath=${model}`, "--param", `dtype=${dtype}`];
  const watched = await watch(argv, join(dir, `ingest-${docs}.log`));
  const times = await cellTimes(db);
  const entered = inputs(times, docs);
  const embed = times.find((t) => t.cell === "embed_docs");
  const figures: Figures = {
    docs,
    dtype,
    cells: new Map(),
    total_ms: 0,
    peak: watched.peak,
    embed: { cpu_ms: embed?.cpu_ms ?? 0, wall_ms: embed?.wall_ms ?? 0, chunks: entered.embed_docs.chunks ?? 0 },
  };
  for (const t of times) {
    const m = watched.cells.get(t.cell) ?? { start: 0, peak: 0, end: 0, hwm: 0, samples: 0 };
    const e = entered[t.cell] ?? { docs };
    figures.cells.set(t.cell, { ...m, wall_ms: t.wall_ms });
    figures.total_ms += t.wall_ms;
    console.log(JSON.stringify({
      benchmark: "ingest_cell",
      cell: t.cell,
      state: t.state,
      docs,
      docs_in: e.docs,
      chunks: e.chunks,
      wall_ms: Math.round(t.wall_ms),
      cpu_ms: Math.round(t.cpu_ms),
      cores_busy: round(t.cpu_ms / Math.max(t.wall_ms, 1), 2),
      docs_per_second: round(e.docs / (t.wall_ms / 1000)),
      chunks_per_second: e.chunks === undefined || !t.cell.startsWith("embed") ? undefined : round(e.chunks / (t.wall_ms / 1000)),
      start_rss_mb: mb(m.start),
      peak_rss_mb: mb(m.peak),
      // What the cell itself added on top of what it started with.
      growth_mb: mb(m.peak - m.start),
      end_rss_mb: mb(m.end),
      vm_hwm_mb: mb(m.hwm),
      rss_samples: m.samples,
    }));
  }
  const finished = times.filter((t) => t.state === "success").length === CELLS.length;
  const minutes = figures.total_ms / 60000;
  console.log(JSON.stringify({
    benchmark: "ingest_end_to_end",
    runtime: "node",
    model: `${MODEL}-shaped (${Object.entries(SHAPES[MODEL]).map(([k, v]) => `${k} ${v}`).join(", ")})`,
    dtype,
    docs,
    kept: (times.find((t) => t.cell === "dedup_corpus")?.output?.kept as number | undefined) ?? null,
    chunks: entered.embed_docs.chunks ?? null,
    finished,
    timed_out: watched.timedOut,
    failure: watched.failure,
    stopped_in: finished ? undefined : watched.lastProgress,
    exit_code: watched.code,
    cells_ms: Math.round(figures.total_ms),
    process_ms: Math.round(watched.ms),
    docs_per_second: round(docs / (figures.total_ms / 1000)),
    minutes: round(minutes, 2),
    // Linear in N: the cells' costs per document (embedding dominates) do not grow with N.
    extrapolated_100k_minutes: finished ? round(minutes * (100_000 / docs), 1) : undefined,
    target_minutes: TARGET_MINUTES,
    target_met: finished ? minutes * (100_000 / docs) <= TARGET_MINUTES : false,
    idle_rss_mb: mb(watched.idle),
    peak_rss_mb: mb(watched.peak),
    vm_hwm_mb: mb(watched.hwm),
    sample_ms: SAMPLE_MS,
    node_flags: NODE_FLAGS.join(" ") || undefined,
    cores: availableParallelism(),
  }));
  return figures;
}

const dir = mkdtempSync(join(tmpdir(), "cellar-ingest-100k-"));
const modelDir = join(dir, `${MODEL}-shaped`);
writeTinyBert(modelDir, { ...SHAPES[MODEL], dtypes: DTYPES as Array<"fp32" | "q8"> });
try {
  const largest = new Map<string, Figures>();
  for (const dtype of DTYPES) {
    const runs: Figures[] = [];
    for (const docs of [...SIZES].sort((a, b) => a - b)) runs.push(await measure(docs, dir, modelDir, dtype));
    printSlope(runs);
    largest.set(dtype, runs[runs.length - 1]);
  }
  const [fp32, q8] = [largest.get("fp32"), largest.get("q8")];
  if (fp32 && q8) {
    const perChunk = (f: Figures) => round(f.embed.cpu_ms / Math.max(f.embed.chunks, 1), 1);
    console.log(JSON.stringify({
      benchmark: "embed_q8_vs_fp32",
      docs: q8.docs,
      cpu_ms_per_chunk: { fp32: perChunk(fp32), q8: perChunk(q8) },
      // Below 1: q8 costs that share of fp32's CPU. CPU time is the figure to trust on a busy host.
      cpu_ratio: round(q8.embed.cpu_ms / Math.max(fp32.embed.cpu_ms, 1), 3),
      wall_ratio: round(q8.embed.wall_ms / Math.max(fp32.embed.wall_ms, 1), 3),
    }));
  }
} finally {
  if (KEEP) process.stderr.write(`kept ${dir}\n`);
  else rmSync(dir, { recursive: true, force: true });
}

/** Each cell's peak-RSS slope between the smallest and the largest of `runs` (one dtype); nothing for one size. */
function printSlope(runs: Figures[]): void {
  if (runs.length >= 2) {
    const [small, large] = [runs[0], runs[runs.length - 1]];
    const growth = (f: Figures, c: string) => (f.cells.get(c)?.peak ?? 0) - (f.cells.get(c)?.start ?? 0);
    const per1k = (a: number, b: number) => round(((b - a) / 1048576) / ((large.docs - small.docs) / 1000), 2);
    console.log(JSON.stringify({
      benchmark: "ingest_rss_slope",
      docs: [small.docs, large.docs],
      // MB of peak RSS per 1,000 more documents; 0 is flat in N.
      mb_per_1k_docs: Object.fromEntries(CELLS.map((c) => [c, per1k(small.cells.get(c)?.peak ?? 0, large.cells.get(c)?.peak ?? 0)])),
      // The same for each cell's own growth (its peak less its starting RSS).
      growth_mb_per_1k_docs: Object.fromEntries(CELLS.map((c) => [c, per1k(growth(small, c), growth(large, c))])),
      process_mb_per_1k_docs: per1k(small.peak, large.peak),
      peak_rss_mb: [mb(small.peak), mb(large.peak)],
      dtype: small.dtype,
      ms_per_doc: [round(small.total_ms / small.docs, 2), round(large.total_ms / large.docs, 2)],
    }));
  }
}
