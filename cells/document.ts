/**
 * What a document says: its title and its text, as one string. Dedup compares
 * it, embed_docs chunks and embeds it (so search matches it), and the JSONL
 * reader gives a record that has only a title that title as its text.
 *
 * - The title is put before the text, with a blank line between, unless the
 *   text already begins with it: the title's letters and digits (any case,
 *   punctuation and whitespace aside) are the first letters and digits of the
 *   text and end where a word of it ends (a title of punctuation alone adds
 *   nothing). Crawled pages, markdown headings,
 *   the first line of a plain-text file and Cranfield's records all begin with
 *   their title, and stay as they are.
 * - A placeholder text ("None", "null", "N/A", "NaN", "-", … or nothing) is no
 *   text: the document is its title alone.
 *
 * @example
 * ```ts
 * import { documentText } from "./document.ts";
 *
 * documentText("Boundary layers", "None");                     // "Boundary layers"
 * documentText("Boundary layers", "We measured the drag.");    // "Boundary layers\n\nWe measured the drag."
 * documentText("Setup", "# Setup\n\nRun npm ci.");             // "# Setup\n\nRun npm ci."
 * documentText("", "Just text.");                              // "Just text."
 * ```
 */

/** Texts that stand for "no text" in exported datasets, lowercased. */
const PLACEHOLDERS = new Set(["", "none", "null", "nil", "n/a", "na", "nan", "undefined", "-", "--", "—", "[deleted]", "[removed]"]);

/** True when `text` is empty, whitespace, or a placeholder for no text ("None", "null", "N/A", …). */
export function isPlaceholder(text: string | null | undefined): boolean {
  if (text === null || text === undefined) return true;
  if (text.length > 64) return false;
  const t = text.trim();
  return t.length <= 11 && PLACEHOLDERS.has(t.toLowerCase());
}

/** The title and the text as one string (see the module's comment); "" when both are empty. */
export function documentText(title: string | null | undefined, text: string | null | undefined): string {
  const t = title?.trim() ?? "";
  const body = text ?? "";
  if (isPlaceholder(body)) return t;
  if (t === "" || beginsWith(body, t)) return body;
  return `${t}\n\n${body}`;
}

const WORD = /[\p{L}\p{N}]/u;

function isWordChar(c: string): boolean {
  return c.charCodeAt(0) < 0x80 ? (c >= "a" && c <= "z") || (c >= "0" && c <= "9") || (c >= "A" && c <= "Z") : WORD.test(c);
}

/** Whether `text`'s first letters and digits are `title`'s, ending at a word's end. */
function beginsWith(text: string, title: string): boolean {
  const a = title.toLowerCase();
  // Enough of the text for the title and the punctuation around it; more punctuation than this is not a heading.
  const b = text.slice(0, 2 * title.length + 64).toLowerCase();
  let i = 0;
  let j = 0;
  let matched = false;
  for (;;) {
    while (i < a.length && !isWordChar(a[i])) i++;
    if (i === a.length) break;
    while (j < b.length && !isWordChar(b[j])) j++;
    if (j === b.length || a[i] !== b[j]) return false;
    i++;
    j++;
    matched = true;
  }
  // A title of punctuation alone adds nothing; the match must not end inside a word of the text.
  return !matched || (j < b.length ? !isWordChar(b[j]) : b.length >= text.length);
}
