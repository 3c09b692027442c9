/**
 * Every state a run, a cell or a stored attempt can be in, in one place, with
 * who sets it and what it means (the model is Airflow's airflow/utils/state.py);
 * the named sets of states the kernel tests for; and the transitions allowed
 * between them, one table each, shared by the runner (which asserts them) and
 * the tests (which check what the runner does against them).
 *
 * The strings are what the store holds and the CLI prints: they never change.
 * Elsewhere in the kernel a state is written as `RunState.Success`,
 * `CellState.UpForRetry`, …, never as a quoted literal (test/state.test.ts).
 *
 * @example
 * ```ts
 * import { ENDED_RUN_STATES, isOneOf, RunState } from "./state.ts";
 *
 * const state: RunState = RunState.Failed;
 * isOneOf(ENDED_RUN_STATES, state); // → true: a trigger judges this run
 * ```
 */

/** A run's state: the `state` column of the `runs` table, and the `run` events of the runner. */
export const RunState = {
  /** Set when the run is created (run-records.ts: manual, scheduled, backfill and triggered runs): it waits for a runner. */
  Queued: "queued",
  /** Set by the scheduler's claim (run-records.ts `claimRun`) and by the runner as it starts the run: cells are executing. */
  Running: "running",
  /** Set by the runner at the end: every selected cell succeeded or was served from cache. */
  Success: "success",
  /** Set by the runner at the end when a cell failed or was upstream_failed, or by the scheduler when the runner could not execute the run at all. */
  Failed: "failed",
  /** Set by the runner when it was cancelled (SIGINT, SIGTERM) before every cell ended, and at store open (`markInterrupted`) for a run a dead process left running: resumable. */
  Interrupted: "interrupted",
} as const;
export type RunState = (typeof RunState)[keyof typeof RunState];

/** A cell's state within one execution of a run: the runner's bookkeeping, its `cell` events and `RunResult.cells`. */
export const CellState = {
  /** Set by the runner when the execution starts, for a cell with no checkpoint to keep: it waits for its upstreams. */
  Waiting: "waiting",
  /** Set by the runner as a try starts executing the cell's code. */
  Running: "running",
  /** Set by the runner when a try failed with a retryable error and tries remain: it sleeps out the retry delay. */
  UpForRetry: "up_for_retry",
  /** Set by the runner when a try's output is checkpointed, or at the start for a cell whose checkpoint the run keeps. */
  Success: "success",
  /** Set by the runner when a checkpoint of an earlier run with the same code, inputs and reads stands in for the cell. */
  Cached: "cached",
  /** Set by the runner when the last try failed, or a try failed with an error another try cannot help. */
  Failed: "failed",
  /** Set by the runner, without executing the cell, when an upstream did not succeed and its trigger rule is all_success. */
  UpstreamFailed: "upstream_failed",
  /** Set by the runner when it was cancelled while the cell ran, slept before a retry, or had not started: resuming runs it. */
  Cancelled: "cancelled",
} as const;
export type CellState = (typeof CellState)[keyof typeof CellState];

/** A stored attempt's state: the `state` column of the `attempts` table, one row per try, shown by `cellar show`. */
export const AttemptState = {
  /** Written by the runner as a try starts; left behind only by a process that died during the try. */
  Running: CellState.Running,
  /** Written by the runner once the try's output is checkpointed (the `outputs` row is the truth, see report.ts). */
  Success: CellState.Success,
  /** Written by the runner, with no code executed, when the cell was served from an earlier run's checkpoint. */
  Cached: CellState.Cached,
  /** Written by the runner when the try threw, timed out or was abandoned; retried or not, the row keeps its error. */
  Failed: CellState.Failed,
  /** Written by the runner (try 0, never started) for a cell skipped because an upstream did not succeed. */
  UpstreamFailed: CellState.UpstreamFailed,
  /** Written by the runner when the try was stopped by the runner's cancellation. */
  Cancelled: CellState.Cancelled,
  /** Written at store open (run-records.ts `markInterrupted`) over a try a dead process left running. */
  Interrupted: RunState.Interrupted,
} as const;
export type AttemptState = (typeof AttemptState)[keyof typeof AttemptState];

