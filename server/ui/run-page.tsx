/**
 * `/runs/:id`: one run. Its cells with state, tries, durations, errors and costs, and a timeline with a bar
 * per attempt, placed by its start and end within the run (plain HTML and CSS, no chart library).
 *
 * @example
 * ```ts
 * import { openCellar } from "../../kernel/mod.ts";
 * import { runPage } from "./run-page.tsx";
 *
 * const cellar = openCellar({ db: "/tmp/cellar.duckdb" });
 * const page = runPage(await cellar.show(1), ["fetch", "embed"]);
 * ```
 */
import type { CellReport, LogPage, RunDetail } from "../../kernel/mod.ts";
import { reasonText, RunState } from "../../kernel/mod.ts";
import { costs, duration, runMs, when } from "./format.ts";
import { Layout, StateBadge, StateLegend } from "./layout.tsx";
import { type LogFilter, LogView } from "./log-view.tsx";

const NO_LOGS: LogPage = { lines: [], earlier: null, later: null, matching: 0 };

/**
 * `order`: the pipeline's cell names as defined, when it is served; the store's order (by start) otherwise.
 * `logs`: one page of its log lines, and the filter it was read with.
 */
export function runPage(detail: RunDetail, order: string[] = [], logs: { filter: LogFilter; page: LogPage } = { filter: {}, page: NO_LOGS }) {
  const { run } = detail;
  // Cells starting within the same millisecond would otherwise sort by name, not as the notebook reads.
  const rank = (cell: string) => (order.includes(cell) ? order.indexOf(cell) : order.length);
  const cells = detail.cells.map((c, i) => ({ c, i })).sort((a, b) => rank(a.c.cell) - rank(b.c.cell) || a.i - b.i).map(({ c }) => c);
  const pipelineHref = `/pipelines/${encodeURIComponent(run.pipeline)}`;
  return (
    <Layout title={`Run #${run.runId}`} nav="Pipelines">
      <div class="crumbs"><a href="/">Pipelines</a> / <a href={pipelineHref}>{run.pipeline}</a> /</div>
      <h1 data-live-run={String(run.runId)} data-run-state={run.state}>{`Run #${run.runId} `}<StateBadge state={run.state} live="run" /> <span class="muted live-status" data-live-status=""></span></h1>
      <p class="sub">
        {`${run.kind} · logical date ${when(run.logicalDate)} · started ${when(run.startedAt)} · took ${duration(runMs(run))}`}
        {Object.keys(run.params).length > 0 ? <span class="mono">{` · params ${JSON.stringify(run.params)}`}</span> : null}
        <span> · <a href={`${pipelineHref}?run=${run.runId}`}>open as notebook</a></span>
      </p>
      <Timeline cells={cells} />
      {/* A run that goes on gets the table even empty: live.js adds a row for each cell as it starts. */}
      {cells.length === 0 && run.state !== RunState.Running && run.state !== RunState.Queued
        ? <div class="empty">No cell has started in this run.</div>
        : <CellTable cells={cells} picked={logs.filter.cell} />}
      <LogView runId={run.runId} cells={cells.map((c) => c.cell)} tries={triesOf(cells)} filter={logs.filter} page={logs.page} />
    </Layout>
  );
}

/** The attempt numbers any cell reached, for the log filter's choice of attempt. */
function triesOf(cells: CellReport[]): number[] {
  return [...new Set(cells.flatMap((c) => c.attempts.map((a) => a.tryNumber)).filter((t) => t > 0))].sort((a, b) => a - b);
}

/** `picked`: the cell the page was opened for (a grid square, `?cell=`), marked in the table as its log is filtered. */
function CellTable(props: { cells: CellReport[]; picked?: string }) {
  return (
    <table class="list" data-cells="">
      <thead>
        <tr><th>Cell</th><th>State</th><th class="num">Tries</th><th class="num">Duration</th><th class="num">CPU</th><th>Costs</th><th>Errors</th></tr>
      </thead>
      <tbody>
        {props.cells.map((c) => (
          <tr data-cell={c.cell} {...(c.cell === props.picked ? { class: "picked", "aria-current": "true" } : {})}>
            <td class="mono">{c.cell}</td>
            <td>
              <StateBadge state={c.state} live="cell" />{c.cachedFrom !== null ? <a class="muted" href={`/runs/${c.cachedFrom}`}>{` from #${c.cachedFrom}`}</a> : null}
              {c.cacheReason ? <div class="reason muted small" data-cell-reason={c.cacheReason.reason}>{reasonText(c.cacheReason)}</div> : null}
            </td>
            <td class="num" data-cell-tries="">{c.tries}</td>
            <td class="num" data-cell-duration="">{duration(c.durationMs)}</td>
            <td class="num">{duration(c.cpuMs)}</td>
            <td class="mono">{costs(c.costs)}</td>
            <td class="errors"><AttemptErrors cell={c} /></td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Every failed try's error, oldest first, each marked with its try when there were several. */
function AttemptErrors(props: { cell: CellReport }) {
  const failed = props.cell.attempts.filter((a) => a.error);
  if (failed.length === 0) return props.cell.error ? <pre class="error">{props.cell.error}</pre> : null;
  return (
    <div>
      {failed.map((a) => (
        <pre key={a.tryNumber} class={a === props.cell.attempts.at(-1) ? "error" : "error earlier"}>
          {props.cell.attempts.length > 1 ? `try ${a.tryNumber}: ${a.error}` : a.error}
        </pre>
      ))}
    </div>
  );
}

interface Bar {
  cell: string;
  tryNumber: number;
  state: string;
  start: number;
  end: number;
}

/** Attempts that started, on one time axis from the first start to the last end. */
function bars(cells: CellReport[]): Bar[] {
  return cells.flatMap((c) =>
    c.attempts.filter((a) => a.startedAt).map((a) => {
      const start = a.startedAt!.getTime();
      return { cell: c.cell, tryNumber: a.tryNumber, state: a.state, start, end: start + (a.durationMs ?? 0) };
    })
  );
}

function Timeline(props: { cells: CellReport[] }) {
  const all = bars(props.cells);
  if (all.length === 0) return <div />;
  const t0 = Math.min(...all.map((b) => b.start));
  const span = Math.max(1, Math.max(...all.map((b) => b.end)) - t0);
  // Bars are SVG rects in a 1000-unit track stretched to its width: attributes, not style, so a strict CSP holds.
  const x = (ms: number) => ((ms / span) * 1000).toFixed(1);
  const names = [...new Set(all.map((b) => b.cell))];
  return (
    <section class="timeline">
      {names.map((name) => (
        <div class="tl-row">
          <span class="tl-name" title={name}>{name}</span>
          <svg class="tl-track" viewBox="0 0 1000 14" preserveAspectRatio="none">
            {all.filter((b) => b.cell === name).map((b) => (
              <rect key={b.tryNumber} class={`tl-bar state-${b.state}`} x={x(b.start - t0)} y="0" height="14"
                width={Math.max(4, Number(x(b.end - b.start)))}>
                <title>{`${b.cell} try ${b.tryNumber} · ${b.state} · ${duration(b.end - b.start)}`}</title>
              </rect>
            ))}
          </svg>
        </div>
      ))}
      <div class="tl-axis"><span>0</span><span>{duration(span / 2)}</span><span>{duration(span)}</span></div>
      <StateLegend states={all.map((b) => b.state)} />
    </section>
  );
}
