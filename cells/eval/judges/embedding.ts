/**
 * The default judge, offline and free: the cosine similarity of the question's
 * (query form) and the context's (document form) embeddings, from the embedder
 * that built the index. A
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
import type { TextForm } from "../../models/profiles.ts";
import type { Judge, Judgement, JudgePair, JudgeRunOptions } from "../judge.ts";

export function embeddingJudge(embedder: Embedder, known: ReadonlyMap<string, Float32Array> = new Map()): Judge {
  // Questions in the query form, contexts in the document form (the index's): for a model profiled with
  // prefixes the two differ, and a text may be both.
  const vectors = { query: new Map<string, Float32Array>(), document: new Map(known) };

  async function embedAll(texts: string[], as: TextForm, signal?: AbortSignal): Promise<void> {
    const have = vectors[as];
    const todo = [...new Set(texts.filter((text) => !have.has(text)))];
    if (todo.length === 0) return;
    const embedded = await embedder.embed(todo, { signal, as });
    todo.forEach((text, i) => have.set(text, embedded[i]));
  }

  return {
    id: `embedding:${embedder.id}`,
    async judge(pairs: JudgePair[], options: JudgeRunOptions = {}): Promise<Judgement[]> {
      await embedAll(pairs.map((pair) => pair.question), "query", options.signal);
      await embedAll(pairs.map((pair) => pair.context), "document", options.signal);
      return pairs.map(({ question, context }) => {
        const cosine = cosineSimilarity(vectors.query.get(question)!, vectors.document.get(context)!);
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
