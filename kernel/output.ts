/**
 * Cell outputs as checkpoints: plain JSON, checked on the way in so that what
 * a later run reads back is what the cell returned.
 *
 * @example
 * ```ts
 * import { encodeOutput } from "./output.ts";
 *
 * const { json, identity } = encodeOutput("crawl", { pages: 12 }); // json → '{"pages":12}'
 * ```
 */
import { CellarError } from "./errors.ts";

/** A reference to a table a cell wrote through `ctx.table()`; this is what goes through JSON instead of rows. */
export interface TableRef {
  $table: string;
  /** The physical table, quoted for SQL: `SELECT * FROM ${ref.sql}`. */
  sql: string;
  rows: number;
  /** A hash of the rows, so an identical table written by a later run counts as the same input. */
  hash: string;
}

export interface EncodedOutput {
  /** Canonical JSON (sorted keys) as stored. */
  json: string;
  /**
   * What the output's hash is taken over: the JSON with each table reference
   * reduced to its name and content hash, since the physical table differs per run.
   */
  identity: string;
}

export function encodeOutput(cell: string, value: unknown): EncodedOutput {
  return {
    json: canonical(cell, value ?? null, "output", false, new Set()),
    identity: canonical(cell, value ?? null, "output", true, new Set()),
  };
}

export function isTableRef(value: unknown): value is TableRef {
  return typeof value === "object" && value !== null && typeof (value as TableRef).$table === "string" &&
    typeof (value as TableRef).sql === "string";
}

function canonical(cell: string, value: unknown, path: string, identity: boolean, ancestors: Set<object>): string {
  const fail = (what: string, hint: string): never => {
    throw new CellarError(`cell "${cell}": its output cannot be stored: ${path} is ${what}; ${hint}`);
  };
  switch (typeof value) {
    case "string":
    case "boolean":
      return JSON.stringify(value);
    case "number":
      return Number.isFinite(value) ? JSON.stringify(value) : fail(String(value), "JSON has only finite numbers");
    case "bigint":
      return fail("a bigint", "convert it to a number or a string");
    case "function":
      return fail("a function", "return data, not code");
    case "symbol":
      return fail("a symbol", "return plain JSON values");
    case "undefined":
      return fail("undefined", "use null for a missing value");
  }
  if (value === null) return "null";
  const object = value as object;
  if (ancestors.has(object)) fail("a circular reference", "return a tree, not a graph");
  if (ArrayBuffer.isView(object)) fail(`a ${object.constructor.name}`, "write vectors to a table with ctx.table() and return its reference");
  ancestors.add(object);
  try {
    if (Array.isArray(object)) {
      return `[${object.map((item, i) => canonical(cell, item ?? null, `${path}[${i}]`, identity, ancestors)).join(",")}]`;
    }
    const proto = Object.getPrototypeOf(object);
    if (proto !== Object.prototype && proto !== null) {
      const kind = object.constructor?.name ?? "object";
      fail(`a ${kind}`, kind === "Date" ? "return date.toISOString()" : "return a plain object, array or primitive");
    }
    const skip = identity && isTableRef(object) ? "sql" : undefined;
    const entries = Object.keys(object)
      .filter((key) => key !== skip && (object as Record<string, unknown>)[key] !== undefined)
      .sort()
      .map((key) => {
        const child = (object as Record<string, unknown>)[key];
        const childPath = /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
        return `${JSON.stringify(key)}:${canonical(cell, child, childPath, identity, ancestors)}`;
      });
    return `{${entries.join(",")}}`;
  } finally {
    ancestors.delete(object);
  }
}
