/**
 * Orphans: the runs a process that ended (SIGKILL, a crash, a lost machine) left unfinished, found as the
 * next process opens the store, and where each resumes. `cellar serve` adopts them at start, as Airflow's
 * scheduler adopts the task instances of a scheduler that died, so that a run triggered through the API
 * goes on after a restart without a `cellar resume`.
 *
 * Which process owns a run needs no lock file of its own: DuckDB lets one process open the file for
 * writing (store.ts names the holder's pid), so whatever that process finds still running or never
 * started when it opens the store, no live process is executing.
 *
 * @example
 * ```ts
 * import { markInterrupted } from "./run-records.ts";
 * import { orphanedRuns, resumePoint } from "./orphans.ts";
 * import type { Pipeline } from "./pipeline.ts";
 * import type { Store } from "./store/store.ts";
 * declare const store: Store;
 * declare const ingest: Pipeline;
 *
 * const orphans = await orphanedRuns(store, await markInterrupted(store));
 * for (const run of orphans) console.log(run.runId, await resumePoint(store, ingest, run)); // → 12 "embed_docs"
 * ```
 */
import type { Pipeline } from "./pipeline.ts";
import { getRun, type RunKind, type RunRecord } from "./run-records.ts";
import { CLAIMABLE_RUN_STATES, isOneOf, RunState, sqlState } from "./state.ts";
import type { Store } from "./store/store.ts";

/**
 * Kinds of run that only the process that created them executes, at once: one still queued when the store
 * opens was never started by a process that has since ended. Queued scheduled, backfill and triggered runs
 * wait for any scheduler; they are no orphans.
 */
const STARTED_AT_ONCE: readonly RunKind[] = ["manual", "cell"];

/**
 * The line a stopping server (SIGTERM: a deploy's restart) writes into the log of each run its shutdown
 * interrupted and handed over (handOver). A user's cancel hands nothing over, so that run stays interrupted
 * until resumed.
 */
export const SHUTDOWN_NOTE = "interrupted by the server's shutdown; the next cellar serve on this store resumes it";

/**
 * The orphans, oldest first: the runs `leftRunning` names (what markInterrupted found running) that are
 * still claimable, the manual and one-cell runs still queued, and the runs a server's shutdown interrupted.
 */
export async function orphanedRuns(store: Store, leftRunning: readonly number[]): Promise<RunRecord[]> {
  const queued = await store.query(
    `SELECT run_id FROM runs WHERE state = ${sqlState(RunState.Queued)} AND kind IN (${STARTED_AT_ONCE.map(() => "?").join(", ")})`,
    [...STARTED_AT_ONCE],
  );
  const ids = new Set([...leftRunning, ...queued.map((row) => Number(row.run_id)), ...(await shutdownInterrupted(store))]);
  const runs = await Promise.all([...ids].sort((a, b) => a - b).map((id) => getRun(store, id)));
  return runs.filter((run) => isOneOf(CLAIMABLE_RUN_STATES, run.state));
}

/** Interrupted runs a server's shutdown handed over (handOver), which no try has started after. */
async function shutdownInterrupted(store: Store): Promise<number[]> {
  const rows = await store.query(
    `SELECT h.run_id FROM run_handoffs h JOIN runs r USING (run_id)
     WHERE r.state = ${sqlState(RunState.Interrupted)}
       AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.run_id = h.run_id AND a.started_at > h.handed_at)`,
  );
  return rows.map((row) => Number(row.run_id));
}

/**
 * Hands an interrupted run over to the next server: it is an orphan to the next `cellar serve` until a try
 * of it starts. The caller also writes SHUTDOWN_NOTE into its log, so a user sees why it waits.
 */
export async function handOver(store: Store, runId: number): Promise<void> {
  await store.query("INSERT OR REPLACE INTO run_handoffs VALUES (?, ?::TIMESTAMPTZ)", [runId, new Date().toISOString()]);
}

/**
 * The first cell the run executes again, in the order the runner starts them: the first selected cell
 * without a checkpoint committed in this run (forced cells included: what this run computed is kept);
 * undefined when every cell has one, and resuming only ends the run.
 */
export async function resumePoint(store: Store, pipeline: Pipeline, run: RunRecord): Promise<string | undefined> {
  const rows = await store.query(`SELECT cell FROM outputs WHERE run_id = ?`, [run.runId]);
  const done = new Set(rows.map((row) => String(row.cell)));
  const { only } = run.options;
  const selected = only ? new Set(only) : undefined;
  return pipeline.validate().find((cell) => (!selected || selected.has(cell.name)) && !done.has(cell.name))?.name;
}

/** The line a server logs, and writes into the run's log, as it adopts a run. */
export function adoptionLine(run: RunRecord, resumeAt: string | undefined): string {
  const left = run.state === RunState.Queued ? "queued and never started by a process that ended" : "left by a process that ended";
  return `adopted run ${run.runId} (${run.pipeline}) ${left}; ${resumeAt ? `resuming at ${resumeAt}` : "every cell has its checkpoint; finishing it"}`;
}
