/**
 * A page of a run's log lines, filtered (cell, try, lowest level, errors only) and read by cursor: a line's
 * `seq` (its place in the order lines were written). Pages run forwards from a cursor (`after`), backwards
 * from one (`before`), or from the end (`tail`), and each costs the same wherever it is in a
 * 1,000,000-line log, where an OFFSET reads and drops every line before the page.
 *
 * @example
 * ```ts
 * import { logPage } from "./run-logs.ts";
 * import type { Store } from "./store/store.ts";
 * declare const store: Store;
 *
 * const newest = await logPage(store, 12, { level: "warn", tail: true, limit: 100 });
 * if (newest.earlier !== null) await logPage(store, 12, { level: "warn", before: newest.earlier, limit: 100 });
 * ```
 */
import type { DuckDBValue } from "@duckdb/node-api";
import { CellarError } from "./errors.ts";
import { type LogLine, logLineOf } from "./report.ts";
import type { Store } from "./store/store.ts";

/** ctx.log's levels, lowest first: a `level` filter keeps that level and those after it. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The most lines one page holds. */
export const MAX_LOG_PAGE = 10_000;

export interface LogQuery {
  /** Only this cell's lines. */
  cell?: string;
  /** Only the lines of this try (the attempt's `tryNumber`). */
  tryNumber?: number;
  /** Only lines of this level or a higher one. */
  level?: LogLevel;
  /** Only error lines (a failed try's error is one): `level: "error"`. */
  errors?: boolean;
  /** The page after this cursor (a `later`), oldest first. */
  after?: number;
  /** The page before this cursor (an `earlier`), ending just before it. */
  before?: number;
  /** The newest page (what a log being tailed opens on). Without after, before or tail: the first page. */
  tail?: boolean;
  /** Lines per page. Default 200. */
  limit?: number;
}

export interface LogPage {
  /** Oldest first, whichever way the page was read. */
  lines: LogLine[];
  /** The `before` of the page preceding this one, or null when no line matching the filter precedes it. */
  earlier: number | null;
  /** The `after` of the page following this one, or null when no line matching the filter follows it yet. */
  later: number | null;
  /** Lines matching the filter in the whole run. */
  matching: number;
}

export async function logPage(store: Store, runId: number, query: LogQuery = {}): Promise<LogPage> {
  const limit = checkQuery(query);
  const [where, values] = filterOf(runId, query);
  const forwards = query.before === undefined && !query.tail;
  const from = forwards ? query.after : query.before;
  const cursor = from === undefined ? "" : `AND seq ${forwards ? ">" : "<"} ?`;
  // One line past the page says whether another page follows in the direction read, without counting.
  const rows = await store.query(
    `SELECT seq, ts, cell, try_number, level, message FROM logs WHERE ${where} ${cursor}
     ORDER BY seq ${forwards ? "ASC" : "DESC"} LIMIT ${limit + 1}`,
    from === undefined ? values : [...values, from],
  );
  const more = rows.length > limit;
  const page = rows.slice(0, limit);
  if (!forwards) page.reverse();
  const lines = page.map(logLineOf);
  const first = lines[0]?.seq;
  const last = lines.at(-1)?.seq;
  // The other direction: is there a line beyond the page's edge (for an empty page, beyond its cursor)?
  const edge = forwards ? (first ?? (from === undefined ? undefined : from + 1)) : (last ?? (from === undefined ? undefined : from - 1));
  const beyond = edge !== undefined && (await exists(store, where, values, forwards ? "<" : ">", edge));
  const [{ n }] = await store.query(`SELECT count(*) AS n FROM logs WHERE ${where}`, values);
  return {
    lines,
    earlier: forwards ? (beyond ? edge! : null) : (more ? first! : null),
    later: forwards ? (more ? last! : null) : (beyond ? edge! : null),
    matching: Number(n),
  };
}

/** The page size; a query that cannot be read is refused in one line naming the input. */
function checkQuery(query: LogQuery): number {
  const limit = query.limit ?? 200;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LOG_PAGE) throw new CellarError(`log limit ${limit}: expected a whole number from 1 to ${MAX_LOG_PAGE}`);
  if (query.tryNumber !== undefined && (!Number.isInteger(query.tryNumber) || query.tryNumber < 0)) {
    throw new CellarError(`log try ${query.tryNumber}: expected a whole number ≥ 0`);
  }
  if (query.level !== undefined && !LOG_LEVELS.includes(query.level)) {
    throw new CellarError(`log level ${JSON.stringify(query.level)}: expected one of ${LOG_LEVELS.join(", ")}`);
  }
  for (const [name, value] of [["after", query.after], ["before", query.before]] as const) {
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) throw new CellarError(`log cursor ${name}=${value}: expected a whole number ≥ 0`);
  }
  const directions = [query.after !== undefined, query.before !== undefined, query.tail === true].filter(Boolean).length;
  if (directions > 1) throw new CellarError("log page: give one of after, before and tail");
  return limit;
}

function filterOf(runId: number, query: LogQuery): [string, DuckDBValue[]] {
  const where = ["run_id = ?"];
  const values: DuckDBValue[] = [runId];
  if (query.cell !== undefined) where.push("cell = ?"), values.push(query.cell);
  if (query.tryNumber !== undefined) where.push("try_number = ?"), values.push(query.tryNumber);
  const lowest = query.errors ? "error" : query.level;
  if (lowest !== undefined && lowest !== LOG_LEVELS[0]) {
    const kept = LOG_LEVELS.slice(LOG_LEVELS.indexOf(lowest));
    where.push(`level IN (${kept.map(() => "?").join(", ")})`), values.push(...kept);
  }
  return [where.join(" AND "), values];
}

async function exists(store: Store, where: string, values: DuckDBValue[], op: "<" | ">", seq: number): Promise<boolean> {
  const rows = await store.query(`SELECT 1 FROM logs WHERE ${where} AND seq ${op} ? LIMIT 1`, [...values, seq]);
  return rows.length > 0;
}

