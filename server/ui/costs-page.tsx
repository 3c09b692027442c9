/**
 * `/costs`: what the pipelines' cells used per UTC day, over the last 7, 30 or 90 days — one resource at a
 * time (the units cells report with `ctx.cost.add`, then CPU and wall seconds) as a chart (uPlot, drawn by
 * costs.js from the data in the page) and a table; `/costs.csv` downloads every resource of the window.
 *
 * @example
 * ```ts
 * import { openCellar } from "../../kernel/mod.ts";
 * import { costsCsv, costsPage } from "./costs-page.tsx";
 *
 * const cellar = openCellar({ db: "/tmp/cellar.duckdb" });
 * const page = await costsPage(cellar, { days: 30 });
 * const csv = costsCsv(await cellar.costsByDay({ days: 30 })); // day,pipeline,cell,resource,amount,unit
 * ```
 */
import { stringify } from "csv-stringify/sync";
import type { Cellar, CostDay } from "../../kernel/mod.ts";
import { Layout } from "./layout.tsx";
import { UPLOT_SCRIPT, UPLOT_STYLE } from "./static-files.ts";

/** The windows the page offers. */
export const COST_WINDOWS = [7, 30, 90];
export const COSTS_SCRIPT = "/ui/costs.js";
const DAY_MS = 86_400_000;

export interface CostQuery {
  days: number;
  resource?: string;
  pipeline?: string;
}

/** Reported units first (what a cell said it spent), then CPU and wall time. */
export function resourcesOf(lines: CostDay[]): string[] {
  const rank = (r: string) => (r === "cpu_seconds" ? 1 : r === "wall_seconds" ? 2 : 0);
  return [...new Set(lines.map((l) => l.resource))].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/** The chart's data: one x per day of the window (Unix seconds), one series per pipeline · cell, null where it used none. */
export function chartData(lines: CostDay[], resource: string, days: number, now = new Date()) {
  const today = Math.floor(now.getTime() / DAY_MS);
  const xs = Array.from({ length: days }, (_, i) => (today - days + 1 + i) * 86_400);
  const index = new Map(xs.map((x, i) => [new Date(x * 1000).toISOString().slice(0, 10), i]));
  const series = new Map<string, Array<number | null>>();
  for (const l of lines) {
    if (l.resource !== resource) continue;
    const name = `${l.pipeline} · ${l.cell}`;
    let values = series.get(name);
    if (!values) series.set(name, values = xs.map(() => null));
    const i = index.get(l.day);
    if (i !== undefined) values[i] = (values[i] ?? 0) + l.amount;
  }
  return { resource, x: xs, series: [...series].map(([name, values]) => ({ name, values })) };
}

/** `pipelines`: the ids served, offered as a filter beside "all". */
export async function costsPage(cellar: Cellar, query: CostQuery, pipelines: string[] = []) {
  const lines = await cellar.costsByDay({ days: query.days, ...(query.pipeline ? { pipeline: query.pipeline } : {}) });
  const resources = resourcesOf(lines);
  const resource = query.resource && resources.includes(query.resource) ? query.resource : resources[0];
  const href = (change: Partial<CostQuery>) => costsHref({ ...query, ...change });
  const shown = resource === undefined ? [] : lines.filter((l) => l.resource === resource).reverse();
  const total = shown.reduce((sum, l) => sum + l.amount, 0);
  return (
    <Layout title="Costs" nav="Costs" scripts={[UPLOT_SCRIPT, COSTS_SCRIPT]} styles={[UPLOT_STYLE]}>
      <h1>Costs</h1>
      <p class="sub">
        {`per pipeline and cell, by the UTC day each try started${query.pipeline ? `, pipeline ${query.pipeline}` : ""} · last `}
        {COST_WINDOWS.map((d, i) => (
          <>
            {i > 0 ? " · " : ""}
            {d === query.days ? <b>{`${d} days`}</b> : <a href={href({ days: d })}>{`${d} days`}</a>}
          </>
        ))}
        {` · `}<a href={`/costs.csv?${new URLSearchParams(csvQuery(query))}`} download="">download CSV</a>
      </p>
      {pipelines.length > 1
        ? (
          <nav class="tabs">
            <span class="tabs-label">pipeline</span>
            {query.pipeline ? <a class="tab" href={href({ pipeline: undefined, resource: undefined })}>all pipelines</a> : <b class="tab selected">all pipelines</b>}
            {pipelines.map((p) => p === query.pipeline ? <b key={p} class="tab selected">{p}</b> : <a key={p} class="tab" href={href({ pipeline: p, resource: undefined })}>{p}</a>)}
          </nav>
        )
        : null}
      {resource === undefined ? <div class="empty">{`Nothing recorded in the last ${query.days} days.`}</div> : (
        <>
          <nav class="tabs resources">
            <span class="tabs-label">resource</span>
            {resources.map((r) => r === resource ? <b key={r} class="tab selected">{r}</b> : <a key={r} class="tab" href={href({ resource: r })}>{r}</a>)}
          </nav>
          <div class="cost-chart" data-cost-chart={JSON.stringify(chartData(lines, resource, query.days))}></div>
          <table class="list costs">
            <thead><tr><th>Day</th><th>Pipeline</th><th>Cell</th><th class="num">{resource}</th></tr></thead>
            <tbody>
              {shown.map((l) => (
                <tr><td class="mono">{l.day}</td><td><a href={`/pipelines/${encodeURIComponent(l.pipeline)}`}>{l.pipeline}</a></td><td class="mono">{l.cell}</td><td class="num">{amount(l.amount)}</td></tr>
              ))}
              <tr class="total"><td colspan={3}>{`total over ${query.days} days`}</td><td class="num">{amount(total)}</td></tr>
            </tbody>
          </table>
        </>
      )}
    </Layout>
  );
}

/** The window as CSV: one row per day, pipeline, cell and resource. */
export function costsCsv(lines: CostDay[]): string {
  return stringify(lines.map((l) => [l.day, l.pipeline, l.cell, l.resource, l.amount, l.unit]), {
    header: true,
    columns: ["day", "pipeline", "cell", "resource", "amount", "unit"],
  });
}

/** `?days=&resource=&pipeline=` read, or the one line saying what was expected. */
export function costQuery(query: Record<string, string | undefined>): CostQuery | string {
  const days = query.days ?? "30";
  if (!/^[1-9]\d{0,2}$/.test(days) || Number(days) > 366) return `days ${days}: expected a whole number from 1 to 366`;
  return { days: Number(days), ...(query.resource ? { resource: query.resource } : {}), ...(query.pipeline ? { pipeline: query.pipeline } : {}) };
}

function costsHref(query: CostQuery): string {
  const q = new URLSearchParams(csvQuery(query));
  if (query.resource) q.set("resource", query.resource);
  return `/costs?${q}`;
}

function csvQuery(query: CostQuery): Record<string, string> {
  return { days: String(query.days), ...(query.pipeline ? { pipeline: query.pipeline } : {}) };
}

function amount(value: number): string {
  return Number.isInteger(value) ? value.toLocaleString("en") : value.toLocaleString("en", { maximumFractionDigits: 3 });
}
