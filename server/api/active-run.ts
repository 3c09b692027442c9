/**
 * The run a trigger would duplicate: a queued or running run in the store of the same pipeline, kind, logical
 * date, params and start cell (or single cell). The trigger routes' in-memory guard covers a double click
 * while the run is being created; this covers what that memory forgets, a server restarted while the run goes
 * on (adopted, or left by a `cellar run` on the same store), since the store outlives the process.
 *
 * @example
 * ```ts
 * import { activeRunOf } from "./active-run.ts";
 * import type { Cellar, Pipeline } from "../../kernel/mod.ts";
 * declare const cellar: Cellar;
 * declare const pipeline: Pipeline;
 *
 * const runId = await activeRunOf(cellar, pipeline, { kind: "manual", date: "2026-05-03", params: { n: "2" } });
 * ```
 */
import { type Cellar, type ParamValue, parseDate, type Pipeline, type RunRecord, RunState } from "../../kernel/mod.ts";

export interface Trigger {
  kind: "manual" | "cell";
  date: string;
  /** As the request gave them: resolved against the pipeline's defaults as a run's are. */
  params?: Record<string, unknown>;
  /** A manual run's start cell ("run from here"). */
  from?: string;
  /** A cell run's cell. */
  cell?: string;
}

/** How far back the store is read: active runs of one pipeline are few, and the newest come first. */
const LOOK_BACK = 100;

/** The id of the active run this trigger matches, or undefined (bad params or date included: starting it says why). */
export async function activeRunOf(cellar: Cellar, pipeline: Pipeline, trigger: Trigger): Promise<number | undefined> {
  let params: string;
  let at: number;
  try {
    params = canonical(pipeline.resolveParams((trigger.params ?? {}) as Record<string, ParamValue>));
    at = parseDate(trigger.date, "date").getTime();
  } catch {
    return undefined;
  }
  const { runs } = await cellar.runPage({ pipeline: pipeline.id, states: [RunState.Queued, RunState.Running], limit: LOOK_BACK });
  const same = (run: RunRecord) =>
    run.kind === trigger.kind && run.logicalDate.getTime() === at && canonical(run.params) === params &&
    (trigger.kind === "cell" ? run.options.only?.length === 1 && run.options.only[0] === trigger.cell : (run.options.from ?? null) === (trigger.from ?? null));
  return runs.find(same)?.runId;
}

/** Params as JSON with their names in order: the store may hand them back in another order than they went in. */
function canonical(params: Record<string, unknown>): string {
  return JSON.stringify(Object.keys(params).sort().map((name) => [name, params[name]]));
}
