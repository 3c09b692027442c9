/**
 * What every `cellar` command module shares: exit codes, the store path, the
 * facade opened per command, progress and signals around a run, and plain
 * tables.
 *
 * @example
 * ```ts
 * import { type Cli, EXIT, READ_ONLY, withCellar } from "./command.ts";
 * declare const cli: Cli;
 *
 * cli.program.command("count").argument("<pipeline>").action(cli.action(async (id: string) =>
 *   await withCellar(cli, async (cellar) => {
 *     console.log((await cellar.runs(id)).length);
 *     return EXIT.ok;
 *   }, READ_ONLY)
 * ));
 * ```
 */
import Table from "cli-table3";
import { Option } from "commander";
import type { Command } from "commander";
import { type Cellar, type CellarEvent, openCellar } from "../cellar.ts";
import { CellarError } from "../errors.ts";
import { showProgress } from "../progress.ts";
import type { RunEvent, RunResult } from "../runner.ts";
import { runtime } from "../runtime/mod.ts";
import { RunState } from "../state.ts";

export const DEFAULT_DB = ".cellar/cellar.duckdb";

export const EXIT = { ok: 0, failed: 1, badInput: 2, error: 2, interrupted: 130 } as const;

/** withCellar's option for commands that only read: a mistyped --db must not create a store. */
export const READ_ONLY = { create: false } as const;

/** After a first SIGINT/SIGTERM, the process ends within this, whatever a cell is blocked on. */
const STOP_DEADLINE_MS = 8_000;
let stopDeadline: ReturnType<typeof setTimeout> | undefined;

/** What main() hands each command module. */
export interface Cli {
  program: Command;
  /** The store: --db, else $CELLAR_DB, else the default. */
  db(): string;
  /** The bearer token: --token, else $CELLAR_TOKEN. */
  token(): string | undefined;
  /** Wraps a command body: its resolved number becomes the process's exit code. */
  action<A extends unknown[]>(body: (...args: A) => Promise<number>): (...args: A) => Promise<void>;
}

/** Opens the facade over the command's store for `body`, and closes it after. */
export async function withCellar<T>(cli: Cli, body: (cellar: Cellar) => Promise<T>, options: { create?: boolean } = {}): Promise<T> {
  const cellar = openCellar({ db: cli.db(), ...options });
  try {
    return await body(cellar);
  } finally {
    await cellar.close();
  }
}

/** Runs `body` with progress and the facade's notices shown, and SIGINT/SIGTERM turned into a clean, resumable stop. */
export async function watched<T>(cellar: Cellar, body: () => Promise<T>, options: { quiet?: boolean } = {}): Promise<T> {
  const runEvents = { on: (listener: (event: RunEvent) => void) => cellar.on((e) => isRunEvent(e) && listener(e)) };
  const stop = showProgress(runEvents, { quiet: options.quiet ?? false });
  const off = cellar.on(printNotice);
  const unsignal = cancelOnSignals(cellar);
  try {
    return await body();
  } finally {
    unsignal();
    off();
    stop();
  }
}

function isRunEvent(event: CellarEvent): event is RunEvent {
  return event.type === "run" || event.type === "cell" || event.type === "progress" || event.type === "log";
}

/** The facade's own notices, as the CLI words them. */
export function printNotice(event: CellarEvent): void {
  switch (event.type) {
    case "resuming":
      // A queued run was created by a `cellar run` that ended before starting it: nothing of it ran to resume.
      return runtime.writeErr(
        event.state === RunState.Queued
          ? `starting run ${event.runId} (queued, never started: the process that created it ended first); pass --new for a fresh run\n`
          : `resuming run ${event.runId} (interrupted); pass --new for a fresh run\n`,
      );
    case "backfill":
      if (event.notEnded > 0) {
        runtime.writeErr(`backfill ${event.pipeline}: ${event.notEnded} interval(s) in the range have not ended yet and are left to the scheduler\n`);
      }
      return;
    case "backfill-created":
      return runtime.writeErr(`backfill ${event.pipeline}: ${event.intervals} intervals, ${event.created} new runs\n`);
    case "scheduling":
      return runtime.writeErr(`scheduling ${event.pipelines.join(", ")} on ${event.db}\n`);
  }
}

function cancelOnSignals(cellar: Cellar): () => void {
  return stopOnSignals(() => {
    runtime.writeErr("stopping: cancelling running cells (again to exit at once)\n");
    // Nothing executing yet (the pipeline still loading): end as the signal's default would.
    if (!cellar.cancel(undefined, "interrupted by signal")) runtime.terminate();
  });
}

/**
 * Calls `stop` on the first SIGINT/SIGTERM; returns a function that removes the handlers. A second signal
 * ends the process at once, and so does a stop still going STOP_DEADLINE_MS after the first.
 */
export function stopOnSignals(stop: () => void): () => void {
  let signals = 0;
  const handler = () => {
    signals++;
    if (signals === 1) {
      stop();
      // Cells that ignore their signal are abandoned after 5 s, the run is marked interrupted and the store
      // closed; should any of that hang, end anyway (the store's lock dies with the process, and its next
      // open marks the run interrupted).
      stopDeadline ??= setTimeout(() => {
        runtime.writeErr(`cellar: still stopping ${STOP_DEADLINE_MS / 1000} s after the signal; exiting now\n`);
        runtime.terminate();
      }, STOP_DEADLINE_MS);
    } else {
      // Asked twice: no more waiting for cells. The run is marked interrupted when the store is next opened.
      runtime.terminate();
    }
  };
  const offs = [runtime.onSignal("SIGINT", handler), runtime.onSignal("SIGTERM", handler)];
  return () => offs.forEach((off) => off());
}

/** main()'s last step: a deadline set by a signal must not outlive the command. */
export function clearStopDeadline(): void {
  clearTimeout(stopDeadline);
  stopDeadline = undefined;
}

/** The exit code for a run's state, saying how to resume an interrupted run. */
export function exitFor(result: Pick<RunResult, "runId" | "state">): number {
  if (result.state === RunState.Success) return EXIT.ok;
  if (result.state === RunState.Interrupted) {
    runtime.writeErr(`run ${result.runId} interrupted; resume it with: cellar resume ${result.runId}\n`);
    return EXIT.interrupted;
  }
  return EXIT.failed;
}

/** `--param k=v`, repeatable, collected into an object. */
export function paramOption(): Option {
  return new Option("--param <key=value>", "set a pipeline param (repeatable)")
    .argParser((value: string, previous: Record<string, string> = {}) => {
      const eq = value.indexOf("=");
      if (eq <= 0) throw new CellarError(`--param ${value}: expected key=value`);
      return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
    })
    .default({}, "none");
}

/** A plain table: no colours, which would only be escape codes in logs and pipes. */
export function table(head: string[], options: Partial<Table.TableConstructorOptions> = {}): Table.Table {
  return new Table({ head, style: { head: [], border: [] }, ...options });
}
