/**
 * A `@huggingface/transformers` feature-extraction model as an Embedder, used as
 * its model profile says (cells/models/profiles.ts): `extractor(prefix + text,
 * { pooling, normalize })` with the query or the document prefix, mean or CLS
 * pooling; a model without a profile gets mean pooling and L2 normalization, as
 * always. The profile's name ends the embedder id when it embeds otherwise than
 * that default, and its token limit and document prefix bound `maxTokens`.
 *
 * The model comes from a local directory (checked file by file first, so a
 * missing file is named) or, for a hub id (`org/name`, `org/name@revision`), from
 * the model cache, downloaded into it first when it is not there
 * (cells/models/hub.ts: HF_ENDPOINT, HF_TOKEN, CELLAR_MODEL_CACHE); the embedder id
 * then names the commit: `transformers:org/name@<commit, 12 digits>:<dtype>`.
 * transformers.js itself never downloads: it is handed the snapshot directory.
 *
 * On the CPU, onnxruntime runs one intra-op thread per core (`sessionOptions`).
 *
 * Device: WebGPU (onnxruntime's WebGPU execution provider) on hosts with a
 * hardware adapter; the CPU on hosts without one or whose only adapter is a
 * software fallback (lavapipe, SwiftShader), where onnxruntime's CPU kernels are
 * 10–40× faster.
 *
 * @example
 * ```ts
 * import { loadTransformers } from "./transformers.ts";
 *
 * const embedder = await loadTransformers({ modelPath: "/models/all-MiniLM-L6-v2", dtype: "q8" });
 * embedder.id; // "transformers:all-MiniLM-L6-v2:q8"
 * const e5 = await loadTransformers({ modelPath: "/models/e5-small-v2", dtype: "fp32" });
 * e5.id; // "transformers:e5-small-v2:fp32:e5" — chunks read "passage: …", queries "query: …"
 * ```
 */
import { CellarError, errorLine, paramError, runtime } from "../../kernel/mod.ts";
import type { Dtype, Embedder, EmbedderOptions } from "./embedder.ts";
import { type OnnxDevice, openSession } from "./onnx-session.ts";
import { fetchHubModel, type HubModel, parseHubId } from "../models/hub.ts";
import { applyPrefix, type ModelProfile, profileTag, resolveProfile, type TextForm } from "../models/profiles.ts";

/** What transformers.js reads from a model directory, by dtype. */
export const MODEL_FILES = ["config.json", "tokenizer.json", "tokenizer_config.json"] as const;
export const WEIGHT_FILES: Record<Dtype, string> = { fp32: "onnx/model.onnx", q8: "onnx/model_quantized.onnx" };

interface Source {
  /** What transformers.js is given: an absolute directory (a hub model's snapshot). */
  ref: string;
  /** The name in the embedder id. */
  name: string;
}

export async function loadTransformers(options: EmbedderOptions & { dtype: Dtype }): Promise<Embedder> {
  const { dtype } = options;
  const transformers = await import("@huggingface/transformers");
  // One way to download (cells/models/hub.ts); transformers.js only reads the directory it is given.
  transformers.env.allowRemoteModels = false;
  const source = await resolveSource(options.modelPath ?? "", dtype, options.log);
  const load = (on: OnnxDevice) =>
    transformers.pipeline("feature-extraction", source.ref, { dtype, device: on, local_files_only: true, session_options: sessionOptions(on) });
  let extractor: Awaited<ReturnType<typeof load>>;
  let device: OnnxDevice;
  try {
    ({ session: extractor, device } = await openSession(`model "transformers" ${source.name} (${dtype})`, options.device ?? "auto", load, options.log));
  } catch (err) {
    throw new CellarError(`model "transformers" ${source.ref}: cannot load it (dtype ${dtype}, ${WEIGHT_FILES[dtype]}): ${errorLine(err)}`);
  }

  const tokenizer = extractor.tokenizer;
  const special = tokenizer.encode("").length; // [CLS] and [SEP] for BERT
  const config = extractor.model.config as unknown as Record<string, unknown>;
  const limits = [tokenizer.model_max_length, config.max_position_embeddings]
    .filter((n): n is number => typeof n === "number" && n > special && n < 1e6);
  const profile = profileOf(options, source, config, limits);
  const run = async (texts: string[], form: TextForm): Promise<Float32Array[]> => {
    const pooling = profile.pooling === "cls" ? "cls" : "mean";
    const output = await extractor(applyPrefix(profile, texts, form), { pooling, normalize: profile.normalize });
    const width = output.dims[output.dims.length - 1];
    const data = output.data instanceof Float32Array ? output.data : Float32Array.from(output.data as ArrayLike<number>);
    // Copies (slice): each row owns its memory once the output tensor is released.
    const rows = texts.map((_, i) => data.slice(i * width, (i + 1) * width));
    output.dispose?.();
    return rows;
  };
  const [probe] = await run(["dimension probe"], "document");
  const countTokens = (text: string) => tokenizer.encode(text, { add_special_tokens: false }).length;
  if (profile.maxTokens !== undefined) limits.push(profile.maxTokens);
  // A chunk is read after the document prefix: the prefix's tokens come out of the chunk's budget.
  const budget = limits.length > 0 ? Math.min(...limits) - special - (profile.documentPrefix ? countTokens(profile.documentPrefix) : 0) : Infinity;

  const embedder: Embedder = {
    id: `transformers:${source.name}:${dtype}${profileTag(profile)}`,
    dimensions: probe.length,
    device,
    maxTokens: budget,
    countTokens,
    async embed(texts, embedOptions = {}) {
      embedOptions.signal?.throwIfAborted();
      if (texts.length === 0) return [];
      const rows = await run(texts, embedOptions.as ?? "document");
      embedOptions.signal?.throwIfAborted();
      return rows;
    },
  };
  extractors.set(embedder, extractor);
  return embedder;
}

