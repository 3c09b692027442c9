/**
 * The last lines of each cell's latest try in a run, for every cell at once: what a notebook shows under each
 * cell. Two reads whatever the number of cells (one count per cell and try, then one UNION ALL of a top-N per
 * cell), not a page per cell, so a notebook of 50 cells opens as fast as one of 5; each top-N is read by
 * `seq` the way run-logs.ts's pages are, so a cell with 1,000,000 lines costs what one with 20 does.
 *
 * @example
 * ```ts
 * import { cellLogTails } from "./cell-log-tails.ts";
 * import type { Store } from "./store/store.ts";
 * declare const store: Store;
 *
 * const { cells, lastSeq } = await cellLogTails(store, 12, { lines: 20 });
 * cells.get("embed_docs"); // → { tryNumber: 2, lines: [...the last 20], tryLines: 57, total: 80 }
 * ```
 */
import type { DuckDBValue } from "@duckdb/node-api";
import { CellarError } from "./errors.ts";
import { type LogLine, logLineOf } from "./report.ts";
import type { Store } from "./store/store.ts";

/** The most lines a tail holds. */
export const MAX_TAIL_LINES = 1000;

export interface CellLogTail {
  /** The latest try that wrote a line. */
  tryNumber: number;
  /** Its last lines, oldest first. */
  lines: LogLine[];
  /** Lines that try wrote. */
  tryLines: number;
  /** Lines of the cell in the run, every try. */
  total: number;
}

export interface CellLogTails {
  /** By cell; a cell that wrote no line has none. */
  cells: Map<string, CellLogTail>;
  /** The run's newest line's seq (null when it has none): a client that tails from here misses none after it. */
  lastSeq: number | null;
}

/** `cells`: only those (a notebook's); by default every cell with lines. `lines`: per tail, default 20. */
export async function cellLogTails(store: Store, runId: number, options: { lines?: number; cells?: readonly string[] } = {}): Promise<CellLogTails> {
  const limit = options.lines ?? 20;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_TAIL_LINES) throw new CellarError(`log tail lines ${limit}: expected a whole number from 1 to ${MAX_TAIL_LINES}`);
  const counts = await store.query(`SELECT cell, try_number, count(*) AS n, max(seq) AS last FROM logs WHERE run_id = ? GROUP BY cell, try_number`, [runId]);
  const wanted = options.cells ? new Set(options.cells) : undefined;
  const tails = new Map<string, CellLogTail>();
  let lastSeq: number | null = null;
  for (const row of counts) {
    const last = Number(row.last);
    if (lastSeq === null || last > lastSeq) lastSeq = last;
    const cell = String(row.cell);
    if (wanted && !wanted.has(cell)) continue;
    const tryNumber = Number(row.try_number);
    const n = Number(row.n);
    const tail = tails.get(cell) ?? { tryNumber, lines: [], tryLines: 0, total: 0 };
    tail.total += n;
    if (tryNumber >= tail.tryNumber) Object.assign(tail, { tryNumber, tryLines: n });
    tails.set(cell, tail);
  }
  if (tails.size === 0) return { cells: tails, lastSeq };
  const parts: string[] = [];
  const values: DuckDBValue[] = [];
  for (const [cell, tail] of tails) {
    // Up to lastSeq: a line written since the counts is left to whoever tails from there.
    parts.push(`(SELECT seq, ts, cell, try_number, level, message FROM logs WHERE run_id = ? AND cell = ? AND try_number = ? AND seq <= ? ORDER BY seq DESC LIMIT ${limit})`);
    values.push(runId, cell, tail.tryNumber, lastSeq);
  }
  const rows = await store.query(`SELECT * FROM (${parts.join(" UNION ALL ")}) ORDER BY seq`, values);
  for (const r of rows) tails.get(String(r.cell))!.lines.push(logLineOf(r));
  return { cells: tails, lastSeq };
}
