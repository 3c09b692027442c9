// The cross-encoder judge on a generated reranker: its scores are the sigmoid of the logits that
// onnxruntime gives for the same ONNX file, pairs are encoded as pairs, batching changes nothing,
// and a bad model directory (missing file, wrong head) is refused with a one-line CellarError.
import { cpSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AutoTokenizer } from "@huggingface/transformers";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JudgePair } from "../cells/eval/judge.ts";
import { loadCrossEncoder } from "../cells/eval/judges/cross-encoder.ts";
import { CellarError } from "../kernel/mod.ts";
import { writeTinyBert } from "./fixtures/tiny-bert.ts";
import { writeTinyReranker } from "./fixtures/tiny-reranker.ts";
import { ROOT, tempDir } from "./helpers.ts";

const lines = (file: string) =>
  readFileSync(join(ROOT, "pipelines/data/cranfield", file), "utf8").split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l));
const DOCS: string[] = lines("docs.jsonl").slice(0, 20).map((d) => d.text);
const QUERIES: string[] = lines("queries.jsonl").slice(0, 20).map((q) => q.text);
// 20 pairs: more than one model run (16), contexts of very different lengths.
const PAIRS: JudgePair[] = DOCS.map((context, i) => ({ question: QUERIES[i], context }));

const root = tempDir("cellar-tiny-reranker-");
const model = join(root, "tiny-reranker");
afterAll(() => rmSync(root, { recursive: true, force: true }));
beforeAll(() => {
  writeTinyReranker(model, { dtypes: ["fp32", "q8"] });
});

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** The logits onnxruntime gives for one pair, from the tokenizer's own pair encoding; no transformers.js model code. */
async function referenceLogits(dir: string, pair: JudgePair, file = "onnx/model.onnx", segments = true) {
  const tokenizer = await AutoTokenizer.from_pretrained(dir, { local_files_only: true });
  const encoded = tokenizer(pair.question, { text_pair: pair.context, truncation: true });
  const session = await ort.InferenceSession.create(join(dir, file));
  const feeds = Object.fromEntries((["input_ids", "attention_mask", "token_type_ids"] as const).map((name) => {
    const t = encoded[name]!;
    const data = name === "token_type_ids" && !segments ? new BigInt64Array(t.data.length) : (t.data as BigInt64Array);
    return [name, new ort.Tensor("int64", data, t.dims)];
  }));
  const { logits } = await session.run(feeds);
  await session.release();
  return { logits: Array.from(logits.data as Float32Array), dims: logits.dims, encoded, tokenizer };
}

/** A copy of the model directory, for breaking. */
function copyModel(name: string, from = model): string {
  const dir = join(root, name);
  cpSync(from, dir, { recursive: true });
  return dir;
}

async function loadError(options: Parameters<typeof loadCrossEncoder>[0]): Promise<Error> {
  const err = await loadCrossEncoder(options).then(() => null, (e: Error) => e);
  expect(err).toBeInstanceOf(CellarError);
  expect(err!.message).not.toContain("\n");
  return err!;
}

