/**
 * Cell source as highlighted HTML, computed once per distinct source (keyed by its hash): the notebook
 * page re-renders often, and highlighting is the costly part of it.
 *
 * @example
 * ```ts
 * import { highlightTs } from "./highlight.ts";
 *
 * highlightTs(`.cell("greet", () => "<b>hi</b>")`); // → '.<span class="hljs-title …'; "<b>" comes back as "&lt;b&gt;"
 * ```
 */
import { createHash } from "node:crypto";
import hljs from "highlight.js/lib/core";
import typescript from "highlight.js/lib/languages/typescript";

hljs.registerLanguage("typescript", typescript);

/** Bounded, so a server reloading edited pipelines for days does not keep every version it saw. */
const MAX_CACHED = 500;
const cache = new Map<string, string>();

/** highlight.js escapes the source it is given (&, <, >, quotes): the result is safe to insert as HTML. */
export function highlightTs(source: string): string {
  const key = createHash("sha256").update(source).digest("hex");
  let html = cache.get(key);
  if (html === undefined) {
    html = hljs.highlight(source, { language: "typescript", ignoreIllegals: true }).value;
    if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value!);
    cache.set(key, html);
  }
  return html;
}
