/**
 * The "cross-encoder" judge: a local transformers.js reranker (a
 * …ForSequenceClassification export such as cross-encoder/ms-marco-MiniLM-L-6-v2)
 * reads question and context together as one text pair. The score is the sigmoid
 * of its single logit; for a two-label head it is the softmax probability of label
 * 1, the positive class in Hugging Face's binary classifiers. Any other label
 * count is refused: that is a classifier, not a reranker.
 *
 * Not the text-classification pipeline: it softmaxes a one-label head, which always gives 1.
 *
 * The model is a local directory, checked file by file (config.json, tokenizer.json,
 * tokenizer_config.json, onnx/model.onnx or for q8 onnx/model_quantized.onnx), or a
 * hub id (`org/name[@revision]`): its snapshot in the model cache, downloaded there
 * first when it is not (cells/models/hub.ts); the judge's id then names the commit.
 * Loaded once per process and (path, dtype, device).
 *
 * @example
 * ```ts
 * import { loadCrossEncoder } from "./cross-encoder.ts";
 *
 * const judge = await loadCrossEncoder({ modelPath: "models/ms-marco-MiniLM-L-6-v2", dtype: "q8" });
 * judge.id; // "cross-encoder:ms-marco-MiniLM-L-6-v2:q8"
 * const [verdict] = await judge.judge([{ question: "what is lift?", context: "Lift is the force …" }]);
 * ```
 */
import { CellarError, errorLine, paramError, runtime } from "../../../kernel/mod.ts";
import type { Dtype } from "../../embed/embedder.ts";
import { type OnnxDevice, openSession } from "../../embed/onnx-session.ts";
import { checkModelDir, hubName, MODEL_FILES, WEIGHT_FILES } from "../../embed/transformers.ts";
import { fetchHubModel, parseHubId } from "../../models/hub.ts";
import type { Judge, JudgePair } from "../judge.ts";

export interface CrossEncoderOptions {
  /** A reranker model directory, or a hub id "org/name[@revision]" (downloaded once into the model cache). */
  modelPath: string;
  /** "fp32" (onnx/model.onnx, default) or "q8" (onnx/model_quantized.onnx). */
  dtype?: Dtype;
  /** "auto" (default): WebGPU on a hardware adapter, else the CPU, as for the embedder. */
  device?: "auto" | "cpu" | "webgpu";
  /** Hears notices (the device chosen, a fallback). */
  log?: (message: string) => void;
}

/** Pairs per model run: a run is padded to its longest pair, so a large batch is cut smaller. */
const RUN_SIZE = 16;

const loaded = new Map<string, Promise<Judge>>();

/** The cross-encoder judge for a model, loaded once per process and options. */
export function loadCrossEncoder(options: CrossEncoderOptions): Promise<Judge> {
  const key = JSON.stringify([options.modelPath, options.dtype ?? "fp32", options.device ?? "auto", runtime.env("CELLAR_MODEL_CACHE")]);
  let judge = loaded.get(key);
  if (!judge) {
    judge = load(options);
    judge.catch(() => loaded.delete(key)); // a failed load (a missing file since fixed) is tried again next time
    loaded.set(key, judge);
  }
  return judge;
}

