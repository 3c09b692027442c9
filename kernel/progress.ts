/**
 * Shows what a run is doing. On a terminal: a live bar per running cell, with
 * finished cells and log lines scrolling above. Elsewhere (CI, pipes, files):
 * plain timestamped lines, progress at most every 10% or 10 s per cell.
 *
 * @example
 * ```ts
 * import type { Pipeline } from "./pipeline.ts";
 * import { showProgress } from "./progress.ts";
 * import type { Runner } from "./runner.ts";
 * import type { RunRecord } from "./run-records.ts";
 * declare const runner: Runner;
 * declare const pipeline: Pipeline;
 * declare const run: RunRecord;
 *
 * const stop = showProgress(runner);
 * await runner.execute(pipeline, run);
 * stop();
 * ```
 */
import cliProgress from "cli-progress";
import { formatDuration } from "./duration.ts";
import type { RunEvent, Runner } from "./runner.ts";
import { runtime } from "./runtime/mod.ts";
import { CellState } from "./state.ts";

const PLAIN_PROGRESS_MS = 10_000;

/** `source` is a Runner, or anything that hands out its events (the facade's, filtered). */
export function showProgress(source: Pick<Runner, "on">, options: { quiet?: boolean } = {}): () => void {
  const stream = runtime.progressStream();
  const view = stream ? terminalView(stream) : { listen: plainView(options.quiet ?? false), stop: () => {} };
  const off = source.on(view.listen);
  return () => {
    off();
    view.stop();
  };
}

function describe(event: Extract<RunEvent, { type: "cell" }>): string {
  const prefix = `run ${event.runId} ${event.cell}`;
  const took = event.ms === undefined ? "" : ` in ${formatDuration(event.ms)}`;
  switch (event.state) {
    case CellState.Running:
      return `${prefix}: running (try ${event.tryNumber})`;
    case CellState.Success:
      return `${prefix}: success${took}`;
    case CellState.Cached:
      return `${prefix}: cached (unchanged since its checkpoint)`;
    case CellState.UpForRetry:
      return `${prefix}: try ${event.tryNumber} failed${took}: ${event.error}; retrying in ${formatDuration(event.retryInMs ?? 0)}`;
    case CellState.Failed:
      return `${prefix}: failed after ${event.tryNumber} ${event.tryNumber === 1 ? "try" : "tries"}${took}: ${event.error}`;
    case CellState.UpstreamFailed:
      return `${prefix}: not run (upstream_failed)`;
    case CellState.Cancelled:
      return `${prefix}: cancelled`;
    default:
      return `${prefix}: ${event.state}`;
  }
}

function plainView(quiet: boolean): (event: RunEvent) => void {
  const lastShown = new Map<string, { at: number; fraction: number }>();
  const line = (text: string) => runtime.writeErr(`${new Date().toISOString()} ${text}\n`);
  return (event) => {
    switch (event.type) {
      case "run":
        return line(`run ${event.runId} ${event.pipeline}: ${event.state}`);
      case "cell":
        if (!quiet || event.state !== CellState.Running) line(describe(event));
        return;
      case "log":
        // A failed try's error line: the cell's line says it.
        if (event.failure) return;
        return line(`run ${event.runId} ${event.cell || "-"} [${event.level}] ${event.message}`);
      case "progress": {
        if (quiet) return;
        const key = `${event.runId}/${event.cell}`;
        const now = Date.now();
        const fraction = event.total ? event.done / event.total : 0;
        const last = lastShown.get(key);
        if (last && now - last.at < PLAIN_PROGRESS_MS && fraction - last.fraction < 0.1 && fraction < 1) return;
        lastShown.set(key, { at: now, fraction });
        const of = event.total === undefined ? "" : `/${event.total} (${Math.round(fraction * 100)}%)`;
        return line(`run ${event.runId} ${event.cell}: ${event.done}${of}`);
      }
    }
  };
}

function terminalView(stream: unknown): { listen: (event: RunEvent) => void; stop: () => void } {
  const out = stream as NodeJS.WritableStream;
  const bars = new cliProgress.MultiBar({
    stream: out,
    format: " {cell} [{bar}] {value}/{total} {duration_formatted}",
    hideCursor: true,
    clearOnComplete: true,
    autopadding: true,
    barsize: 30,
  }, cliProgress.Presets.shades_classic);
  const active = new Map<string, cliProgress.SingleBar>();
  // While bars are drawn, lines go above them; otherwise straight to the terminal.
  const say = (text: string) => (active.size > 0 ? bars.log(`${text}\n`) : out.write(`${text}\n`));
  const listen = (event: RunEvent) => {
    const key = event.type === "run" ? "" : `${event.runId}/${event.cell}`;
    switch (event.type) {
      case "run":
        return say(`run ${event.runId} ${event.pipeline}: ${event.state}`);
      case "cell": {
        const bar = active.get(key);
        if (event.state === CellState.Running) {
          if (!bar) active.set(key, bars.create(1, 0, { cell: event.cell }));
          return;
        }
        if (bar) {
          bars.remove(bar);
          active.delete(key);
          if (active.size === 0) bars.stop();
        }
        return say(describe(event));
      }
      case "log":
        if (event.failure) return;
        return say(`  ${event.cell || "-"} [${event.level}] ${event.message}`);
      case "progress": {
        const bar = active.get(key);
        if (!bar) return;
        if (event.total !== undefined) bar.setTotal(event.total);
        bar.update(event.done, { cell: event.cell });
      }
    }
  };
  return { listen, stop: () => bars.stop() };
}
