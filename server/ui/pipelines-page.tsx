/**
 * `/`: every pipeline served, with its schedule, next run, last state and a strip of its last 25 runs
 * (oldest left; colour is the state, width the duration), each linking to the run.
 *
 * @example
 * ```ts
 * import { openCellar, pipeline } from "../../kernel/mod.ts";
 * import { pipelinesPage } from "./pipelines-page.tsx";
 *
 * const cellar = openCellar({ db: "/tmp/cellar.duckdb" });
 * const page = await pipelinesPage(cellar, [pipeline({ id: "hello" }).cell("greet", () => "hi")]);
 * ```
 */
import type { Cellar, Pipeline, RunRecord } from "../../kernel/mod.ts";
import { duration, runMs, when } from "./format.ts";
import { Layout, StateBadge, StateLegend } from "./layout.tsx";
import { PauseControl } from "./pause-control.tsx";

export const STRIP_RUNS = 25;

export async function pipelinesPage(cellar: Cellar, pipelines: Pipeline[]) {
  const paused = await cellar.paused(pipelines.map((p) => p.id));
  const rows = await Promise.all(pipelines.map(async (p) => ({ pipeline: p, runs: await cellar.runs(p.id, { limit: STRIP_RUNS }), pausedAt: paused.get(p.id) })));
  return (
    <Layout title="Pipelines" nav="Pipelines">
      <h1>Pipelines</h1>
      <p class="sub">{`${pipelines.length} pipeline${pipelines.length === 1 ? "" : "s"} served`}</p>
      {rows.length === 0 ? <div class="empty">No pipelines: put pipeline files in the folder the server serves.</div> : (
        <table class="list">
          <thead>
            <tr><th>Pipeline</th><th>Schedule</th><th>Next run</th><th>Last run</th><th class="strip-col">Last {STRIP_RUNS} runs</th></tr>
          </thead>
          <tbody>{rows.map((row) => <PipelineRow key={row.pipeline.id} {...row} />)}</tbody>
        </table>
      )}
      <StateLegend states={rows.flatMap((row) => row.runs.map((r) => r.state))} />
    </Layout>
  );
}

function PipelineRow(props: { pipeline: Pipeline; runs: RunRecord[]; pausedAt: Date | undefined }) {
  const { pipeline, runs } = props;
  const last = runs[0];
  const next = nextRun(pipeline);
  return (
    <tr>
      <td><a href={`/pipelines/${encodeURIComponent(pipeline.id)}`}><b>{pipeline.id}</b></a><div class="muted small">{`${pipeline.cells.length} cell${pipeline.cells.length === 1 ? "" : "s"} · `}<a href={`/pipelines/${encodeURIComponent(pipeline.id)}/grid`}>grid</a></div></td>
      <td class="mono">
        {pipeline.timetable ? <PauseControl pipeline={pipeline.id} pausedAt={props.pausedAt} schedule={pipeline.timetable.schedule} /> : <span class="muted">manual</span>}
      </td>
      <td>{props.pausedAt ? <span class="muted">paused</span> : next ? <span class="when" title={`logical date ${when(next.logicalDate)}`}>{when(next.firesAt)}</span> : <span class="muted">–</span>}</td>
      <td>
        {last
          ? <span><StateBadge state={last.state} /> <a href={`/runs/${last.runId}`}>{`#${last.runId}`}</a><div class="muted small when">{when(last.startedAt ?? last.createdAt)}</div></span>
          : <span class="muted">never run</span>}
      </td>
      <td><RunStrip runs={runs} /></td>
    </tr>
  );
}

/**
 * The next scheduled run: the interval after the latest complete one, which fires when it ends (the
 * interval starting after now would skip the one in progress).
 */
function nextRun(pipeline: Pipeline): { logicalDate: Date; firesAt: Date } | null {
  const timetable = pipeline.timetable;
  if (!timetable) return null;
  const next = timetable.nextInterval(timetable.manualInterval(new Date()).start);
  return next && { logicalDate: next.start, firesAt: next.end };
}

/**
 * Widths on a square-root scale of the longest run shown, so one slow run does not flatten the others; from
 * 3 to 12 px, so that 25 runs fit the column (about 350 px) beside the others on a laptop's screen.
 */
function RunStrip(props: { runs: RunRecord[] }) {
  const runs = [...props.runs].reverse();
  const longest = Math.max(1, ...runs.map((r) => runMs(r) ?? 0));
  // An SVG, so that the widths are attributes rather than inline style (a strict CSP holds).
  let x = 0;
  const bars = runs.map((r) => {
    const ms = runMs(r);
    const bar = { run: r, ms, x, width: 3 + Math.round(9 * Math.sqrt((ms ?? 0) / longest)) };
    x += bar.width + 2;
    return bar;
  });
  return (
    <svg class="strip" width={Math.max(1, x - 2)} height="18">
      {bars.map((b) => (
        <a key={b.run.runId} href={`/runs/${b.run.runId}`}>
          <rect class={`state-${b.run.state}`} x={b.x} y="0" width={b.width} height="18" rx="2">
            <title>{`#${b.run.runId} ${b.run.state} · ${when(b.run.logicalDate)} · ${duration(b.ms)}`}</title>
          </rect>
        </a>
      ))}
    </svg>
  );
}