async function load(options: CrossEncoderOptions): Promise<Judge> {
  const dtype = options.dtype ?? "fp32";
  if (dtype !== "fp32" && dtype !== "q8") throw new CellarError(`dtype ${JSON.stringify(dtype)}: expected "fp32" or "q8"`);
  const { dir, name } = await modelDir(options.modelPath ?? "", dtype, options.log);
  const config = JSON.parse(await runtime.readTextFile(runtime.resolve(dir, "config.json")));
  const labels = config.id2label && typeof config.id2label === "object" ? Object.keys(config.id2label).length : config.num_labels;
  const refuse = (found: string) =>
    new CellarError(`model directory ${dir}: ${found}; the cross-encoder judge needs a reranker head of 1 logit (or 2: not relevant, relevant)`);
  if (labels !== undefined && labels !== 1 && labels !== 2) throw refuse(`config.json declares ${JSON.stringify(labels)} labels`);

  const { AutoModelForSequenceClassification, AutoTokenizer } = await import("@huggingface/transformers");
  const open = (on: OnnxDevice) =>
    AutoModelForSequenceClassification.from_pretrained(dir, { dtype, device: on, local_files_only: true });
  let model: Awaited<ReturnType<typeof open>>;
  let tokenizer: Awaited<ReturnType<typeof AutoTokenizer.from_pretrained>>;
  try {
    tokenizer = await AutoTokenizer.from_pretrained(dir, { local_files_only: true });
    ({ session: model } = await openSession(`judge "cross-encoder" ${name} (${dtype})`, options.device ?? "auto", open, options.log));
  } catch (err) {
    throw new CellarError(`judge "cross-encoder" ${dir}: cannot load it (dtype ${dtype}, ${WEIGHT_FILES[dtype]}): ${errorLine(err)}`);
  }

  /** One row of logits per pair; padding and truncation as the tokenizer's model_max_length allows. */
  const logitsOf = async (pairs: JudgePair[]): Promise<number[][]> => {
    const inputs = tokenizer(pairs.map((p) => p.question), { text_pair: pairs.map((p) => p.context), padding: true, truncation: true });
    const { logits } = await model(inputs);
    if (!logits) throw refuse(`${WEIGHT_FILES[dtype]} has no "logits" output (an embedding model?)`);
    const width = logits.dims[logits.dims.length - 1];
    const data = Array.from(logits.data as Float32Array);
    logits.dispose?.();
    return pairs.map((_, i) => data.slice(i * width, (i + 1) * width));
  };
  const [probe] = await logitsOf([{ question: "width probe", context: "width probe" }]);
  if (probe.length !== (labels ?? probe.length) || (probe.length !== 1 && probe.length !== 2)) {
    throw refuse(`the model outputs ${probe.length} logits per pair${labels === undefined ? "" : ` but config.json declares ${labels} labels`}`);
  }

  return {
    id: `cross-encoder:${name}:${dtype}`,
    async judge(pairs, runOptions = {}) {
      const verdicts = [];
      for (let start = 0; start < pairs.length; start += RUN_SIZE) {
        runOptions.signal?.throwIfAborted();
        for (const row of await logitsOf(pairs.slice(start, start + RUN_SIZE))) {
          // softmax([a, b])[1] is sigmoid(b − a).
          const logit = row.length === 1 ? row[0] : row[1] - row[0];
          verdicts.push(Number.isFinite(logit) ? { score: sigmoid(logit) } : { score: null, error: `the model gave logits [${row.join(", ")}]` });
        }
      }
      runOptions.signal?.throwIfAborted();
      return verdicts;
    },
  };
}

/** A local directory, checked file by file so a missing one is named; else a hub id, from the model cache (downloaded first if need be). */
async function modelDir(modelPath: string, dtype: Dtype, log: ((line: string) => void) | undefined): Promise<{ dir: string; name: string }> {
  const needed = [...MODEL_FILES, WEIGHT_FILES[dtype]];
  if (modelPath === "") throw paramError("judgeModelPath", `a reranker model directory (${needed.join(", ")}) for the cross-encoder judge`, modelPath);
  const local = runtime.resolve(modelPath);
  if ((await runtime.stat(local))?.directory) {
    await checkModelDir(local, dtype);
    return { dir: local, name: baseName(local) };
  }
  if (!parseHubId(modelPath)) {
    throw paramError("judgeModelPath", `a reranker model directory (${needed.join(", ")}) or a hub id "org/name[@revision]"; nothing is at ${local}`, modelPath);
  }
  const model = await fetchHubModel(modelPath, { files: needed, log });
  await checkModelDir(model.dir, dtype);
  return { dir: model.dir, name: hubName(model) };
}

function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

function baseName(path: string): string {
  return path.split(/[\\/]/).filter(Boolean).pop() ?? path;
}
