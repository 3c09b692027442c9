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
import type { Cellar } from "../cellar.ts";
import { CellarError } from "../errors.ts";
import { isPipelineId, loadPipeline } from "../loader.ts";
import { runtime } from "../runtime/mod.ts";
import { type Cli, EXIT, watched, withCellar } from "./command.ts";
import { liveServer } from "./server-file.ts";

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
      .action(cli.action(async (ref: string) => {
        const here = (cellar: Cellar): Promise<{ pipeline: string; changed: boolean }> => paused ? cellar.pause(ref) : cellar.unpause(ref);
        const { pipeline, changed } = await pauseThroughServer(cli, ref, paused) ?? await withCellar(cli, here);
        const state = paused ? "paused" : "unpaused";
        runtime.writeOut(changed ? `${pipeline}: ${state}\n` : `${pipeline}: already ${state}\n`);
        return EXIT.ok;
      }));
  }
}

/**
 * When a `cellar serve` holds the store: the pause or unpause sent through its API (its scheduler then
 * wakes at once on an unpause), instead of failing on the store's lock. Undefined when no server runs.
 */
async function pauseThroughServer(cli: Cli, ref: string, paused: boolean): Promise<{ pipeline: string; changed: boolean } | undefined> {
  const server = await liveServer(cli.db());
  if (!server) return undefined;
  const id = isPipelineId(ref) ? ref : (await loadPipeline(ref)).pipeline.id;
  const token = cli.token();
  const res = await fetch(`${server.url}/api/v1/pipelines/${encodeURIComponent(id)}/${paused ? "pause" : "unpause"}`, {
    method: "POST",
    // JSON, as the API speaks it: a body without a type reads as a form, which only a page of the server's own origin may send.
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: "{}",
  });
  const body = await res.json().catch(() => ({})) as { pipeline?: string; changed?: boolean; error?: string };
  if (!res.ok) throw new CellarError(`${server.url}: ${body.error ?? `${res.status} ${res.statusText}`}`);
  return { pipeline: String(body.pipeline), changed: Boolean(body.changed) };
}
