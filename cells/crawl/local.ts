/**
 * The local crawl: a directory's .html, .htm, .md, .markdown and .txt files
 * (recursively, hidden entries skipped), or one such file, following the
 * local links in them to other such files under the same root (the seed
 * directory, or the seed file's directory) up to maxDepth. Each document's id
 * is its file:// URL. Pages are decoded by their declared charset like web
 * pages; a link to a missing file is recorded as `not_found`. Symbolic links
 * are followed, but every real file is read once and every real directory
 * walked once; a FIFO, socket or device is recorded as `not_a_file` and never
 * opened.
 *
 * @example
 * ```ts
 * import { crawlLocal, type LocalCrawl } from "./local.ts";
 *
 * declare const crawl: LocalCrawl; // { options, signal, sink, budget, progress }
 * await crawlLocal([{ path: "/docs", directory: true }], crawl); // { pages: 42 }
 * ```
 */
import { runtime } from "../../kernel/mod.ts";
import { kindOfExtension } from "./content-type.ts";
import { decodeText } from "./decode.ts";
import { extractDocument } from "./extract.ts";
import { files } from "./files.ts";
import type { Budget, Progress } from "./progress.ts";
import type { Sink } from "./sink.ts";
import type { CrawlOptions } from "./types.ts";
import { normalizeUrl } from "./url.ts";

export interface LocalSeed {
  /** Absolute path. */
  path: string;
  directory: boolean;
}

export interface LocalCrawl {
  options: CrawlOptions;
  signal: AbortSignal;
  sink: Sink;
  budget: Budget;
  progress: Progress;
}

interface Task {
  path: string;
  depth: number;
  /** file:// URL of the root directory, with a trailing slash: links outside it are not followed. */
  root: string;
  from?: string;
}

export async function crawlLocal(seeds: LocalSeed[], crawl: LocalCrawl): Promise<{ pages: number }> {
  const walk = new LocalWalk(crawl);
  await walk.queueSeeds(seeds);
  return { pages: await walk.drain() };
}

/** One local crawl's queue: each real file once, links followed inside their seed's folder. */
class LocalWalk {
  /** Real paths (symbolic links resolved) queued: a file reached by two paths is read once, under the first. */
  readonly #seen = new Set<string>();
  /** Real paths of the directories walked: a link back up the tree (`self -> .`) is not walked again. */
  readonly #walked = new Set<string>();
  readonly #queue: Task[] = [];

  constructor(private readonly crawl: LocalCrawl) {}

  async queueSeeds(seeds: LocalSeed[]): Promise<void> {
    for (const seed of seeds) {
      if (seed.directory) {
        const root = dirUrl(seed.path);
        for (const path of await walk(seed.path, this.#walked, this.crawl.signal)) if (!await this.#enqueue({ path, depth: 0, root })) break;
      } else {
        await this.#enqueue({ path: seed.path, depth: 0, root: dirUrl(runtime.dirname(seed.path)) });
      }
    }
  }

  /** Reads every queued file (and what their links add); the documents stored. */
  async drain(): Promise<number> {
    let pages = 0;
    for (let i = 0; i < this.#queue.length; i++) {
      this.crawl.signal.throwIfAborted();
      const task = this.#queue[i];
      this.#queue[i] = undefined as unknown as Task;
      if (await this.#read(task)) pages++;
      this.crawl.progress.done();
    }
    return pages;
  }

  async #enqueue(task: Task): Promise<boolean> {
    const key = (await files.realPath(task.path)) ?? task.path;
    if (this.#seen.has(key)) return true;
    if (!this.crawl.budget.take()) return false;
    this.#seen.add(key);
    this.crawl.progress.found();
    this.#queue.push(task);
    return true;
  }

  /** One file into the sink, or its failure; true when it was stored as a document. */
  async #read(task: Task): Promise<boolean> {
    const { sink, options } = this.crawl;
    const url = fileUrl(task.path);
    const info = await files.stat(task.path);
    if (!info || info.directory) {
      await sink.failure({ url, reason: "not_found", detail: `no such file${task.from ? `, linked from ${task.from}` : ""}` });
      return false;
    }
    if (info.kind !== "file") {
      // Never opened: opening a FIFO blocks until a writer comes, and a device may never end.
      await sink.failure({ url, reason: "not_a_file", detail: `${KIND_NAMES[info.kind] ?? info.kind}, not a regular file; skipped unread` });
      return false;
    }
    if (info.size > options.maxBytes) {
      await sink.failure({ url, reason: "too_large", detail: `${info.size} bytes is over maxBytes ${options.maxBytes}` });
      return false;
    }
    const kind = kindOfExtension(task.path)!;
    let bytes: Uint8Array;
    try {
      bytes = await files.readBytes(task.path);
    } catch (err) {
      await sink.failure({ url, reason: "unreadable", detail: err instanceof Error ? err.message : String(err) });
      return false;
    }
    const decoded = decodeText(bytes, kind);
    if (!decoded.ok) {
      await sink.failure({ url, reason: decoded.reason, detail: decoded.detail });
      return false;
    }
    const doc = extractDocument(kind, decoded.text, url);
    const stored = doc.text !== "";
    if (stored) await sink.document({ id: url, url, title: doc.title || basename(task.path), text: doc.text, bytes: bytes.length });
    else await sink.failure({ url, reason: "empty", detail: `no text in ${bytes.length} bytes` });
    await this.#follow(doc.links, task, url);
    return stored;
  }

  /** Links to documents inside the seed's folder, up to maxDepth. */
  async #follow(links: string[], task: Task, from: string): Promise<void> {
    if (task.depth >= this.crawl.options.maxDepth) return;
    for (const link of links) {
      if (!link.startsWith(task.root) || kindOfExtension(link) === undefined) continue;
      if (!await this.#enqueue({ path: runtime.fromFileUrl(link), depth: task.depth + 1, root: task.root, from })) break;
    }
  }
}

const KIND_NAMES: Record<string, string> = {
  fifo: "a FIFO (named pipe)", socket: "a socket", block_device: "a block device", char_device: "a character device",
  other: "not a regular file",
};

/** Nesting deeper than this is not walked, whatever the links. */
const MAX_NESTING = 32;

/**
 * Every supported file under `dir`, depth first in name order; dot-files and dot-directories skipped.
 * Symbolic links are followed, but each real directory is walked once (`walked` holds their real
 * paths), so a link cycle costs one visit of each directory in it.
 */
async function walk(dir: string, walked: Set<string>, signal: AbortSignal): Promise<string[]> {
  const out: string[] = [];
  const visit = async (d: string, nesting: number) => {
    signal.throwIfAborted();
    const real = (await files.realPath(d)) ?? d;
    if (walked.has(real)) return;
    walked.add(real);
    for (const entry of await files.list(d)) {
      if (entry.name.startsWith(".")) continue;
      const path = runtime.resolve(d, entry.name);
      if (entry.directory) {
        if (nesting < MAX_NESTING) await visit(path, nesting + 1);
      }
      else if (kindOfExtension(entry.name) !== undefined) out.push(path);
    }
  };
  await visit(dir, 0);
  return out;
}

/** The file's URL spelled as links to it are, after normalization. */
function fileUrl(path: string): string {
  const url = runtime.toFileUrl(path);
  return normalizeUrl(url) ?? url;
}

function dirUrl(path: string): string {
  const url = fileUrl(path);
  return url.endsWith("/") ? url : `${url}/`;
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}
