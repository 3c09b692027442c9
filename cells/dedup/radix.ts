/**
 * A stable LSD radix sort of items by 32-bit keys, in typed arrays: dedup
 * sorts shingles by hash and documents by LSH band key, millions of times
 * more often than a comparison sort would be cheap for.
 *
 * @example
 * ```ts
 * import { sortByKey } from "./radix.ts";
 *
 * const keys = new Uint32Array([30, 10, 20]);
 * sortByKey(new Uint32Array([0, 1, 2]), keys); // Uint32Array [1, 2, 0]
 * ```
 */

/**
 * `items` ordered by `keys[item]` (ties keep their order), written into
 * `into` (allocated when not given; may be `items` itself) and returned.
 */
export function sortByKey(items: Uint32Array, keys: Uint32Array, into = new Uint32Array(items.length)): Uint32Array {
  const n = items.length;
  // All four byte histograms in one pass, then the passes that are not all one bucket.
  const counts = new Uint32Array(4 * 256);
  for (let i = 0; i < n; i++) {
    const key = keys[items[i]];
    counts[key & 0xff]++;
    counts[256 + ((key >>> 8) & 0xff)]++;
    counts[512 + ((key >>> 16) & 0xff)]++;
    counts[768 + (key >>> 24)]++;
  }
  let from = items;
  let scratch: Uint32Array | undefined;
  for (let pass = 0; pass < 4; pass++) {
    const base = pass * 256;
    const shift = pass * 8;
    let sum = 0;
    let trivial = false;
    for (let d = 0; d < 256; d++) {
      const c = counts[base + d];
      if (c === n) trivial = true;
      counts[base + d] = sum;
      sum += c;
    }
    if (trivial) continue;
    // Passes alternate between `into` and a scratch array; a final copy leaves the result in `into`.
    const to = from === into ? (scratch ??= new Uint32Array(n)) : into;
    for (let i = 0; i < n; i++) {
      const item = from[i];
      to[counts[base + ((keys[item] >>> shift) & 0xff)]++] = item;
    }
    from = to;
  }
  if (from !== into) into.set(from);
  return into;
}