/**
 * The model's profile: the one the options name, else the one its names match (the id or directory
 * given, the config's `_name_or_path`), else the defaults, said once. A cross-encoder is refused: it
 * scores pairs and has no embedding to pool.
 */
function profileOf(options: EmbedderOptions, source: Source, config: Record<string, unknown>, limits: number[]): ModelProfile {
  const recorded = typeof config._name_or_path === "string" ? config._name_or_path : undefined;
  const profile = resolveProfile({
    explicit: options.profile,
    names: [options.modelPath, source.name, recorded],
    log: options.log,
    describe: () => `mean pooling, normalized, no prefixes, at most ${limits.length > 0 ? Math.min(...limits) : "unbounded"} tokens`,
  });
  if (profile.kind === "cross-encoder") {
    throw paramError("modelPath", `an embedding model (${source.name} is a cross-encoder reranker: use it as the eval's judge, --param judge=cross-encoder)`, options.modelPath);
  }
  return profile;
}

/**
 * onnxruntime's threads on the CPU: one intra-op thread per core, said outright rather than left to the
 * library's default (which differs between onnxruntime builds and counts physical cores only); a BERT's
 * graph is a chain, so inter-op parallelism has nothing to run side by side.
 */
function sessionOptions(on: OnnxDevice): { intraOpNumThreads?: number; interOpNumThreads?: number } {
  return on === "cpu" ? { intraOpNumThreads: runtime.cpuCount(), interOpNumThreads: 1 } : {};
}

type Extractor = Awaited<ReturnType<typeof import("@huggingface/transformers").pipeline<"feature-extraction">>>;
const extractors = new WeakMap<Embedder, Extractor>();

/** The transformers.js pipeline behind an embedder from this module (benchmarks call it directly, to compare). */
export function extractorOf(embedder: Embedder): Extractor | undefined {
  return extractors.get(embedder);
}

/** A local directory (every file checked), or a hub id: its snapshot in the model cache, downloaded there first if need be. */
async function resolveSource(modelPath: string, dtype: Dtype, log: ((line: string) => void) | undefined): Promise<Source> {
  if (modelPath === "") {
    throw paramError("modelPath", `a model directory (${[...MODEL_FILES, WEIGHT_FILES[dtype]].join(", ")}) or a Hugging Face model id for model "transformers"`, modelPath);
  }
  const dir = runtime.resolve(modelPath);
  if (await runtime.exists(dir)) {
    await checkModelDir(dir, dtype);
    return { ref: dir, name: baseName(dir) };
  }
  if (!parseHubId(modelPath)) throw paramError("modelPath", `a model directory (nothing is at ${dir})`, modelPath);
  const model = await fetchHubModel(modelPath, { files: [...MODEL_FILES, WEIGHT_FILES[dtype]], log });
  await checkModelDir(model.dir, dtype);
  return { ref: model.dir, name: hubName(model) };
}

/** A hub model as ids name it: `org/name@<the commit's first 12 digits>`. */
export function hubName(model: HubModel): string {
  return `${model.id}@${model.revision.slice(0, 12)}`;
}

/** Names the first file transformers.js would miss, instead of its own message about remote downloads. */
export async function checkModelDir(dir: string, dtype: Dtype): Promise<void> {
  const needed = [...MODEL_FILES, WEIGHT_FILES[dtype]];
  for (const file of needed) {
    if (!(await runtime.exists(runtime.resolve(dir, file)))) {
      throw new CellarError(`model directory ${dir}: ${file} is missing; a transformers model for dtype ${dtype} needs ${needed.join(", ")}`);
    }
  }
  for (const file of MODEL_FILES) {
    try {
      JSON.parse(await runtime.readTextFile(runtime.resolve(dir, file)));
    } catch (err) {
      throw new CellarError(`model directory ${dir}: ${file} is not valid JSON: ${errorLine(err)}`);
    }
  }
}

function baseName(path: string): string {
  return path.split(/[\\/]/).filter(Boolean).pop() ?? path;
}
