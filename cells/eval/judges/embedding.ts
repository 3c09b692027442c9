/**
 * The default judge, offline and free: the cosine similarity of the question's
 * and the context's embeddings, from the embedder that built the index. A
 * negative cosine (opposed meanings) scores 0, like an unrelated context.
 *
 * A context retrieved for several questions is embedded once per judge, and
 * not at all when `known` already holds its vector (an indexed chunk's).
 *
 * @example
 * ```ts
 * import { loadEmbedder } from "../../embed/embedder.ts";
 * import { embeddingJudge } from "./embedding.ts";
 *
 * const judge = embeddingJudge(await loadEmbedder("use-lite"));
 * const [{ score }] = await judge.judge([{ question: "what is lift?", context: "Lift is the force …" }]);
 * ```
 */
import type { Embedder } from "../../embed.ts";
import type { Judge, Judgement, JudgePair, JudgeRunOptions } from "../judge.ts";

export function embeddingJudge(embedder: Embedder, known: ReadonlyMap<string, Float32Array> = new Map()): Judge {
  const vectors = new Map(known);

  async function embedAll(texts: string[], signal?: AbortSignal): Promise<void> {
    const todo = [...new Set(texts.filter((text) => !vectors.has(text)))];
    if (todo.length === 0) return;
    const embedded = await embedder.embed(todo, { signal });
    todo.forEach((text, i) => vectors.set(text, embedded[i]));
  }

  return {
    id: `embedding:${embedder.id}`,
    async judge(pairs: JudgePair[], options: JudgeRunOptions = {}): Promise<Judgement[]> {
      await embedAll(pairs.flatMap((pair) => [pair.question, pair.context]), options.signal);
      return pairs.map(({ question, context }) => {
        const cosine = cosineSimilarity(vectors.get(question)!, vectors.get(context)!);
        return Number.isFinite(cosine) ? { score: clamp01(cosine) } : { score: null, error: "an empty embedding" };
      });
    },
  };
}

function cosineSimilarity(a: Float32Array, b: Float32Array): number {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / Math.sqrt(na * nb);
}

function clamp01(x: number): number {
  return Math.min(1, Math.max(0, x));
}
