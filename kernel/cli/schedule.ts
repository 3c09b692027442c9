/**
 * `cellar schedule`: the scheduler in the foreground, over the facade's
 * schedule(); `cellar pause` and `cellar unpause`: a pipeline's schedule
 * stopped and started again (with catchup, the missed intervals then run).
 *
 * @example
 * ```ts
 * import type { Cli } from "./command.ts";
 * import { scheduleCommands } from "./schedule.ts";
 * declare const cli: Cli;
 *
 * scheduleCommands(cli); // cellar schedule ingest eval --once
 * ```
 */
import { runtime } from "../runtime/mod.ts";
import { type Cli, EXIT, watched, withCellar } from "./command.ts";

export function scheduleCommands(cli: Cli): void {
  cli.program.command("schedule")
    .description("run the scheduler in the foreground until interrupted")
    .argument("[pipelines...]", "pipeline ids or files (default: every scheduled pipeline in pipelines/)")
    .option("--once", "create the due runs, run them, and exit")
    .action(cli.action(async (refs: string[], opts: { once?: boolean }) =>
      await withCellar(cli, async (cellar) => {
        const result = await watched(cellar, () => cellar.schedule(refs, { once: opts.once }));
        return result.cancelled && opts.once ? EXIT.interrupted : EXIT.ok;
      })
    ));
  for (const paused of [true, false]) {
    cli.program.command(paused ? "pause" : "unpause")
      .description(paused ? "pause a pipeline's schedule: no scheduled run of it until unpaused" : "unpause a pipeline's schedule; with catchup, the intervals missed meanwhile run")
      .argument("<pipeline>", "pipeline id or file")
      .action(cli.action(async (ref: string) =>
        await withCellar(cli, async (cellar) => {
          const { pipeline, changed } = paused ? await cellar.pause(ref) : await cellar.unpause(ref);
          const state = paused ? "paused" : "unpaused";
          runtime.writeOut(changed ? `${pipeline}: ${state}\n` : `${pipeline}: already ${state}\n`);
          return EXIT.ok;
        })
      ));
  }
}
