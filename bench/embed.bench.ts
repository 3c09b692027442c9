// embed_docs benchmarks on the Cranfield abstracts. Prints one JSON object per result.
//
//   XDG_RUNTIME_DIR=/tmp/xdg npx tsx bench/embed.bench.ts [--only use-lite|tiny-bert|minilm-shaped] [--docs n] [--repeats n]
//   XDG_RUNTIME_DIR=/tmp/xdg node_modules/deno/deno run -A bench/embed.bench.ts --only tiny-bert
//
// For each model: docs/s through the embed_docs cell (chunking, hashing, ctx.map under the
// cell's gpu 0.5 claim, DuckDB appends, commit) against calling the library directly
// (@energetic-ai/embeddings' model.embed, transformers.js' feature-extraction pipeline) on
// the same model object, the same chunk texts in the same order and the same batch size.
// Target: cell overhead ≤ 5%, best of N runs per side (alternating which goes first), after
// warming the model on a full batch. Then a re-run on the unchanged corpus (all copied).
//
// Models: use-lite (the real USE-lite weights; 400 docs × 3 by default); "tiny-bert" (the
// test fixture, hidden 32, 2 layers; all 1,400 docs × 5) and "minilm-shaped" (random
// weights in all-MiniLM-L6-v2's shape: hidden 384, 6 layers, 12 heads; 300 docs × 3),
// both generated here since no hub is reachable. About 5 minutes on 2 cores.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { embedDocs, type EmbedOutput, loadEmbedder } from "../cells/embed.ts";
import { extractorOf } from "../cells/embed/transformers.ts";
import { loadUseLiteModel } from "../cells/embed/use-lite.ts";
import { compute } from "../kernel/compute/devices.ts";
import { pipeline } from "../kernel/mod.ts";
import { runDetail } from "../kernel/report.ts";
import { Runner } from "../kernel/runner.ts";
import { createManualRun } from "../kernel/run-records.ts";
import { runtime } from "../kernel/runtime/mod.ts";
import { Store } from "../kernel/store/store.ts";
import { writeTinyBert } from "../test/fixtures/tiny-bert.ts";

type Doc = { id: string; title: string; text: string };

const args = runtime.args();
const option = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const ROOT = runtime.resolve(runtime.dirname(runtime.fromFileUrl(import.meta.url)), "..");
const ALL: Doc[] = readFileSync(join(ROOT, "pipelines/data/cranfield/docs.jsonl"), "utf8")
  .split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l));
let DOCS = ALL;
const ONLY = option("only");
const BATCH = 64;
const PARAMS = { model: "use-lite", modelPath: "", dtype: "fp32", chunkTokens: 256, chunkOverlap: 32, batchSize: BATCH };

const round = (x: number) => Math.round(x * 10) / 10;

/** Runs dedup-shaped input + embed_docs once on `store`; the embed cell's own duration is the time. */
async function runCell(store: Store, params: Record<string, unknown>): Promise<{ ms: number; cpuMs: number; output: EmbedOutput }> {
  const p = pipeline({ id: "embedbench" })
    .cell("dedup_corpus", { cache: false }, async (ctx) => {
      const table = await ctx.table("documents", { id: "VARCHAR", title: "VARCHAR", text: "VARCHAR" });
      await table.append(DOCS);
      return { documents: await table.finish() };
    })
    .cell("embed_docs", { gpu: 0.5 }, embedDocs);
  const date = new Date();
  const run = await createManualRun(store, p.id, "manual", date, { start: date, end: date }, { ...PARAMS, ...params } as never, { noCache: true });
  let started = 0;
  let ended = 0;
  let cpuStarted = 0;
  let cpuEnded = 0;
  const runner = new Runner(store, { compute: compute() });
  // From the cell starting to its checkpoint being durable: everything the cell costs.
  runner.on((e) => {
    if (e.type === "cell" && e.cell === "embed_docs" && e.state === "running") started = performance.now(), cpuStarted = runtime.cpuTimeMs();
    if (e.type === "cell" && e.cell === "embed_docs" && e.state === "success") ended = performance.now(), cpuEnded = runtime.cpuTimeMs();
  });
  const result = await runner.execute(p, run);
  if (result.state !== "success") {
    const detail = await runDetail(store, run.runId);
    throw new Error(`benchmark run failed: ${detail.cells.map((c) => c.error).filter(Boolean).join("; ")}`);
  }
  return { ms: ended - started, cpuMs: cpuEnded - cpuStarted, output: result.outputs.get("embed_docs") as EmbedOutput };
}

/** The chunk texts in the order the cell embedded them. */
async function chunkTexts(store: Store, output: EmbedOutput): Promise<string[]> {
  const rows = await store.query(`SELECT text FROM ${output.chunks.sql} ORDER BY document, chunk_index`);
  return rows.map((r) => String(r.text));
}

async function timeDirect(texts: string[], embed: (batch: string[]) => Promise<unknown>): Promise<{ ms: number; cpuMs: number }> {
  const [t0, c0] = [performance.now(), runtime.cpuTimeMs()];
  for (let i = 0; i < texts.length; i += BATCH) await embed(texts.slice(i, i + BATCH));
  return { ms: performance.now() - t0, cpuMs: runtime.cpuTimeMs() - c0 };
}