describe("cross-encoder judge", () => {
  it("scores sigmoid(logit) of the reranker's single logit, as onnxruntime computes it", async () => {
    const judge = await loadCrossEncoder({ modelPath: model, device: "cpu" });
    expect(judge.id).toBe("cross-encoder:tiny-reranker:fp32");
    expect(await loadCrossEncoder({ modelPath: model, device: "cpu" })).toBe(judge); // loaded once
    const verdicts = await judge.judge(PAIRS);
    expect(verdicts).toHaveLength(PAIRS.length);
    for (const [i, pair] of PAIRS.entries()) {
      const { logits, dims } = await referenceLogits(model, pair);
      expect(dims).toEqual([1, 1]);
      const score = verdicts[i].score!;
      expect(score).toBeGreaterThan(0);
      expect(score).toBeLessThan(1);
      expect(Math.abs(score - sigmoid(logits[0]))).toBeLessThan(1e-5);
    }
  });

  it("encodes (question, context) as a text pair: the context is segment 1, and swapping them changes the score", async () => {
    const pair = PAIRS[3];
    const { encoded, tokenizer, logits } = await referenceLogits(model, pair);
    const types = Array.from(encoded.token_type_ids!.data as BigInt64Array, Number);
    const ids = Array.from(encoded.input_ids.data as BigInt64Array, Number);
    const question = tokenizer.encode(pair.question, { add_special_tokens: false }).length;
    const context = tokenizer.encode(pair.context, { add_special_tokens: false }).length;
    expect(ids.length).toBe(question + context + 3); // [CLS] q [SEP] c [SEP]
    expect(types).toEqual([...Array(question + 2).fill(0), ...Array(context + 1).fill(1)]);

    const judge = await loadCrossEncoder({ modelPath: model, device: "cpu" });
    const [[straight], [swapped]] = await Promise.all([
      judge.judge([pair]),
      judge.judge([{ question: pair.context, context: pair.question }]),
    ]);
    expect(Math.abs(straight.score! - swapped.score!)).toBeGreaterThan(1e-4);
    // The judge's score is the one with segment ids, not the one a single text (all zeros) would give.
    const { logits: oneSegment } = await referenceLogits(model, pair, "onnx/model.onnx", false);
    expect(Math.abs(straight.score! - sigmoid(logits[0]))).toBeLessThan(1e-5);
    expect(Math.abs(straight.score! - sigmoid(oneSegment[0]))).toBeGreaterThan(1e-3);
  });

  it("gives the same scores in a batch as one by one, and different contexts different scores", async () => {
    const judge = await loadCrossEncoder({ modelPath: model, device: "cpu" });
    const batch = await judge.judge(PAIRS);
    for (const [i, pair] of PAIRS.entries()) {
      const [alone] = await judge.judge([pair]);
      expect(Math.abs(alone.score! - batch[i].score!)).toBeLessThan(1e-5);
    }
    const oneQuestion = await judge.judge(DOCS.map((context) => ({ question: QUERIES[0], context })));
    const scores = oneQuestion.map((v) => v.score!);
    expect(new Set(scores.map((s) => s.toFixed(6))).size).toBe(scores.length);
    expect(Math.max(...scores) - Math.min(...scores)).toBeGreaterThan(0.01);
    expect(await judge.judge([])).toEqual([]);
    await expect(judge.judge(PAIRS, { signal: AbortSignal.abort() })).rejects.toThrow();
  });

  it("loads the q8 file for dtype q8", async () => {
    const judge = await loadCrossEncoder({ modelPath: model, dtype: "q8", device: "cpu" });
    expect(judge.id).toBe("cross-encoder:tiny-reranker:q8");
    const [verdict] = await judge.judge([PAIRS[0]]);
    const { logits } = await referenceLogits(model, PAIRS[0], "onnx/model_quantized.onnx");
    expect(Math.abs(verdict.score! - sigmoid(logits[0]))).toBeLessThan(1e-4);
  });

  it("scores a two-label head by the softmax probability of label 1", async () => {
    const dir = writeTinyReranker(join(root, "two-labels"), { labels: 2 });
    const judge = await loadCrossEncoder({ modelPath: dir, device: "cpu" });
    const [verdict] = await judge.judge([PAIRS[1]]);
    const { logits } = await referenceLogits(dir, PAIRS[1]);
    expect(logits).toHaveLength(2);
    const softmax1 = Math.exp(logits[1]) / (Math.exp(logits[0]) + Math.exp(logits[1]));
    expect(Math.abs(verdict.score! - softmax1)).toBeLessThan(1e-5);
  });

  it("names a missing model file", async () => {
    const noOnnx = copyModel("no-onnx");
    rmSync(join(noOnnx, "onnx/model.onnx"));
    expect((await loadError({ modelPath: noOnnx, device: "cpu" })).message).toMatch(/onnx\/model\.onnx is missing/);
    const noTokenizer = copyModel("no-tokenizer");
    rmSync(join(noTokenizer, "tokenizer.json"));
    expect((await loadError({ modelPath: noTokenizer, device: "cpu" })).message).toMatch(/tokenizer\.json is missing/);
    const fp32Only = writeTinyReranker(join(root, "fp32-only"));
    expect((await loadError({ modelPath: fp32Only, dtype: "q8", device: "cpu" })).message).toMatch(/onnx\/model_quantized\.onnx is missing/);
    expect((await loadError({ modelPath: join(root, "nowhere"), device: "cpu" })).message).toMatch(/^param judgeModelPath: expected a reranker model directory .*; nothing is at .*nowhere, got ".*nowhere"$/);
    expect((await loadError({ modelPath: model, dtype: "fp16" as "q8" })).message).toMatch(/dtype "fp16"/);
    // Fixed since: loaded this time (a failed load is not cached).
    cpSync(join(model, "onnx/model.onnx"), join(noOnnx, "onnx/model.onnx"));
    expect((await loadCrossEncoder({ modelPath: noOnnx, device: "cpu" })).id).toBe("cross-encoder:no-onnx:fp32");
  });

  it("refuses a head that is not a reranker's", async () => {
    const three = writeTinyReranker(join(root, "three-labels"), { labels: 3 });
    expect((await loadError({ modelPath: three, device: "cpu" })).message).toMatch(/config\.json declares 3 labels/);

    // config.json says one label, the graph outputs two.
    const lying = writeTinyReranker(join(root, "lying"), { labels: 2 });
    const config = JSON.parse(readFileSync(join(lying, "config.json"), "utf8"));
    writeFileSync(join(lying, "config.json"), JSON.stringify({ ...config, num_labels: 1, id2label: { 0: "LABEL_0" }, label2id: { LABEL_0: 0 } }));
    expect((await loadError({ modelPath: lying, device: "cpu" })).message).toMatch(/outputs 2 logits per pair but config\.json declares 1/);

    // An embedding model (last_hidden_state, no logits) pointed at by mistake.
    const bert = writeTinyBert(join(root, "tiny-bert"), { dtypes: ["fp32"] });
    expect((await loadError({ modelPath: bert, device: "cpu" })).message).toMatch(/no "logits" output/);
  });
});
