/**
 * The first rows of a table a cell output (`{ $table, sql, rows }`), read through DuckDB `LIMIT`, with its
 * column types; each value shown short: a vector or list as its length, never its elements, long text cut.
 *
 * @example
 * ```ts
 * import { openCellar, type TableRef } from "../../kernel/mod.ts";
 * import { tablePreview } from "./table-preview.ts";
 * declare const ref: TableRef;
 *
 * const store = await openCellar({ db: "/tmp/cellar.duckdb" }).store();
 * const preview = await tablePreview((sql) => store.query(sql), ref); // → { columns: [{ name, type }], rows: [["1", "note 1"]] }
 * ```
 */
import { quoteIdent, type TableRef } from "../../kernel/mod.ts";

export const PREVIEW_ROWS = 10;
const MAX_TEXT = 160;

export interface TablePreview {
  columns: Array<{ name: string; type: string }>;
  rows: string[][];
}

type Sql = (query: string) => Promise<Record<string, unknown>[]>;

/** undefined when the table is gone (a later run's retention may drop it). */
export async function tablePreview(sql: Sql, ref: TableRef, limit = PREVIEW_ROWS): Promise<TablePreview | undefined> {
  let described: Record<string, unknown>[];
  try {
    // ref.sql is the kernel's own quoted name for the table (output.ts), meant for exactly this.
    described = await sql(`DESCRIBE SELECT * FROM ${ref.sql}`);
  } catch {
    return undefined;
  }
  const columns = described.map((d) => ({ name: String(d.column_name), type: String(d.column_type) }));
  const list = columns.map((c) => quoteIdent(c.name)).join(", ");
  const rows = await sql(`SELECT ${list} FROM ${ref.sql} LIMIT ${Math.floor(limit)}`);
  return { columns, rows: rows.map((row) => columns.map((c) => valueText(row[c.name]))) };
}

export function valueText(value: unknown): string {
  if (value === null || value === undefined) return "NULL";
  if (Array.isArray(value) || ArrayBuffer.isView(value)) return `[${(value as ArrayLike<unknown>).length} values]`;
  if (value instanceof Date) return value.toISOString();
  const text = typeof value === "object" ? JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? String(v) : v)) : String(value);
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}…` : text;
}
