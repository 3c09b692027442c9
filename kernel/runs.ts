/**
 * Run records: creating them idempotently and reading them back.
 *
 * A scheduled or backfilled run is keyed by (pipeline, logical date), so
 * creating it twice — two schedulers, a restart, a backfill over a scheduled
 * range — leaves one run. Manual runs get keys of their own.
 *
 * @example
 * const created = await createScheduledRuns(store, "ingest", intervals, params, "scheduled");
 */
import { type DuckDBValue, listValue } from "@duckdb/node-api";
import { CellarError } from "./errors.ts";
import type { ParamValue } from "./pipeline.ts";
import type { Store } from "./store/store.ts";
import type { DataInterval } from "./timetable.ts";

export type RunKind = "scheduled" | "backfill" | "manual" | "cell";
export type RunState = "queued" | "running" | "success" | "failed" | "interrupted";

export interface RunOptions {
  /** Recompute every cell instead of serving unchanged ones from their checkpoints. */
  noCache?: boolean;
  /** Recompute this cell and everything downstream of it. */
  from?: string;
  /** Run only these cells, their upstream inputs taken from the latest checkpoints. */
  only?: string[];
  /** The pipeline file the run was started from, when it was given as a path: resume loads it again. */
  source?: string;
}

export interface RunRecord {
  runId: number;
  pipeline: string;
  runKey: string;
  kind: RunKind;
  logicalDate: Date;
  interval: DataInterval;
  params: Record<string, ParamValue>;
  options: RunOptions;
  state: RunState;
  createdAt: Date;
  startedAt: Date | null;
  endedAt: Date | null;
}

const COLUMNS = `run_id, pipeline, run_key, kind, logical_date, interval_start, interval_end, params, options, state, created_at, started_at, ended_at`;

/** The key of the run for a logical date: the same for the scheduler and for backfill (and built so in SQL below). */
export function scheduledRunKey(logicalDate: Date): string {
  return `scheduled__${logicalDate.toISOString()}`;
}

/**
 * Creates the runs for these intervals that do not exist yet, in one
 * transaction and one statement; returns how many were new.
 */
export async function createScheduledRuns(
  store: Store,
  pipeline: string,
  intervals: DataInterval[],
  params: Record<string, ParamValue>,
  kind: "scheduled" | "backfill",
): Promise<number> {
  if (intervals.length === 0) return 0;
  const starts = intervals.map((i) => i.start.toISOString());
  const ends = intervals.map((i) => i.end.toISOString());
  // Another scheduler (or a backfill) creating the same runs at the same moment makes DuckDB refuse
  // one of the two transactions instead of letting ON CONFLICT see the other's rows; once the other has
  // committed, a retry sees them and creates only what is still missing.
  return await retryConflicts(() => store.transaction(async (conn) => {
    // Two list parameters unnested in SQL: binding thousands of scalar parameters is ~20× slower.
    const reader = await conn.runAndReadAll(
      `INSERT INTO runs (pipeline, run_key, kind, logical_date, interval_start, interval_end, params, options, state, created_at)
       SELECT $pipeline, 'scheduled__' || s, $kind, s::TIMESTAMPTZ, s::TIMESTAMPTZ, e::TIMESTAMPTZ, $params, '{}', 'queued', now()
       FROM (SELECT unnest($starts::VARCHAR[]) AS s, unnest($ends::VARCHAR[]) AS e)
       ON CONFLICT (pipeline, run_key) DO NOTHING RETURNING run_id`,
      { pipeline, kind, params: JSON.stringify(params), starts: listValue(starts), ends: listValue(ends) },
    );
    return reader.currentRowCount;
  }));
}

/**
 * Marks a queued or interrupted run as taken; false if another scheduler took it first.
 *
 * A plain UPDATE, not UPDATE … RETURNING: DuckDB runs the latter as a delete
 * and an insert, and does not detect its conflict with a concurrent in-place
 * UPDATE of the same row (the group writer's), so both would commit.
 */
export async function claimRun(store: Store, runId: number): Promise<boolean> {
  const changed = await retryConflicts(() => store.transaction(async (conn) => {
    const result = await conn.run(`UPDATE runs SET state = 'running' WHERE run_id = ? AND state IN ('queued', 'interrupted')`, [runId]);
    return result.rowsChanged;
  }));
  return changed === 1;
}

/** DuckDB's optimistic concurrency refusing a write that collides with another open transaction. */
export function isWriteConflict(err: unknown): boolean {
  const message = err instanceof Error ? err.message : String(err);
  return /Conflict on (tuple deletion|update|insert)|write-write conflict|Duplicate key .* violates (unique|primary key) constraint|Failed to commit: PRIMARY KEY or UNIQUE constraint violation/i
    .test(message);
}

