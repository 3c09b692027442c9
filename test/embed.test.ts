// embed_docs: chunking, the use-lite and transformers backends, re-use of unchanged vectors,
// and the bad inputs (a missing model file, a model of another dimension).
import { spawnSync } from "node:child_process";
import { cpSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pipeline as hfPipeline } from "@huggingface/transformers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { embedDocs, type EmbedOutput, loadEmbedder } from "../cells/embed.ts";
import { chunkText } from "../cells/embed/chunk.ts";
import { CellarError, openCellar, pipeline, type ParamValue } from "../kernel/mod.ts";
import { runtime } from "../kernel/runtime/mod.ts";
import type { Store } from "../kernel/store/store.ts";
import { writeTinyBert } from "./fixtures/tiny-bert.ts";
import { ROOT, storesClosedAfterEach, tempDir, computesClosedAfterAll } from "./helpers.ts";

type Doc = { id: string; title: string; text: string };

const CRANFIELD: Doc[] = readFileSync(join(ROOT, "pipelines/data/cranfield/docs.jsonl"), "utf8")
  .split("\n")
  .filter((line) => line.trim() !== "")
  .map((line) => JSON.parse(line));

const { cpuOnly, withGpu } = computesClosedAfterAll();
const newStore = storesClosedAfterEach();

let tinyBert: string;
const modelDirs: string[] = [];
/** A directory for model copies, removed after the file's tests (each copy is ~8 MB). */
const modelDir = () => {
  const dir = tempDir("cellar-tiny-bert-");
  modelDirs.push(dir);
  return dir;
};
beforeAll(() => {
  tinyBert = writeTinyBert(join(modelDir(), "tiny-bert"));
});
afterAll(() => {
  for (const dir of modelDirs) rmSync(dir, { recursive: true, force: true });
});

const PARAMS = { model: "use-lite", modelPath: "", dtype: "fp32", chunkTokens: 256, chunkOverlap: 32, batchSize: 64 };

/** A pipeline that writes `docs` as the documents table (as dedup_corpus would) and embeds them. */
function embedPipeline(docs: () => Doc[], cellOptions: { timeout?: string } = {}, params: Record<string, ParamValue> = PARAMS) {
  return pipeline({ id: "embedtest", params: { ...params, rebuild: false } })
    .cell("dedup_corpus", { cache: false }, async (ctx) => {
      const table = await ctx.table("documents", { id: "VARCHAR", title: "VARCHAR", text: "VARCHAR" });
      await table.append(docs());
      return { documents: await table.finish() };
    })
    .cell("embed_docs", { gpu: 0.5, retries: 0, ...cellOptions }, embedDocs);
}

async function run(store: Store, p: ReturnType<typeof embedPipeline>, params: Record<string, ParamValue>, compute = cpuOnly) {
  const cellar = openCellar({ db: store, compute });
  const result = await cellar.run(p, { date: "2026-05-03T00:00:00Z", params, cache: false });
  const detail = await cellar.show(result.runId);
  const cell = detail.cells.find((c) => c.cell === "embed_docs");
  return { result, error: cell?.error ?? null, output: result.outputs.get("embed_docs") as EmbedOutput | undefined };
}

/** chunk_id → vector, from a vectors table. */
async function vectorsOf(store: Store, output: EmbedOutput): Promise<Map<string, number[]>> {
  const rows = await store.query(`SELECT chunk_id, embedding FROM ${output.vectors.sql}`);
  return new Map(rows.map((r) => [String(r.chunk_id), r.embedding as number[]]));
}

/** True when WebGPU offers a hardware adapter (not lavapipe or SwiftShader). */
async function hardwareAdapter(): Promise<boolean> {
  const adapter = await (await runtime.gpu())?.requestAdapter({ powerPreference: "high-performance" });
  return !!adapter && !adapter.info.isFallbackAdapter;
}

const norm = (v: ArrayLike<number>) => Math.hypot(...Array.from(v));
const cosine = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i] * b[i];
  return dot / (norm(a) * norm(b));
};
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
};

