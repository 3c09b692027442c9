/**
 * Eval results over time: what a gated eval cell (cells/eval.ts's run_eval_suite) measured in each run, and
 * what its gate said. The kernel knows nothing of evals: it keeps a passing run's output as its checkpoint,
 * and a run whose gate failed the details of its CheckFailed (`{ metrics, verdict }`); the facade's
 * cellResults() reads both in one go, and this module reads the eval's shape out of either — the part of
 * cells/eval.ts's EvalOutput the history shows (its means, the gate's verdict of cells/eval/gate.ts and the
 * retrieval comparison of cells/eval/compare.ts),
 * checked with zod, so that a result of another shape (another cell's) is left out, not guessed at.
 *
 * @example
 * ```ts
 * import { openCellar } from "../kernel/mod.ts";
 * import { evalHistory } from "./eval-history.ts";
 *
 * const runs = await evalHistory(openCellar({ db: ".cellar/cellar.duckdb" }), { pipeline: "eval", limit: 50 });
 * console.log(runs.map((r) => [r.runId, r.verdict.pass, r.metrics["nDCG@10"]]));
 * ```
 */
import { z } from "@hono/zod-openapi";
import type { Cellar, CellRunResult, RunKind, RunState } from "../kernel/mod.ts";

/** The eval cell whose results the history lists (cells/eval.ts's run_eval_suite, as pipelines/eval.ts names it). */
export const EVAL_CELL = "run_eval_suite";

/** A number, or null for a value the gate left out (a "new" row has no baseline or delta; JSON drops undefined). */
const orNull = z.number().nullish().transform((v) => v ?? null);

const VerdictRow = z.object({
  metric: z.string(),
  baseline: orNull,
  now: z.number(),
  delta: orNull,
  /** The largest drop from the baseline the gate allows: the threshold is baseline − allowedDrop. */
  allowedDrop: z.number(),
  result: z.enum(["pass", "FAIL", "new"]),
});

const QuestionDrop = z.object({ qid: z.string(), baseline: z.number(), now: z.number() });

/** cells/eval/compare.ts's Comparison: every retrieval spec the run scored, side by side. */
export const ComparisonShape = z.object({
  /** The metric the cross-validation maximized. */
  metric: z.string(),
  folds: z.number(),
  seed: z.number(),
  rows: z.array(z.object({
    spec: z.string(),
    /** The point scored: the spec itself, or what the folds chose most often from its grid. */
    resolved: z.string(),
    /** The spec judged and gated. */
    primary: z.boolean(),
    metrics: z.record(z.string(), z.number()),
    msPerQuery: z.number(),
    points: z.number(),
    cv: z.array(z.object({ fold: z.number(), questions: z.number(), chosen: z.string(), train: z.number(), test: z.number() })).nullable(),
    /** The index searched (its pipeline, and the model and revision that built it); absent from older results. */
    index: z.object({ pipeline: z.string(), model: z.string(), revision: z.string().nullable() }).optional(),
  })),
});

/** What an eval cell measured (the means over its questions) and its gate's verdict; other fields are dropped. */
const EvalResultShape = z.object({
  metrics: z.record(z.string(), z.number()),
  verdict: z.object({
    /** Where the baseline came from ("eval run 12", a file), or null when there was none. */
    baseline: z.string().nullable(),
    pass: z.boolean(),
    rows: z.array(VerdictRow),
    /** For each regressed metric, the questions that fell most, worst first. */
    drops: z.record(z.string(), z.array(QuestionDrop)).default({}),
  }),
  /** Null for a result from before the eval compared retrievals. */
  comparison: ComparisonShape.nullish().transform((v) => v ?? null),
});

export type EvalResult = z.infer<typeof EvalResultShape>;
export type EvalVerdictRow = z.infer<typeof VerdictRow>;
export type EvalQuestionDrop = z.infer<typeof QuestionDrop>;
export type EvalComparison = z.infer<typeof ComparisonShape>;

/** One run's eval result, with the run it belongs to. */
export interface EvalRun extends EvalResult {
  runId: number;
  pipeline: string;
  kind: RunKind;
  state: RunState;
  logicalDate: Date;
  finishedAt: Date | null;
}

/** `data` (a checkpoint's output, or a failed gate's details) as an eval result; undefined when it is not one. */
export function asEvalResult(data: unknown): EvalResult | undefined {
  const parsed = EvalResultShape.safeParse(data);
  return parsed.success ? parsed.data : undefined;
}

/** A cell result of the facade as an eval run, or undefined when it holds no eval result. */
export function evalRunOf(result: CellRunResult): EvalRun | undefined {
  const found = asEvalResult(result.source === "output" ? result.output : result.details);
  if (!found) return undefined;
  const { run } = result;
  return {
    runId: run.id,
    pipeline: run.pipeline,
    kind: run.kind,
    state: run.state,
    logicalDate: run.logicalDate,
    finishedAt: run.finishedAt,
    ...found,
  };
}

/**
 * The runs of `pipeline` in which its eval `cell` (default run_eval_suite) left a result, passed or gated,
 * newest logical date first, at most `limit`.
 */
export async function evalHistory(cellar: Cellar, query: { pipeline: string; cell?: string; limit: number }): Promise<EvalRun[]> {
  const results = await cellar.cellResults({ pipeline: query.pipeline, cell: query.cell ?? EVAL_CELL, limit: query.limit });
  return results.map(evalRunOf).filter((run) => run !== undefined);
}
