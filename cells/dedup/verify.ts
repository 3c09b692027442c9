/**
 * The chunk function of dedup's verification, as a task handle so that the
 * CPU workers share the work: each item holds some texts and pairs among
 * them, and gets back the exact Jaccard of each pair (see jaccard.ts). An
 * item is self-contained — its own vocabulary, its own sets — so items run
 * anywhere, in any order.
 *
 * @example
 * ```ts
 * import { verifyChunk } from "./verify.ts";
 *
 * const [similarities] = verifyChunk([{ texts: ["a b c d e f", "a b c d e g"], pairs: [0, 1] }]);
 * similarities; // [1/3]
 * ```
 */
import { jaccard, type ShingleSet, shingleSet, Vocabulary } from "./jaccard.ts";
import { SHINGLE_WORDS } from "./signatures.ts";

export const VERIFY_MODULE = import.meta.url;

export interface VerifyItem {
  texts: string[];
  /** Pairs of indexes into `texts`, flat: [a0, b0, a1, b1, ...]. */
  pairs: number[];
}

export function verifyChunk(items: VerifyItem[]): number[][] {
  return items.map(({ texts, pairs }) => {
    const vocabulary = new Vocabulary();
    const sets: ShingleSet[] = texts.map((text) => shingleSet(text, SHINGLE_WORDS, vocabulary));
    const similarities: number[] = [];
    for (let p = 0; p < pairs.length; p += 2) similarities.push(jaccard(sets[pairs[p]], sets[pairs[p + 1]]));
    return similarities;
  });
}
