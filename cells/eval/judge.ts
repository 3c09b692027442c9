/**
 * The judge interface: a judge scores how well a retrieved context answers a
 * question, 0 (useless) to 1 (answers it). `judgeQuestions` in the eval
 * cell (cells/eval.ts) fans batches of pairs out to one judge with `ctx.map`.
 *
 * Backends (cells/eval/judges/): "embedding" (default, offline: cosine of the
 * two embeddings), "cross-encoder" (a local transformers.js reranker) and
 * "llm" (an OpenAI-compatible chat-completions endpoint).
 *
 * @example
 * ```ts
 * import type { Embedder } from "../embed/embedder.ts";
 * import { loadJudge } from "./judges/mod.ts";
 *
 * declare const embedder: Embedder, signal: AbortSignal;
 * const judge = await loadJudge({ kind: "embedding" }, { embedder });
 * const [verdict] = await judge.judge([{ question: "what is lift?", context: "Lift is …" }], { signal });
 * verdict.score; // 0.71, or null with verdict.error when this pair could not be judged
 * ```
 */

/** One (question, context) pair to score. */
export interface JudgePair {
  question: string;
  context: string;
}

/** A judge's answer for one pair: a score in [0, 1], or null and why — never a silent zero. */
export interface Judgement {
  score: number | null;
  error?: string;
}

/** What a judge may use while scoring a batch. */
export interface JudgeRunOptions {
  signal?: AbortSignal;
  /** Records usage, e.g. cost("llm_prompt_tokens", 812): the cell passes ctx.cost.add. */
  cost?: (resource: string, amount: number) => void;
  /** Progress and per-item failures worth a log line: the cell passes ctx.log.warn. */
  warn?: (message: string) => void;
}

export interface Judge {
  /** Backend and model, stored with every score: "embedding:use-lite", "cross-encoder:<dir>", "llm:<model>". */
  readonly id: string;
  /**
   * One judgement per pair, in order. A pair that cannot be judged (a malformed
   * answer after repair, retries exhausted, a timeout) gives `{ score: null, error }`;
   * errors that make every pair fail (bad credentials, a missing model) throw.
   */
  judge(pairs: JudgePair[], options?: JudgeRunOptions): Promise<Judgement[]>;
}