/** Runs `body` again, a few milliseconds later, while it fails with a write conflict (at most ~20 times). */
export async function retryConflicts<T>(body: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await body();
    } catch (err) {
      if (attempt >= 20 || !isWriteConflict(err)) throw err;
      await new Promise((resolve) => setTimeout(resolve, Math.min(50, 2 * attempt) * (0.5 + Math.random())));
    }
  }
}

/** A manual run (its own key, never deduplicated) at `logicalDate`; returns its record. */
export async function createManualRun(
  store: Store,
  pipeline: string,
  kind: "manual" | "cell",
  logicalDate: Date,
  interval: DataInterval,
  params: Record<string, ParamValue>,
  options: RunOptions,
): Promise<RunRecord> {
  const key = `${kind}__${new Date().toISOString()}__${crypto.randomUUID().slice(0, 8)}`;
  const rows = await store.transaction(async (conn) => {
    const reader = await conn.runAndReadAll(
      `INSERT INTO runs (pipeline, run_key, kind, logical_date, interval_start, interval_end, params, options, state, created_at)
       VALUES (?, ?, ?, ?::TIMESTAMPTZ, ?::TIMESTAMPTZ, ?::TIMESTAMPTZ, ?, ?, 'queued', now()) RETURNING ${COLUMNS}`,
      [
        pipeline, key, kind, logicalDate.toISOString(), interval.start.toISOString(), interval.end.toISOString(),
        JSON.stringify(params), JSON.stringify(options),
      ],
    );
    return reader.getRowObjectsJS();
  });
  return toRecord(rows[0]);
}

export async function getRun(store: Store, runId: number): Promise<RunRecord> {
  if (!Number.isSafeInteger(runId) || runId < 1) throw new CellarError(`run id ${JSON.stringify(runId)}: expected a positive whole number`);
  const rows = await store.query(`SELECT ${COLUMNS} FROM runs WHERE run_id = ?`, [runId]);
  if (rows.length === 0) throw new CellarError(`run ${runId}: no such run in ${store.path}`);
  return toRecord(rows[0]);
}

export async function listRuns(
  store: Store,
  pipeline: string,
  where: { states?: RunState[]; kinds?: RunKind[]; limit?: number } = {},
): Promise<RunRecord[]> {
  const clauses = ["pipeline = ?"];
  const values: DuckDBValue[] = [pipeline];
  if (where.states) clauses.push(`state IN (${where.states.map(() => "?").join(", ")})`), values.push(...where.states);
  if (where.kinds) clauses.push(`kind IN (${where.kinds.map(() => "?").join(", ")})`), values.push(...where.kinds);
  const limit = where.limit ? `LIMIT ${Math.floor(where.limit)}` : "";
  const rows = await store.query(
    `SELECT ${COLUMNS} FROM runs WHERE ${clauses.join(" AND ")} ORDER BY logical_date DESC, run_id DESC ${limit}`,
    values,
  );
  return rows.map(toRecord);
}

/** True when some run of the pipeline has a checkpoint of the cell. */
export async function hasCheckpoint(store: Store, pipeline: string, cell: string): Promise<boolean> {
  const rows = await store.query(`SELECT 1 FROM outputs WHERE pipeline = ? AND cell = ? LIMIT 1`, [pipeline, cell]);
  return rows.length > 0;
}

/** The latest logical date of a scheduled or backfilled run: where catchup continues from. */
export async function lastScheduledDate(store: Store, pipeline: string): Promise<Date | undefined> {
  const rows = await store.query(
    `SELECT max(logical_date) AS d FROM runs WHERE pipeline = ? AND kind IN ('scheduled', 'backfill')`,
    [pipeline],
  );
  return rows[0]?.d ? new Date(rows[0].d as Date) : undefined;
}

/**
 * Runs and attempts left "running" by a process that died. Only one process
 * opens the store for writing, so at open time nothing else is running them.
 */
export async function markInterrupted(store: Store): Promise<void> {
  await store.transaction(async (conn) => {
    await conn.run(`UPDATE attempts SET state = 'interrupted' WHERE state = 'running'`);
    await conn.run(`UPDATE runs SET state = 'interrupted' WHERE state = 'running'`);
  });
}

function toRecord(row: Record<string, unknown>): RunRecord {
  const date = (v: unknown) => (v ? new Date(v as Date) : null);
  return {
    runId: Number(row.run_id),
    pipeline: String(row.pipeline),
    runKey: String(row.run_key),
    kind: row.kind as RunKind,
    logicalDate: date(row.logical_date)!,
    interval: { start: date(row.interval_start)!, end: date(row.interval_end)! },
    params: JSON.parse(String(row.params)),
    options: JSON.parse(String(row.options)),
    state: row.state as RunState,
    createdAt: date(row.created_at)!,
    startedAt: date(row.started_at),
    endedAt: date(row.ended_at),
  };
}
