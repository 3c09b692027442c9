/**
 * The regression gate: this eval's mean metrics against a baseline — a pinned
 * file or the last successful scheduled run — each allowed an absolute drop.
 * The verdict is a table a person reads in CI logs.
 *
 * @example
 * ```ts
 * import { type Baseline, compare, formatVerdict } from "./gate.ts";
 *
 * declare const baseline: Baseline;
 * const verdict = compare(baseline, { "nDCG@10": 0.301 }, { "nDCG@10": 0.01 });
 * console.log(formatVerdict(verdict));
 * // metric   baseline  now     delta    allowed drop  result
 * // nDCG@10  0.3226    0.3010  -0.0216  0.0100        FAIL
 * ```
 */
import Table from "cli-table3";
import { CellarError, runtime } from "../../kernel/mod.ts";

/** What a baseline must hold: the cell's own output has this shape, so a pinned file is a saved output. */
export interface Baseline {
  /** Where it came from: "pipelines/…/baseline.json" or "eval run 12". */
  source: string;
  evalSet: { name: string; fingerprint: string };
  /** The judge that scored it and how many contexts a question it judged: judge means compare only when both match. */
  judge?: { id: string; top?: number };
  metrics: Record<string, number>;
  /** Each question's metrics, when the baseline kept them: what says which questions a drop came from. */
  perQuery?: PerQuery;
}

/** Question id → metric → value. */
export type PerQuery = Record<string, Record<string, number>>;

/** A question whose metric fell, from the baseline to now. */
export interface QuestionDrop {
  qid: string;
  baseline: number;
  now: number;
}

export interface VerdictRow {
  metric: string;
  baseline: number | undefined;
  now: number;
  delta: number | undefined;
  allowedDrop: number;
  /** "pass", "FAIL", or "new" when the baseline has no such metric (nothing to compare). */
  result: "pass" | "FAIL" | "new";
}

export interface Verdict {
  baseline: string | null;
  pass: boolean;
  rows: VerdictRow[];
  regressed: string[];
  /** For each regressed metric, the questions that fell most (when both sides have per-question metrics). */
  drops: Record<string, QuestionDrop[]>;
}

/** Questions shown per regressed metric. */
const DROPS_SHOWN = 5;

/** Reads a pinned baseline file and checks that it measured the same eval set and metrics as this run. */
export async function loadBaselineFile(path: string, expected: { evalSet: Baseline["evalSet"]; metrics: string[] }): Promise<Baseline> {
  const stat = await runtime.stat(path);
  if (!stat || stat.directory) throw new CellarError(`baseline file ${path}: not found (expected a saved run_eval_suite output, JSON)`);
  let data: unknown;
  try {
    data = JSON.parse(await runtime.readTextFile(path));
  } catch (err) {
    throw new CellarError(`baseline file ${path}: not JSON (${(err as Error).message})`);
  }
  const baseline = asBaseline(data, `baseline file ${path}`);
  checkComparable({ ...baseline, source: path }, expected);
  return { ...baseline, source: path };
}

/** Validates a stored output (a file or an earlier run's checkpoint) as a baseline. */
export function asBaseline(data: unknown, where: string): Omit<Baseline, "source"> {
  const record = (data ?? {}) as Record<string, unknown>;
  const evalSet = record.evalSet as Record<string, unknown> | undefined;
  const metrics = record.metrics as Record<string, unknown> | undefined;
  if (typeof evalSet?.name !== "string" || typeof evalSet?.fingerprint !== "string") {
    throw new CellarError(`${where}: expected "evalSet": { "name", "fingerprint" }, as run_eval_suite writes it`);
  }
  if (!metrics || typeof metrics !== "object" || Object.values(metrics).some((v) => typeof v !== "number" || !Number.isFinite(v))) {
    throw new CellarError(`${where}: expected "metrics" to map metric names to numbers`);
  }
  const perQuery = record.perQuery;
  const judge = record.judge as Record<string, unknown> | undefined;
  return {
    evalSet: { name: evalSet.name, fingerprint: evalSet.fingerprint },
    judge: typeof judge?.id === "string" ? { id: judge.id, top: typeof judge.top === "number" ? judge.top : undefined } : undefined,
    metrics: metrics as Record<string, number>,
    perQuery: typeof perQuery === "object" && perQuery !== null ? perQuery as PerQuery : undefined,
  };
}

