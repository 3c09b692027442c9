/**
 * What a run did, read back from the store: for `cellar show`, `cellar runs`
 * and the server's API.
 *
 * @example
 * ```ts
 * import { runDetail } from "./report.ts";
 * import type { Store } from "./store/store.ts";
 * declare const store: Store;
 *
 * const detail = await runDetail(store, 12);
 * detail.cells.find((c) => c.cell === "embed_docs")?.state; // → a CellState (success, cached, failed, …)
 * ```
 */
import type { CacheReason, CellReason } from "./cache-reason.ts";
import { getRun, type RunRecord } from "./run-records.ts";
import { AttemptState } from "./state.ts";
import type { Store } from "./store/store.ts";

export interface CellReport {
  cell: string;
  state: string;
  /** Tries that executed the cell's code (cache hits and upstream failures have none). */
  tries: number;
  startedAt: Date | null;
  endedAt: Date | null;
  /** Wall time of the last try. */
  durationMs: number | null;
  cpuMs: number | null;
  error: string | null;
  cachedFrom: number | null;
  /** Why it was served from cache or recomputed; null for a cell not decided (upstream failed) or recorded before reasons were. */
  cacheReason: CellReason | null;
  costs: Record<string, number>;
  attempts: Array<{ tryNumber: number; state: string; startedAt: Date | null; durationMs: number | null; error: string | null }>;
}

export interface RunDetail {
  run: RunRecord;
  cells: CellReport[];
}

export async function runDetail(store: Store, runId: number): Promise<RunDetail> {
  const run = await getRun(store, runId);
  const attempts = await store.query(
    `SELECT cell, try_number, state, started_at, ended_at, wall_ms, cpu_ms, error
     FROM attempts WHERE run_id = ?
     -- cells in the order they first started, each cell's attempts in try order: the last one read is the latest,
     -- also when a resumed run ran a cell that had been upstream_failed (try 0, never started) before
     ORDER BY min(started_at) OVER (PARTITION BY cell) NULLS LAST, cell, try_number`,
    [runId],
  );
  const outputs = await store.query(`SELECT cell, cached_from FROM outputs WHERE run_id = ?`, [runId]);
  const costs = await store.query(
    `SELECT cell, resource, sum(amount) AS amount FROM costs WHERE run_id = ? GROUP BY ALL ORDER BY ALL`,
    [runId],
  );
  const done = new Map(outputs.map((o) => [String(o.cell), o.cached_from === null ? null : Number(o.cached_from)]));
  const cells = new Map<string, CellReport>();
  for (const a of attempts) {
    const name = String(a.cell);
    let report = cells.get(name);
    if (!report) {
      report = {
        cell: name, state: "", tries: 0, startedAt: null, endedAt: null, durationMs: null, cpuMs: null,
        error: null, cachedFrom: null, cacheReason: null, costs: {}, attempts: [],
      };
      cells.set(name, report);
    }
    const tryNumber = Number(a.try_number);
    const attempt = {
      tryNumber,
      state: String(a.state),
      startedAt: a.started_at ? new Date(a.started_at as Date) : null,
      durationMs: a.wall_ms === null ? null : Number(a.wall_ms),
      error: a.error === null ? null : String(a.error),
    };
    report.attempts.push(attempt);
    if (tryNumber > 0 && attempt.state !== AttemptState.Cached) report.tries++;
    report.state = attempt.state;
    report.startedAt ??= attempt.startedAt;
    report.endedAt = a.ended_at ? new Date(a.ended_at as Date) : null;
    report.durationMs = attempt.durationMs;
    report.cpuMs = a.cpu_ms === null ? null : Number(a.cpu_ms);
    if (attempt.error) report.error = attempt.error;
  }
  for (const [cell, cachedFrom] of done) {
    const report = cells.get(cell);
    // The checkpoint is the truth: a crash between committing a cell's tables and its attempt record leaves it running.
    if (report) {
      report.state = cachedFrom === null ? AttemptState.Success : AttemptState.Cached;
      report.cachedFrom = cachedFrom;
      if (report.state === AttemptState.Success) report.error = null;
    }
  }
  await addReasons(store, runId, cells);
  for (const c of costs) {
    const report = cells.get(String(c.cell));
    if (report) report.costs[String(c.resource)] = Number(c.amount);
  }
  return { run, cells: [...cells.values()] };
}

/** Each cell's cache reason, where the run recorded one. */
async function addReasons(store: Store, runId: number, cells: Map<string, CellReport>): Promise<void> {
  const reasons = await store.query(`SELECT cell, reason, detail FROM cell_reasons WHERE run_id = ?`, [runId]);
  for (const r of reasons) {
    const report = cells.get(String(r.cell));
    if (report) report.cacheReason = { reason: String(r.reason) as CacheReason, detail: r.detail === null ? null : String(r.detail) };
  }
}

export interface LogLine {
  /** Its place in the order the store's lines were written: a page's cursor (run-logs.ts). */
  seq: number;
  ts: Date;
  cell: string;
  tryNumber: number;
  level: string;
  message: string;
}

/** All of a run's log lines, in the order they were written (`cellar show --logs`); a page of them is run-logs.ts's. */
export async function runLogs(store: Store, runId: number): Promise<LogLine[]> {
  const rows = await store.query(`SELECT seq, ts, cell, try_number, level, message FROM logs WHERE run_id = ? ORDER BY seq`, [runId]);
  return rows.map(logLineOf);
}

/** A row of the logs table (seq, ts, cell, try_number, level, message) as a LogLine: every log read's one mapping. */
export function logLineOf(r: Record<string, unknown>): LogLine {
  return {
    seq: Number(r.seq),
    ts: new Date(r.ts as Date),
    cell: String(r.cell),
    tryNumber: Number(r.try_number),
    level: String(r.level),
    message: String(r.message),
  };
}
