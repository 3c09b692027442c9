/**
 * JSONL datasets: one `{ "id", "title"?, "text"?, "url"? }` object a line,
 * streamed from disk. A document's id is `<path as given>#<id>`. A record
 * whose text is missing, empty or a placeholder ("None", "null", "N/A", …; see
 * ../document.ts) is its title: that title is stored as its text too; one with
 * neither is recorded as `empty`. A line that
 * is not JSON, not valid UTF-8, or not such an object is recorded as a
 * failure naming its line number; the other lines are still read. An id that
 * repeats keeps its first line's record, and the later line is recorded as a
 * failure naming both lines: cells downstream see one document per id.
 *
 * @example
 * ```ts
 * import { readJsonl } from "./jsonl.ts";
 * import type { Progress } from "./progress.ts";
 * import type { Sink } from "./sink.ts";
 *
 * declare const sink: Sink, signal: AbortSignal, progress: Progress;
 * await readJsonl({ path: "/repo/pipelines/data/cranfield/docs.jsonl", given: "pipelines/data/cranfield/docs.jsonl" }, { sink, signal, progress });
 * // ids "pipelines/data/cranfield/docs.jsonl#1", "…#2", ...
 * ```
 */
import { isPlaceholder } from "../document.ts";
import { files } from "./files.ts";
import type { Progress } from "./progress.ts";
import type { Sink } from "./sink.ts";
import type { Failure } from "./types.ts";

export interface JsonlSeed {
  /** Absolute path. */
  path: string;
  /** The path as the seed spelled it: the prefix of document ids. */
  given: string;
}

export interface JsonlRead {
  sink: Sink;
  signal: AbortSignal;
  progress: Progress;
}

const UTF8 = new TextDecoder("utf-8", { fatal: true });

export async function readJsonl(seed: JsonlSeed, read: JsonlRead): Promise<{ documents: number; lines: number }> {
  const { sink, signal, progress } = read;
  let lineNumber = 0;
  let documents = 0;
  let carry: Uint8Array = new Uint8Array(0);
  // The line each id was stored from. A repeated id keeps its first record, as a bad line is skipped and
  // recorded (so one slip in a large dataset does not fail the crawl), said with both lines, so that the user
  // can tell which record a qrels entry for that id now means; one id, one document downstream.
  const firstLine = new Map<string, number>();

  const line = async (bytes: Uint8Array) => {
    lineNumber++;
    const end = bytes.length > 0 && bytes[bytes.length - 1] === 13 ? bytes.length - 1 : bytes.length;
    const result = parseLine(bytes.subarray(0, end), lineNumber, seed);
    if (result === undefined) return;
    progress.found();
    const first = "id" in result ? firstLine.get(result.id) : undefined;
    if ("reason" in result) await sink.failure(result);
    else if (first !== undefined) {
      const id = JSON.stringify(result.id.slice(seed.given.length + 1));
      const detail = `line ${lineNumber}: id ${id} repeats line ${first}'s; line ${first}'s record is kept, this line's is skipped`;
      await sink.failure({ url: seed.given, reason: "duplicate_id", detail });
    } else {
      firstLine.set(result.id, lineNumber);
      documents++;
      await sink.document(result);
    }
    progress.done();
  };

  for await (const chunk of files.chunks(seed.path)) {
    signal.throwIfAborted();
    let start = 0;
    for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, i);
      await line(carry.length > 0 ? concat(carry, piece) : piece);
      carry = new Uint8Array(0);
      start = i + 1;
    }
    if (start < chunk.length) carry = concat(carry, chunk.subarray(start));
  }
  if (carry.length > 0) await line(carry);
  return { documents, lines: lineNumber };
}

type Parsed = { id: string; url: string | null; title: string; text: string; bytes: number } | Failure | undefined;

function parseLine(bytes: Uint8Array, n: number, seed: JsonlSeed): Parsed {
  const fail = (reason: Failure["reason"], detail: string): Failure => ({ url: seed.given, reason, detail: `line ${n}: ${detail}` });
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    return fail("undecodable", "not valid UTF-8");
  }
  if (text.trim() === "") return undefined;
  let record: unknown;
  try {
    record = JSON.parse(text);
  } catch (err) {
    // JSON.parse's message quotes the line, raw: a CR or U+2028 in it would break the one-line detail.
    return fail("invalid_json", (err instanceof Error ? err.message : String(err)).replace(/[\r\n\u2028\u2029]/g, (c) => JSON.stringify(c).slice(1, -1)));
  }
  if (typeof record !== "object" || record === null || Array.isArray(record)) {
    return fail("invalid_record", `expected an object like {"id": ..., "text": ...}, got ${Array.isArray(record) ? "an array" : JSON.stringify(record)}`);
  }
  const r = record as Record<string, unknown>;
  if ((typeof r.id !== "string" && typeof r.id !== "number") || r.id === "") {
    return fail("invalid_record", `"id" must be a non-empty string or a number, got ${JSON.stringify(r.id) ?? "nothing"}`);
  }
  if (r.text !== undefined && r.text !== null && typeof r.text !== "string") return fail("invalid_record", `"text" must be a string, got ${JSON.stringify(r.text)}`);
  if (r.title !== undefined && r.title !== null && typeof r.title !== "string") return fail("invalid_record", `"title" must be a string`);
  if (r.url !== undefined && r.url !== null && typeof r.url !== "string") return fail("invalid_record", `"url" must be a string`);
  const id = `${seed.given}#${r.id}`;
  const title = (r.title as string | null | undefined) ?? "";
  // A record with only a title (no text, or a placeholder such as "None") is a document whose text is its title.
  const body = (r.text as string | null | undefined) ?? "";
  const content = isPlaceholder(body) ? title.trim() : body;
  if (content.trim() === "") {
    const said = body.trim() === "" ? "" : ` (only ${JSON.stringify(body.trim())})`;
    return { url: seed.given, reason: "empty", detail: `line ${n}: id ${JSON.stringify(String(r.id))} has no text${said} and no title` };
  }
  return { id, url: (r.url as string | undefined) ?? null, title, text: content, bytes: bytes.length };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
