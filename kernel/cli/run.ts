/**
 * The commands that execute runs: `cellar run`, `resume`, `cell`,
 * `backfill` and `cancel`, each a thin layer over the facade's method of that
 * name, or, when a `cellar serve` holds the store, over its API (remote.ts).
 *
 * @example
 * ```ts
 * import type { Cli } from "./command.ts";
 * import { runCommands } from "./run.ts";
 * declare const cli: Cli;
 *
 * runCommands(cli); // cellar run ingest --param maxPages=50
 * ```
 */
import { parseReprocess } from "../backfill-plan.ts";
import { CellarError } from "../errors.ts";
import type { RunResult } from "../runner.ts";
import { type Cli, EXIT, exitFor, paramOption, READ_ONLY, watched, withCellar } from "./command.ts";
import { backfillExit, cellExit } from "./format.ts";
import { remoteFor } from "./remote.ts";
import { ENDED_RUN_STATES, isOneOf } from "../state.ts";
import { runtime } from "../runtime/mod.ts";

export function runCommands(cli: Cli): void {
  cli.program.command("run")
    .description("run a pipeline once now (resumes its interrupted run with the same params, if any)")
    .argument("<pipeline>", "pipeline id (pipelines/<id>.ts) or file")
    .addOption(paramOption())
    .option("--date <logical-date>", "logical date of the run (default: now)")
    .option("--no-cache", "recompute every cell")
    .option("--from <cell>", "recompute this cell and everything downstream")
    .option("--new", "always start a new run, even if an interrupted one could be resumed")
    .action(cli.action(async (ref: string, opts: { param: Record<string, string>; date?: string; cache: boolean; from?: string; new?: boolean }) => {
      const request = { params: opts.param, date: opts.date, cache: opts.cache, from: opts.from, new: opts.new };
      const remote = await remoteFor(cli);
      if (remote) return exitFor(await remote.run(ref, request));
      return await withCellar(cli, async (cellar) => exitFor(await watched(cellar, () => cellar.run(ref, request))));
    }));

  cli.program.command("resume")
    .description("resume an interrupted or failed run: completed cells are kept, the rest run")
    .argument("<run-id>", "run id (see cellar runs)")
    .action(cli.action(async (id: string) =>
      await withCellar(cli, async (cellar) => exitFor(await watched(cellar, () => cellar.resume(id))))
    ));

  cli.program.command("cell")
    .description("run one cell, its inputs taken from the latest checkpoints of its upstream cells (like airflow tasks test)")
    .argument("<pipeline>", "pipeline id or file")
    .argument("<cell>", "cell name")
    .addOption(paramOption())
    .option("--date <logical-date>", "logical date (default: now)")
    .action(cli.action(async (ref: string, cellName: string, opts: { param: Record<string, string>; date?: string }) => {
      const request = { params: opts.param, date: opts.date };
      const remote = await remoteFor(cli);
      if (remote) return cellExit(cellName, await remote.cell(ref, cellName, request));
      return await withCellar(cli, async (cellar) => cellExit(cellName, await watched(cellar, () => cellar.cell(ref, cellName, request))));
    }));
  backfillCommand(cli);
  cancelCommand(cli);
}

function backfillCommand(cli: Cli): void {
  cli.program.command("backfill")
    .description("create and run the scheduled runs whose logical dates fall in [from, to]")
    .argument("<pipeline>", "pipeline id or file")
    .requiredOption("--from <date>", "first logical date (inclusive)")
    .requiredOption("--to <date>", "last logical date (inclusive)")
    .option("--reprocess <which>", "dates that have a run: none (skip them), failed (run again those whose latest run did not succeed; the default), all (run each anew, recomputing every cell)")
    .action(cli.action(async (ref: string, opts: { from: string; to: string; reprocess?: string }) => {
      const range = { from: opts.from, to: opts.to, reprocess: parseReprocess(opts.reprocess) };
      const remote = await remoteFor(cli);
      if (remote) {
        const { ended, cancelled } = await remote.backfill(ref, range);
        return backfillExit([...ended].map(([runId, state]) => ({ runId, state })), cancelled);
      }
      return await withCellar(cli, async (cellar) => {
        let worst: number = EXIT.ok;
        const onResult = (run: RunResult) => (worst = Math.max(worst, exitFor(run)));
        const result = await watched(cellar, () => cellar.backfill(ref, { ...range, onResult }), { quiet: true });
        return result.cancelled ? EXIT.interrupted : worst;
      });
    }));
}

function cancelCommand(cli: Cli): void {
  cli.program.command("cancel")
    .description("cancel a run that a running `cellar serve` executes: its running cells stop, and it stays resumable")
    .argument("<run-id>", "run id (see cellar runs)")
    .action(cli.action(async (id: string) => {
      const remote = await remoteFor(cli);
      if (remote) {
        await remote.cancel(id);
        runtime.writeOut(`run ${id}: cancelling its running cells; resume it with: cellar resume ${id}\n`);
        return EXIT.ok;
      }
      return await withCellar(cli, async (cellar) => {
        const { run } = await cellar.show(id);
        if (isOneOf(ENDED_RUN_STATES, run.state)) throw new CellarError(`run ${run.runId} has already ended (${run.state}); nothing to cancel`);
        // This process holds the store: no other executes the run. A run is cancelled by a signal to its `cellar run`.
        throw new CellarError(`run ${run.runId} is ${run.state}, and no server on ${cellar.path} executes it; nothing to cancel`);
      }, READ_ONLY);
    }));
}
