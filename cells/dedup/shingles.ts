/**
 * Word k-shingles as 32-bit hashes, for MinHash: the text is lowercased and
 * split on whitespace (`normalize.ts`), a shingle is k consecutive words, and a
 * text of 1 to k-1 words is one shingle of all its words (none for no words).
 *
 * A shingle's hash is MurmurHash3_x86_32 (seed 0) of its words' FNV-1a hashes
 * taken as little-endian u32 blocks: built from the word hashes the scan
 * already has, so no shingle string is ever made. Hashing happens on the CPU
 * on both paths; only the MinHash minima run on the device.
 *
 * @example
 * ```ts
 * import { wordShingleHashes } from "./shingles.ts";
 *
 * const hashes = wordShingleHashes("The quick brown fox jumps over the lazy dog", 5); // 5 shingles
 * ```
 */
import { fmix32 } from "./minhash.ts";
import { WordScan } from "./normalize.ts";

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/** The number of k-shingles of a text of `words` words. */
export function shingleCount(words: number, k: number): number {
  return words === 0 ? 0 : Math.max(1, words - k + 1);
}

/** Hashes of the k-shingles of `words[0 .. count)` (word hashes), written into `out` from `at`; returns the count. */
export function shingleHashesOf(words: Uint32Array, count: number, k: number, out: Uint32Array, at = 0): number {
  const shingles = shingleCount(count, k);
  for (let s = 0; s < shingles; s++) {
    const end = Math.min(count, s + k);
    let h = 0;
    for (let w = s; w < end; w++) {
      let block = Math.imul(words[w], C1);
      block = (block << 15) | (block >>> 17);
      h ^= Math.imul(block, C2);
      h = (h << 13) | (h >>> 19);
      h = (Math.imul(h, 5) + 0xe6546b64) | 0;
    }
    out[at + s] = fmix32(h ^ ((end - s) * 4));
  }
  return shingles;
}

/** The shingle hashes of one text (lowercased here). */
export function wordShingleHashes(text: string, k = 5): Uint32Array {
  const scan = new WordScan();
  scan.scan(text.toLowerCase());
  const out = new Uint32Array(shingleCount(scan.count, k));
  shingleHashesOf(scan.hashes, scan.count, k, out);
  return out;
}
