/**
 * A cell output as the UI shows it, bounded in bytes: a table reference as its name and row count (never its
 * rows); small JSON (up to about 4 KB) as a tree to fold open, at most 6 levels deep and 50 entries a level;
 * larger JSON as pretty-printed text cut at about 4 KB, so a large output cannot freeze the page. A vector
 * (an array of 16 or more numbers, an embedding) is shown as its dimensions, never its elements.
 *
 * @example
 * ```ts
 * import { outputPreview } from "./output-preview.ts";
 *
 * outputPreview({ $table: "chunks", sql: '"ingest"."chunks__r1"', rows: 1200, hash: "…" });
 * // → { kind: "table", name: "chunks", rows: 1200 }
 * outputPreview({ docs: 3 }); // → { kind: "json", text: '{\n  "docs": 3\n}', truncated: false, bytes: 17, tree: { kind: "branch", … } }
 * outputPreview(new Array(384).fill(0.5)); // → { kind: "json", text: "[384 numbers]", …, tree: { kind: "vector", dims: 384 } }
 * ```
 */
import { isTableRef } from "../../kernel/mod.ts";

export const PREVIEW_BYTES = 4096;
/** Arrays of at least this many numbers are vectors: shown as their length. */
export const VECTOR_MIN = 16;
export const TREE_DEPTH = 6;
export const TREE_ITEMS = 50;
const LEAF_CHARS = 160;

export type JsonNode =
  | { kind: "leaf"; key?: string; type: "string" | "number" | "boolean" | "null"; text: string }
  | { kind: "vector"; key?: string; dims: number }
  /** `children` are the first TREE_ITEMS entries; `size` counts them all. Past TREE_DEPTH, children is empty and folded. */
  | { kind: "branch"; key?: string; array: boolean; size: number; children: JsonNode[]; folded: boolean };

export type OutputPreview =
  | { kind: "table"; name: string; rows: number }
  | { kind: "json"; text: string; truncated: boolean; bytes: number; tree?: JsonNode };

/** What a vector becomes in the text, replaced after stringify by `[n numbers]` (no JSON string can hold U+0000 raw). */
const VECTOR_MARK = /"\\u0000vector:(\d+)"/g;

export function isVector(value: unknown): value is number[] {
  return Array.isArray(value) && value.length >= VECTOR_MIN && value.every((v) => typeof v === "number");
}

export function outputPreview(output: unknown): OutputPreview {
  if (isTableRef(output)) return { kind: "table", name: output.$table, rows: output.rows };
  const json = JSON.stringify(output, (_k, v) => (isVector(v) ? `\u0000vector:${v.length}` : v), 2) ?? "undefined";
  const text = json.replace(VECTOR_MARK, "[$1 numbers]");
  const encoded = new TextEncoder().encode(text);
  if (encoded.length <= PREVIEW_BYTES) {
    const small = { kind: "json" as const, text, truncated: false, bytes: encoded.length };
    return typeof output === "object" && output !== null ? { ...small, tree: jsonTree(output) } : small;
  }
  // Cut in bytes, not characters (4096 characters of CJK text are 12 KB); a character split at the cut is dropped.
  const cut = new TextDecoder().decode(encoded.subarray(0, PREVIEW_BYTES)).replace(/\uFFFD$/, "");
  return { kind: "json", text: cut, truncated: true, bytes: encoded.length };
}

/** A JSON value as a tree, bounded in depth and entries per level. */
export function jsonTree(value: unknown, key?: string, depth = 0): JsonNode {
  const keyed = key === undefined ? {} : { key };
  if (isVector(value)) return { kind: "vector", ...keyed, dims: value.length };
  if (value === null || value === undefined) return { kind: "leaf", ...keyed, type: "null", text: "null" };
  if (typeof value === "object") {
    const entries: Array<[string, unknown]> = Array.isArray(value) ? value.map((v, i) => [String(i), v]) : Object.entries(value);
    const folded = depth >= TREE_DEPTH;
    const children = folded ? [] : entries.slice(0, TREE_ITEMS).map(([k, v]) => jsonTree(v, k, depth + 1));
    return { kind: "branch", ...keyed, array: Array.isArray(value), size: entries.length, children, folded };
  }
  if (typeof value === "string") {
    const text = JSON.stringify(value);
    return { kind: "leaf", ...keyed, type: "string", text: text.length > LEAF_CHARS ? `${text.slice(0, LEAF_CHARS)}…` : text };
  }
  return { kind: "leaf", ...keyed, type: typeof value === "number" ? "number" : typeof value === "boolean" ? "boolean" : "null", text: String(value) };
}
