/**
 * An eval set: questions (JSONL `{ "id", "text" }`) and TREC relevance
 * judgments (`qid 0 docid gain`), checked against each other and against the
 * corpus the index holds.
 *
 * Ids are strings and matched exactly: Cranfield's `orig_I` numbering differs
 * from the 1-based `id` its qrels use, and only `id` is read.
 *
 * @example
 * ```ts
 * import { loadEvalSet } from "./evalset.ts";
 *
 * declare const documentIds: string[];
 * const set = await loadEvalSet({ queries: "pipelines/data/cranfield/queries.jsonl",
 *   qrels: "pipelines/data/cranfield/qrels.trec" }, { corpus: new Set(documentIds) });
 * set.queries.length; // 225
 * set.missing.documents; // judged documents the corpus lacks (an error unless allowMissing)
 * ```
 */
import { CellarError, runtime } from "../../kernel/mod.ts";
import { parseQrels, type Qrels } from "./trec.ts";

export interface Question {
  id: string;
  text: string;
}

export interface EvalSet {
  /** The queries file's folder: "cranfield" for pipelines/data/cranfield/queries.jsonl. */
  name: string;
  /** Every question that has judgments, in file order. */
  queries: Question[];
  qrels: Qrels;
  /** SHA-256 of both files' contents: two results are comparable only on the same set. */
  fingerprint: string;
  missing: {
    /** Judged documents that are not in the corpus: they count against recall, as in trec_eval. */
    documents: string[];
    /** Questions without judgments: left out, as trec_eval leaves them out of its means. */
    unjudged: string[];
  };
}

export interface EvalSetFiles {
  queries: string;
  qrels: string;
}

export interface LoadOptions {
  /** Document ids of the corpus; judged documents outside it are reported. */
  corpus?: ReadonlySet<string>;
  /** Continue when judgments name documents the corpus lacks (they are kept and reported). Default false. */
  allowMissing?: boolean;
}

const EXAMPLES = 5;

export async function loadEvalSet(files: EvalSetFiles, options: LoadOptions = {}): Promise<EvalSet> {
  const [queriesText, qrelsText] = await Promise.all([readText(files.queries, "queries"), readText(files.qrels, "qrels")]);
  const questions = parseQueries(queriesText, files.queries);
  const qrels = parseQrels(qrelsText, files.qrels);

  const known = new Set(questions.map((q) => q.id));
  const orphans = [...qrels.keys()].filter((qid) => !known.has(qid));
  if (orphans.length > 0) {
    throw new CellarError(
      `${files.qrels}: judgments for ${orphans.length} question id(s) that ${files.queries} does not have (${examples(orphans)}); ` +
        `query ids must match the qrels' first column`,
    );
  }
  const unjudged = questions.filter((q) => !qrels.has(q.id)).map((q) => q.id);
  const queries = questions.filter((q) => qrels.has(q.id));
  if (queries.length === 0) throw new CellarError(`${files.queries}: none of its ${questions.length} questions has judgments in ${files.qrels}`);

  const documents: string[] = [];
  if (options.corpus) {
    const missing = new Set<string>();
    for (const judged of qrels.values()) for (const docid of judged.keys()) if (!options.corpus.has(docid)) missing.add(docid);
    documents.push(...[...missing].sort(byId));
    if (documents.length > 0 && !options.allowMissing) {
      throw new CellarError(
        `${files.qrels}: judges ${documents.length} document(s) missing from the corpus of ${options.corpus.size} (${examples(documents)}); ` +
          `re-run ingest over the right corpus, or allow it with --param allowMissingIds=true`,
      );
    }
  }
  return {
    name: runtime.dirname(runtime.resolve(files.queries)).split("/").pop() || files.queries,
    queries,
    qrels,
    fingerprint: runtime.sha256Hex(`${queriesText}\u0000${qrelsText}`),
    missing: { documents, unjudged },
  };
}

/** JSONL questions, one `{ "id", "text" }` a line; other fields are ignored. */
function parseQueries(text: string, source: string): Question[] {
  const questions: Question[] = [];
  const seen = new Set<string>();
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "") continue;
    const where = `${source} line ${i + 1}`;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      throw new CellarError(`${where}: expected a JSON object { "id", "text" }, got ${clip(line)}`);
    }
    const { id, text: question } = (record ?? {}) as Record<string, unknown>;
    if ((typeof id !== "string" && typeof id !== "number") || String(id).trim() === "") {
      throw new CellarError(`${where}: expected "id" to be a non-empty string or number, got ${clip(JSON.stringify(id) ?? "nothing")}`);
    }
    if (typeof question !== "string" || question.trim() === "") {
      throw new CellarError(`${where}: expected "text" to be a non-empty string (question ${JSON.stringify(id)})`);
    }
    const qid = String(id);
    if (seen.has(qid)) throw new CellarError(`${where}: question id ${JSON.stringify(qid)} appears twice`);
    seen.add(qid);
    questions.push({ id: qid, text: question.trim() });
  }
  if (questions.length === 0) throw new CellarError(`${source}: no questions; expected one JSON object { "id", "text" } a line`);
  return questions;
}

async function readText(path: string, what: string): Promise<string> {
  const stat = await runtime.stat(path);
  if (!stat || stat.directory) throw new CellarError(`${what} file ${path}: not found (expected a ${what === "qrels" ? "TREC qrels" : "JSONL"} file)`);
  return await runtime.readTextFile(path);
}

/** Numeric ids in numeric order, others after them in text order. */
function byId(a: string, b: string): number {
  const x = Number(a), y = Number(b);
  if (Number.isFinite(x) && Number.isFinite(y)) return x - y;
  return a < b ? -1 : a > b ? 1 : 0;
}

function examples(ids: string[]): string {
  const shown = ids.slice(0, EXAMPLES).join(", ");
  return ids.length > EXAMPLES ? `e.g. ${shown}, …` : shown;
}

function clip(text: string): string {
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}
