/**
 * Tables a cell writes through `ctx.table()`: bulk appends inside the cell's
 * own transaction, committed together with its checkpoint, so a crash or a
 * failed try leaves no half-written table behind.
 *
 * Each run writes its own version, `"<pipeline>"."<name>@<run>"`; the view
 * `"<pipeline>"."<name>"` follows the latest committed version, for people
 * querying the file with the DuckDB CLI.
 *
 * @example
 * const docs = await ctx.table("documents", { id: "VARCHAR", text: "VARCHAR", vec: "FLOAT[512]" });
 * await docs.append(rows);
 * return { documents: await docs.finish() };
 */
import {
  type DuckDBAppender,
  type DuckDBArrayType,
  type DuckDBListType,
  type DuckDBConnection,
  DuckDBTimestampTZValue,
  DuckDBTimestampValue,
  DuckDBTypeId,
  type DuckDBType,
  type DuckDBValue,
} from "@duckdb/node-api";
import { CellarError } from "./errors.ts";
import type { TableRef } from "./output.ts";

/** Column name → DuckDB type, e.g. `{ id: "VARCHAR", score: "DOUBLE", vec: "FLOAT[512]" }`. */
export type Columns = Record<string, string>;

export class TableWriter {
  #rows = 0;
  #finished: TableRef | undefined;

  constructor(
    readonly name: string,
    readonly sql: string,
    private readonly conn: DuckDBConnection,
    private readonly appender: DuckDBAppender,
    private readonly columns: string[],
    private readonly types: DuckDBType[],
    private readonly live: () => void,
  ) {}

  /** Appends rows (objects keyed by column name) in one bulk append. */
  append(rows: Iterable<Record<string, unknown>>): Promise<void> {
    this.live();
    if (this.#finished) throw new CellarError(`table "${this.name}": append after finish()`);
    const { appender, columns, types } = this;
    for (const row of rows) {
      for (let i = 0; i < columns.length; i++) appendCell(appender, row[columns[i]], types[i], this.name, columns[i]);
      appender.endRow();
      this.#rows++;
    }
    appender.flushSync();
    return Promise.resolve();
  }

  /** Ends writing and returns the reference to return from the cell. */
  async finish(): Promise<TableRef> {
    this.live();
    if (this.#finished) return this.#finished;
    this.appender.closeSync();
    const hashes = this.columns.map((c) => `hash(${quoteIdent(c)})`).join(", ");
    // Order-independent: a sum of row hashes, so the same rows in another order are the same table.
    const reader = await this.conn.runAndReadAll(
      `SELECT count(*) AS n, coalesce(sum(hash(${hashes}))::VARCHAR, '0') AS h FROM ${this.sql}`,
    );
    const { n, h } = reader.getRowObjectsJS()[0];
    this.#finished = { $table: this.name, sql: this.sql, rows: Number(n), hash: String(h) };
    return this.#finished;
  }
}

/** Creates the table in the open transaction and returns its writer. */
export async function createTable(
  conn: DuckDBConnection,
  schema: string,
  name: string,
  runId: number,
  columns: Columns,
  live: () => void,
): Promise<TableWriter> {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    throw new CellarError(`ctx.table(${JSON.stringify(name)}): a table name needs letters, digits and "_"`);
  }
  const names = Object.keys(columns);
  if (names.length === 0) throw new CellarError(`ctx.table("${name}"): expected at least one column`);
  const physical = `${name}@${runId}`;
  const sql = `${quoteIdent(schema)}.${quoteIdent(physical)}`;
  const ddl = names.map((c) => `${quoteIdent(c)} ${columns[c]}`).join(", ");
  try {
    await conn.run(`CREATE TABLE ${sql} (${ddl})`);
  } catch (err) {
    const message = err instanceof Error ? err.message.split("\n", 1)[0] : String(err);
    throw new CellarError(`ctx.table("${name}"): ${message}`);
  }
  const appender = await conn.createAppender(physical, schema);
  const types = names.map((_, i) => appender.columnType(i));
  return new TableWriter(name, sql, conn, appender, names, types, live);
}

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function appendCell(appender: DuckDBAppender, value: unknown, type: DuckDBType, table: string, column: string): void {
  if (value === null || value === undefined) return appender.appendNull();
  try {
    if (type.typeId === DuckDBTypeId.ARRAY) appender.appendArray(listItems(value, type), type as DuckDBArrayType);
    else if (type.typeId === DuckDBTypeId.LIST) appender.appendList(listItems(value, type), type as DuckDBListType);
    else appender.appendValue(toDuckValue(value, type), type);
  } catch (err) {
    const message = err instanceof Error ? err.message.split("\n", 1)[0] : String(err);
    throw new CellarError(`table "${table}" column "${column}" (${type.toString()}): cannot store ${describe(value)}: ${message}`);
  }
}

function toDuckValue(value: unknown, type: DuckDBType): DuckDBValue {
  switch (type.typeId) {
    case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.UBIGINT:
    case DuckDBTypeId.HUGEINT:
    case DuckDBTypeId.UHUGEINT:
      return typeof value === "number" ? BigInt(value) : value as DuckDBValue;
    case DuckDBTypeId.TIMESTAMP_TZ:
      return value instanceof Date ? new DuckDBTimestampTZValue(BigInt(value.getTime()) * 1000n) : value as DuckDBValue;
    case DuckDBTypeId.TIMESTAMP:
      return value instanceof Date ? new DuckDBTimestampValue(BigInt(value.getTime()) * 1000n) : value as DuckDBValue;
    default:
      return value as DuckDBValue;
  }
}

/** Items of an ARRAY or LIST value; typed arrays (embeddings) are accepted as they come from models. */
function listItems(value: unknown, type: DuckDBType): DuckDBValue[] {
  const child = (type as DuckDBArrayType | DuckDBListType).valueType;
  const items = ArrayBuffer.isView(value) ? Array.from(value as unknown as ArrayLike<number>) : value as unknown[];
  if (!Array.isArray(items)) throw new Error("expected an array");
  return items.map((item) => (item === null || item === undefined ? null : toDuckValue(item, child)));
}

function describe(value: unknown): string {
  const text = typeof value === "string" ? JSON.stringify(value) : String(value);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
