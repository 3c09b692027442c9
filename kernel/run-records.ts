/**
 * Run records: creating them idempotently and reading them back.
 *
 * A scheduled or backfilled run is keyed by (pipeline, logical date), so
 * creating it twice — two schedulers, a restart, a backfill over a scheduled
 * range — leaves one run. A triggered run is keyed by the run that triggered
 * it, likewise. Manual runs get keys of their own.
 *
 * @example
 * ```ts
 * import type { ParamValue } from "./pipeline.ts";
 * import { createScheduledRuns } from "./run-records.ts";
 * import type { Store } from "./store/store.ts";
 * import type { DataInterval } from "./timetable.ts";
 * declare const store: Store;
 * declare const intervals: DataInterval[];
 * declare const params: Record<string, ParamValue>;
 *
 * const created = await createScheduledRuns(store, "ingest", intervals, params, "scheduled"); // → how many were new
 * ```
 */
import { type DuckDBValue, listValue, StatementType } from "@duckdb/node-api";
import { backoffMs, retry } from "./async.ts";
import { CellarError, errorLine } from "./errors.ts";
import type { ParamValue, RunOutcome } from "./pipeline.ts";
import {
  AttemptState,
  CLAIMABLE_RUN_STATES,
  ENDED_RUN_STATES,
  isOneOf,
  RunState,
  sqlState,
  sqlStates,
  TriggerResult,
} from "./state.ts";
import type { Store } from "./store/store.ts";
import type { DataInterval } from "./timetable.ts";

export type RunKind = "scheduled" | "backfill" | "manual" | "cell" | "triggered";

/** The kinds of run whose end a trigger sees: all but `cellar cell`'s one-cell test runs. */
const TRIGGERING_KINDS: readonly RunKind[] = ["scheduled", "backfill", "manual", "triggered"];

/** The run whose end fired a triggered run. */
export interface TriggeredBy {
  pipeline: string;
  runId: number;
}

