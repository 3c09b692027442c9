/**
 * mulberry32: a seeded generator of numbers in [0, 1), so tests and benchmarks
 * use the same data on every run and in both runtimes, and a failure reproduces.
 *
 * @example
 * const random = rng(42);
 * random(); // 0.6011…, every time
 */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
