/**
 * The k best (score, index) pairs seen so far, shared by every top-k path so
 * that all of them order and break ties alike: higher score first, and among
 * equal scores the lower index.
 *
 * @example
 * ```ts
 * import { TopKHeap } from "./heap.ts";
 *
 * const indices = new Uint32Array(2), scores = new Float32Array(2);
 * const heap = new TopKHeap(2);
 * heap.push(0.5, 7); heap.push(0.9, 3); heap.push(0.1, 4);
 * heap.drainInto(indices, scores, 0); // indices [3, 7], scores [0.9, 0.5]
 * ```
 */
export class TopKHeap {
  // A binary heap with the worst kept pair on top.
  readonly #scores: Float64Array;
  readonly #indices: Uint32Array;
  #size = 0;

  constructor(readonly k: number) {
    this.#scores = new Float64Array(k);
    this.#indices = new Uint32Array(k);
  }

  /**
   * The score a new pair must beat to get in: -Infinity until k pairs are
   * held. A pair scanned after every held one (a higher index) and equal to it
   * stays out too, so a scan in index order may skip `score <= floor` unseen.
   */
  get floor(): number {
    if (this.k === 0) return Infinity;
    return this.#size < this.k ? -Infinity : this.#scores[0];
  }

  push(score: number, index: number): void {
    const k = this.k;
    if (k === 0) return;
    if (this.#size < k) {
      let i = this.#size++;
      // Sift up: the new pair rises while it is worse than its parent.
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (!worse(score, index, this.#scores[parent], this.#indices[parent])) break;
        this.#scores[i] = this.#scores[parent];
        this.#indices[i] = this.#indices[parent];
        i = parent;
      }
      this.#scores[i] = score;
      this.#indices[i] = index;
      return;
    }
    if (!worse(this.#scores[0], this.#indices[0], score, index)) return;
    // Replace the worst and sift down.
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= k) break;
      const r = l + 1;
      const c = r < k && worse(this.#scores[r], this.#indices[r], this.#scores[l], this.#indices[l]) ? r : l;
      if (!worse(this.#scores[c], this.#indices[c], score, index)) break;
      this.#scores[i] = this.#scores[c];
      this.#indices[i] = this.#indices[c];
      i = c;
    }
    this.#scores[i] = score;
    this.#indices[i] = index;
  }

  /** Writes the pairs best first at `at`. */
  drainInto(indices: Uint32Array, scores: Float32Array, at: number): void {
    const order = Array.from({ length: this.#size }, (_, i) => i);
    order.sort((a, b) => (worse(this.#scores[a], this.#indices[a], this.#scores[b], this.#indices[b]) ? 1 : -1));
    for (let i = 0; i < order.length; i++) {
      indices[at + i] = this.#indices[order[i]];
      scores[at + i] = this.#scores[order[i]];
    }
  }
}

function worse(scoreA: number, indexA: number, scoreB: number, indexB: number): boolean {
  return scoreA < scoreB || (scoreA === scoreB && indexA > indexB);
}
