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
  const query = new QueryCache<Map<string, number>>(qrels, () => new Map());
  let count = 0;
  forEachLine(text, (f, fields, lineNo, lineStart, lineEnd) => {
    const gain = fields === 4 ? wholeNumber(text, f[6], f[7]) : NaN;
    if (Number.isNaN(gain)) throw new CellarError(`${source} line ${lineNo}: expected ${QRELS_FORMAT}, got ${quote(text.slice(lineStart, lineEnd))}`);
    const judged = query.get(text, f[0], f[1]);
    const docid = text.slice(f[4], f[5]);
    const size = judged.size;
    // One hash operation a line: a duplicate leaves the size as it was (the first line is found again only then).
    judged.set(docid, gain);
    if (judged.size === size) {
      const first = firstLine(text, query.qid, docid);
      throw new CellarError(`${source} line ${lineNo}: duplicate judgment for query ${query.qid}, document ${docid} (first on line ${first})`);
    }
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
  const query = new QueryCache<RunEntry[]>(run, () => []);
  let count = 0;
  forEachLine(text, (f, fields, lineNo, lineStart, lineEnd) => {
    const score = fields === 6 ? decimal(text, f[8], f[9]) : NaN;
    if (!Number.isFinite(score)) throw new CellarError(`${source} line ${lineNo}: expected ${RUN_FORMAT}, got ${quote(text.slice(lineStart, lineEnd))}`);
    const entries = query.get(text, f[0], f[1]);
    const docid = text.slice(f[4], f[5]);
    const seen = query.docids;
    const size = seen.size;
    seen.add(docid);
    if (seen.size === size) {
      const first = firstLine(text, query.qid, docid);
      throw new CellarError(
        `${source} line ${lineNo}: document ${docid} listed twice for query ${query.qid} (first on line ${first}); trec_eval rejects duplicate docs`,
      );
    }
    entries.push({ docid, score });
    count++;
  });
  if (count === 0) throw new CellarError(`${source}: no results; expected lines ${RUN_FORMAT}`);
  return run;
}

/**
 * A query's value in `map`, created on first sight, and the docids seen for
 * it (for duplicates). Files list a query's lines together: the qid field is
 * compared in place with the last one, so it is sliced out and looked up only
 * when it changes.
 */
class QueryCache<T> {
  qid = "";
  docids = new Set<string>();
  #value: T | undefined;
  readonly #docids = new Map<string, Set<string>>();
  constructor(readonly map: Map<string, T>, readonly create: () => T) {}

  get(text: string, start: number, end: number): T {
    if (this.#value !== undefined && end - start === this.qid.length && text.startsWith(this.qid, start)) return this.#value;
    this.qid = text.slice(start, end);
    let value = this.map.get(this.qid);
    if (value === undefined) {
      this.map.set(this.qid, (value = this.create()));
      this.#docids.set(this.qid, new Set());
    }
    this.docids = this.#docids.get(this.qid)!;
    return (this.#value = value);
  }
}

/** The 1-based line where (qid, docid) first appears (fields 1 and 3): for a duplicate's message only. */
function firstLine(text: string, qid: string, docid: string): number {
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const fields = lines[i].split(/[\t-\r ]+/).filter((field) => field !== "");
    if (fields[0] === qid && fields[2] === docid) return i + 1;
  }
  return 0;
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
    // A line starting with # is a comment to trec_eval and parseRun: the query's results would vanish on reading.
    if (qid.startsWith("#")) throw new CellarError(`query id ${quote(qid)}: expected a word that does not start with #, which makes its lines comments`);
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

/** Fields kept per line: a run line's six and one more, to tell six from more. */
const MAX_FIELDS = 7;
const bounds = new Int32Array(2 * MAX_FIELDS);

type LineVisitor = (f: Int32Array, fields: number, lineNo: number, lineStart: number, lineEnd: number) => void;

/**
 * Calls `visit` for each non-blank, non-comment line with its fields' [start,
 * end) offsets into `text` (field i at f[2i], f[2i + 1]; at most MAX_FIELDS
 * kept, `fields` counting them all) and the line's. Fields are split on C's
 * isspace characters (space, \t, \n, \v, \f, \r), as trec_eval splits them;
 * no string is made here: the parsers slice out only what they keep.
 */
function forEachLine(text: string, visit: LineVisitor): void {
  if (spacesOnly(text)) spacedLines(text, visit);
  else anyLines(text, visit);
}

/**
 * True when the only isspace characters are spaces and newlines, as runs and
 * qrels are written: such a text is split by the runtime's native indexOf,
 * several times faster than looking at each character.
 */
function spacesOnly(text: string): boolean {
  return !text.includes("\t") && !text.includes("\r") && !text.includes("\v") && !text.includes("\f");
}

function spacedLines(text: string, visit: LineVisitor): void {
  const length = text.length;
  let lineNo = 0;
  for (let at = 0; at < length;) {
    lineNo++;
    let lineEnd = text.indexOf("\n", at);
    if (lineEnd < 0) lineEnd = length;
    const lineStart = at;
    at = lineEnd + 1;
    let fields = 0;
    for (let start = lineStart; start < lineEnd;) {
      let space = text.indexOf(" ", start);
      if (space < 0 || space > lineEnd) space = lineEnd;
      // Two spaces together, or one at either end of the line, make an empty field: none.
      if (space > start) {
        if (fields < MAX_FIELDS) bounds[2 * fields] = start, bounds[2 * fields + 1] = space;
        fields++;
      }
      start = space + 1;
    }
    if (fields === 0 || text.charCodeAt(bounds[0]) === 35 /* # */) continue;
    visit(bounds, fields, lineNo, lineStart, lineEnd);
  }
}

function anyLines(text: string, visit: LineVisitor): void {
  const length = text.length;
  let lineNo = 0;
  let at = 0;
  while (at < length) {
    lineNo++;
    const lineStart = at;
    let fields = 0;
    let start = -1;
    let c = 0;
    for (; at < length && (c = text.charCodeAt(at)) !== 10; at++) {
      if (c === 32 || (c >= 9 && c <= 13)) {
        if (start >= 0) {
          if (fields < MAX_FIELDS) bounds[2 * fields] = start, bounds[2 * fields + 1] = at;
          fields++;
          start = -1;
        }
      } else if (start < 0) {
        start = at;
      }
    }
    if (start >= 0) {
      if (fields < MAX_FIELDS) bounds[2 * fields] = start, bounds[2 * fields + 1] = at;
      fields++;
    }
    const lineEnd = at;
    at++; // past the newline
    if (fields === 0 || text.charCodeAt(bounds[0]) === 35 /* # */) continue;
    visit(bounds, fields, lineNo, lineStart, lineEnd);
  }
}

/** The field as a whole number (`[+-]digits`), or NaN. */
function wholeNumber(text: string, start: number, end: number): number {
  const field = text.slice(start, end);
  return WHOLE_NUMBER.test(field) ? Number(field) : NaN;
}

/**
 * The field as `Number` reads it. The common form, [-]digits[.digits] with at
 * most 15 digits, is computed in place: its digits make an exact integer below
 * 2⁵³ and its power of ten is exact, so one division rounds correctly and
 * gives Number's value to the bit. Anything else goes to Number.
 */
function decimal(text: string, start: number, end: number): number {
  // Longer than a sign, 15 digits and a point: more than 15 digits, not the fast form.
  if (end - start > 17) return Number(text.slice(start, end));
  let at = start;
  const negative = text.charCodeAt(at) === 45; /* - */
  if (negative) at++;
  let digits = 0;
  let fraction = -1;
  let value = 0;
  for (; at < end; at++) {
    const c = text.charCodeAt(at);
    if (c >= 48 && c <= 57) {
      value = value * 10 + (c - 48);
      digits++;
    } else if (c === 46 /* . */ && fraction < 0) {
      fraction = at;
    } else {
      break;
    }
  }
  const decimals = fraction < 0 ? 0 : end - fraction - 1;
  if (at !== end || digits === 0 || digits > 15 || decimals === 0 && fraction >= 0 || fraction === (negative ? start + 1 : start)) {
    return Number(text.slice(start, end));
  }
  const magnitude = decimals === 0 ? value : value / POWERS_OF_TEN[decimals];
  return negative ? -magnitude : magnitude;
}

// From their decimal literals, so each is exact.
const POWERS_OF_TEN = Array.from({ length: 16 }, (_, i) => Number(`1e${i}`));

function quote(text: string): string {
  return JSON.stringify(text.length > 120 ? `${text.slice(0, 120)}…` : text);
}
