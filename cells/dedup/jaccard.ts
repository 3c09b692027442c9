/**
 * Exact Jaccard similarity of two texts' word shingle sets, for verifying
 * LSH candidates. Exact means the shingles themselves are compared, not
 * hashes of them: words get ids from a `Vocabulary` shared by the sets being
 * compared (equal ids exactly when the words are equal, character for
 * character), a shingle is its run of word ids, and hashes only order each set
 * so that two sets meet in one merge. A hash collision can cost time, never a
 * wrong answer.
 *
 * A set costs 12 bytes per word; dedup builds them for the candidate
 * documents of one verification block at a time, with one vocabulary per block.
 *
 * @example
 * ```ts
 * import { jaccard, shingleSet, Vocabulary } from "./jaccard.ts";
 *
 * const words = new Vocabulary();
 * const a = shingleSet("a b c d e f", 5, words); // {a b c d e, b c d e f}
 * const b = shingleSet("A b c d e g", 5, words); // {a b c d e, b c d e g}
 * jaccard(a, b); // 1/3
 * ```
 */
import { WordScan } from "./normalize.ts";
import { sortByKey } from "./radix.ts";
import { shingleCount, shingleHashesOf } from "./shingles.ts";

/**
 * Word → id, for the sets compared with each other. Words are looked up by
 * the hash the scan already computed (open addressing in typed arrays) and
 * confirmed character by character against a copy of the word kept in one
 * character pool, so two different words never share an id, and no word
 * becomes a string of its own.
 */
export class Vocabulary {
  #hashes = new Uint32Array(1 << 16);
  /** id + 1 per slot; 0 is empty. */
  #slots = new Int32Array(1 << 16);
  /** Word id's characters are pool[starts[id] .. starts[id + 1]). */
  #pool = new Uint16Array(1 << 18);
  #starts = new Int32Array(1 << 15);
  #size = 0;

