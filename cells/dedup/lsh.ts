/**
 * LSH banding over MinHash signatures: the signature is cut into `bands`
 * bands of `rows` values; two documents become a candidate pair when they
 * agree on every value of at least one band. For a pair of Jaccard s that
 * happens with probability 1 − (1 − s^rows)^bands, an S-curve.
 *
 * `chooseBanding` picks the split for high recall: among bands × rows ≤
 * numPerm, the most rows (the fewest candidates below the threshold) whose
 * false-negative probability at the threshold stays within the bound. For 128
 * permutations and threshold 0.8 that is 21 bands × 6 rows: 0.17% of pairs at
 * exactly 0.8 are missed, 10⁻⁵ at 0.85; a pair at 0.5 is a candidate 28% of
 * the time, at 0.3 1.5% — candidates cost a verification each, never a wrong answer.
 *
 * @example
 * ```ts
 * import { candidatePairs, candidatePairsOfKeys, chooseBanding, writeBandKeys } from "./lsh.ts";
 *
 * declare const signatures: Uint32Array, docs: number; // docs × 128 MinHash values
 * const banding = chooseBanding(128, 0.8);         // { bands: 21, rows: 6, falseNegative: 0.0017 }
 * const pairs = candidatePairs(signatures, 128, docs, banding); // [a0, b0, a1, b1, ...], a < b, sorted
 *
 * // Or keep only the band keys (84 bytes a document instead of 512), written as signatures arrive:
 * const keys = new Uint32Array(banding.bands * docs);
 * for (let d = 0; d < docs; d++) writeBandKeys(signatures.subarray(d * 128, (d + 1) * 128), banding, keys, docs, d);
 * candidatePairsOfKeys(keys, banding.bands, docs, docs); // the same pairs, bar 32-bit key collisions
 * ```
 */
import { CellarError } from "../../kernel/mod.ts";
import { fmix32 } from "./minhash.ts";
import { sortByKey } from "./radix.ts";

export interface Banding {
  bands: number;
  rows: number;
  /** The probability that a pair exactly at the threshold is not a candidate. */
  falseNegative: number;
}

/** The probability that a pair of Jaccard `s` becomes a candidate. */
export function candidateProbability(s: number, bands: number, rows: number): number {
  return 1 - (1 - s ** rows) ** bands;
}

export function chooseBanding(numPerm: number, threshold: number, maxFalseNegative = 0.01): Banding {
  if (!Number.isInteger(numPerm) || numPerm < 1) throw new CellarError(`LSH: numPerm=${numPerm}: expected a positive integer`);
  if (!(threshold > 0 && threshold <= 1)) throw new CellarError(`LSH: threshold=${threshold}: expected a number in (0, 1]`);
  for (let rows = numPerm; rows >= 1; rows--) {
    const bands = Math.floor(numPerm / rows);
    const falseNegative = 1 - candidateProbability(threshold, bands, rows);
    if (falseNegative <= maxFalseNegative || rows === 1) return { bands, rows, falseNegative };
  }
  throw new Error("unreachable");
}

/** Pairs are packed as a × 2^26 + b into doubles to sort them natively. */
const MAX_DOCS = 2 ** 26;

/**
 * The candidate pairs among documents `0 .. count)` (signature i at
 * `signatures[i × numPerm ..]`), each once, as a flat [a, b, ...] list with a < b,
 * sorted. `skip[i]` set leaves document i out (no shingles: nothing to compare).
 * Pairs whose band keys collide without equal bands are left out.
 */
export function candidatePairs(
  signatures: Uint32Array,
  numPerm: number,
  count: number,
  banding: Banding,
  skip?: Uint8Array,
): Uint32Array {
  const { bands, rows } = banding;
  if (bands * rows > numPerm) throw new CellarError(`LSH: ${bands} bands × ${rows} rows exceed numPerm=${numPerm}`);
  const keys = new Uint32Array(bands * count);
  for (let doc = 0; doc < count; doc++) writeBandKeys(signatures.subarray(doc * numPerm, (doc + 1) * numPerm), banding, keys, count, doc);
  const sameBand = (a: number, b: number, band: number) => {
    const pa = a * numPerm + band * rows;
    const pb = b * numPerm + band * rows;
    for (let r = 0; r < rows; r++) if (signatures[pa + r] !== signatures[pb + r]) return false;
    return true;
  };
  return candidatePairsOfKeys(keys, bands, count, count, skip, sameBand);
}