export interface RunOptions {
  /** Recompute every cell instead of serving unchanged ones from their checkpoints. */
  noCache?: boolean;
  /** Recompute this cell and everything downstream of it. */
  from?: string;
  /** Run only these cells, their upstream inputs taken from the latest checkpoints. */
  only?: string[];
  /** The pipeline file the run was started from, when it was given as a path: resume loads it again. */
  source?: string;
  /** A triggered run's triggering run. */
  triggeredBy?: TriggeredBy;
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
  /** For a triggered run, the run whose end fired it ("triggered by eval run 12"); else null. */
  triggeredBy: TriggeredBy | null;
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
       SELECT $pipeline, 'scheduled__' || s, $kind, s::TIMESTAMPTZ, s::TIMESTAMPTZ, e::TIMESTAMPTZ, $params, '{}', ${sqlState(RunState.Queued)}, now()
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
    const result = await conn.run(
      `UPDATE runs SET state = ${sqlState(RunState.Running)} WHERE run_id = ? AND state IN (${sqlStates(CLAIMABLE_RUN_STATES)})`,
      [runId],
    );
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
export function retryConflicts<T>(body: () => Promise<T>): Promise<T> {
  return retry(body, { tries: 20, retryable: isWriteConflict, delayMs: (n) => backoffMs(n, { baseMs: 2, maxMs: 50 }) });
}

/** A manual run (its own key, never deduplicated) at `logicalDate`, or a backfill's rerun of a date that has one; returns its record. */
export async function createManualRun(
  store: Store,
  pipeline: string,
  kind: "manual" | "cell" | "backfill",
  logicalDate: Date,
  interval: DataInterval,
  params: Record<string, ParamValue>,
  options: RunOptions,
): Promise<RunRecord> {
  const key = `${kind}__${new Date().toISOString()}__${crypto.randomUUID().slice(0, 8)}`;
  const rows = await store.transaction(async (conn) => {
    const reader = await conn.runAndReadAll(
      `INSERT INTO runs (pipeline, run_key, kind, logical_date, interval_start, interval_end, params, options, state, created_at)
       VALUES (?, ?, ?, ?::TIMESTAMPTZ, ?::TIMESTAMPTZ, ?::TIMESTAMPTZ, ?, ?, ${sqlState(RunState.Queued)}, now()) RETURNING ${COLUMNS}`,
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
  where: { states?: readonly RunState[]; kinds?: RunKind[]; limit?: number } = {},
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

/** Which runs a page of the server's run list holds: newest first by id, those below `before`. */
export interface RunPageQuery {
  pipeline?: string;
  states?: readonly RunState[];
  /** A run id: only runs with smaller ids (the previous page's `next`). */
  before?: number;
  limit: number;
}

/** A page of runs across pipelines, newest id first, and the cursor of the next page (null on the last). */
export async function pageRuns(store: Store, query: RunPageQuery): Promise<{ runs: RunRecord[]; next: number | null }> {
  const clauses = ["true"];
  const values: DuckDBValue[] = [];
  if (query.pipeline !== undefined) clauses.push("pipeline = ?"), values.push(query.pipeline);
  if (query.states) clauses.push(`state IN (${query.states.map(() => "?").join(", ")})`), values.push(...query.states);
  if (query.before !== undefined) clauses.push("run_id < ?"), values.push(query.before);
  // One row more than asked says whether there is a next page.
  const rows = await store.query(
    `SELECT ${COLUMNS} FROM runs WHERE ${clauses.join(" AND ")} ORDER BY run_id DESC LIMIT ${Math.floor(query.limit) + 1}`,
    values,
  );
  const runs = rows.slice(0, query.limit).map(toRecord);
  return { runs, next: rows.length > query.limit ? runs.at(-1)!.runId : null };
}

/** The key of the run a trigger fires for a run of `after`: one triggered run per triggering run. */
function triggeredRunKey(after: string, runId: number): string {
  return `triggered__${after}__${runId}`;
}

/** One end of a run of `after` that `pipeline`'s trigger has not judged yet. */
export interface TriggerCandidate {
  runId: number;
  /** When the run ended, in epoch ms: a run resumed after it ended ends again, and is judged again. */
  endedMs: number;
}

/**
 * Notes when `pipeline`'s trigger after `after` was first seen (kept from then
 * on): only runs of `after` that end from then on are judged, so deploying a
 * trigger does not fire it for every run in the store's history.
 */
export async function registerTrigger(store: Store, pipeline: string, after: string): Promise<void> {
  await retryConflicts(() => store.transaction((conn) =>
    // Milliseconds, as runs' ended_at are: a run ending in the same millisecond still counts.
    conn.run(
      `INSERT INTO cellar_triggers.registrations VALUES (?, ?, date_trunc('millisecond', now())) ON CONFLICT DO NOTHING`,
      [pipeline, after],
    )
  ));
}

/** Ends of runs of `after` since the trigger was registered that `pipeline` has not judged, in the order they ended. */
export async function unjudgedRuns(store: Store, pipeline: string, after: string): Promise<TriggerCandidate[]> {
  const rows = await store.query(
    `SELECT r.run_id, epoch_ms(r.ended_at) AS ended_ms
     FROM runs r JOIN cellar_triggers.registrations t ON t.pipeline = ? AND t.after_pipeline = r.pipeline
     WHERE r.pipeline = ? AND r.state IN (${sqlStates(ENDED_RUN_STATES)}) AND r.kind IN (${TRIGGERING_KINDS.map(() => "?").join(", ")})
       AND r.ended_at >= t.registered_at
       AND NOT EXISTS (
         SELECT 1 FROM cellar_triggers.evaluations e
         WHERE e.pipeline = t.pipeline AND e.after_run_id = r.run_id AND e.run_ended_ms = epoch_ms(r.ended_at)
       )
     ORDER BY r.ended_at, r.run_id`,
    [pipeline, after, ...TRIGGERING_KINDS],
  );
  return rows.map((r) => ({ runId: Number(r.run_id), endedMs: Number(r.ended_ms) }));
}

/** True once `pipeline` has recorded its judgement of this end of the run. */
export async function isJudged(store: Store, pipeline: string, candidate: TriggerCandidate): Promise<boolean> {
  const rows = await store.query(
    `SELECT 1 FROM cellar_triggers.evaluations WHERE pipeline = ? AND after_run_id = ? AND run_ended_ms = ?`,
    [pipeline, candidate.runId, candidate.endedMs],
  );
  return rows.length > 0;
}

/**
 * Records a trigger's judgement of one end of a run and, when it fired,
 * creates the triggered run, in one transaction: a crash leaves either both
 * or neither, so a restart judges the run again rather than losing or
 * doubling its triggered run. Returns the record of the run it created, or
 * undefined when it created none (not fired, or fired by an earlier end).
 */
export async function recordTriggerEvaluation(
  store: Store,
  pipeline: string,
  source: RunRecord,
  candidate: TriggerCandidate,
  judgement:
    | { result: typeof TriggerResult.NotMet | typeof TriggerResult.Failed; error?: string }
    | { result: typeof TriggerResult.Fired; params: Record<string, ParamValue> },
): Promise<RunRecord | undefined> {
  return await retryConflicts(() => store.transaction(async (conn) => {
    let created: RunRecord | undefined;
    let result: TriggerResult = judgement.result;
    if (judgement.result === TriggerResult.Fired) {
      // The triggering run's logical date and data interval: the triggered run is about the same data.
      const options: RunOptions = { triggeredBy: { pipeline: source.pipeline, runId: source.runId } };
      const reader = await conn.runAndReadAll(
        `INSERT INTO runs (pipeline, run_key, kind, logical_date, interval_start, interval_end, params, options, state, created_at)
         VALUES (?, ?, 'triggered', ?::TIMESTAMPTZ, ?::TIMESTAMPTZ, ?::TIMESTAMPTZ, ?, ?, ${sqlState(RunState.Queued)}, now())
         ON CONFLICT (pipeline, run_key) DO NOTHING RETURNING ${COLUMNS}`,
        [
          pipeline, triggeredRunKey(source.pipeline, source.runId), source.logicalDate.toISOString(),
          source.interval.start.toISOString(), source.interval.end.toISOString(),
          JSON.stringify(judgement.params), JSON.stringify(options),
        ],
      );
      const rows = reader.getRowObjectsJS();
      if (rows.length > 0) created = toRecord(rows[0]);
      else result = TriggerResult.AlreadyFired;
    }
    await conn.run(
      `INSERT INTO cellar_triggers.evaluations VALUES (?, ?, ?, now(), ?, ?, ?) ON CONFLICT DO NOTHING`,
      [
        pipeline, source.runId, candidate.endedMs, result, created?.runId ?? null,
        judgement.result === TriggerResult.Failed ? judgement.error ?? "" : null,
      ],
    );
    return created;
  }));
}

/**
 * A run that ended, as a trigger sees it: its outputs and failed cells read
 * back from the store, and read-only SQL on the store.
 */
export async function runOutcome(store: Store, run: RunRecord): Promise<RunOutcome> {
  if (!isOneOf(ENDED_RUN_STATES, run.state)) {
    throw new CellarError(`run ${run.runId}: ${run.state}, not ended; an outcome needs a run that succeeded or failed`);
  }
  const outputs: Record<string, unknown> = {};
  const rows = await store.query(`SELECT cell, output FROM outputs WHERE run_id = ? ORDER BY created_at, cell`, [run.runId]);
  for (const row of rows) outputs[String(row.cell)] = JSON.parse(String(row.output));
  // Each cell's last try: a cell that failed and then succeeded on resume has not failed.
  const last = await store.query(
    `SELECT cell, state, error FROM attempts WHERE run_id = ?
     QUALIFY row_number() OVER (PARTITION BY cell ORDER BY try_number DESC) = 1
     ORDER BY ended_at NULLS LAST, cell`,
    [run.runId],
  );
  const failedCells = last.filter((a) => a.state === AttemptState.Failed && !(String(a.cell) in outputs)).map((a) => {
    const error = a.error === null ? "" : String(a.error);
    // errors.ts stores a CheckFailed's message with this prefix, which is how a verdict is told from an error.
    return { cell: String(a.cell), error, check: error.startsWith("CheckFailed: ") };
  });
  return {
    pipeline: run.pipeline,
    runId: run.runId,
    kind: run.kind,
    state: run.state,
    logicalDate: new Date(run.logicalDate),
    dataInterval: { start: new Date(run.interval.start), end: new Date(run.interval.end) },
    outputs,
    failedCells,
    sql: (query, values = []) => readOnlyQuery(store, query, values),
  };
}

/**
 * One SELECT, refused otherwise, in a transaction that is rolled back: a
 * trigger reads the store, it does not change it.
 */
async function readOnlyQuery(store: Store, query: string, values: unknown[]): Promise<Record<string, unknown>[]> {
  const conn = await store.connect();
  try {
    await conn.run("BEGIN TRANSACTION");
    let prepared;
    try {
      prepared = await conn.prepare(query);
    } catch (err) {
      throw new CellarError(`outcome.sql(${JSON.stringify(query.slice(0, 60))}): ${errorLine(err)}`);
    }
    if (prepared.statementType !== StatementType.SELECT) {
      throw new CellarError(`outcome.sql(${JSON.stringify(query.slice(0, 60))}): expected a SELECT; a trigger reads the store, it does not write it`);
    }
    prepared.bind(values as DuckDBValue[]);
    return (await prepared.runAndReadAll()).getRowObjectsJS() as Record<string, unknown>[];
  } finally {
    await conn.run("ROLLBACK").catch(() => {});
    conn.closeSync();
  }
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
 * Runs and attempts left running by a process that died. Only one process
 * opens the store for writing, so at open time nothing else is running them.
 * Resolves to the ids of the runs it marked, oldest first: what a server
 * adopts (kernel/orphans.ts).
 */
export async function markInterrupted(store: Store): Promise<number[]> {
  return await store.transaction(async (conn) => {
    const running = await conn.runAndReadAll(`SELECT run_id FROM runs WHERE state = ${sqlState(RunState.Running)} ORDER BY run_id`);
    await conn.run(`UPDATE attempts SET state = ${sqlState(AttemptState.Interrupted)} WHERE state = ${sqlState(AttemptState.Running)}`);
    await conn.run(`UPDATE runs SET state = ${sqlState(RunState.Interrupted)} WHERE state = ${sqlState(RunState.Running)}`);
    return running.getRowObjectsJS().map((row) => Number(row.run_id));
  });
}

function toRecord(row: Record<string, unknown>): RunRecord {
  const date = (v: unknown) => (v ? new Date(v as Date) : null);
  const options = JSON.parse(String(row.options)) as RunOptions;
  return {
    runId: Number(row.run_id),
    pipeline: String(row.pipeline),
    runKey: String(row.run_key),
    kind: row.kind as RunKind,
    logicalDate: date(row.logical_date)!,
    interval: { start: date(row.interval_start)!, end: date(row.interval_end)! },
    params: JSON.parse(String(row.params)),
    options,
    state: row.state as RunState,
    createdAt: date(row.created_at)!,
    startedAt: date(row.started_at),
    endedAt: date(row.ended_at),
    triggeredBy: options.triggeredBy ?? null,
  };
}
