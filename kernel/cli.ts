/**
 * The `cellar` command line.
 *
 *     cellar run ingest --param maxPages=50
 *     cellar cell eval run_eval_suite
 *     cellar show 12 --json
 *
 * Exit codes: 0 success; 1 a run failed (for `cellar cell`: the cell's check
 * failed, e.g. the eval gate found a regression); 2 bad input (the message
 * names it), or for `cellar cell` a cell that errored; 130 interrupted (the
 * run can be resumed).
 *
 * The commands live in kernel/cli/, one module per group, each a thin layer
 * over the facade (kernel/cellar.ts); this module wires them up.
 */
import { Command, CommanderError } from "commander";
import { type Cli, clearStopDeadline, DEFAULT_DB, EXIT } from "./cli/command.ts";
import { inspectCommands } from "./cli/inspect.ts";
import { runCommands } from "./cli/run.ts";
import { scheduleCommands } from "./cli/schedule.ts";
import { serveCommands } from "./cli/serve.ts";
import { workersCommands } from "./cli/workers.ts";
import { workerCommands } from "./cli/worker.ts";
import { errorLine, isCellarError } from "./errors.ts";
import { runtime } from "./runtime/mod.ts";

/** Runs the CLI with `argv` (without the program name); resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = new Command("cellar")
    .description("Scheduled DAGs and GPU fan-out for RAG pipelines, as TypeScript cells")
    .option("--db <path>", `DuckDB store (default: $CELLAR_DB or ${DEFAULT_DB})`)
    .option("--token <token>", "the token of the `cellar serve` that holds the store, or the one serve requires (default: $CELLAR_TOKEN)")
    .exitOverride()
    .configureOutput({ writeOut: (s) => runtime.writeOut(s), writeErr: (s) => runtime.writeErr(s) })
    .showHelpAfterError("(cellar --help for usage)");
  const cli: Cli = {
    program,
    db: () => program.opts<{ db?: string }>().db ?? runtime.env("CELLAR_DB") ?? DEFAULT_DB,
    // The program's option takes `--token` wherever it stands, `cellar serve --token x` included.
    token: () => program.opts<{ token?: string }>().token ?? runtime.env("CELLAR_TOKEN"),
    action: (body) => async (...args) => {
      exitCode = await body(...args);
    },
  };
  // The order of `cellar --help`'s command list.
  runCommands(cli);
  scheduleCommands(cli);
  serveCommands(cli);
  workersCommands(cli);
  workerCommands(cli);
  inspectCommands(cli);

  try {
    await program.parseAsync(argv, { from: "user" });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? EXIT.ok : EXIT.badInput;
    }
    runtime.writeErr(`cellar: ${errorLine(err)}\n`);
    if (!isCellarError(err) && runtime.env("CELLAR_DEBUG")) runtime.writeErr(`${(err as Error)?.stack}\n`);
    return EXIT.badInput;
  } finally {
    clearStopDeadline();
  }
}

if (runtime.isMainModule(import.meta.url)) {
  runtime.exit(await main(runtime.args()));
}