  id(text: string, start: number, end: number, hash: number): number {
    const length = end - start;
    let mask = this.#slots.length - 1;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const entry = this.#slots[slot];
      if (entry === 0) {
        const id = this.#size++;
        if (this.#size + 1 > this.#starts.length) this.#starts = grown(this.#starts, this.#size + 1);
        const at = this.#starts[id];
        if (at + length > this.#pool.length) this.#pool = grown(this.#pool, at + length);
        const pool = this.#pool;
        for (let c = 0; c < length; c++) pool[at + c] = text.charCodeAt(start + c);
        this.#starts[id + 1] = at + length;
        this.#slots[slot] = id + 1;
        this.#hashes[slot] = hash;
        if (2 * this.#size > this.#slots.length) mask = this.#growSlots();
        return id;
      }
      if (this.#hashes[slot] !== hash) continue;
      const at = this.#starts[entry - 1];
      if (this.#starts[entry] - at !== length) continue;
      const pool = this.#pool;
      let same = true;
      for (let c = 0; c < length && same; c++) same = pool[at + c] === text.charCodeAt(start + c);
      if (same) return entry - 1;
    }
  }

  get size(): number {
    return this.#size;
  }

  #growSlots(): number {
    const hashes = this.#hashes;
    const slots = this.#slots;
    this.#hashes = new Uint32Array(hashes.length * 2);
    this.#slots = new Int32Array(slots.length * 2);
    const mask = this.#slots.length - 1;
    for (let i = 0; i < slots.length; i++) {
      if (slots[i] === 0) continue;
      let slot = hashes[i] & mask;
      while (this.#slots[slot] !== 0) slot = (slot + 1) & mask;
      this.#slots[slot] = slots[i];
      this.#hashes[slot] = hashes[i];
    }
    return mask;
  }
}

function grown<T extends Uint16Array | Int32Array>(array: T, atLeast: number): T {
  let length = array.length * 2;
  while (length < atLeast) length *= 2;
  const bigger = new (array.constructor as new (n: number) => T)(length);
  bigger.set(array);
  return bigger;
}

export interface ShingleSet {
  /** The text's word ids. */
  words: Int32Array;
  /** Words per shingle: k, or all the words of a shorter text. */
  width: number;
  /** Start word of each distinct shingle, ordered by `hashes`. */
  starts: Uint32Array;
  /** Each distinct shingle's hash, ascending. */
  hashes: Uint32Array;
}

const scanner = new WordScan();
/** Sets of fewer shingles than this sort as doubles: 2^21 × a 32-bit hash stays within 2^53. */
const SMALL = 2 ** 21;

/** The distinct k-shingles of `text` (lowercased and split on whitespace here). */
export function shingleSet(text: string, k: number, vocabulary: Vocabulary): ShingleSet {
  const lowered = text.toLowerCase();
  scanner.scan(lowered, false);
  const n = scanner.count;
  const words = new Int32Array(n);
  const { bounds, hashes } = scanner;
  for (let i = 0; i < n; i++) words[i] = vocabulary.id(lowered, bounds[2 * i], bounds[2 * i + 1], hashes[i]);
  const m = shingleCount(n, k);
  const width = Math.min(k, n);
  const full = new Uint32Array(m);
  shingleHashesOf(hashes, n, k, full);
  const order = byHash(full);
  const set: ShingleSet = { words, width, starts: order, hashes: new Uint32Array(m) };
  // Repeated shingles: equal hashes are neighbours; keep the first of equal words.
  let size = 0;
  for (let i = 0; i < m;) {
    const hash = full[order[i]];
    const runStart = size;
    for (; i < m && full[order[i]] === hash; i++) {
      const start = order[i];
      let seen = false;
      for (let j = runStart; j < size && !seen; j++) seen = sameShingle(set, set.starts[j], set, start);
      if (!seen) {
        set.starts[size] = start;
        set.hashes[size++] = hash;
      }
    }
  }
  set.starts = set.starts.subarray(0, size);
  set.hashes = set.hashes.subarray(0, size);
  return set;
}

/** Shingle indexes ordered by hash, then index. */
function byHash(hashes: Uint32Array): Uint32Array {
  const m = hashes.length;
  const order = new Uint32Array(m);
  if (m < SMALL) {
    // Packed into doubles (hash above index) and sorted natively: faster than radix for a document's few hundred.
    const keys = new Float64Array(m);
    for (let s = 0; s < m; s++) keys[s] = hashes[s] * SMALL + s;
    keys.sort();
    for (let i = 0; i < m; i++) order[i] = keys[i] % SMALL;
    return order;
  }
  for (let s = 0; s < m; s++) order[s] = s;
  return sortByKey(order, hashes, order);
}

/** |A ∩ B| for two sets built with the same vocabulary. */
export function intersectionSize(a: ShingleSet, b: ShingleSet): number {
  if (a.width !== b.width) return 0;
  const na = a.starts.length;
  const nb = b.starts.length;
  let i = 0;
  let j = 0;
  let shared = 0;
  while (i < na && j < nb) {
    const ha = a.hashes[i];
    const hb = b.hashes[j];
    if (ha < hb) i++;
    else if (ha > hb) j++;
    else {
      let iEnd = i + 1;
      while (iEnd < na && a.hashes[iEnd] === ha) iEnd++;
      let jEnd = j + 1;
      while (jEnd < nb && b.hashes[jEnd] === hb) jEnd++;
      // Each shingle is distinct within its set, so it matches at most one of the other's.
      for (let x = i; x < iEnd; x++) {
        for (let y = j; y < jEnd; y++) {
          if (sameShingle(a, a.starts[x], b, b.starts[y])) {
            shared++;
            break;
          }
        }
      }
      i = iEnd;
      j = jEnd;
    }
  }
  return shared;
}

/** |A ∩ B| / |A ∪ B|; 1 for two empty sets. */
export function jaccard(a: ShingleSet, b: ShingleSet): number {
  const shared = intersectionSize(a, b);
  const union = a.starts.length + b.starts.length - shared;
  return union === 0 ? 1 : shared / union;
}

/** Whether the shingles starting at word `sa` of `a` and word `sb` of `b` have the same words. */
function sameShingle(a: ShingleSet, sa: number, b: ShingleSet, sb: number): boolean {
  const wa = a.words;
  const wb = b.words;
  for (let w = 0; w < a.width; w++) if (wa[sa + w] !== wb[sb + w]) return false;
  return true;
}
