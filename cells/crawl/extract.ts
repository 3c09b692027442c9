/**
 * One entry point from decoded text to a document, whatever its kind, so the
 * web crawler and the local crawler treat a page alike.
 *
 * @example
 * ```ts
 * import { extractDocument } from "./extract.ts";
 *
 * extractDocument("markdown", "# Hi\n\nthere", "file:///d/a.md"); // { title: "Hi", text: "# Hi\n\nthere", links: [], ... }
 * ```
 */
import type { TextKind } from "./content-type.ts";
import { extractHtml, extractHtmlAsync } from "./html.ts";
import { extractMarkdown, extractPlain } from "./text.ts";

export interface Extracted {
  title: string;
  text: string;
  links: string[];
  noindex: boolean;
}

export function extractDocument(kind: TextKind, text: string, url: string): Extracted {
  if (kind === "html") return extractHtml(text, url);
  const doc = kind === "markdown" ? extractMarkdown(text, url) : extractPlain(text, url);
  return { ...doc, noindex: false };
}

/** extractDocument for the web crawl: HTML is extracted in slices that never hold the event loop for long. */
export async function extractDocumentAsync(kind: TextKind, text: string, url: string): Promise<Extracted> {
  if (kind === "html") return await extractHtmlAsync(text, url);
  return extractDocument(kind, text, url);
}
