// embed_docs' fan-out: USE-lite in the CPU workers (bit-for-bit the kernel thread's vectors), the
// transformers path's token-budget batches sorted within a window (bounds, order restored), and
// the new params' one-line errors.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pipeline as hfPipeline } from "@huggingface/transformers";
import { beforeAll, describe, expect, it } from "vitest";
import { embedDocs, type EmbedOutput, embedParams } from "../cells/embed.ts";
import { inInputOrder, tokenBatches } from "../cells/embed/token-batches.ts";
import { type Context, openCellar, type ParamValue, pipeline } from "../kernel/mod.ts";
import type { Store } from "../kernel/store/store.ts";
import { writeTinyBert } from "./fixtures/tiny-bert.ts";
import { rng } from "./random.ts";
import { computesClosedAfterAll, ROOT, storesClosedAfterEach, tempDir } from "./helpers.ts";

type Doc = { id: string; title: string; text: string };

const CRANFIELD: Doc[] = readFileSync(join(ROOT, "pipelines/data/cranfield/docs.jsonl"), "utf8")
  .split("\n")
  .filter((line) => line.trim() !== "")
  .map((line) => JSON.parse(line));

const { cpuOnly, withGpu } = computesClosedAfterAll();
const newStore = storesClosedAfterEach();

let tinyBert: string;
beforeAll(() => {
  tinyBert = writeTinyBert(join(tempDir("cellar-embed-workers-"), "tiny-bert"), { dtypes: ["fp32"] });
});

function embedPipeline(docs: Doc[]) {
  return pipeline({ id: "embedworkers", params: { ...embedParams.defaults } })
    .cell("dedup_corpus", { cache: false }, async (ctx) => {
      const table = await ctx.table("documents", { id: "VARCHAR", title: "VARCHAR", text: "VARCHAR" });
      await table.append(docs);
      return { documents: await table.finish() };
    })
    .cell("embed_docs", { gpu: 0.5, retries: 0 }, embedDocs);
}

async function run(store: Store, docs: Doc[], params: Record<string, ParamValue>, compute = cpuOnly) {
  const cellar = openCellar({ db: store, compute });
  const result = await cellar.run(embedPipeline(docs), { date: "2026-05-03T00:00:00Z", params, cache: false });
  const detail = await cellar.show(result.runId);
  const cell = detail.cells.find((c) => c.cell === "embed_docs");
  return { error: cell?.error ?? null, output: result.outputs.get("embed_docs") as EmbedOutput | undefined };
}

/** chunk_id → vector, in the table's row order. */
async function vectorsOf(store: Store, output: EmbedOutput): Promise<Array<[string, number[]]>> {
  const rows = await store.query(`SELECT chunk_id, embedding FROM ${output.vectors.sql}`);
  return rows.map((r) => [String(r.chunk_id), r.embedding as number[]]);
}

describe("use-lite in the CPU workers", () => {
  it("stores bit-for-bit the vectors of the kernel's own thread, in the same order, on a host with an adapter too", async () => {
    const docs = CRANFIELD.slice(0, 12);
    const params = { chunkTokens: 64, chunkOverlap: 8, batchSize: 4 };
    const store = await newStore();
    const single = await run(store, docs, { ...params, embedWorkers: 0 });
    expect(single.error).toBeNull();
    const workers = await run(store, docs, { ...params, embedWorkers: "auto", rebuild: true });
    expect(workers.error).toBeNull();
    // A gpu 0.5 cell on a host with a (software) adapter still sends its chunks to the workers.
    const two = await run(store, docs, { ...params, embedWorkers: 2, rebuild: true }, withGpu);
    expect(two.error).toBeNull();
    const expected = await vectorsOf(store, single.output!);
    expect(expected.length).toBeGreaterThan(4 * params.batchSize); // several chunks per worker
    expect(workers.output!.embedded).toBe(expected.length);
    for (const output of [workers.output!, two.output!]) {
      const got = await vectorsOf(store, output);
      expect(got.map(([id]) => id)).toEqual(expected.map(([id]) => id));
      // Float32 values read back as numbers: equal numbers are equal bits.
      got.forEach(([, v], i) => expect(v).toEqual(expected[i][1]));
      expect(output.vectors.hash).toBe(single.output!.vectors.hash);
    }
  });
});

