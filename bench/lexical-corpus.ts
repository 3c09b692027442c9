// Bench plumbing for the lexical index: a store holding build_index's BM25 tables over given documents
// (a pipeline whose first cell writes them as they are, then the real lexical build), and a seeded
// Zipfian corpus of realistic lengths for the 100K-document measurement.
import { buildLexical } from "../cells/index/lexical-build.ts";
import { type LexicalHandle, openLexical } from "../cells/index/lexical.ts";
import { openCellar, pipeline, type TableRef } from "../kernel/mod.ts";
import type { Store } from "../kernel/store/store.ts";

export type BenchDoc = {
  id: string;
  title: string;
  text: string;
};

/** Builds the lexical tables of pipeline `id` over `pages` (documents a page at a time) and opens them. */
export async function lexicalOver(
  store: Store,
  id: string,
  pages: () => Iterable<BenchDoc[]>,
  params: Record<string, string | number | boolean> = {},
): Promise<{ handle: LexicalHandle; buildMs: number }> {
  let buildMs = NaN;
  const p = pipeline({ id, params: { k1: 0.9, b: 0.4, stopwords: false, stemmer: "none", ...params } })
    .cell("documents", async (ctx) => {
      const documents = await ctx.table("documents", { id: "VARCHAR", title: "VARCHAR", text: "VARCHAR" });
      for (const page of pages()) await documents.append(page);
      return { documents: await documents.finish() };
    })
    .cell("build_index", async (ctx, input: { documents: TableRef }) => {
      const started = performance.now();
      const lexical = await buildLexical(ctx, input.documents);
      buildMs = performance.now() - started;
      return { lexical };
    });
  const cellar = openCellar({ db: store });
  const run = await cellar.run(p, { new: true });
  if (run.state !== "success") throw new Error(`bench pipeline ${id}: ${run.state}`);
  return { handle: await openLexical({ pipeline: id, sql: store.query.bind(store) }), buildMs };
}

/** mulberry32: a seeded uniform [0, 1) generator. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A vocabulary of `size` made-up words and a sampler of its ranks by Zipf's law (exponent `s`). */
export function zipfian(size: number, s: number, random: () => number): { words: string[]; sample: () => string } {
  const words = Array.from({ length: size }, (_, i) => word(i));
  const cdf = new Float64Array(size);
  let sum = 0;
  for (let i = 0; i < size; i++) cdf[i] = sum += 1 / (i + 1) ** s;
  for (let i = 0; i < size; i++) cdf[i] /= sum;
  const sample = () => {
    const u = random();
    let lo = 0, hi = size - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return words[lo];
  };
  return { words, sample };
}

function word(i: number): string {
  const letters = "etaoinshrdlcumwfgypbvkjxqz";
  let w = "";
  let n = i + 26;
  while (n > 0) {
    w += letters[n % 26];
    n = Math.floor(n / 26);
  }
  return w;
}

/** Lognormal document lengths: median ~`median` tokens, clipped to [20, 3000] (abstracts to long pages). */
export function lengthSampler(median: number, random: () => number): () => number {
  return () => {
    const z = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    return Math.min(3000, Math.max(20, Math.round(median * Math.exp(0.8 * z))));
  };
}

/** `count` generated documents, `page` at a time, the same for the same seed. */
export function* generatedPages(count: number, page: number, seed: number): Iterable<BenchDoc[]> {
  const random = seeded(seed);
  const vocab = zipfian(200_000, 1.07, random);
  const length = lengthSampler(180, random);
  for (let start = 0; start < count; start += page) {
    const docs: BenchDoc[] = [];
    for (let i = start; i < Math.min(count, start + page); i++) {
      const title = Array.from({ length: 4 + Math.floor(random() * 8) }, vocab.sample).join(" ");
      docs.push({ id: `d${String(i).padStart(6, "0")}`, title, text: Array.from({ length: length() }, vocab.sample).join(" ") });
    }
    yield docs;
  }
}
