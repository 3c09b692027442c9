/**
 * Eval results over time: what a gated eval cell (cells/eval.ts's run_eval_suite) measured in each run, and
 * what its gate said. A run that passed keeps its result in its checkpoint; one whose gate failed threw
 * CheckFailed and has no checkpoint, so the cell also records its result in its log with
 * recordEvalResult(), one JSON line. This module owns that line's format: the cell writes it, the history
 * and the metrics read it.
 *
 * The shape read here is the part of cells/eval.ts's EvalOutput the history shows (its means and the
 * gate's verdict of cells/eval/gate.ts): the kernel cannot import cells/, and the server reads only the
 * kernel, so the contract lives here and cells/eval.ts hands its verdict to recordEvalResult, whose type
 * the compiler holds that verdict to.
 *
 * @example
 * ```ts
 * import { evalHistory, recordEvalResult } from "./eval-history.ts";
 * import type { Context } from "./context.ts";
 * import type { Store } from "./store/store.ts";
 * declare const ctx: Context;
 * declare const store: Store;
 *
 * recordEvalResult(ctx, { metrics: { "nDCG@10": 0.31 }, verdict: { baseline: null, pass: true, rows: [], drops: {} } });
 * const runs = await evalHistory(store, { pipeline: "eval", cell: "run_eval_suite", limit: 50 });
 * ```
 */
import { checkpointOf } from "./checkpoints.ts";
import type { Logger } from "./context.ts";
import type { RunKind } from "./run-records.ts";
import type { RunState } from "./state.ts";
import type { Store } from "./store/store.ts";

/** The log line's start: the rest of the line is the result as JSON. */
export const EVAL_RESULT_PREFIX = "eval result ";

/** One metric's row of the gate's verdict. */
export interface EvalVerdictRow {
  metric: string;
  /** The baseline's value, or absent (null once read) when it has none: the row is "new". */
  baseline?: number | null;
  now: number;
  delta?: number | null;
  /** The largest drop from the baseline the gate allows: the threshold is baseline − allowedDrop. */
  allowedDrop: number;
  result: "pass" | "FAIL" | "new";
}

/** A question whose metric fell from the baseline to now. */
export interface EvalQuestionDrop {
  qid: string;
  baseline: number;
  now: number;
}

/** What an eval cell measured (the means over its questions) and its gate's verdict. */
export interface EvalResult {
  metrics: Record<string, number>;
  verdict: {
    /** Where the baseline came from ("eval run 12", a file), or null when there was none. */
    baseline: string | null;
    pass: boolean;
    rows: EvalVerdictRow[];
    /** For each regressed metric, the questions that fell most, worst first. */
    drops: Record<string, EvalQuestionDrop[]>;
  };
}

/** One run's eval result, with the run it belongs to. */
export interface EvalRun extends EvalResult {
  runId: number;
  pipeline: string;
  kind: RunKind;
  state: RunState;
  logicalDate: Date;
  finishedAt: Date | null;
}

/** Writes `result` to the cell's log as one line, before its gate may throw: what the history reads of a failed gate. */
export function recordEvalResult(ctx: { log: Logger }, result: EvalResult): void {
  ctx.log.info(EVAL_RESULT_PREFIX + JSON.stringify({ metrics: result.metrics, verdict: result.verdict }));
}

/** The result a log line holds, or undefined when the line is not one (or not one this module can read). */
export function parseEvalResult(message: string): EvalResult | undefined {
  if (!message.startsWith(EVAL_RESULT_PREFIX)) return undefined;
  try {
    return asEvalResult(JSON.parse(message.slice(EVAL_RESULT_PREFIX.length)));
  } catch {
    return undefined;
  }
}

/**
 * The runs of `pipeline` in which `cell` left a result (a checkpoint, or the line recordEvalResult wrote
 * before a failed gate), newest logical date first, at most `limit`.
 */
export async function evalHistory(store: Store, query: { pipeline: string; cell: string; limit: number }): Promise<EvalRun[]> {
  const rows = await store.query(
    `SELECT r.run_id, r.kind, r.state, r.logical_date, r.ended_at, l.message
     FROM runs r
     LEFT JOIN (
       SELECT run_id, arg_max(message, ts) AS message FROM logs
       WHERE cell = ? AND starts_with(message, ?) GROUP BY run_id
     ) l USING (run_id)
     WHERE r.pipeline = ?
       AND (l.message IS NOT NULL OR EXISTS (SELECT 1 FROM outputs o WHERE o.run_id = r.run_id AND o.cell = ?))
     ORDER BY r.logical_date DESC, r.run_id DESC
     LIMIT ?`,
    [query.cell, EVAL_RESULT_PREFIX, query.pipeline, query.cell, Math.floor(query.limit)],
  );
  const source = { sql: store.query.bind(store) };
  const runs: EvalRun[] = [];
  for (const row of rows) {
    const runId = Number(row.run_id);
    // The checkpoint when there is one (runs from before the log line existed have only that), else the line.
    const checkpoint = await checkpointOf(source, runId, query.cell);
    const result = checkpoint ? asEvalResult(checkpoint.output) : parseEvalResult(String(row.message ?? ""));
    if (!result) continue;
    runs.push({
      runId,
      pipeline: query.pipeline,
      kind: String(row.kind) as RunKind,
      state: String(row.state) as RunState,
      logicalDate: new Date(row.logical_date as Date),
      finishedAt: row.ended_at ? new Date(row.ended_at as Date) : null,
      ...result,
    });
  }
  return runs;
}

/** Each pipeline's latest result of `cell`, by the newest logical date: what /metrics shows after a restart. */
export async function latestEvalResults(store: Store, cell: string): Promise<EvalRun[]> {
  const pipelines = await store.query(`SELECT DISTINCT r.pipeline FROM runs r JOIN attempts a USING (run_id) WHERE a.cell = ? ORDER BY 1`, [cell]);
  const latest = await Promise.all(pipelines.map(async (row) => (await evalHistory(store, { pipeline: String(row.pipeline), cell, limit: 1 }))[0]));
  return latest.filter((run) => run !== undefined);
}

/** `data` as a result, absent values as null; undefined when it lacks numeric means or a verdict (another cell's output). */
function asEvalResult(data: unknown): EvalResult | undefined {
  const record = (data ?? {}) as Record<string, unknown>;
  const metrics = record.metrics as Record<string, unknown> | undefined;
  const verdict = record.verdict as Record<string, unknown> | undefined;
  if (!metrics || typeof metrics !== "object" || Object.values(metrics).some((v) => typeof v !== "number")) return undefined;
  if (!verdict || typeof verdict !== "object" || !Array.isArray(verdict.rows)) return undefined;
  const orNull = (v: unknown) => (typeof v === "number" ? v : null);
  const rows = (verdict.rows as Array<Record<string, unknown>>).map((row): EvalVerdictRow => ({
    metric: String(row.metric),
    baseline: orNull(row.baseline),
    now: Number(row.now),
    delta: orNull(row.delta),
    allowedDrop: Number(row.allowedDrop),
    result: row.result === "FAIL" ? "FAIL" : row.result === "pass" ? "pass" : "new",
  }));
  const drops = typeof verdict.drops === "object" && verdict.drops !== null ? verdict.drops as EvalResult["verdict"]["drops"] : {};
  return {
    metrics: metrics as Record<string, number>,
    verdict: { baseline: typeof verdict.baseline === "string" ? verdict.baseline : null, pass: verdict.pass === true, rows, drops },
  };
}
