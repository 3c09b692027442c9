/**
 * How the commands that read or execute runs print them: the run list, a run's cells, its log lines and a
 * one-cell run's output and exit code. Shared by the local commands and by remote.ts, which prints what a
 * running `cellar serve` answers the same way.
 *
 * @example
 * ```ts
 * import { logLineText } from "./format.ts";
 * import type { LogLine } from "../report.ts";
 * declare const line: LogLine;
 *
 * logLineText(line); // → "2026-05-01T00:00:00.000Z greet #1 [info] hi\n"
 * ```
 */
import type { CellReason } from "../cache-reason.ts";
import { formatDuration } from "../duration.ts";
import type { LogLine, RunDetail } from "../report.ts";
import type { RunRecord } from "../run-records.ts";
import type { RunResult } from "../runner.ts";
import { runtime } from "../runtime/mod.ts";
import { RunState } from "../state.ts";
import { EXIT, exitFor, table } from "./command.ts";

export function runsTable(runs: RunRecord[], id: string, db: string): string {
  if (runs.length === 0) return `no runs of "${id}" in ${db}\n`;
  const grid = table(["run", "kind", "logical date", "state", "started", "took"]);
  for (const r of runs) {
    grid.push([
      r.runId, r.triggeredBy ? `triggered (${r.triggeredBy.pipeline} run ${r.triggeredBy.runId})` : r.kind, r.logicalDate.toISOString(), r.state, r.startedAt?.toISOString() ?? "",
      r.startedAt && r.endedAt ? formatDuration(+r.endedAt - +r.startedAt) : "",
    ]);
  }
  return `${grid.toString()}\n`;
}

export function runText({ run, cells }: RunDetail): string {
  const head = `run ${run.runId} of ${run.pipeline} (${run.kind}) — ${run.state}\n` +
    (run.triggeredBy ? `triggered by ${run.triggeredBy.pipeline} run ${run.triggeredBy.runId}\n` : "") +
    `logical date ${run.logicalDate.toISOString()}, interval ${run.interval.start.toISOString()} → ${run.interval.end.toISOString()}\n` +
    `params ${JSON.stringify(run.params)}\n`;
  const grid = table(["cell", "state", "why", "tries", "took", "cpu", "costs", "error"], {
    wordWrap: true,
    colWidths: [null, null, null, null, null, null, 28, 48] as number[],
  });
  for (const c of cells) {
    grid.push([
      c.cell, c.cachedFrom ? `cached (run ${c.cachedFrom})` : c.state, whyText(c.cacheReason), c.tries,
      c.durationMs === null ? "" : formatDuration(c.durationMs), c.cpuMs === null ? "" : formatDuration(c.cpuMs),
      Object.entries(c.costs).map(([k, v]) => `${k} ${round(v)}`).join(", "), c.error ?? "",
    ]);
  }
  return `${head}${grid.toString()}\n`;
}

/** A cell's cache reason in a table cell: the reason, and its detail when that is short (an interval is not). */
function whyText(reason: CellReason | null): string {
  if (!reason) return "";
  return reason.detail && reason.detail.length <= 24 ? `${reason.reason} (${reason.detail})` : reason.reason;
}

export function logLineText(line: LogLine): string {
  return `${line.ts.toISOString()} ${line.cell} #${line.tryNumber} [${line.level}] ${line.message}\n`;
}

/** `cellar cell`'s end: the cell's output, if it left one, on stdout; the exit code. */
export function cellExit(cellName: string, result: Pick<RunResult, "runId" | "state" | "outputs"> & { checkFailed: boolean }): number {
  if (result.outputs.has(cellName)) runtime.writeOut(`${JSON.stringify(result.outputs.get(cellName), null, 2)}\n`);
  if (result.state !== RunState.Failed) return exitFor(result);
  // CI's contract: 1 when the cell's check failed (a regression), 2 when the cell could not do its work.
  return result.checkFailed ? EXIT.failed : EXIT.error;
}

/** The worst exit code of a backfill's runs (in the order they ended), or 130 when it was cancelled. */
export function backfillExit(results: Array<Pick<RunResult, "runId" | "state">>, cancelled: boolean): number {
  const worst = results.reduce<number>((code, run) => Math.max(code, exitFor(run)), EXIT.ok);
  return cancelled ? EXIT.interrupted : worst;
}

export function round(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toPrecision(4);
}