/** How a trigger's judgement of one end of a run came out: `result` in `cellar_triggers.evaluations` (schema.ts). */
export const TriggerResult = {
  /** Set by the scheduler when the trigger's `when` held: it created the triggered run. */
  Fired: "fired",
  /** Set by the scheduler when the trigger's `when` returned false (or, without `when`, the run did not succeed). */
  NotMet: "not_met",
  /** Set by the scheduler when the trigger's `when` or `params` threw or hung: nothing fired. */
  Failed: RunState.Failed,
  /** Set by run-records.ts when the trigger held but an earlier end of the same run had already fired its triggered run. */
  AlreadyFired: "already_fired",
} as const;
export type TriggerResult = (typeof TriggerResult)[keyof typeof TriggerResult];

/** How a `ctx.map` chunk's try came out: the `state` label of `cellar_map_chunks_total` and the counts of a `chunks` event. */
export const ChunkState = {
  /** Set by compute/map.ts when a chunk returned its results. */
  Done: "done",
  /** Set by compute/map.ts when a chunk failed its last try (or a try that no retry could help): the map fails. */
  Failed: AttemptState.Failed,
  /** Set by compute/map.ts when a chunk's try failed and the chunk is tried again. */
  Retried: "retried",
} as const;
export type ChunkState = (typeof ChunkState)[keyof typeof ChunkState];

/** Where one delivery of a remote chunk got to: the `state` of its try record (kernel/remote/protocol.ts). */
export const ChunkTryState = {
  /** Set by a worker when a delivery of the chunk reached it and it started the task. */
  Running: AttemptState.Running,
  /** Set by a worker when the task threw (or returned the wrong shape) on this delivery. */
  Failed: AttemptState.Failed,
  /** Set by a worker that will not run the chunk: its code version of the task's module differs from the chunk's. */
  Refused: "refused",
  /** Set by a worker that finished the chunk but lost the first-writer-wins create: its copy was discarded. */
  Duplicate: "duplicate",
} as const;
export type ChunkTryState = (typeof ChunkTryState)[keyof typeof ChunkTryState];

/** A remote kernel's state as the server's worker registry (server/workers.ts) sees it: the `state` label of `cellar_workers`. */
export const WorkerState = {
  /** Set by the registry when a worker joins, and again on each heartbeat: it takes chunks. */
  Alive: "alive",
  /** Set by the registry when a worker missed three heartbeats in a row; its next heartbeat makes it alive again. */
  Lost: "lost",
  /** Set by the registry when `cellar workers revoke` withdrew its credential: it can neither heartbeat nor join under its name again. */
  Revoked: "revoked",
} as const;
export type WorkerState = (typeof WorkerState)[keyof typeof WorkerState];

// ---- Named sets ------------------------------------------------------------------------------------------------

/** Runs that have ended, as a trigger sees them: what it judges, and what `runOutcome` reads. */
export const ENDED_RUN_STATES = [RunState.Success, RunState.Failed] as const satisfies readonly RunState[];
export type EndedRunState = (typeof ENDED_RUN_STATES)[number];

/** Runs a scheduler may claim and start: new ones, and ones a stop or a crash interrupted. */
export const CLAIMABLE_RUN_STATES = [RunState.Queued, RunState.Interrupted] as const satisfies readonly RunState[];

/** Runs that `cellar run` resumes instead of starting a new run (same params and date). `cellar resume` also takes failed ones. */
export const RESUMABLE_RUN_STATES = [RunState.Interrupted] as const satisfies readonly RunState[];

/** Cells that have settled: their dependents may start (and see whether they succeeded). */
export const SETTLED_CELL_STATES = [
  CellState.Success,
  CellState.Cached,
  CellState.Failed,
  CellState.UpstreamFailed,
] as const satisfies readonly CellState[];

/** Cells that succeeded, one way or the other: what the all_success trigger rule asks of every upstream. */
export const SUCCEEDED_CELL_STATES = [CellState.Success, CellState.Cached] as const satisfies readonly CellState[];

/** Cells that make their run fail. */
export const FAILED_CELL_STATES = [CellState.Failed, CellState.UpstreamFailed] as const satisfies readonly CellState[];

/** Cells that, once the runner is cancelled, leave their run interrupted rather than ended. */
export const UNFINISHED_CELL_STATES = [CellState.Cancelled, CellState.Waiting] as const satisfies readonly CellState[];

