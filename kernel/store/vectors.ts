/**
 * Reads a query's FLOAT[n] column straight into one Float32Array, a DuckDB
 * data chunk at a time: the chunk's float data is copied as bytes, never
 * turned into JS numbers and arrays (which, for 100K × 512 vectors, costs
 * seconds and gigabytes). The query's other columns come back as JS values.
 *
 * The bytes are read with @duckdb/node-bindings, the C API that
 * @duckdb/node-api wraps (the same package and version), because node-api
 * hands out an array column only value by value.
 *
 * @example
 * ```ts
 * import type { Store } from "./store.ts";
 * import { vectorReader } from "./vectors.ts";
 * declare const store: Store;
 *
 * const read = vectorReader(store);
 * const { count, dimensions, vectors, columns } = await read(`SELECT chunk_id, embedding FROM "ingest"."index"`);
 * vectors.subarray(0, dimensions); // → the first row's vector; columns.chunk_id[0] its id
 * ```
 */
import {
  type DuckDBArrayType,
  type DuckDBConnection,
  DuckDBTypeId,
  type DuckDBType,
  type DuckDBValue,
  JSDuckDBValueConverter,
} from "@duckdb/node-api";
import duckdb from "@duckdb/node-bindings";
import { CellarError } from "../errors.ts";

export interface VectorRows {
  /** Rows read. */
  count: number;
  /** n of the FLOAT[n] column. */
  dimensions: number;
  /** count × dimensions, row-major. */
  vectors: Float32Array;
  /** Every other column by name, one JS value per row (as `store.query` gives them). */
  columns: Record<string, unknown[]>;
}

/** Runs a query that selects exactly one FLOAT[n] column; `rows`, when known, sizes the array once. */
export type VectorReader = (query: string, values?: unknown[], options?: { rows?: number }) => Promise<VectorRows>;

/** A reader over its own connection to `store` per call (reads see committed data). */
export function vectorReader(store: { connect(): Promise<DuckDBConnection> }): VectorReader {
  return async (query, values, options) => {
    const conn = await store.connect();
    try {
      return await readVectors(conn, query, values, options);
    } finally {
      conn.closeSync();
    }
  };
}

export async function readVectors(
  conn: DuckDBConnection,
  query: string,
  values: unknown[] = [],
  options: { rows?: number } = {},
): Promise<VectorRows> {
  const result = await conn.stream(query, values as DuckDBValue[]);
  const names = result.columnNames();
  const types = result.columnTypes();
  const arrays = types.flatMap((type, i) => (isFloatArray(type) ? [i] : []));
  if (arrays.length !== 1) {
    const found = names.map((n, i) => `${n} ${types[i].toString()}`).join(", ");
    throw new CellarError(`readVectors: expected a query with exactly one FLOAT[n] column, got (${found})`);
  }
  const at = arrays[0];
  const dimensions = (types[at] as DuckDBArrayType).length;
  const others = names.flatMap((name, i) => (i === at ? [] : [[name, i] as const]));
  const columns: Record<string, unknown[]> = Object.fromEntries(others.map(([name]) => [name, []]));
  let vectors = new Float32Array(Math.max(0, options.rows ?? 0) * dimensions);
  let count = 0;
  for (;;) {
    const chunk = await result.fetchChunk();
    if (!chunk || chunk.rowCount === 0) break;
    const n = chunk.rowCount;
    if ((count + n) * dimensions > vectors.length) {
      // More rows than announced (or none announced): grow by doubling, so the copies add up to O(rows).
      const grown = new Float32Array(Math.max((count + n) * dimensions, vectors.length * 2));
      grown.set(vectors.subarray(0, count * dimensions));
      vectors = grown;
    }
    const vector = duckdb.data_chunk_get_vector(chunk.chunk, at);
    const rowNull = firstInvalid(duckdb.vector_get_validity(vector, maskBytes(n)), n);
    if (rowNull >= 0) {
      throw new CellarError(`readVectors: column "${names[at]}" row ${count + rowNull} is NULL; expected ${dimensions} numbers`);
    }
    const child = duckdb.array_vector_get_child(vector);
    const itemNull = firstInvalid(duckdb.vector_get_validity(child, maskBytes(n * dimensions)), n * dimensions);
    if (itemNull >= 0) {
      const row = count + Math.floor(itemNull / dimensions);
      throw new CellarError(`readVectors: column "${names[at]}" row ${row} holds a NULL at position ${itemNull % dimensions}; expected ${dimensions} numbers`);
    }
    const bytes = duckdb.vector_get_data(child, n * dimensions * 4);
    // A byte copy: no alignment needed of the source, and DuckDB's floats are already the host's.
    new Uint8Array(vectors.buffer, vectors.byteOffset + count * dimensions * 4, n * dimensions * 4).set(bytes);
    for (const [name, i] of others) {
      const list = columns[name];
      for (const value of chunk.convertColumnValues(i, JSDuckDBValueConverter)) list.push(value);
    }
    count += n;
  }
  if (vectors.length !== count * dimensions) vectors = vectors.subarray(0, count * dimensions);
  return { count, dimensions, vectors, columns };
}

function isFloatArray(type: DuckDBType): boolean {
  return type.typeId === DuckDBTypeId.ARRAY && (type as DuckDBArrayType).valueType.typeId === DuckDBTypeId.FLOAT;
}

/** A validity mask is a run of 64-bit words, one bit per row. */
function maskBytes(rows: number): number {
  return Math.ceil(rows / 64) * 8;
}

/** The first row whose validity bit is 0, or -1; no mask at all means every row is valid. */
function firstInvalid(mask: Uint8Array | null, rows: number): number {
  if (!mask) return -1;
  const full = rows >> 3;
  for (let b = 0; b < full; b++) {
    if (mask[b] !== 0xff) return b * 8 + lowestZero(mask[b]);
  }
  for (let r = full * 8; r < rows; r++) if ((mask[r >> 3] & (1 << (r & 7))) === 0) return r;
  return -1;
}

function lowestZero(byte: number): number {
  let bit = 0;
  while (byte & (1 << bit)) bit++;
  return bit;
}
