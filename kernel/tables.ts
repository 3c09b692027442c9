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
 * ```ts
 * import type { Context } from "./context.ts";
 * declare const rows: Array<{ id: string; text: string; vec: number[] }>;
 *
 * export async function loadDocuments(ctx: Context) {
 *   const docs = await ctx.table("documents", { id: "VARCHAR", text: "VARCHAR", vec: "FLOAT[512]" });
 *   await docs.append(rows);
 *   return { documents: await docs.finish() };
 * }
 * ```
 */
import {
  type DuckDBAppender,
  type DuckDBArrayType,
  type DuckDBArrayValue,
  type DuckDBArrayVector,
  type DuckDBConnection,
  DuckDBDataChunk,
  type DuckDBListType,
  listValue,
  DuckDBTimestampTZValue,
  DuckDBTimestampValue,
  DuckDBTypeId,
  type DuckDBType,
  type DuckDBValue,
} from "@duckdb/node-api";
import { CellarError, errorLine } from "./errors.ts";
import type { TableRef } from "./output.ts";

/** Rows per data chunk: DuckDB's vector size. */
const CHUNK_ROWS = 2048;

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

  /** Appends rows (objects keyed by column name) in bulk, a DuckDB data chunk at a time. */
  append(rows: Iterable<Record<string, unknown>>): Promise<void> {
    this.live();
    if (this.#finished) throw new CellarError(`table "${this.name}": append after finish()`);
    let batch: Record<string, unknown>[] = [];
    for (const row of rows) {
      batch.push(row);
      if (batch.length === CHUNK_ROWS) {
        this.#appendChunk(batch);
        batch = [];
      }
    }
    if (batch.length > 0) this.#appendChunk(batch);
    this.appender.flushSync();
    return Promise.resolve();
  }

  #appendChunk(rows: Record<string, unknown>[]): void {
    const chunk = DuckDBDataChunk.create(this.types, rows.length);
    for (let c = 0; c < this.columns.length; c++) {
      const column = this.columns[c];
      const type = this.types[c];
      const at = (r: number) => `table "${this.name}" column "${column}" (${type.toString()}) row ${this.#rows + r}`;
      if (type.typeId === DuckDBTypeId.ARRAY) {
        // Vectors: written element by element into the chunk, never through per-row JS arrays.
        const vector = chunk.getColumnVector(c) as DuckDBArrayVector;
        const length = (type as DuckDBArrayType).length;
        rows.forEach((row, r) => {
          const value = row[column];
          if (value === null || value === undefined) return vector.setItem(r, null);
          const items = value as ArrayLike<number>;
          if (typeof items.length !== "number" || items.length !== length) {
            throw new CellarError(`${at(r)}: expected ${length} numbers, got ${describe(value)}`);
          }
          vector.setItem(r, { items } as unknown as DuckDBArrayValue);
        });
        vector.flush();
      } else {
        const values = rows.map((row, r) => {
          try {
            return toDuckValue(row[column], type);
          } catch (err) {
            throw new CellarError(`${at(r)}: cannot store ${describe(row[column])}: ${errorLine(err)}`);
          }
        });
        try {
          chunk.setColumnValues(c, values);
        } catch (err) {
          throw new CellarError(`table "${this.name}" column "${column}" (${type.toString()}): ${errorLine(err)}`);
        }
      }
    }
    this.appender.appendDataChunk(chunk);
    this.#rows += rows.length;
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
    const message = errorLine(err);
    throw new CellarError(`ctx.table("${name}"): ${message}`);
  }
  const appender = await conn.createAppender(physical, schema);
  const types = names.map((_, i) => appender.columnType(i));
  return new TableWriter(name, sql, conn, appender, names, types, live);
}

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A JS value as the DuckDB value for a column of `type`; null and undefined are NULL. */
function toDuckValue(value: unknown, type: DuckDBType): DuckDBValue {
  if (value === null || value === undefined) return null;
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
    case DuckDBTypeId.LIST:
      return listItems(value, type as DuckDBListType);
    case DuckDBTypeId.VARCHAR:
      if (typeof value !== "string") throw new Error("expected a string");
      return value;
    default:
      return value as DuckDBValue;
  }
}

/** Items of a LIST value; typed arrays (embeddings) are accepted as they come from models. */
function listItems(value: unknown, type: DuckDBListType): DuckDBValue {
  const items = ArrayBuffer.isView(value) ? Array.from(value as unknown as ArrayLike<number>) : value;
  if (!Array.isArray(items)) throw new Error("expected an array");
  return listValue(items.map((item) => toDuckValue(item, type.valueType)));
}

function describe(value: unknown): string {
  const text = typeof value === "string" ? JSON.stringify(value) : String(value);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