/** Cells that hold no slot any more: the settled ones, and cancelled ones (whose dependents do not start). */
export const ENDED_CELL_STATES = [...SETTLED_CELL_STATES, CellState.Cancelled] as const satisfies readonly CellState[];

/** True when `state` is one of `states`; narrows it to their type. */
export function isOneOf<S extends string>(states: readonly S[], state: string): state is S {
  return (states as readonly string[]).includes(state);
}

// ---- Transitions ----------------------------------------------------------------------------------------------

/** From each state, the states that may follow it: `[]` for a final state. */
export type Transitions<S extends string> = Readonly<Record<S, readonly S[]>>;

/** The state a new run is created in. */
export const INITIAL_RUN_STATES = [RunState.Queued] as const satisfies readonly RunState[];

/**
 * A run's life. Writing the state a run is already in (the runner marking a
 * run the scheduler just claimed as running) is no transition. The runner
 * asserts the end of each run it executes; its start follows whichever record
 * its caller hands it (claimed, resumed), which the callers choose by the sets above.
 */
export const RUN_TRANSITIONS: Transitions<RunState> = {
  [RunState.Queued]: [RunState.Running],
  [RunState.Running]: [RunState.Success, RunState.Failed, RunState.Interrupted],
  // `cellar resume` refuses a run that succeeded.
  [RunState.Success]: [],
  // `cellar resume` runs the cells that did not succeed.
  [RunState.Failed]: [RunState.Running],
  // Resumed by `cellar resume`, `cellar run` or the scheduler.
  [RunState.Interrupted]: [RunState.Running],
};

/** The states a cell starts an execution of its run in: waiting, or success when the run keeps its checkpoint. */
export const INITIAL_CELL_STATES = [CellState.Waiting, CellState.Success] as const satisfies readonly CellState[];

/**
 * A cell's life within one execution of its run; a resumed run is a new
 * execution, whose cells start again from INITIAL_CELL_STATES. The runner
 * asserts every move (runner.ts `Execution.move`).
 */
export const CELL_TRANSITIONS: Transitions<CellState> = {
  [CellState.Waiting]: [CellState.Running, CellState.Cached, CellState.UpstreamFailed, CellState.Cancelled],
  [CellState.Running]: [CellState.Success, CellState.UpForRetry, CellState.Failed, CellState.Cancelled],
  [CellState.UpForRetry]: [CellState.Running, CellState.Cancelled],
  [CellState.Success]: [],
  [CellState.Cached]: [],
  [CellState.Failed]: [],
  [CellState.UpstreamFailed]: [],
  [CellState.Cancelled]: [],
};

/** The states an attempt row is first written in. */
export const INITIAL_ATTEMPT_STATES = [
  AttemptState.Running,
  AttemptState.Cached,
  AttemptState.UpstreamFailed,
] as const satisfies readonly AttemptState[];

/** A stored attempt's life: only a running try changes, once. */
export const ATTEMPT_TRANSITIONS: Transitions<AttemptState> = {
  [AttemptState.Running]: [AttemptState.Success, AttemptState.Failed, AttemptState.Cancelled, AttemptState.Interrupted],
  [AttemptState.Success]: [],
  [AttemptState.Cached]: [],
  [AttemptState.Failed]: [],
  [AttemptState.UpstreamFailed]: [],
  [AttemptState.Cancelled]: [],
  [AttemptState.Interrupted]: [],
};

/** True when `table` lets `to` follow `from`. */
export function canTransition<S extends string>(table: Transitions<S>, from: S, to: S): boolean {
  return table[from]?.includes(to) ?? false;
}

/** Throws when `table` does not let `to` follow `from`: a kernel bug, named after `what` ("cell \"embed\""). */
export function assertTransition<S extends string>(table: Transitions<S>, from: S, to: S, what: string): void {
  if (!canTransition(table, from, to)) throw new Error(`kernel bug: ${what} went from ${from} to ${to}, which the transition table does not allow`);
}

// ---- SQL ------------------------------------------------------------------------------------------------------

/** A state as a SQL string literal, for SQL text that names a state. */
export function sqlState(state: RunState | AttemptState): string {
  return `'${state}'`;
}

/** States as a SQL list of string literals, for `state IN (…)`. */
export function sqlStates(states: readonly (RunState | AttemptState)[]): string {
  return states.map(sqlState).join(", ");
}
