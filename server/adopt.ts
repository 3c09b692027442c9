/**
 * What `cellar serve` does at start with the runs a process that ended left unfinished (kernel/orphans.ts):
 * it adopts them, as Airflow's scheduler adopts a dead scheduler's task instances, so that a run triggered
 * through the API before a SIGKILL goes on by itself after the restart, with the same run id, from the first
 * cell without a durable checkpoint. One line per orphan says what became of it, in the server's output and
 * in the run's own log (which the UI and GET /api/v1/runs/{id} show). A run this server's own SIGTERM
 * interrupted (a deploy's restart) is one too: serve.ts's close() marks it (kernel/orphans.ts SHUTDOWN_NOTE);
 * one a user cancelled is not, and stays interrupted.
 *
 * - A scheduled, backfill or triggered run of a pipeline this server schedules is left to the scheduler, which
 *   claims interrupted runs as it claims queued ones, within the pipeline's maxActiveRuns.
 * - Any other (a manual or one-cell run, or any run when the server does not schedule) is claimed and resumed here.
 * - A run of a paused pipeline is not adopted, as Airflow runs no task of a paused DAG: pausing says run nothing
 *   of it by itself. A scheduled one resumes when the pipeline is unpaused; a manual one with `cellar resume`.
 * - A run of a pipeline this server does not serve, or started from another file than the one served, is left
 *   interrupted for `cellar resume`.
 *
 * @example
 * ```ts
 * import type { Cellar } from "../kernel/mod.ts";
 * import type { WatchedRegistry } from "./pipelines.ts";
 * import { adoptOrphans } from "./adopt.ts";
 * declare const cellar: Cellar;
 * declare const registry: WatchedRegistry;
 *
 * for (const line of await adoptOrphans(cellar, registry, { scheduling: true })) console.log(line);
 * ```
 */
import { type Cellar, errorLine, type Pipeline, type RunKind, type RunRecord, serverRuntime as runtime } from "../kernel/mod.ts";
import type { PipelineRegistry } from "./deps.ts";

/** The kinds of run a scheduler starts (scheduler.ts startQueuedRuns). */
const SCHEDULER_KINDS: readonly RunKind[] = ["scheduled", "backfill", "triggered"];

/** Adopts every orphan it may; resolves, once each is claimed (its cells go on), to one line per orphan. */
export async function adoptOrphans(cellar: Cellar, registry: PipelineRegistry, options: { scheduling: boolean }): Promise<string[]> {
  const orphans = await cellar.orphans();
  if (orphans.length === 0) return [];
  const paused = await cellar.paused([...new Set(orphans.map((run) => run.pipeline))]);
  const lines: string[] = [];
  for (const run of orphans) {
    try {
      lines.push(await adoptOne(cellar, registry, run, { ...options, paused: paused.has(run.pipeline) }));
    } catch (err) {
      lines.push(`run ${run.runId} (${run.pipeline}) left by a process that ended: not adopted, ${errorLine(err)}; resume it with cellar resume ${run.runId}`);
    }
  }
  return lines;
}

async function adoptOne(
  cellar: Cellar,
  registry: PipelineRegistry,
  run: RunRecord,
  options: { scheduling: boolean; paused: boolean },
): Promise<string> {
  const refusal = whyNot(registry, run, options.paused);
  if (refusal) {
    const line = `run ${run.runId} (${run.pipeline}) left by a process that ended: not adopted, ${refusal}`;
    await cellar.note(run.runId, line, "warn");
    return line;
  }
  const pipeline = registry.get(run.pipeline)!;
  const start = !(options.scheduling && scheduled(pipeline) && SCHEDULER_KINDS.includes(run.kind));
  const adoption = await cellar.adopt(run, pipeline, { start });
  if (!adoption) return `run ${run.runId} (${run.pipeline}) left by a process that ended: claimed by another meanwhile`;
  // Its end is in the store and the run's events; nobody awaits it here.
  void adoption.done?.catch((err) => runtime.writeErr(`cellar serve: adopted run ${run.runId} could not be executed: ${errorLine(err)}\n`));
  return start ? adoption.line : `${adoption.line} (its scheduler starts it)`;
}

/** Why this server leaves the orphan alone; undefined when it adopts it. */
function whyNot(registry: PipelineRegistry, run: RunRecord, paused: boolean): string | undefined {
  const pipeline = registry.get(run.pipeline);
  if (!pipeline) return `this server serves no pipeline "${run.pipeline}"; resume it with cellar resume ${run.runId}`;
  const served = registry.fileOf?.(run.pipeline);
  const source = run.options.source;
  if (source !== undefined && served !== undefined && runtime.resolve(source) !== runtime.resolve(served)) {
    return `it was started from ${source}, not the file served (${served}); resume it with cellar resume ${run.runId}`;
  }
  if (paused) {
    const later = scheduled(pipeline) && SCHEDULER_KINDS.includes(run.kind) ? "it resumes once unpaused" : `resume it with cellar resume ${run.runId}`;
    return `pipeline "${run.pipeline}" is paused (nothing of a paused pipeline starts by itself); ${later}`;
  }
  return undefined;
}

function scheduled(pipeline: Pipeline): boolean {
  return pipeline.timetable !== undefined || pipeline.triggers.length > 0;
}
