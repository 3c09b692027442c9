/**
 * A cell output as the UI shows it, bounded in bytes: a table reference as its name and row count (never its
 * rows), anything else as pretty-printed JSON cut at about 4 KB, so a large output cannot freeze the page.
 *
 * @example
 * ```ts
 * import { outputPreview } from "./preview.ts";
 *
 * outputPreview({ $table: "chunks", sql: '"ingest"."chunks__r1"', rows: 1200, hash: "…" });
 * // → { kind: "table", name: "chunks", rows: 1200 }
 * outputPreview({ docs: 3 }); // → { kind: "json", text: '{\n  "docs": 3\n}', truncated: false, bytes: 17 }
 * ```
 */
import { isTableRef } from "../../kernel/mod.ts";

export const PREVIEW_BYTES = 4096;

export type OutputPreview =
  | { kind: "table"; name: string; rows: number }
  | { kind: "json"; text: string; truncated: boolean; bytes: number };

export function outputPreview(output: unknown): OutputPreview {
  if (isTableRef(output)) return { kind: "table", name: output.$table, rows: output.rows };
  const text = JSON.stringify(output, null, 2) ?? "undefined";
  const encoded = new TextEncoder().encode(text);
  if (encoded.length <= PREVIEW_BYTES) return { kind: "json", text, truncated: false, bytes: encoded.length };
  // Cut in bytes, not characters (4096 characters of CJK text are 12 KB); a character split at the cut is dropped.
  const cut = new TextDecoder().decode(encoded.subarray(0, PREVIEW_BYTES)).replace(/\uFFFD$/, "");
  return { kind: "json", text: cut, truncated: true, bytes: encoded.length };
}
