/**
 * TREC files: qrels (relevance judgments) and runs (rankings), read and written
 * the way NIST trec_eval reads them, so that Cellar's metrics and trec_eval see
 * the same data.
 *
 * - qrels: `qid iter docid gain`, whitespace separated; `iter` is ignored (by
 *   convention "0"); `gain` is a whole number (negative = judged but treated as
 *   not relevant, as trec_eval does).
 * - run: `qid Q0 docid rank score tag`, exactly 6 columns (trec_eval ignores
 *   extra ones; here they are an error, as they usually mean a broken line);
 *   `Q0` and `rank` are ignored (trec_eval re-ranks by score), the tag is
 *   written but not kept.
 * - Both: blank lines and lines whose first non-blank character is `#` are
 *   skipped (trec_eval does),
 *   a (qid, docid) pair may appear once (trec_eval stops on "duplicate docs").
 *
 * Errors name the source and the 1-based line of the file.
 *
 * @example
 * ```ts
 * import { runtime } from "../../kernel/mod.ts";
 * import { formatRun, parseQrels, parseRun } from "./trec.ts";
 *
 * declare const path: string, runPath: string;
 * const qrels = parseQrels(await runtime.readTextFile(path), "qrels.trec");
 * const run = parseRun(await runtime.readTextFile(runPath), "bm25.run");
 * run.get("1")![0]; // { docid: "184", score: 22.447209 }
 * await runtime.writeTextFile("out.run", formatRun(run, "bm25"));
 * ```
 */
import { CellarError } from "../../kernel/mod.ts";

/** Judgments: qid → docid → gain (relevance grade; ≥ 1 is relevant). */
export type Qrels = Map<string, Map<string, number>>;

/** One retrieved document of a run. */
export interface RunEntry {
  docid: string;
  score: number;
}

/** A run: qid → its retrieved documents, in any order (trec_eval ranks them by score). */
export type Run = Map<string, RunEntry[]>;

const QRELS_FORMAT = `"qid 0 docid gain" with a whole-number gain`;
const RUN_FORMAT = `"qid Q0 docid rank score tag" with a finite score`;
const WHOLE_NUMBER = /^[+-]?\d+$/;

/**
 * Reads a qrels file. Throws a CellarError for a malformed line, a duplicated
 * (qid, docid) pair or a file without judgments.
 */
export function parseQrels(text: string, source: string): Qrels {
  const qrels: Qrels = new Map();
  const firstLines = new Map<string, Map<string, number>>();
  let count = 0;
  forEachLine(text, (fields, lineNo, line) => {
    if (fields.length !== 4 || !WHOLE_NUMBER.test(fields[3])) {
      throw new CellarError(`${source} line ${lineNo}: expected ${QRELS_FORMAT}, got ${quote(line)}`);
    }
    const [qid, , docid, gainText] = fields;
    let judged = qrels.get(qid);
    let lines = firstLines.get(qid);
    if (judged === undefined || lines === undefined) {
      qrels.set(qid, (judged = new Map()));
      firstLines.set(qid, (lines = new Map()));
    }
    const first = lines.get(docid);
    if (first !== undefined) {
      throw new CellarError(`${source} line ${lineNo}: duplicate judgment for query ${qid}, document ${docid} (first on line ${first})`);
    }
    lines.set(docid, lineNo);
    judged.set(docid, Number(gainText));
    count++;
  });
  if (count === 0) throw new CellarError(`${source}: no judgments; expected lines ${QRELS_FORMAT}`);
  return qrels;
}

/**
 * Reads a run file. Throws a CellarError for a malformed line (not 6 columns, a
 * score that is not a finite number), a document listed twice for one query or
 * a file without results.
 */
export function parseRun(text: string, source: string): Run {
  const run: Run = new Map();
  // qid → docid → line: catches duplicates and says where the first one was.
  const firstLines = new Map<string, Map<string, number>>();
  let count = 0;
  forEachLine(text, (fields, lineNo, line) => {
    const score = fields.length === 6 ? Number(fields[4]) : NaN;
    if (!Number.isFinite(score)) {
      throw new CellarError(`${source} line ${lineNo}: expected ${RUN_FORMAT}, got ${quote(line)}`);
    }
    const qid = fields[0];
    const docid = fields[2];
    let entries = run.get(qid);
    let lines = firstLines.get(qid);
    if (entries === undefined || lines === undefined) {
      run.set(qid, (entries = []));
      firstLines.set(qid, (lines = new Map()));
    }
    const first = lines.get(docid);
    if (first !== undefined) {
      throw new CellarError(`${source} line ${lineNo}: document ${docid} listed twice for query ${qid} (first on line ${first}); trec_eval rejects duplicate docs`);
    }
    lines.set(docid, lineNo);
    entries.push({ docid, score });
    count++;
  });
  if (count === 0) throw new CellarError(`${source}: no results; expected lines ${RUN_FORMAT}`);
  return run;
}

