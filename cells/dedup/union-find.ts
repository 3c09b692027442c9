/**
 * Disjoint sets over 0 … n−1 (union by size, path halving): the clusters of
 * duplicates, joined pair by pair. The representative a cluster keeps is
 * chosen by the caller (dedup: the smallest id), so nothing here depends on
 * the order pairs arrive in.
 *
 * @example
 * ```ts
 * import { UnionFind } from "./union-find.ts";
 *
 * const sets = new UnionFind(4);
 * sets.union(0, 2);
 * sets.union(2, 3);
 * sets.find(3) === sets.find(0); // true
 * sets.find(1) === sets.find(0); // false
 * ```
 */
export class UnionFind {
  readonly #parent: Int32Array;
  readonly #size: Int32Array;

  constructor(n: number) {
    this.#parent = new Int32Array(n);
    this.#size = new Int32Array(n).fill(1);
    for (let i = 0; i < n; i++) this.#parent[i] = i;
  }

  find(x: number): number {
    const parent = this.#parent;
    while (parent[x] !== x) {
      parent[x] = parent[parent[x]];
      x = parent[x];
    }
    return x;
  }

  /** Joins the sets of a and b; false when they were already one. */
  union(a: number, b: number): boolean {
    let ra = this.find(a);
    let rb = this.find(b);
    if (ra === rb) return false;
    if (this.#size[ra] < this.#size[rb]) [ra, rb] = [rb, ra];
    this.#parent[rb] = ra;
    this.#size[ra] += this.#size[rb];
    return true;
  }
}
