/**
 * Markdown and plain-text documents: their title and their links. The text is
 * kept as written (markdown is readable text); only line endings are unified.
 * Markdown titles are the first heading; plain-text titles the first line.
 *
 * @example
 * ```ts
 * import { extractMarkdown, extractPlain } from "./text.ts";
 *
 * const doc = extractMarkdown("# Setup\n\nSee [the FAQ](faq.md#top).", "file:///docs/readme.md");
 * doc.title; // "Setup"
 * doc.links; // ["file:///docs/faq.md"]
 * extractPlain("RELEASE NOTES\n\n1.0: first", "https://x.org/notes.txt").title; // "RELEASE NOTES"
 * ```
 */
import { normalizeUrl } from "./url.ts";

export interface TextDocument {
  title: string;
  text: string;
  links: string[];
}

const MAX_TITLE = 200;

export function extractMarkdown(source: string, pageUrl: string): TextDocument {
  const text = unify(source);
  const lines = text.split("\n");
  let title = "";
  const hrefs: string[] = [];
  let fenced = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (/^\s{0,3}(```|~~~)/.test(line)) {
      fenced = !fenced;
      continue;
    }
    if (fenced) continue;
    if (!title) {
      const atx = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
      if (atx) title = atx[1];
      else if (line.trim() && /^\s{0,3}(=+|-+)\s*$/.test(lines[i + 1] ?? "")) title = line.trim();
    }
    // Inline links and images' targets: [text](target "title"), and reference definitions: [id]: target
    for (const m of line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+(?:"[^"]*"|'[^']*'|\([^)]*\)))?\s*\)/g)) hrefs.push(m[1]);
    const def = /^\s{0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?/.exec(line);
    if (def) hrefs.push(def[1]);
    for (const m of line.matchAll(/<((?:https?|file):[^>\s]+)>/g)) hrefs.push(m[1]);
  }
  return { title: clip(title || firstLine(text)), text: text.trim(), links: resolve(hrefs, pageUrl) };
}

export function extractPlain(source: string, _pageUrl: string): TextDocument {
  const text = unify(source);
  return { title: clip(firstLine(text)), text: text.trim(), links: [] };
}

function unify(text: string): string {
  return text.replace(/\r\n?/g, "\n");
}

function firstLine(text: string): string {
  for (const line of text.split("\n", 50)) if (line.trim()) return line.trim();
  return "";
}

function clip(title: string): string {
  const t = title.replace(/\s+/g, " ").trim();
  return t.length > MAX_TITLE ? `${t.slice(0, MAX_TITLE - 1)}…` : t;
}

function resolve(hrefs: string[], pageUrl: string): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const href of hrefs) {
    const url = normalizeUrl(href, pageUrl);
    if (url !== undefined && !seen.has(url)) {
      seen.add(url);
      out.push(url);
    }
  }
  return out;
}