describe("chunkText", () => {
  const words = (text: string) => text.split(/\s+/).filter(Boolean).length;
  const countOne = () => 1;

  it("cuts by tokens with overlap, and its offsets point back into the text", () => {
    const text = Array.from({ length: 100 }, (_, i) => `w${i}`).join("  \n ");
    const chunks = chunkText(text, { chunkTokens: 10, chunkOverlap: 3, countTokens: countOne });
    for (const c of chunks) {
      expect(text.slice(c.start, c.end)).toBe(c.text);
      expect(c.tokens).toBe(words(c.text));
      expect(c.tokens).toBeLessThanOrEqual(10);
    }
    expect(chunks[0].text.startsWith("w0 ")).toBe(true);
    expect(chunks.at(-1)!.text.endsWith("w99")).toBe(true);
    // Consecutive chunks share exactly the overlap (every word is one token here).
    for (let i = 1; i < chunks.length; i++) expect(chunks[i - 1].end - chunks[i].start).toBeGreaterThan(0);
    expect(chunks[1].text.split(/\s+/)[0]).toBe("w7");
    expect(chunks.map((c) => c.index)).toEqual(chunks.map((_, i) => i));
  });

  it("keeps a short text whole, gives nothing for blank text, and cuts a word longer than a chunk", () => {
    expect(chunkText("  just a few words ", { chunkTokens: 256, chunkOverlap: 32, countTokens: countOne }))
      .toEqual([{ index: 0, start: 2, end: 18, text: "just a few words", tokens: 4 }]);
    expect(chunkText(" \n\t ", { chunkTokens: 8, chunkOverlap: 2, countTokens: countOne })).toEqual([]);
    const blob = "x".repeat(100);
    const perChar = (w: string) => w.length;
    const chunks = chunkText(`a ${blob} b`, { chunkTokens: 30, chunkOverlap: 0, countTokens: perChar });
    expect(chunks.every((c) => c.tokens <= 30)).toBe(true);
    expect(chunks.map((c) => c.text).join("").replace(/\s/g, "")).toBe(`a${blob}b`);
  });

  it("with the model's own tokenizer, a chunk's whole-text token count stays within chunkTokens", async () => {
    const embedder = await loadEmbedder("transformers", { modelPath: tinyBert, dtype: "fp32", device: "cpu" });
    const text = CRANFIELD.slice(0, 20).map((d) => d.text).join("\n\n");
    const chunks = chunkText(text, { chunkTokens: 64, chunkOverlap: 8, countTokens: (w) => embedder.countTokens(w) });
    expect(chunks.length).toBeGreaterThan(10);
    for (const c of chunks) {
      expect(embedder.countTokens(c.text)).toBe(c.tokens);
      expect(c.tokens).toBeLessThanOrEqual(64);
    }
  });
});

