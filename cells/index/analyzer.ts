/**
 * The lexical index's analyzer: text → terms. Lowercased maximal runs of
 * `[a-z0-9]` (what the bundled Cranfield BM25 run used), then optionally
 * Lucene's English stop set and Porter (npm `stemmer`) or Snowball English
 * (npm `snowball-stemmers`) stemming. The index stores the settings it was
 * built with, so queries are analyzed the same way.
 *
 * The stop set is Lucene's `EnglishAnalyzer.ENGLISH_STOP_WORDS_SET` (33 words), the one
 * Anserini's default analyzer (and so Pyserini's BM25 and RM3 figures) uses: the long
 * lists (stopwords-iso's 1,298 English words) drop content words such as "value" or "system".
 *
 * @example
 * ```ts
 * import { analyzer, parseAnalyzer } from "./analyzer.ts";
 *
 * analyzer({ stopwords: false, stemmer: "none" })("Supersonic flow, 2-D!"); // ["supersonic", "flow", "2", "d"]
 * analyzer({ stopwords: true, stemmer: "porter" })("the running flows");     // ["run", "flow"]
 * parseAnalyzer({ stopwords: "true", stemmer: "snowball" });                // { stopwords: true, stemmer: "snowball" }
 * ```
 */
import snowball from "snowball-stemmers";
import { stemmer as porter } from "stemmer";
import { CellarError } from "../../kernel/mod.ts";

export const STEMMERS = ["none", "porter", "snowball"] as const;
export type StemmerName = (typeof STEMMERS)[number];

export interface AnalyzerSettings {
  stopwords: boolean;
  stemmer: StemmerName;
}

/** Lucene's EnglishAnalyzer.ENGLISH_STOP_WORDS_SET. */
export const ENGLISH_STOPWORDS: ReadonlySet<string> = new Set([
  "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no", "not", "of", "on", "or",
  "such", "that", "the", "their", "then", "there", "these", "they", "this", "to", "was", "will", "with",
]);

const TOKEN = /[a-z0-9]+/g;

/** The analyzer the settings name: a function from text to its terms, in order, repeats kept. */
export function analyzer(settings: AnalyzerSettings): (text: string) => string[] {
  const { stopwords, stemmer } = parseAnalyzer(settings);
  const stem = stemmerOf(stemmer);
  // Stemming is the slow part and a corpus repeats its words: each distinct word is stemmed once.
  const stems = new Map<string, string>();
  return (text: string) => {
    const terms: string[] = [];
    for (const token of text.toLowerCase().match(TOKEN) ?? []) {
      if (stopwords && ENGLISH_STOPWORDS.has(token)) continue;
      if (stem === undefined) {
        terms.push(token);
        continue;
      }
      let stemmed = stems.get(token);
      if (stemmed === undefined) {
        stemmed = stem(token);
        if (stems.size < 1_000_000) stems.set(token, stemmed);
      }
      terms.push(stemmed);
    }
    return terms;
  };
}

/** Settings checked (also as a pipeline's params give them: "true", "porter"); a bad one is a one-line error. */
export function parseAnalyzer(value: { stopwords?: unknown; stemmer?: unknown }): AnalyzerSettings {
  const stopwords = value?.stopwords === "true" ? true : value?.stopwords === "false" ? false : value?.stopwords ?? false;
  if (typeof stopwords !== "boolean") throw new CellarError(`analyzer stopwords: expected true or false, got ${JSON.stringify(value.stopwords)}`);
  const stemmer = value?.stemmer ?? "none";
  if (!STEMMERS.includes(stemmer as StemmerName)) {
    throw new CellarError(`analyzer stemmer: expected "none", "porter" or "snowball", got ${JSON.stringify(stemmer)}`);
  }
  return { stopwords, stemmer: stemmer as StemmerName };
}

function stemmerOf(name: StemmerName): ((word: string) => string) | undefined {
  if (name === "porter") return porter;
  if (name === "snowball") {
    const english = snowball.newStemmer("english");
    return (word) => english.stem(word);
  }
  return undefined;
}
