/**
 * How well a judge agrees with human grades: ROC AUC, the probability that a
 * relevant context scores above a non-relevant one (ties count half). 0.5 is
 * a coin; 1.0 ranks every relevant context first.
 *
 * Computed as the Mann–Whitney U statistic over midranks, O(n log n).
 *
 * @example
 * ```ts
 * import { rocAuc } from "./agreement.ts";
 *
 * rocAuc([0.9, 0.2, 0.6], [true, false, false]); // { auc: 1, positives: 1, negatives: 2 }
 * ```
 */

export interface Agreement {
  /** Undefined when either class is empty: AUC does not exist then. */
  auc: number | undefined;
  positives: number;
  negatives: number;
}

export function rocAuc(scores: readonly number[], relevant: readonly boolean[]): Agreement {
  if (scores.length !== relevant.length) throw new Error(`rocAuc: ${scores.length} scores but ${relevant.length} labels`);
  const order = scores.map((_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let positives = 0, rankSum = 0;
  for (let start = 0; start < order.length;) {
    let end = start;
    while (end + 1 < order.length && scores[order[end + 1]] === scores[order[start]]) end++;
    const midrank = (start + end) / 2 + 1; // ranks are 1-based
    for (let i = start; i <= end; i++) {
      if (relevant[order[i]]) {
        positives++;
        rankSum += midrank;
      }
    }
    start = end + 1;
  }
  const negatives = scores.length - positives;
  if (positives === 0 || negatives === 0) return { auc: undefined, positives, negatives };
  const u = rankSum - (positives * (positives + 1)) / 2;
  return { auc: u / (positives * negatives), positives, negatives };
}
