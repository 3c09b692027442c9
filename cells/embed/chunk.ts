/**
 * Splits a document into overlapping chunks measured in the embedding model's
 * own tokens, with character offsets back into the document.
 *
 * Tokens are counted by the model's real tokenizer (the Embedder's
 * `countTokens`: USE-lite's SentencePiece vocabulary, or the transformers
 * model's tokenizer.json), one whitespace-separated word at a time, memoized.
 * A WordPiece (BERT) tokenizer splits on whitespace before anything else, so
 * the sum over words is exactly the whole text's count; for SentencePiece it is
 * the count of the words joined by single spaces. Chunk boundaries fall between
 * words, where offsets are exact. A single word longer than a chunk (a base64
 * blob, a URL) is cut into pieces that each fit.
 *
 * Offsets are JavaScript string indices (UTF-16 code units):
 * `text.slice(start, end)` is the chunk's text.
 *
 * @example
 * ```ts
 * import { chunkText } from "./chunk.ts";
 * import type { Embedder } from "./embedder.ts";
 *
 * declare const embedder: Embedder;
 * const chunks = chunkText("a long text ...", { chunkTokens: 256, chunkOverlap: 32, countTokens: (w) => embedder.countTokens(w) });
 * chunks[0]; // { index: 0, start: 0, end: 1187, text: "a long text ...", tokens: 254 }
 * ```
 */

export interface Chunk {
  index: number;
  /** Offset of the first character (UTF-16 code units). */
  start: number;
  /** Offset just past the last character. */
  end: number;
  text: string;
  /** The model's tokens in the chunk, without special tokens. */
  tokens: number;
}

export interface ChunkOptions {
  /** Most tokens in one chunk. */
  chunkTokens: number;
  /** Most tokens a chunk repeats from the end of the one before it. */
  chunkOverlap: number;
  /** Tokens in one word (no whitespace inside); called once per distinct word if cached. */
  countTokens: (word: string) => number;
}

interface Span {
  start: number;
  end: number;
  tokens: number;
}

export function chunkText(text: string, options: ChunkOptions): Chunk[] {
  const { chunkTokens, chunkOverlap } = options;
  const spans = wordSpans(text, options);
  const chunks: Chunk[] = [];
  let i = 0;
  while (i < spans.length) {
    let j = i;
    let tokens = 0;
    // At least one span per chunk; every span fits alone (long words were cut).
    while (j < spans.length && (j === i || tokens + spans[j].tokens <= chunkTokens)) tokens += spans[j++].tokens;
    const start = spans[i].start;
    const end = spans[j - 1].end;
    chunks.push({ index: chunks.length, start, end, text: text.slice(start, end), tokens });
    if (j === spans.length) break;
    // Step back over whole words while the repeated part stays within the overlap, always moving forward.
    let k = j;
    let repeated = 0;
    while (k - 1 > i && repeated + spans[k - 1].tokens <= chunkOverlap) repeated += spans[--k].tokens;
    i = k;
  }
  return chunks;
}

/** Maximal runs of non-whitespace with their token counts; a run over the chunk size is cut to fit. */
function wordSpans(text: string, options: ChunkOptions): Span[] {
  const spans: Span[] = [];
  // No "u" flag: a surrogate pair is never whitespace, so the runs are the same, found faster.
  for (const match of text.matchAll(/\S+/g)) {
    const start = match.index;
    const word = match[0];
    const tokens = options.countTokens(word);
    if (tokens <= options.chunkTokens) spans.push({ start, end: start + word.length, tokens });
    else spans.push(...cutWord(word, start, options));
  }
  return spans;
}

/** Cuts a word into the longest prefixes that fit in a chunk (binary search on their length). */
function cutWord(word: string, offset: number, options: ChunkOptions): Span[] {
  const spans: Span[] = [];
  let from = 0;
  while (from < word.length) {
    let lo = 1;
    let hi = word.length - from;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (options.countTokens(word.slice(from, from + mid)) <= options.chunkTokens) lo = mid;
      else hi = mid - 1;
    }
    let to = from + lo;
    // Never split a surrogate pair.
    if (to < word.length && isLowSurrogate(word.charCodeAt(to)) && to - from > 1) to--;
    else if (to < word.length && isLowSurrogate(word.charCodeAt(to))) to++;
    spans.push({ start: offset + from, end: offset + to, tokens: options.countTokens(word.slice(from, to)) });
    from = to;
  }
  return spans;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

/** Memoizes a per-word token counter; most words repeat across a corpus. Bounded, so memory stays flat. */
export function cachedCounter(count: (word: string) => number, maxEntries = 200_000): (word: string) => number {
  const cache = new Map<string, number>();
  return (word) => {
    let n = cache.get(word);
    if (n === undefined) {
      n = count(word);
      if (cache.size >= maxEntries) cache.clear();
      cache.set(word, n);
    }
    return n;
  };
}
