/**
 * The first rows of a table a cell output (`{ $table, sql, rows }`), read through DuckDB `LIMIT`, with its
 * column types; each value shown short: a vector as its dimensions and a list as its length, never their
 * elements, long text cut; at most 40 columns and about 16 KB of values, so a wide table stays small too.
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
import { VECTOR_MIN } from "./output-preview.ts";

export const PREVIEW_ROWS = 10;
export const PREVIEW_COLUMNS = 40;
/** The values' text, summed over the rows shown: rows past it are left out. */
export const PREVIEW_TABLE_BYTES = 16 * 1024;
const MAX_TEXT = 160;

export interface TablePreview {
  columns: Array<{ name: string; type: string }>;
  rows: string[][];
  /** Columns past PREVIEW_COLUMNS, not read. */
  hiddenColumns: number;
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
  const all = described.map((d) => ({ name: String(d.column_name), type: String(d.column_type) }));
  const columns = all.slice(0, PREVIEW_COLUMNS);
  const list = columns.map((c) => quoteIdent(c.name)).join(", ");
  const read = await sql(`SELECT ${list} FROM ${ref.sql} LIMIT ${Math.floor(limit)}`);
  const rows: string[][] = [];
  let bytes = 0;
  for (const row of read) {
    const values = columns.map((c) => valueText(row[c.name]));
    bytes += values.reduce((n, v) => n + v.length, 0);
    if (rows.length > 0 && bytes > PREVIEW_TABLE_BYTES) break;
    rows.push(values);
  }
  return { columns, rows, hiddenColumns: all.length - columns.length };
}

export function valueText(value: unknown): string {
  if (value === null || value === undefined) return "NULL";
  if (Array.isArray(value) || ArrayBuffer.isView(value)) {
    const list = value as ArrayLike<unknown>;
    const numbers = ArrayBuffer.isView(value) || (value as unknown[]).every((v) => typeof v === "number");
    // An embedding column (FLOAT[384]) is its dimensions; any list its length.
    return numbers && list.length >= VECTOR_MIN ? `vector · ${list.length} dims` : `[${list.length} values]`;
  }
  if (value instanceof Date) return value.toISOString();
  const text = typeof value === "object" ? JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? String(v) : v)) : String(value);
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}…` : text;
}
