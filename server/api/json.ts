/**
 * The facade's records as the API's JSON: dates as ISO strings, a pipeline's cells with their options and
 * source text, its next logical dates.
 *
 * @example
 * ```ts
 * import { pipeline } from "../../kernel/mod.ts";
 * import { pipelineDetail } from "./json.ts";
 *
 * pipelineDetail(pipeline({ id: "hello" }).cell("greet", () => "hi")).cells[0].source; // → '() => "hi"'
 * ```
 */
import type { CellReport, LogLine, LogPage, Pipeline, RunDetail, RunRecord } from "../../kernel/mod.ts";

import { reasonText } from "../../kernel/mod.ts";
import type { CellPreview } from "../preview/cell-previews.ts";

/** How many upcoming logical dates a pipeline's answers list. */
const NEXT_DATES = 5;

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

/** The logical dates of the next intervals that start after `now`. */
export function nextLogicalDates(p: Pipeline, now = new Date()): string[] {
  const dates: string[] = [];
  for (let i = p.timetable?.nextInterval(now) ?? null; i && dates.length < NEXT_DATES; i = p.timetable!.nextInterval(i.start)) {
    if (p.endDate && i.start > p.endDate) break;
    dates.push(i.start.toISOString());
  }
  return dates;
}

export function pipelineSummary(p: Pipeline) {
  return {
    id: p.id,
    description: p.options.description ?? null,
    schedule: p.options.schedule ?? null,
    timezone: p.options.timezone ?? (p.options.schedule ? "UTC" : null),
    cells: p.cells.map((c) => c.name),
    nextLogicalDates: nextLogicalDates(p),
  };
}

export function pipelineDetail(p: Pipeline) {
  return {
    ...pipelineSummary(p),
    params: { ...p.params },
    maxActiveRuns: p.maxActiveRuns,
    maxActiveCells: p.maxActiveCells,
    cells: p.cells.map((c) => ({
      name: c.name,
      needs: [...c.needs],
      triggerRule: c.triggerRule,
      retries: c.retries,
      retryDelayMs: c.retryDelayMs,
      exponential: c.exponential,
      maxRetryDelayMs: c.maxRetryDelayMs,
      timeoutMs: c.timeoutMs ?? null,
      cache: c.cache,
      claim: c.claim ?? null,
      source: c.fn.toString(),
    })),
  };
}

export function runJson(r: RunRecord) {
  return {
    id: r.runId,
    pipeline: r.pipeline,
    runKey: r.runKey,
    kind: r.kind,
    state: r.state,
    logicalDate: r.logicalDate.toISOString(),
    interval: { start: r.interval.start.toISOString(), end: r.interval.end.toISOString() },
    params: r.params,
    options: { ...r.options },
    triggeredBy: r.triggeredBy,
    createdAt: iso(r.createdAt),
    startedAt: iso(r.startedAt),
    endedAt: iso(r.endedAt),
  };
}

/** A preview as the API carries it: a table's sample beside its name and row count. */
function previewJson(p: CellPreview | undefined) {
  if (!p) return null;
  return p.preview.kind === "table" ? { ...p.preview, sample: p.sample ?? null } : p.preview;
}

function cellJson(c: CellReport, preview: CellPreview | undefined) {
  return {
    ...c,
    preview: previewJson(preview),
    startedAt: iso(c.startedAt),
    endedAt: iso(c.endedAt),
    cacheReason: c.cacheReason && { ...c.cacheReason, text: reasonText(c.cacheReason) },
    attempts: c.attempts.map((a) => ({ ...a, startedAt: iso(a.startedAt) })),
  };
}

const logJson = (l: LogLine) => ({ ...l, ts: l.ts.toISOString() });

/** `logs`: the first page of its log lines; `previews`: its cells' outputs' (server/preview/cell-previews.ts). */
export function runDetailJson(detail: RunDetail, logs: LogPage, previews: ReadonlyMap<string, CellPreview> = new Map()) {
  return {
    run: runJson(detail.run),
    state: detail.run.state,
    cells: detail.cells.map((c) => cellJson(c, previews.get(c.cell))),
    logs: logs.lines.map(logJson),
    logsNext: logs.later,
  };
}

export function logPageJson(page: LogPage) {
  return { ...page, lines: page.lines.map(logJson) };
}