async function compare(name: string, params: Record<string, unknown>, direct: (batch: string[]) => Promise<unknown>, repeats: number) {
  const cellMs: number[] = [];
  const directMs: number[] = [];
  const cellCpu: number[] = [];
  const directCpu: number[] = [];
  let output: EmbedOutput | undefined;
  let texts: string[] = [];
  let rerun: { ms: number; output: EmbedOutput } | undefined;
  // Alternate which side goes first, so drift (other load on the host, caches) falls on both; report medians.
  for (let r = 0; r < repeats; r++) {
    const store = await Store.open(join(mkdtempSync(join(tmpdir(), "cellar-embed-bench-")), "bench.duckdb"));
    const cellRun = async () => {
      const cell = await runCell(store, params);
      output = cell.output;
      cellMs.push(cell.ms);
      cellCpu.push(cell.cpuMs);
      if (texts.length === 0) texts = await chunkTexts(store, cell.output);
    };
    const directRun = async () => {
      const { ms, cpuMs } = await timeDirect(texts, direct);
      directMs.push(ms);
      directCpu.push(cpuMs);
    };
    if (r % 2 === 0 || texts.length === 0) {
      await cellRun();
      await directRun();
    } else {
      await directRun();
      await cellRun();
    }
    if (r === repeats - 1) rerun = await runCell(store, params);
    await store.close();
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  // Best of N: other work on a shared host only ever adds time, so the fastest run is the
  // truest figure for each side; medians and CPU time are printed beside it.
  const [c, d] = [Math.min(...cellMs), Math.min(...directMs)];
  const [cc, dc] = [median(cellCpu), median(directCpu)];
  const embedder = await loadEmbedder(String(params.model ?? "use-lite"), { modelPath: params.modelPath as string, dtype: params.dtype as "fp32" });
  console.log(JSON.stringify({
    benchmark: `embed_docs_${name}`,
    runtime: runtime.name,
    model: output!.model,
    dimensions: output!.dimensions,
    device: embedder.device,
    docs: DOCS.length,
    chunks: output!.chunks.rows,
    batch_size: BATCH,
    repeats,
    cell_ms: round(c),
    direct_ms: round(d),
    cell_docs_per_second: round(DOCS.length / (c / 1000)),
    direct_docs_per_second: round(DOCS.length / (d / 1000)),
    cell_chunks_per_second: round(output!.chunks.rows / (c / 1000)),
    direct_chunks_per_second: round(output!.chunks.rows / (d / 1000)),
    overhead_percent: round((c / d - 1) * 100),
    target_overhead_percent: 5,
    median_overhead_percent: round((median(cellMs) / median(directMs) - 1) * 100),
    // CPU time (medians) is steadier than wall time when other work shares the host.
    cell_cpu_ms: round(cc),
    direct_cpu_ms: round(dc),
    cpu_overhead_percent: round((cc / dc - 1) * 100),
    // The first cell run also tokenizes the corpus's distinct words for chunking (cached per loaded model).
    first_cell_ms: round(cellMs[0]),
    first_overhead_percent: round((cellMs[0] / directMs[0] - 1) * 100),
    cell_runs_ms: cellMs.map(round),
    direct_runs_ms: directMs.map(round),
  }));
  console.log(JSON.stringify({
    benchmark: `embed_docs_rerun_unchanged_${name}`,
    runtime: runtime.name,
    docs: DOCS.length,
    chunks: rerun!.output.chunks.rows,
    embedded: rerun!.output.embedded,
    reused: rerun!.output.reused,
    cell_ms: round(rerun!.ms),
  }));
}

await compute().gpu(); // open the device pool before timing (lavapipe here, a GPU elsewhere)

/** Warms a model on full-size batches (the first large batch allocates), then returns the direct call. */
async function warm(call: (batch: string[]) => Promise<unknown>, texts: string[]) {
  await call(texts.slice(0, BATCH));
  return call;
}
const sample = ALL.slice(0, BATCH).map((d) => d.text);

const DOCS_OPTION = option("docs");
const REPEATS_OPTION = option("repeats");
const setup = (docs: number, repeats: number) => {
  DOCS = ALL.slice(0, Number(DOCS_OPTION ?? docs));
  return Number(REPEATS_OPTION ?? repeats);
};

if (!ONLY || ONLY === "use-lite") {
  const repeats = setup(400, 3);
  await loadEmbedder("use-lite");
  const model = await loadUseLiteModel(); // the same model object the cell uses
  const direct = await warm((batch) => model.embed(batch), sample);
  await compare("use-lite", {}, direct, repeats);
}

for (const [name, shape, docs, repeats] of [
  ["tiny-bert", { hidden: 32, layers: 2, heads: 4, intermediate: 64 }, ALL.length, 5],
  ["minilm-shaped", { hidden: 384, layers: 6, heads: 12, intermediate: 1536 }, 300, 3],
] as const) {
  if (ONLY && ONLY !== name) continue;
  const times = setup(docs, repeats);
  const dir = writeTinyBert(join(mkdtempSync(join(tmpdir(), "cellar-bert-")), name), { ...shape, dtypes: ["fp32"] });
  const params = { model: "transformers", modelPath: dir, dtype: "fp32" };
  const extractor = extractorOf(await loadEmbedder("transformers", { modelPath: dir, dtype: "fp32" }))!; // the cell's own session
  const direct = await warm((batch) => extractor(batch, { pooling: "mean", normalize: true }), sample);
  await compare(name, params, direct, times);
}

await compute().close();