/**
 * Writes one signature's band keys (a 32-bit hash of each band's rows) into
 * `keys[band × stride + doc]`: all that LSH needs of a signature, 4 bytes a
 * band instead of 4 a permutation (84 bytes instead of 512 for 21 × 6 of 128).
 */
export function writeBandKeys(signature: ArrayLike<number>, banding: Banding, keys: Uint32Array, stride: number, doc: number): void {
  const { bands, rows } = banding;
  for (let band = 0; band < bands; band++) {
    let h = band;
    for (let r = 0; r < rows; r++) h = Math.imul(h ^ signature[band * rows + r], 0x9e3779b1) + r;
    keys[band * stride + doc] = fmix32(h);
  }
}

/**
 * The candidate pairs among documents `0 .. count)` from their band keys
 * (`keys[band × stride + doc]`, writeBandKeys), each once, flat and sorted as
 * candidatePairs gives them. Without `sameBand`, equal keys are taken for an
 * equal band: a 32-bit collision (about count² / 2³³ pairs a band) only adds a
 * candidate, which verification then measures; with it, such pairs are left out.
 */
export function candidatePairsOfKeys(
  keys: Uint32Array,
  bands: number,
  stride: number,
  count: number,
  skip?: Uint8Array,
  sameBand: (a: number, b: number, band: number) => boolean = (a, b, band) => keys[band * stride + a] === keys[band * stride + b],
): Uint32Array {
  if (count > MAX_DOCS) throw new CellarError(`LSH: ${count} distinct documents; at most ${MAX_DOCS} are supported`);
  const members = new Uint32Array(count);
  let m = 0;
  for (let i = 0; i < count; i++) if (!skip?.[i]) members[m++] = i;
  const docs = members.subarray(0, m);
  const sorted = new Uint32Array(m);
  const out = new PairList();
  for (let band = 0; band < bands; band++) {
    const bandKeys = keys.subarray(band * stride, band * stride + count);
    sortByKey(docs, bandKeys, sorted);
    for (let start = 0; start < m;) {
      const key = bandKeys[sorted[start]];
      let end = start + 1;
      while (end < m && bandKeys[sorted[end]] === key) end++;
      for (let x = start; x < end; x++) {
        for (let y = x + 1; y < end; y++) {
          const a = Math.min(sorted[x], sorted[y]);
          const b = Math.max(sorted[x], sorted[y]);
          // Equal keys may be a hash collision; a pair that met in an earlier band is already out.
          if (!sameBand(a, b, band)) continue;
          let earlier = false;
          for (let e = 0; e < band && !earlier; e++) earlier = sameBand(a, b, e);
          if (!earlier) out.push(a, b);
        }
      }
      start = end;
    }
  }
  return out.sorted();
}

/** A growable list of pairs. */
class PairList {
  #data = new Uint32Array(1024);
  #length = 0;

  push(a: number, b: number): void {
    if (this.#length + 2 > this.#data.length) {
      const bigger = new Uint32Array(this.#data.length * 2);
      bigger.set(this.#data);
      this.#data = bigger;
    }
    this.#data[this.#length++] = a;
    this.#data[this.#length++] = b;
  }

  sorted(): Uint32Array {
    const n = this.#length / 2;
    const packed = new Float64Array(n);
    for (let i = 0; i < n; i++) packed[i] = this.#data[2 * i] * MAX_DOCS + this.#data[2 * i + 1];
    packed.sort();
    const out = new Uint32Array(this.#length);
    for (let i = 0; i < n; i++) {
      const b = packed[i] % MAX_DOCS;
      out[2 * i] = (packed[i] - b) / MAX_DOCS;
      out[2 * i + 1] = b;
    }
    return out;
  }
}
