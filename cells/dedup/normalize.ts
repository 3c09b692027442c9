/**
 * Text normalization for dedup: lowercase, then words split on whitespace —
 * exactly `text.toLowerCase().split(/\s+/)` without the empty ends, and the
 * normalized text is those words joined by single spaces. Exact duplicates are
 * texts with the same normalized text; shingles are runs of these words.
 *
 * `WordScan` does the split, the word hashes and the normalized text in one
 * pass over the characters without making a string per word, since on large
 * corpora this pass costs about as much as the MinHash itself.
 *
 * @example
 * ```ts
 * import { exactKey, WordScan } from "./normalize.ts";
 *
 * const scan = new WordScan();
 * scan.scan("Hello,\n  World  hello,".toLowerCase());
 * scan.count;        // 3
 * scan.normalized;   // "hello, world hello,"
 * scan.hashes[0] === scan.hashes[2]; // true: FNV-1a of "hello,"
 * exactKey(scan.normalized); // SHA-256 hex
 * ```
 */
import { runtime } from "../../kernel/mod.ts";

/** JavaScript's `\s`: the characters `split(/\s+/)` splits on. */
function isWhitespace(c: number): boolean {
  if (c <= 0xff) return c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0;
  return c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f ||
    c === 0x205f || c === 0x3000 || c === 0xfeff;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** 32-bit FNV-1a over the UTF-16 code units of `word`: the hash `WordScan` gives each word. */
export function wordHash(word: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < word.length; i++) h = Math.imul(h ^ word.charCodeAt(i), FNV_PRIME);
  return h >>> 0;
}

/**
 * One reusable scanner: after `scan(lowered)`, `hashes[0 .. count)` are the
 * words' FNV-1a hashes, word i is `lowered.slice(bounds[2i], bounds[2i + 1])`,
 * and `normalized` is the words joined by single spaces. The buffers grow as
 * needed and are reused across texts.
 */
export class WordScan {
  hashes: Uint32Array = new Uint32Array(4096);
  bounds: Int32Array = new Int32Array(8192);
  count = 0;
  normalized = "";

  /** Scans a lowercased text; `normalize: false` skips making `normalized` (left ""). */
  scan(lowered: string, normalize = true): void {
    const text = lowered;
    const length = text.length;
    let hashes = this.hashes;
    let bounds = this.bounds;
    let count = 0;
    // The normalized text is made of pieces: maximal runs of words that the text already
    // separates by exactly one " " — most of a clean text is one piece, an email one per line.
    const pieces: string[] = [];
    let pieceStart = -1;
    let spaceStart = 0;
    let h = FNV_OFFSET;
    let inWord = false;
    for (let i = 0; i < length; i++) {
      const c = text.charCodeAt(i);
      // Printable ASCII first: almost every character of a text, and never whitespace.
      if ((c > 0x20 && c < 0x7f) || !isWhitespace(c)) {
        if (!inWord) {
          inWord = true;
          if (count === hashes.length) [hashes, bounds] = this.#grow();
          bounds[2 * count] = i;
          if (pieceStart < 0) pieceStart = i;
          else if (normalize && (i - spaceStart !== 1 || text.charCodeAt(spaceStart) !== 0x20)) {
            pieces.push(text.slice(pieceStart, spaceStart));
            pieceStart = i;
          }
        }
        h = Math.imul(h ^ c, FNV_PRIME);
      } else if (inWord) {
        bounds[2 * count + 1] = i;
        hashes[count++] = h;
        h = FNV_OFFSET;
        inWord = false;
        spaceStart = i;
      }
    }
    if (inWord) {
      bounds[2 * count + 1] = length;
      hashes[count++] = h;
    }
    if (normalize && pieceStart >= 0) pieces.push(text.slice(pieceStart, bounds[2 * count - 1]));
    this.count = count;
    this.normalized = pieces.length === 0 ? "" : pieces.length === 1 ? pieces[0] : pieces.join(" ");
  }

  #grow(): [Uint32Array, Int32Array] {
    const hashes = new Uint32Array(this.hashes.length * 2);
    hashes.set(this.hashes);
    const bounds = new Int32Array(this.bounds.length * 2);
    bounds.set(this.bounds);
    this.hashes = hashes;
    this.bounds = bounds;
    return [hashes, bounds];
  }
}

/** Lowercased, whitespace runs collapsed to one space, trimmed: what two exact duplicates share. */
export function normalizeText(text: string): string {
  const scan = new WordScan();
  scan.scan(text.toLowerCase());
  return scan.normalized;
}

/** The exact-duplicate key of a normalized text: its SHA-256, hex. */
export function exactKey(normalized: string): string {
  return runtime.sha256Hex(normalized);
}
