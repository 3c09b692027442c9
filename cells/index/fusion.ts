/**
 * Fusing two (or more) ranked lists of documents into one: reciprocal rank
 * fusion (RRF) and normalized-score fusion with a weight. Pure functions over
 * `{ document, score }` lists, best first; each list holds a document at most once.
 *
 * - **RRF** (Cormack, Clarke & Büttcher 2009): a document's fused score is
 *   Σ over the lists that hold it of 1 / (k + rank), rank counted from 1, k = 60
 *   by default. Scores are ignored; a document absent from a list gets nothing from it.
 * - **Weighted** (normalized-score fusion): each list's scores are min-max
 *   normalized over that list alone, (s − min) / (max − min), so its best
 *   document gets 1 and its worst 0 (every document 1 when all its scores are
 *   equal); the fused score is Σ weightᵢ · normᵢ(d), a document absent from a
 *   list getting 0 from it. BM25 scores are unbounded and cosines lie in
 *   [−1, 1]: without the normalization one side would swamp the other.
 *
 * Ties in the fused score break by the document's best rank in any list,
 * then by document id, so that the fused order never depends on the order of
 * a Map.
 *
 * @example
 * ```ts
 * import { fuseRrf, fuseWeighted } from "./fusion.ts";
 *
 * const dense = [{ document: "a", score: 0.9 }, { document: "b", score: 0.5 }];
 * const lexical = [{ document: "b", score: 12 }, { document: "c", score: 3 }];
 * fuseRrf([dense, lexical]);            // b (1/62 + 1/61), a (1/61), c (1/62)
 * fuseWeighted([dense, lexical], [0.3, 0.7]); // b 0.7, a 0.3, c 0
 * ```
 */
import { CellarError } from "../../kernel/mod.ts";

/** A ranked list's entry: best first, one entry per document. */
export interface Ranked {
  document: string;
  score: number;
}

/** A fused entry: its fused score and where it came from (index of each list → its rank there, from 1). */
export interface Fused {
  document: string;
  score: number;
  ranks: (number | null)[];
}

export const DEFAULT_RRF_K = 60;

/** Reciprocal rank fusion of `lists`: Σ 1 / (k + rank). */
export function fuseRrf(lists: readonly (readonly Ranked[])[], options: { k?: number } = {}): Fused[] {
  const k = options.k ?? DEFAULT_RRF_K;
  if (!Number.isFinite(k) || k < 0) throw new CellarError(`fuseRrf: k=${k}: expected a number ≥ 0`);
  return fuse(lists, (_list, rank) => 1 / (k + rank));
}

/** Weighted fusion of `lists` after min-max normalizing each: Σ weightᵢ · normᵢ. */
export function fuseWeighted(lists: readonly (readonly Ranked[])[], weights: readonly number[]): Fused[] {
  if (weights.length !== lists.length) {
    throw new CellarError(`fuseWeighted: ${weights.length} weights for ${lists.length} lists: expected one weight per list`);
  }
  if (weights.some((w) => !Number.isFinite(w) || w < 0)) throw new CellarError(`fuseWeighted: weights ${weights.join(", ")}: expected numbers ≥ 0`);
  const norms = lists.map(minMax);
  return fuse(lists, (list, rank) => weights[list] * norms[list][rank - 1]);
}

/** The list's scores mapped to [0, 1]: best 1, worst 0; all 1 when they are all equal. */
export function minMax(list: readonly Ranked[]): number[] {
  let min = Infinity;
  let max = -Infinity;
  for (const { score } of list) {
    if (!Number.isFinite(score)) throw new CellarError(`fusion: score ${score} of a ranked list: expected a finite number`);
    if (score < min) min = score;
    if (score > max) max = score;
  }
  const span = max - min;
  return list.map(({ score }) => (span > 0 ? (score - min) / span : 1));
}

/** Sums `contribution(list, rank)` per document over the lists, best fused score first. */
function fuse(lists: readonly (readonly Ranked[])[], contribution: (list: number, rank: number) => number): Fused[] {
  const byDocument = new Map<string, Fused>();
  lists.forEach((list, l) => {
    list.forEach((entry, i) => {
      let fused = byDocument.get(entry.document);
      if (!fused) {
        fused = { document: entry.document, score: 0, ranks: lists.map(() => null) };
        byDocument.set(entry.document, fused);
      } else if (fused.ranks[l] !== null) {
        throw new CellarError(`fusion: document ${entry.document} appears twice in ranked list ${l + 1}: expected each document once`);
      }
      fused.ranks[l] = i + 1;
      fused.score += contribution(l, i + 1);
    });
  });
  const bestRank = (f: Fused) => Math.min(...f.ranks.map((r) => r ?? Infinity));
  return [...byDocument.values()].sort((a, b) =>
    b.score - a.score || bestRank(a) - bestRank(b) || (a.document < b.document ? -1 : a.document > b.document ? 1 : 0)
  );
}
