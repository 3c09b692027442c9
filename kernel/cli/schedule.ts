/**
 * `cellar schedule`: the scheduler in the foreground, over the facade's
 * schedule().
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
}
