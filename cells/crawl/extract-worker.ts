/**
 * A fetched page's bytes to a document: decoded (decode.ts) and extracted
 * (extract.ts). It is the handler of the web crawl's extraction worker
 * (`handle`, through runtime.spawnHandlerWorker), so it imports nothing of the
 * kernel: the worker's bundle holds only what extraction needs. The same
 * function serves the crawl's main thread before the worker is up; the worker
 * also hashes the text, so the main thread does not.
 *
 * @example
 * ```ts
 * import { extractPage } from "./extract-worker.ts";
 *
 * const bytes = new TextEncoder().encode("<title>Hi</title><p>Hello</p>");
 * extractPage({ id: 1, bytes, kind: "html", url: "https://x.org/" });
 * // { id: 1, ok: true, doc: { title: "Hi", text: "Hello", links: [], noindex: false } }
 * ```
 */
import type { TextKind } from "./content-type.ts";
import { decodeText } from "./decode.ts";
import { extractDocument, type Extracted } from "./extract.ts";

export interface PageJob {
  id: number;
  bytes: Uint8Array;
  kind: TextKind;
  /** The Content-Type header's charset, if it named one. */
  charset?: string;
  url: string;
}

export type PageReply =
  | { id: number; ok: true; doc: Extracted; hash?: string }
  | { id: number; ok: false; reason: "undecodable" | "not_text"; detail: string };

export function extractPage(job: PageJob): PageReply {
  const decoded = decodeText(job.bytes, job.kind, job.charset);
  if (!decoded.ok) return { id: job.id, ok: false, reason: decoded.reason, detail: decoded.detail };
  return { id: job.id, ok: true, doc: extractDocument(job.kind, decoded.text, job.url) };
}

/**
 * The worker's handler: one page at a time, whole (a worker has no event loop of others to yield to), with
 * the SHA-256 of its text that the sink stores (web crypto: this module imports nothing of the kernel).
 */
export async function handle(job: PageJob): Promise<PageReply> {
  const reply = extractPage(job);
  if (reply.ok && reply.doc.text !== "") reply.hash = await sha256Hex(reply.doc.text);
  return reply;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** SHA-256 of the text's UTF-8, hex: what runtime.sha256Hex gives. */
async function sha256Hex(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  let hex = "";
  for (const b of digest) hex += HEX[b];
  return hex;
}