describe("token-budget batches sorted within a window", () => {
  const lengths = (n: number, seed: number) => {
    const random = rng(seed);
    // Mostly short, some long, a few over the budget, some empty.
    return Array.from({ length: n }, () => Math.floor(random() < 0.1 ? 300 + random() * 300 : random() * 120));
  };

  it("keeps every batch within the budget and the count (but a chunk over the budget alone), each position once, within its window", () => {
    const options = { batchTokens: 256, batchSize: 8, window: 40 };
    const ls = lengths(1_000, 7);
    const batches = tokenBatches(ls, options);
    const seen = batches.flat().sort((a, b) => a - b);
    expect(seen).toEqual(ls.map((_, i) => i));
    let overBudget = 0;
    for (const batch of batches) {
      expect(batch.length).toBeGreaterThan(0);
      expect(batch.length).toBeLessThanOrEqual(options.batchSize);
      const longest = Math.max(...batch.map((i) => ls[i]));
      if (batch.length * longest > options.batchTokens) {
        expect(batch).toHaveLength(1);
        overBudget++;
      }
      const windows = new Set(batch.map((i) => Math.floor(i / options.window)));
      expect(windows.size).toBe(1);
    }
    expect(overBudget).toBe(ls.filter((l) => l > options.batchTokens).length);
    // Within a window, batches go shortest first: little padding.
    const padded = batches.reduce((sum, b) => sum + b.length * Math.max(...b.map((i) => ls[i])), 0);
    let paddedInOrder = 0; // fixed-count batches in input order, as a naive caller makes them
    for (let i = 0; i < ls.length; i += options.batchSize) paddedInOrder += Math.min(options.batchSize, ls.length - i) * Math.max(...ls.slice(i, i + options.batchSize));
    expect(padded).toBeLessThan(paddedInOrder * 0.8);
    // The same lengths give the same batches.
    expect(tokenBatches(ls, options)).toEqual(batches);
  });

  it("puts results back in input order, and names a batch that gave too few", async () => {
    const ls = lengths(300, 11);
    const batches = tokenBatches(ls, { batchTokens: 500, batchSize: 16, window: 64 });
    expect(batches.flat()).not.toEqual(ls.map((_, i) => i)); // sorting did move items
    async function* results(drop = -1) {
      for (const [b, batch] of batches.entries()) yield batch.map((i) => `r${i}`).slice(0, b === drop ? -1 : undefined);
    }
    const out: Array<[number, string]> = [];
    for await (const pair of inInputOrder(batches, results())) out.push(pair);
    expect(out).toEqual(ls.map((_, i) => [i, `r${i}`]));
    await expect((async () => {
      for await (const _ of inInputOrder(batches, results(3)));
    })()).rejects.toThrow(/^inInputOrder: batch 3 gave \d+ results for \d+ items; expected one per item$/);
  });

  it("stores each chunk's own vector through the cell, the same on a second run", async () => {
    const store = await newStore();
    const docs = CRANFIELD.slice(0, 16);
    const params = { model: "transformers", modelPath: tinyBert, batchSize: 8, batchTokens: 120, chunkTokens: 48, chunkOverlap: 8 };
    const first = await run(store, docs, params);
    expect(first.error).toBeNull();
    const chunks = await store.query(`SELECT chunk_id, text FROM ${first.output!.chunks.sql} ORDER BY document, chunk_index`);
    const rows = await vectorsOf(store, first.output!);
    // Appended in the chunks' order, whatever order the sorted batches ran in.
    expect(rows.map(([id]) => id)).toEqual(chunks.map((c) => String(c.chunk_id)));
    const stored = new Map(rows);
    // Alone, each text has no padding at all: the stored vector is its own, whatever batch it went in.
    const extractor = await hfPipeline("feature-extraction", tinyBert, { dtype: "fp32", device: "cpu", local_files_only: true });
    let worst = 0;
    for (const c of chunks) {
      const alone = (await extractor([String(c.text)], { pooling: "mean", normalize: true })).data as Float32Array;
      const v = stored.get(String(c.chunk_id))!;
      for (let d = 0; d < alone.length; d++) worst = Math.max(worst, Math.abs(alone[d] - v[d]));
    }
    expect(worst).toBeLessThan(1e-5);
    const second = await run(store, docs, { ...params, rebuild: true });
    expect(second.output!.vectors.hash).toBe(first.output!.vectors.hash);
  });
});

describe("bad fan-out params", () => {
  const ctx = (params: Record<string, ParamValue>) => ({ cell: "embed_docs", params }) as unknown as Context;
  const documents = { $table: "documents", sql: "documents", rows: 1, hash: "" };
  it.each([
    [{ batchTokens: 0 }, "param batchTokens: expected a whole number ≥ 1, got 0"],
    [{ batchTokens: "lots" }, `param batchTokens: expected a whole number ≥ 1, got "lots"`],
    [{ embedWorkers: -1 }, `param embedWorkers: expected "auto" or a whole number ≥ 0, got -1`],
    [{ embedWorkers: "many" }, `param embedWorkers: expected "auto" or a whole number ≥ 0, got "many"`],
    [{ embedWorkers: 1.5 }, `param embedWorkers: expected "auto" or a whole number ≥ 0, got 1.5`],
  ] as Array<[Record<string, ParamValue>, string]>)("%j: one line", async (params, message) => {
    await expect(embedDocs(ctx(params), { documents })).rejects.toThrow(new RegExp(`^${message.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`));
  });

  it("reads a number given as a string", () => {
    expect(embedParams.read({ embedWorkers: "2", batchTokens: "4096" })).toMatchObject({ embedWorkers: 2, batchTokens: 4096 });
    expect(embedParams.read({})).toMatchObject({ embedWorkers: "auto", batchTokens: 8192 });
  });
});
