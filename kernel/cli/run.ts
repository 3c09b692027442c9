/**
 * The commands that execute runs: `cellar run`, `resume`, `cell` and
 * `backfill`, each a thin layer over the facade's method of that name.
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
import type { RunResult } from "../runner.ts";
import { type Cli, EXIT, exitFor, paramOption, watched, withCellar } from "./command.ts";
import { RunState } from "../state.ts";
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
    .action(cli.action(async (ref: string, opts: { param: Record<string, string>; date?: string; cache: boolean; from?: string; new?: boolean }) =>
      await withCellar(cli, async (cellar) => {
        const request = { params: opts.param, date: opts.date, cache: opts.cache, from: opts.from, new: opts.new };
        return exitFor(await watched(cellar, () => cellar.run(ref, request)));
      })
    ));

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
    .action(cli.action(async (ref: string, cellName: string, opts: { param: Record<string, string>; date?: string }) =>
      await withCellar(cli, async (cellar) => {
        const result = await watched(cellar, () => cellar.cell(ref, cellName, { params: opts.param, date: opts.date }));
        if (result.outputs.has(cellName)) runtime.writeOut(`${JSON.stringify(result.outputs.get(cellName), null, 2)}\n`);
        if (result.state !== RunState.Failed) return exitFor(result);
        // CI's contract: 1 when the cell's check failed (a regression), 2 when the cell could not do its work.
        return result.checkFailed ? EXIT.failed : EXIT.error;
      })
    ));

  cli.program.command("backfill")
    .description("create and run the scheduled runs whose logical dates fall in [from, to]")
    .argument("<pipeline>", "pipeline id or file")
    .requiredOption("--from <date>", "first logical date (inclusive)")
    .requiredOption("--to <date>", "last logical date (inclusive)")
    .action(cli.action(async (ref: string, opts: { from: string; to: string }) =>
      await withCellar(cli, async (cellar) => {
        let worst: number = EXIT.ok;
        const onResult = (run: RunResult) => (worst = Math.max(worst, exitFor(run)));
        const result = await watched(cellar, () => cellar.backfill(ref, { ...opts, onResult }), { quiet: true });
        return result.cancelled ? EXIT.interrupted : worst;
      })
    ));

}