export function checkComparable(baseline: Baseline, expected: { evalSet: Baseline["evalSet"]; metrics: string[] }): void {
  if (baseline.evalSet.fingerprint !== expected.evalSet.fingerprint) {
    throw new CellarError(
      `baseline ${baseline.source}: measured on eval set "${baseline.evalSet.name}" (${baseline.evalSet.fingerprint.slice(0, 12)}), ` +
        `but this run uses "${expected.evalSet.name}" (${expected.evalSet.fingerprint.slice(0, 12)}); pin a baseline from this set`,
    );
  }
  const missing = expected.metrics.filter((m) => !(m in baseline.metrics));
  if (missing.length > 0) {
    throw new CellarError(
      `baseline ${baseline.source}: another metric set (${Object.keys(baseline.metrics).join(", ")}); ` +
        `this run gates on ${expected.metrics.join(", ")}, missing ${missing.join(", ")}`,
    );
  }
}

/**
 * Compares `now` with the baseline: a metric fails when it dropped by more
 * than its allowed drop. Without a baseline every row is "new" and the gate passes.
 */
export function compare(
  baseline: Baseline | null,
  now: Record<string, number>,
  allowedDrops: Record<string, number>,
  nowPerQuery?: PerQuery,
): Verdict {
  const rows: VerdictRow[] = Object.entries(allowedDrops).map(([metric, allowedDrop]) => {
    const value = now[metric];
    if (value === undefined) throw new CellarError(`threshold for "${metric}": this eval measures no such metric (it has ${Object.keys(now).join(", ")})`);
    const before = baseline?.metrics[metric];
    if (before === undefined) return { metric, baseline: undefined, now: value, delta: undefined, allowedDrop, result: "new" };
    const delta = value - before;
    // Rounding noise of the last digit is not a regression.
    const pass = delta >= -allowedDrop - 1e-9;
    return { metric, baseline: before, now: value, delta, allowedDrop, result: pass ? "pass" : "FAIL" };
  });
  const regressed = rows.filter((row) => row.result === "FAIL").map((row) => row.metric);
  const drops: Record<string, QuestionDrop[]> = {};
  if (baseline?.perQuery && nowPerQuery) {
    for (const metric of regressed) drops[metric] = questionDrops(baseline.perQuery, nowPerQuery, metric);
  }
  return { baseline: baseline?.source ?? null, pass: regressed.length === 0, rows, regressed, drops };
}

/** The questions of both sides whose `metric` fell most, worst first. */
function questionDrops(before: PerQuery, now: PerQuery, metric: string): QuestionDrop[] {
  const drops: QuestionDrop[] = [];
  for (const [qid, metrics] of Object.entries(now)) {
    const was = before[qid]?.[metric];
    const is = metrics[metric];
    if (typeof was === "number" && typeof is === "number" && is < was) drops.push({ qid, baseline: was, now: is });
  }
  return drops.sort((a, b) => (a.now - a.baseline) - (b.now - b.baseline)).slice(0, DROPS_SHOWN);
}

/** The verdict as a plain text table, then one summary line. */
export function formatVerdict(verdict: Verdict): string {
  const table = new Table({ head: ["metric", "baseline", "now", "delta", "allowed drop", "result"], style: { head: [], border: [] } });
  const fixed = (n: number | undefined, sign = false) => n === undefined ? "—" : `${sign && n >= 0 ? "+" : ""}${n.toFixed(4)}`;
  for (const row of verdict.rows) {
    table.push([row.metric, fixed(row.baseline), fixed(row.now), fixed(row.delta, true), fixed(row.allowedDrop), row.result]);
  }
  const summary = verdict.baseline === null
    ? "no baseline yet: nothing to compare (the next scheduled run compares with this one)"
    : verdict.pass
    ? `pass against ${verdict.baseline}`
    : `REGRESSION against ${verdict.baseline}: ${verdict.regressed.join(", ")}`;
  const drops = Object.entries(verdict.drops).filter(([, questions]) => questions.length > 0).map(([metric, questions]) =>
    `${metric} fell most on question ${questions.map((q) => `${q.qid} (${q.baseline.toFixed(4)} → ${q.now.toFixed(4)})`).join(", ")}`
  );
  return [table.toString(), summary, ...drops].join("\n");
}
