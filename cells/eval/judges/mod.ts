/**
 * Picks a judge by name. The cross-encoder and LLM backends load only when
 * asked for, so the default path never imports transformers.js.
 *
 * @example
 * ```ts
 * import type { Embedder } from "../../embed/embedder.ts";
 * import { loadJudge } from "./mod.ts";
 *
 * declare const embedder: Embedder;
 * const judge = await loadJudge({ kind: "llm", model: "gpt-4o-mini" }, { embedder });
 * ```
 */
import { paramError } from "../../../kernel/mod.ts";
import type { Dtype, Embedder } from "../../embed.ts";
import type { Judge } from "../judge.ts";
import { embeddingJudge } from "./embedding.ts";

export const JUDGES = ["embedding", "cross-encoder", "llm"] as const;

export interface JudgeConfig {
  kind: string;
  /** cross-encoder: the model directory. */
  modelPath?: string;
  /** cross-encoder: "fp32" or "q8" weights. */
  dtype?: string;
  /** llm: the model name (else CELLAR_LLM_MODEL). */
  model?: string;
  /** llm: the endpoint (else CELLAR_LLM_BASE_URL). */
  baseUrl?: string;
  /** llm: requests in flight. */
  concurrency?: number;
  /** cross-encoder: hears its notices (a hub model's download, the device chosen). */
  log?: (line: string) => void;
}

/** `using.known`: texts whose embeddings are at hand (the index's chunks), for the embedding judge. */
export async function loadJudge(config: JudgeConfig, using: { embedder: Embedder; known?: ReadonlyMap<string, Float32Array> }): Promise<Judge> {
  switch (config.kind) {
    case "embedding":
      return embeddingJudge(using.embedder, using.known);
    case "cross-encoder": {
      if (!config.modelPath) throw paramError("judgeModelPath", "a reranker model directory or hub id when judge is cross-encoder", config.modelPath);
      const { loadCrossEncoder } = await import("./cross-encoder.ts");
      return await loadCrossEncoder({ modelPath: config.modelPath, dtype: (config.dtype || "fp32") as Dtype, log: config.log });
    }
    case "llm": {
      const { createLlmJudge } = await import("./llm.ts");
      return createLlmJudge({
        model: config.model || undefined,
        baseUrl: config.baseUrl || undefined,
        concurrency: config.concurrency,
      });
    }
    default:
      throw paramError("judge", `one of ${JUDGES.join(", ")}`, config.kind);
  }
}