describe("transformers backend on a tiny BERT made at test time", () => {
  it("loads the model directory and gives normalized vectors of the configured dimension", async () => {
    const embedder = await loadEmbedder("transformers", { modelPath: tinyBert, dtype: "fp32" });
    expect(embedder.id).toBe("transformers:tiny-bert:fp32");
    expect(embedder.dimensions).toBe(32);
    expect(embedder.device).toBe(await hardwareAdapter() ? "webgpu" : "cpu");
    expect(embedder.maxTokens).toBe(510);
    const texts = ["laminar boundary layer on a flat plate", "shock waves in hypersonic flow", "laminar boundary layer on a flat plate"];
    const vectors = await embedder.embed(texts);
    expect(vectors).toHaveLength(3);
    for (const v of vectors) {
      expect(v).toBeInstanceOf(Float32Array);
      expect(v.length).toBe(32);
      expect(norm(v)).toBeCloseTo(1, 5);
    }
    expect(Array.from(vectors[2])).toEqual(Array.from(vectors[0]));
    const [again] = await embedder.embed([texts[0]]);
    expect(maxDiff(again, vectors[0])).toBeLessThan(1e-5);
  });

  it("tokenizes with the real bert-base-uncased vocabulary", async () => {
    const extractor = await hfPipeline("feature-extraction", tinyBert, { dtype: "fp32", device: "cpu", local_files_only: true });
    expect(extractor.tokenizer.encode("Hello world, unaffable!")).toEqual([101, 7592, 2088, 1010, 14477, 20961, 3468, 999, 102]);
  });

  it("stores the same vectors as calling transformers.js directly on the same texts and batches", async () => {
    const store = await newStore();
    const docs = CRANFIELD.slice(0, 12);
    const { output, error } = await run(store, embedPipeline(() => docs), {
      model: "transformers", modelPath: tinyBert, batchSize: 4, chunkTokens: 48, chunkOverlap: 8,
    });
    expect(error).toBeNull();
    expect(output!.model).toBe("transformers:tiny-bert:fp32");
    expect(output!.dimensions).toBe(32);
    expect(output!.embedded).toBe(output!.chunks.rows);
    expect(output!.chunks.rows).toBeGreaterThan(docs.length); // 48-token chunks cut most abstracts
    const chunks = await store.query(`SELECT chunk_id, text FROM ${output!.chunks.sql} ORDER BY document, chunk_index`);
    const stored = await vectorsOf(store, output!);
    const extractor = await hfPipeline("feature-extraction", tinyBert, { dtype: "fp32", device: "cpu", local_files_only: true });
    let worst = 0;
    for (let i = 0; i < chunks.length; i += 4) {
      const batch = chunks.slice(i, i + 4);
      const direct = await extractor(batch.map((c) => String(c.text)), { pooling: "mean", normalize: true });
      const data = direct.data as Float32Array;
      batch.forEach((c, j) => (worst = Math.max(worst, maxDiff(stored.get(String(c.chunk_id))!, data.subarray(j * 32, (j + 1) * 32)))));
    }
    expect(worst).toBeLessThan(1e-6);
  });

  it("runs the q8 model (onnx/model_quantized.onnx), close to fp32", async () => {
    const q8 = await loadEmbedder("transformers", { modelPath: tinyBert, dtype: "q8" });
    const fp32 = await loadEmbedder("transformers", { modelPath: tinyBert, dtype: "fp32" });
    expect(q8.id).toBe("transformers:tiny-bert:q8");
    const texts = CRANFIELD.slice(0, 5).map((d) => d.text);
    const [a, b] = [await q8.embed(texts), await fp32.embed(texts)];
    for (let i = 0; i < texts.length; i++) {
      expect(norm(a[i])).toBeCloseTo(1, 5);
      expect(cosine(a[i], b[i])).toBeGreaterThan(0.99);
      expect(maxDiff(a[i], b[i])).toBeGreaterThan(0); // really a different model
    }
  });

  it("runs on onnxruntime's WebGPU execution provider when asked, with the CPU's results (or falls back to the CPU)", async () => {
    const logs: string[] = [];
    const gpu = await loadEmbedder("transformers", { modelPath: tinyBert, dtype: "fp32", device: "webgpu", log: (m) => logs.push(m) });
    const cpu = await loadEmbedder("transformers", { modelPath: tinyBert, dtype: "fp32", device: "cpu" });
    if (gpu.device === "cpu") expect(logs.join("\n")).toMatch(/WebGPU session failed .*; using the CPU/);
    const texts = ["a wing in a slipstream", "heat transfer in a laminar boundary layer at high mach number"];
    const [a, b] = [await gpu.embed(texts), await cpu.embed(texts)];
    for (let i = 0; i < texts.length; i++) expect(maxDiff(a[i], b[i])).toBeLessThan(1e-5);
  });

  it.each([
    ["config.json", "fp32"],
    ["tokenizer.json", "fp32"],
    ["tokenizer_config.json", "fp32"],
    ["onnx/model.onnx", "fp32"],
    ["onnx/model_quantized.onnx", "q8"],
  ] as const)("names the missing file when %s is absent", async (file, dtype) => {
    const dir = join(modelDir(), "incomplete");
    cpSync(tinyBert, dir, { recursive: true });
    rmSync(join(dir, file));
    const load = loadEmbedder("transformers", { modelPath: dir, dtype });
    await expect(load).rejects.toBeInstanceOf(CellarError);
    await expect(load).rejects.toThrow(`model directory ${dir}: ${file} is missing`);
  });

  it("reports a model file that is not ONNX in one line", async () => {
    const dir = join(modelDir(), "corrupt");
    cpSync(tinyBert, dir, { recursive: true });
    writeFileSync(join(dir, "onnx/model.onnx"), "this is not a protobuf");
    const load = loadEmbedder("transformers", { modelPath: dir, dtype: "fp32", device: "cpu" });
    await expect(load).rejects.toBeInstanceOf(CellarError);
    await expect(load).rejects.toThrow(new RegExp(`^model "transformers" ${dir}: cannot load it \\(dtype fp32, onnx/model.onnx\\): \\S`));
  });

  it("fails the cell with one line naming the missing file, a missing directory, or a chunk size the model cannot read", async () => {
    const store = await newStore();
    const dir = join(modelDir(), "no-weights");
    cpSync(tinyBert, dir, { recursive: true });
    rmSync(join(dir, "onnx/model.onnx"));
    const docs = () => CRANFIELD.slice(0, 2);
    const missing = await run(store, embedPipeline(docs), { model: "transformers", modelPath: dir });
    expect(missing.result.state).toBe("failed");
    expect(missing.error).toBe(
      `model directory ${dir}: onnx/model.onnx is missing; a transformers model for dtype fp32 needs config.json, tokenizer.json, tokenizer_config.json, onnx/model.onnx`,
    );
    const nowhere = await run(store, embedPipeline(docs), { model: "transformers", modelPath: join(dir, "nope") });
    expect(nowhere.error).toBe(`param modelPath: expected a model directory (nothing is at ${join(dir, "nope")}), got ${JSON.stringify(join(dir, "nope"))}`);
    const unset = await run(store, embedPipeline(docs), { model: "transformers" });
    expect(unset.error).toMatch(/^param modelPath: expected a model directory \(.*\) or a Hugging Face model id for model "transformers", got ""$/);
    const tooLong = await run(store, embedPipeline(docs), { model: "transformers", modelPath: tinyBert, chunkTokens: 600 });
    expect(tooLong.error).toBe("param chunkTokens: expected a whole number ≤ 510 (model transformers:tiny-bert:fp32 reads at most 510 tokens per text), got 600");
    const badModel = await run(store, embedPipeline(docs), { model: "word2vec" });
    expect(badModel.error).toBe(`param model: expected "use-lite", "transformers" or a hub id "org/name[@revision]", got "word2vec"`);
    const badOverlap = await run(store, embedPipeline(docs), { chunkOverlap: 256 });
    expect(badOverlap.error).toBe("param chunkOverlap: expected fewer tokens than chunkTokens (256), got 256");
    // Nothing half-written became visible.
    const views = await store.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'embedtest' AND table_name IN ('chunks', 'vectors')`);
    expect(views).toEqual([]);
  });
});

describe("chunkTokens auto", () => {
  it("sizes chunks to a model that reads fewer than 256 tokens, says so, and refuses 256 given outright", async () => {
    const store = await newStore();
    // A directory named after all-MiniLM-L6-v2 gets its profile: 256 tokens with [CLS] and [SEP], 254 for the text.
    const dir = join(modelDir(), "all-MiniLM-L6-v2");
    cpSync(tinyBert, dir, { recursive: true });
    const long = { id: "long", title: "", text: CRANFIELD.slice(0, 12).map((d) => d.text).join("\n\n") };
    // As the ingest pipeline declares it (EMBED_PARAMS): chunkTokens "auto" unless given.
    const autoPipeline = embedPipeline(() => [long], {}, { ...PARAMS, chunkTokens: "auto" });
    const auto = await run(store, autoPipeline, { model: "transformers", modelPath: dir });
    expect(auto.result.state).toBe("success");
    const embedder = await loadEmbedder("transformers", { modelPath: dir });
    expect(embedder.maxTokens).toBe(254);
    const texts = (await store.query(`SELECT text FROM ${auto.output!.chunks.sql}`)).map((r) => String(r.text));
    const tokens = texts.map((t) => embedder.countTokens(t));
    expect(Math.max(...tokens)).toBeLessThanOrEqual(254);
    expect(Math.max(...tokens)).toBeGreaterThan(230); // the budget is used, not a smaller fixed size
    const logged = await store.query(`SELECT message FROM logs WHERE run_id = ? AND cell = 'embed_docs'`, [auto.result.runId]);
    expect(logged.map((r) => r.message)).toContain("chunkTokens auto: 254, the most model transformers:all-MiniLM-L6-v2:fp32 reads per text");
    const given = await run(store, autoPipeline, { model: "transformers", modelPath: dir, chunkTokens: "256" });
    expect(given.error).toBe("param chunkTokens: expected a whole number ≤ 254 (model transformers:all-MiniLM-L6-v2:fp32 reads at most 254 tokens per text), got 256");
    const overlap = await run(store, autoPipeline, { model: "transformers", modelPath: dir, chunkOverlap: 254 });
    expect(overlap.error).toBe("param chunkOverlap: expected fewer tokens than chunkTokens (auto: 254 for model transformers:all-MiniLM-L6-v2:fp32), got 254");
  });
});

describe("use-lite backend (real Universal Sentence Encoder lite weights)", () => {
  it("gives 512-dimensional vectors that put similar sentences closer than unrelated ones", async () => {
    const embedder = await loadEmbedder("use-lite");
    expect(embedder.id).toBe("use-lite");
    expect(embedder.dimensions).toBe(512);
    expect(await loadEmbedder("use-lite")).toBe(embedder); // loaded once per process
    const [wing, airfoil, cake] = await embedder.embed([
      "the lift of a wing increases with the angle of attack",
      "an airfoil at a higher incidence produces more lift",
      "bake the cake for forty minutes and let it cool",
    ]);
    expect(wing.length).toBe(512);
    expect(norm(wing)).toBeCloseTo(1, 3);
    expect(cosine(wing, airfoil)).toBeGreaterThan(cosine(wing, cake) + 0.2);
  });

  it("embeds a corpus, then on re-runs embeds only new or changed chunks and copies the rest", async () => {
    const store = await newStore();
    let docs = CRANFIELD.slice(0, 24).map((d) => ({ ...d }));
    const p = embedPipeline(() => docs);
    const params = { chunkTokens: 64, chunkOverlap: 8, batchSize: 16 };

    const first = await run(store, p, params);
    expect(first.error).toBeNull();
    const one = first.output!;
    expect(one).toMatchObject({ model: "use-lite", dimensions: 512, reused: 0 });
    expect(one.embedded).toBe(one.chunks.rows);
    expect(one.vectors.rows).toBe(one.chunks.rows);
    const firstVectors = await vectorsOf(store, one);
    const [{ type }] = await store.query(`SELECT typeof(embedding) AS type FROM ${one.vectors.sql} LIMIT 1`);
    expect(type).toBe("FLOAT[512]");
    const offsets = await store.query(
      `SELECT c.document, c.start_offset, c.end_offset, c.text, c.text_hash FROM ${one.chunks.sql} c ORDER BY c.document, c.chunk_index`,
    );
    const byId = new Map(docs.map((d) => [d.id, d.text]));
    for (const o of offsets) expect(byId.get(String(o.document))!.slice(Number(o.start_offset), Number(o.end_offset))).toBe(o.text);

    // Unchanged corpus: nothing embedded, every vector copied as it was.
    const second = await run(store, p, params);
    expect(second.output).toMatchObject({ embedded: 0, reused: one.chunks.rows });
    expect(second.output!.chunks.hash).toBe(one.chunks.hash);
    expect(second.output!.vectors.hash).toBe(one.vectors.hash);

    // Two documents changed, one added: only their chunks go through the model.
    docs[3].text = `${docs[3].text} an added closing sentence about wind tunnel corrections .`;
    docs[10].text = "an entirely rewritten abstract about transonic buffet on swept wings .";
    docs = [...docs, { id: "new-1", title: "new", text: "a new document about heat transfer in hypersonic boundary layers ." }];
    const changedDocs = new Set([docs[3].id, docs[10].id, "new-1"]);
    const third = await run(store, p, params);
    const three = third.output!;
    const chunks = await store.query(`SELECT chunk_id, document, text_hash FROM ${three.chunks.sql}`);
    const previousHashes = new Set(
      (await store.query(`SELECT text_hash FROM ${one.chunks.sql}`)).map((r) => String(r.text_hash)),
    );
    const fresh = chunks.filter((c) => !previousHashes.has(String(c.text_hash)));
    expect(fresh.length).toBeGreaterThan(0);
    expect(fresh.every((c) => changedDocs.has(String(c.document)))).toBe(true);
    expect(three.embedded).toBe(fresh.length);
    expect(three.reused).toBe(chunks.length - fresh.length);
    const thirdVectors = await vectorsOf(store, three);
    expect(thirdVectors.size).toBe(chunks.length);
    for (const c of chunks) {
      const id = String(c.chunk_id);
      if (!changedDocs.has(String(c.document))) expect(thirdVectors.get(id)).toEqual(firstVectors.get(id));
    }
  });

  it("refuses a model of another dimension than the stored vectors, and rebuilds when asked", async () => {
    const store = await newStore();
    const p = embedPipeline(() => CRANFIELD.slice(0, 3));
    expect((await run(store, p, {})).error).toBeNull();
    const mixed = await run(store, p, { model: "transformers", modelPath: tinyBert });
    expect(mixed.result.state).toBe("failed");
    expect(mixed.error).toBe(
      `model transformers:tiny-bert:fp32 makes 32-dimensional vectors but "embedtest"."vectors" holds 512-dimensional ones (model use-lite); ` +
        `refusing to mix them. To re-embed everything with the new model and rebuild the index, run with --param rebuild=true ` +
        `(or keep both by giving the new model a pipeline id of its own)`,
    );
    // The stored vectors are untouched.
    const [{ type }] = await store.query(`SELECT any_value(typeof(embedding)) AS type FROM embedtest.vectors`);
    expect(type).toBe("FLOAT[512]");
    const rebuilt = await run(store, p, { model: "transformers", modelPath: tinyBert, rebuild: true });
    expect(rebuilt.error).toBeNull();
    expect(rebuilt.output).toMatchObject({ dimensions: 32, reused: 0 });
    expect(rebuilt.output!.embedded).toBe(rebuilt.output!.chunks.rows);
  });

  it("embeds the same text once per run, and runs under a GPU claim on a host whose adapter is software", async () => {
    const store = await newStore();
    const text = CRANFIELD[0].text;
    const docs = [{ id: "a", title: "", text }, { id: "b", title: "", text }, { id: "c", title: "", text: "something else entirely ." }];
    const { output, error } = await run(store, embedPipeline(() => docs), {}, withGpu);
    expect(error).toBeNull();
    expect(output).toMatchObject({ embedded: 3, reused: 0 });
    const [same] = await store.query(
      `SELECT count(DISTINCT embedding::VARCHAR) AS n FROM ${output!.vectors.sql} WHERE chunk_id IN ('a#0', 'b#0')`,
    );
    expect(Number(same.n)).toBe(1);
  });

  it("stops when the cell's signal fires (timeout) and leaves no vectors behind", async () => {
    const store = await newStore();
    await loadEmbedder("use-lite"); // loaded: the timeout falls on the embedding itself
    const p = embedPipeline(() => CRANFIELD.slice(0, 200), { timeout: "1500ms" });
    const started = performance.now();
    const { result, error } = await run(store, p, { batchSize: 8 });
    expect(result.state).toBe("failed");
    expect(error).toMatch(/timed out|timeout|abort/i);
    expect(performance.now() - started).toBeLessThan(6_000);
    const views = await store.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'embedtest' AND table_name = 'vectors'`);
    expect(views).toEqual([]);
  });

  it("loads and embeds offline under Deno too", () => {
    const code = `
      import { loadEmbedder } from ${JSON.stringify(join(ROOT, "cells/embed.ts"))};
      const e = await loadEmbedder("use-lite");
      const [v] = await e.embed(["a wing in a slipstream"]);
      console.log(JSON.stringify({ id: e.id, n: v.length, norm: Math.hypot(...v) }));`;
    const deno = spawnSync(join(ROOT, "node_modules/deno/deno"), ["eval", "--ext=ts", code], {
      cwd: ROOT,
      encoding: "utf8",
      env: { ...process.env, CELLAR_DEVICES: "cpu", NO_COLOR: "1" },
      timeout: 60_000,
    });
    expect(deno.status, deno.stderr).toBe(0);
    const line = JSON.parse(deno.stdout.trim().split("\n").at(-1)!);
    expect(line.id).toBe("use-lite");
    expect(line.n).toBe(512);
    expect(line.norm).toBeCloseTo(1, 3);
  });
});
