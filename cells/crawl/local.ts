/**
 * The local crawl: a directory's .html, .htm, .md, .markdown and .txt files
 * (recursively, hidden entries skipped), or one such file, following the
 * local links in them to other such files under the same root (the seed
 * directory, or the seed file's directory) up to maxDepth. Each document's id
 * is its file:// URL. Pages are decoded by their declared charset like web
 * pages; a link to a missing file is recorded as `not_found`.
 *
 * @example
 * await crawlLocal([{ path: "/docs", url: "file:///docs/", directory: true }], { options, signal, sink, budget, progress });
 */
import { runtime } from "../../kernel/runtime/mod.ts";
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
  const { options, signal, sink, budget, progress } = crawl;
  const seen = new Set<string>();
  const queue: Task[] = [];
  let pages = 0;

  const enqueue = (task: Task): boolean => {
    if (seen.has(task.path)) return true;
    if (!budget.take()) return false;
    seen.add(task.path);
    progress.found();
    queue.push(task);
    return true;
  };

  for (const seed of seeds) {
    if (seed.directory) {
      const root = dirUrl(seed.path);
      for (const path of await walk(seed.path, signal)) if (!enqueue({ path, depth: 0, root })) break;
    } else {
      enqueue({ path: seed.path, depth: 0, root: dirUrl(runtime.dirname(seed.path)) });
    }
  }

  for (let i = 0; i < queue.length; i++) {
    signal.throwIfAborted();
    const task = queue[i];
    queue[i] = undefined as unknown as Task;
    const url = fileUrl(task.path);
    const info = await files.stat(task.path);
    if (!info || info.directory) {
      await sink.failure({ url, reason: "not_found", detail: `no such file${task.from ? `, linked from ${task.from}` : ""}` });
    } else if (info.size > options.maxBytes) {
      await sink.failure({ url, reason: "too_large", detail: `${info.size} bytes is over maxBytes ${options.maxBytes}` });
    } else {
      const kind = kindOfExtension(task.path)!;
      let bytes: Uint8Array | undefined;
      try {
        bytes = await files.readBytes(task.path);
      } catch (err) {
        await sink.failure({ url, reason: "unreadable", detail: err instanceof Error ? err.message : String(err) });
      }
      if (bytes) {
        const decoded = decodeText(bytes, kind);
        if (!decoded.ok) {
          await sink.failure({ url, reason: decoded.reason, detail: decoded.detail });
        } else {
          const doc = extractDocument(kind, decoded.text, url);
          if (doc.text === "") {
            await sink.failure({ url, reason: "empty", detail: `no text in ${bytes.length} bytes` });
          } else {
            pages++;
            await sink.document({ id: url, url, title: doc.title || basename(task.path), text: doc.text, bytes: bytes.length });
          }
          if (task.depth < options.maxDepth) {
            for (const link of doc.links) {
              if (!link.startsWith(task.root) || kindOfExtension(link) === undefined) continue;
              const path = runtime.fromFileUrl(link);
              if (!enqueue({ path, depth: task.depth + 1, root: task.root, from: url })) break;
            }
          }
        }
      }
    }
    progress.done();
  }
  return { pages };
}

/** Nesting deeper than this is taken for a symbolic-link cycle. */
const MAX_NESTING = 32;

/** Every supported file under `dir`, depth first in name order; dot-files and dot-directories skipped. */
async function walk(dir: string, signal: AbortSignal): Promise<string[]> {
  const out: string[] = [];
  const visit = async (d: string, nesting: number) => {
    signal.throwIfAborted();
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