/**
 * The run as TREC run text: queries in the map's order, each query's documents
 * in trec_eval's order (see rankEntries) with ranks 1..n, scores printed so
 * that they read back exactly.
 */
export function formatRun(run: Run, tag: string): string {
  if (!/^\S+$/.test(tag)) throw new CellarError(`run tag ${quote(tag)}: expected a non-empty word without whitespace`);
  const lines: string[] = [];
  for (const [qid, entries] of run) {
    if (!/^\S+$/.test(qid)) throw new CellarError(`query id ${quote(qid)}: expected a non-empty word without whitespace`);
    const ranked = rankEntries(entries);
    for (let i = 0; i < ranked.length; i++) {
      const { docid, score } = ranked[i];
      if (!/^\S+$/.test(docid)) throw new CellarError(`query ${qid}: document id ${quote(docid)}: expected a non-empty word without whitespace`);
      if (!Number.isFinite(score)) throw new CellarError(`query ${qid}, document ${docid}: score ${score}: expected a finite number`);
      lines.push(`${qid} Q0 ${docid} ${i + 1} ${score} ${tag}`);
    }
  }
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`;
}

/**
 * A query's documents in trec_eval's order: score descending, ties broken by
 * docid descending in strcmp (byte) order. Returns a sorted copy; the run is
 * not modified.
 */
export function rankEntries(entries: readonly RunEntry[]): RunEntry[] {
  return entries.slice().sort(byTrecOrder);
}

/** trec_eval's comp_sim_docno: higher score first, then the larger docid first. */
export function byTrecOrder(a: RunEntry, b: RunEntry): number {
  if (a.score > b.score) return -1;
  if (a.score < b.score) return 1;
  return strcmp(b.docid, a.docid);
}

/**
 * C's strcmp on the UTF-8 bytes of two strings, i.e. Unicode code point order.
 * JavaScript's `<` compares UTF-16 code units, which differs only when a
 * surrogate pair meets a character in U+E000..U+FFFF.
 */
export function strcmp(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return x >= 0xd800 && y >= 0xd800 ? codePointRank(x) - codePointRank(y) : x - y;
  }
  return a.length - b.length;
}

/** Moves surrogates (D800..DFFF, i.e. code points ≥ 0x10000) above E000..FFFF. */
function codePointRank(unit: number): number {
  return unit >= 0xe000 ? unit - 0x800 : unit + 0x2000;
}

/**
 * A value as trec_eval prints it (C's `%.4f`): like toFixed(4) except that an
 * exact tie rounds to even, e.g. 1/32 = 0.03125 prints "0.0312" where
 * toFixed gives "0.0313". Use it to compare with trec_eval's output.
 */
export function formatMeasure(value: number): string {
  // Only odd multiples of 1/32 are exact binary ties at 4 decimals.
  if (!Number.isInteger(value * 32) || Number.isInteger(value * 16)) return value.toFixed(4);
  const down = Math.floor(Math.abs(value) * 10_000);
  const even = down % 2 === 0 ? down : down + 1;
  return `${value < 0 ? "-" : ""}${(even / 10_000).toFixed(4)}`;
}

/** Calls `visit` with the whitespace-separated fields of each non-blank, non-comment line. */
function forEachLine(text: string, visit: (fields: string[], lineNo: number, line: string) => void): void {
  let start = 0;
  let lineNo = 0;
  while (start < text.length) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    lineNo++;
    const line = text.slice(start, end);
    start = end + 1;
    const fields = splitFields(line);
    if (fields.length === 0 || fields[0].charCodeAt(0) === 35 /* # */) continue;
    visit(fields, lineNo, line);
  }
}

/** Splits on C's isspace characters (space, \t, \n, \v, \f, \r), as trec_eval does. */
function splitFields(line: string): string[] {
  const fields: string[] = [];
  let start = -1;
  for (let i = 0; i <= line.length; i++) {
    const c = i < line.length ? line.charCodeAt(i) : 32;
    const space = c === 32 || (c >= 9 && c <= 13);
    if (space) {
      if (start >= 0) fields.push(line.slice(start, i));
      start = -1;
    } else if (start < 0) {
      start = i;
    }
  }
  return fields;
}

function quote(text: string): string {
  return JSON.stringify(text.length > 120 ? `${text.slice(0, 120)}…` : text);
}
