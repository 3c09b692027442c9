/**
 * A seeded JSONL corpus of any size for the end-to-end ingest bench, made of
 * the bundled Cranfield abstracts' own sentences and titles, so its vocabulary,
 * sentence lengths and word frequencies are a real collection's.
 *
 * Each document takes a Cranfield title and starts with it (as Cranfield's
 * texts do). Of the documents: ~95% are abstracts with as many sentences as a
 * Cranfield abstract drawn at random (median 6, ~23 words each); ~4% are longer
 * pages of 20–80 sentences (500–1,900 words); ~3% are near duplicates of an
 * earlier document (a few words replaced, deleted or inserted: Jaccard of word
 * 5-shingles well above 0.8); ~1% are exact copies of one with changed case and
 * spacing. The originals copied are a reservoir sample over all earlier ones, so
 * duplicates lie far apart in the file as well as near. Lines are written as
 * they are made: the corpus is never held in memory.
 *
 * @example
 * ```ts
 * import { writeIngestCorpus } from "./ingest-corpus.ts";
 *
 * const stats = writeIngestCorpus("/tmp/corpus.jsonl", 10_000);
 * // { docs: 10000, pages: 4xx, nearCopies: 3xx, exactCopies: 1xx, words: ..., bytes: ... }
 * ```
 */
import { closeSync, openSync, readFileSync, writeSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { rng } from "../test/random.ts";

export interface CorpusStats {
  docs: number;
  pages: number;
  nearCopies: number;
  exactCopies: number;
  words: number;
  bytes: number;
}

const CRANFIELD = fileURLToPath(new URL("../pipelines/data/cranfield/docs.jsonl", import.meta.url));
/** Originals kept for copying: a uniform sample of all earlier ones. */
const RESERVOIR = 2_000;

interface Source {
  titles: string[];
  sentences: string[];
  /** Sentences per abstract after its title, one entry per Cranfield abstract. */
  lengths: number[];
}

function cranfield(): Source {
  const source: Source = { titles: [], sentences: [], lengths: [] };
  for (const line of readFileSync(CRANFIELD, "utf8").split("\n")) {
    if (line.trim() === "") continue;
    const { title, text } = JSON.parse(line) as { title?: string; text?: string };
    // Cranfield texts begin with their title, a sentence of its own: the rest are the body's sentences.
    const body = (text ?? "").split(" . ").slice(1).map((s) => s.trim()).filter((s) => s.split(" ").length >= 3);
    if (title && body.length > 0) source.titles.push(title.trim());
    source.sentences.push(...body.map((s) => (s.endsWith(".") ? s : `${s} .`)));
    if (body.length > 0) source.lengths.push(body.length);
  }
  return source;
}

/** Writes `count` documents to `path` (ids "d000000", …) from seed `seed`; returns what was made. */
export function writeIngestCorpus(path: string, count: number, seed = 13): CorpusStats {
  const source = cranfield();
  const next = rng(seed);
  const pick = <T>(items: T[]) => items[Math.floor(next() * items.length)];
  const words = [...new Set(source.sentences.join(" ").split(" "))];
  const reservoir: string[] = [];
  let originals = 0;
  const stats: CorpusStats = { docs: 0, pages: 0, nearCopies: 0, exactCopies: 0, words: 0, bytes: 0 };
  const fd = openSync(path, "w");
  let buffer: string[] = [];
  const flush = () => {
    const bytes = Buffer.from(buffer.join(""));
    writeSync(fd, bytes);
    stats.bytes += bytes.length;
    buffer = [];
  };
  try {
    for (let i = 0; i < count; i++) {
      const roll = next();
      let text: string;
      let title: string;
      if (reservoir.length >= 100 && roll < 0.03) {
        [title, text] = split(pick(reservoir));
        text = edit(text, next, () => pick(words));
        stats.nearCopies++;
      } else if (reservoir.length >= 100 && roll < 0.04) {
        [title, text] = split(pick(reservoir));
        text = text.replace(/ /g, () => (next() < 0.05 ? "\n  " : " ")).toUpperCase();
        stats.exactCopies++;
      } else {
        const page = roll > 0.96;
        const n = page ? 20 + Math.floor(next() * 61) : pick(source.lengths);
        title = pick(source.titles);
        text = `${title} ${Array.from({ length: n }, () => pick(source.sentences)).join(" ")}`;
        if (page) stats.pages++;
        // Reservoir sampling: every original so far is equally likely to be copied.
        const slot = originals < RESERVOIR ? originals : Math.floor(next() * (originals + 1));
        if (slot < RESERVOIR) reservoir[slot] = `${title}\u0000${text}`;
        originals++;
      }
      stats.words += text.split(/\s+/).length;
      buffer.push(`${JSON.stringify({ id: `d${String(i).padStart(7, "0")}`, title, text })}\n`);
      if (buffer.length >= 1_000) flush();
    }
    flush();
  } finally {
    closeSync(fd);
  }
  stats.docs = count;
  return stats;
}

function split(kept: string): [string, string] {
  const at = kept.indexOf("\u0000");
  return [kept.slice(0, at), kept.slice(at + 1)];
}

/** A near copy: 0.2–2% of the words (at least one) replaced, deleted or inserted. */
function edit(text: string, next: () => number, word: () => string): string {
  const words = text.split(" ");
  const edits = Math.max(1, Math.round(words.length * (0.002 + next() * 0.018)));
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(next() * words.length);
    const kind = next();
    if (kind < 0.5) words[at] = word();
    else if (kind < 0.75) words.splice(at, 1);
    else words.splice(at, 0, word());
  }
  return words.join(" ");
}
