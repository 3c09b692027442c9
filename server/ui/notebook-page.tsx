/**
 * `/pipelines/:id`: a pipeline as a notebook. Its cells in order, each with its TypeScript source
 * (highlighted), its options, and what it did in the selected run (`?run=<id>`, default the latest): state,
 * tries, duration, error, a bounded preview of its output (server/preview/) and the tail of its log (the last
 * lines of its latest try, every cell's in one read: the facade's logTails), linked to all its lines on the run
 * page. Buttons start a run (with a params form), one cell on cached upstreams, or a run from a cell; live.js
 * sends them to the API and updates a running run in place, finding the parts it changes by their data-*
 * attributes (`data-live-run`, `data-cell`, `data-cell-badge`, `data-cell-tries`, `data-cell-duration`,
 * `data-cell-log`; `data-log-seq`, the run's newest line when the page was drawn, from which live.js catches up).
 *
 * @example
 * ```ts
 * import { openCellar, pipeline } from "../../kernel/mod.ts";
 * import { notebookPage } from "./notebook-page.tsx";
 *
 * const cellar = openCellar({ db: "/tmp/cellar.duckdb" });
 * const page = await notebookPage(cellar, pipeline({ id: "hello" }).cell("greet", () => "hi"), undefined);
 * ```
 */
import { type Cellar, type CellLogTail, type CellReport, CellState, checkpointOf, latestCheckpoint, type Pipeline, type RunDetail, type RunRecord, RunState } from "../../kernel/mod.ts";
import { reasonText, type StaleCell } from "../../kernel/mod.ts";
import { cellSource } from "./cell-source.ts";
import { costs, duration, when } from "./format.ts";
import { highlightTs } from "./highlight.ts";
import { Layout, NotFound, StateBadge } from "./layout.tsx";
import { PauseControl } from "./pause-control.tsx";
import { previewOf, storeSql } from "../preview/cell-previews.ts";
import { type OutputPreview, PREVIEW_BYTES } from "../preview/output-preview.ts";
import { JsonTree } from "./json-tree.tsx";
import { LogRow } from "./log-view.tsx";
import { STRIP_RUNS } from "./pipelines-page.tsx";
import type { TablePreview } from "../preview/table-preview.ts";

type CellDef = Pipeline["cells"][number];

interface CellView {
  def: CellDef;
  source: string;
  report: CellReport | undefined;
  preview: OutputPreview | undefined;
  /** For a table output: its first rows and column types. */
  sample?: TablePreview;
  /** A cell a one-cell run did not run: the run whose checkpoint it read in its place. */
  readFrom?: number;
  /** The run is still going: a cell it has no record of may yet start. */
  going?: boolean;
  /** Its code changed since its latest checkpoint: what is shown for it is from other code. */
  stale?: StaleCell;
  /** The last lines of its latest try in the run. */
  log?: CellLogTail;
}

/** Log lines shown under each cell (live.js keeps as many while it appends). */
export const CELL_LOG_LINES = 20;

/** The page, or the 404 page when `runId` is not a run of this pipeline. */
export async function notebookPage(cellar: Cellar, pipeline: Pipeline, runId: number | undefined) {
  const runs = await cellar.runs(pipeline.id, { limit: STRIP_RUNS });
  const selected = runId ?? runs[0]?.runId;
  const detail = selected === undefined ? undefined : await detailOf(cellar, pipeline.id, selected);
  if (runId !== undefined && !detail) return { status: 404 as const, page: <NotFound what={`run ${runId}: no such run of pipeline ${pipeline.id}`} /> };
  const [views, stale, paused, tails] = await Promise.all([
    Promise.all(pipeline.cells.map((def) => cellView(cellar, def, detail))),
    cellar.stale(pipeline),
    cellar.paused([pipeline.id]),
    detail ? cellar.logTails(detail.run.runId, { lines: CELL_LOG_LINES, cells: pipeline.cells.map((c) => c.name) }) : undefined,
  ]);
  const cells = views.map((view) => ({ ...view, stale: stale.find((s) => s.cell === view.def.name), log: tails?.cells.get(view.def.name) }));
  const page = (
    <Layout title={pipeline.id} nav="Pipelines">
      <div class="crumbs"><a href="/">Pipelines</a> /</div>
      <h1 data-notebook-pipeline={pipeline.id}>{pipeline.id}</h1>
      <p class="sub">
        {pipeline.timetable ? <>{"schedule "}<PauseControl pipeline={pipeline.id} pausedAt={paused.get(pipeline.id)} schedule={pipeline.timetable.schedule} />{" · "}</> : "manual · "}
        {`${pipeline.cells.length} cell${pipeline.cells.length === 1 ? "" : "s"} · `}<a href={`/pipelines/${encodeURIComponent(pipeline.id)}/grid`}>grid</a>
        {detail
          ? (
            <span data-live-run={String(detail.run.runId)} data-run-state={detail.run.state} data-log-seq={String(tails?.lastSeq ?? 0)}>
              {` · showing run `}<a href={`/runs/${detail.run.runId}`}>{`#${detail.run.runId}`}</a>{` (${detail.run.kind}, ${when(detail.run.logicalDate)}) `}
              <StateBadge state={detail.run.state} live="run" /> <span class="muted" data-live-status=""></span>
            </span>
          )
          : " · never run"}
      </p>
      <RunPicker pipeline={pipeline.id} runs={runs} selected={detail?.run.runId} />
      <RunForm pipeline={pipeline} used={detail?.run.params} />
      {cells.map((cell, i) => <CellCard key={cell.def.name} index={i + 1} pipeline={pipeline.id} runId={detail?.run.runId} {...cell} />)}
    </Layout>
  );
  return { status: 200 as const, page };
}

/** The run's detail, read once (the page's most costly read), or undefined when it is not a run of `pipeline`. */
async function detailOf(cellar: Cellar, pipeline: string, runId: number): Promise<RunDetail | undefined> {
  try {
    const detail = await cellar.show(runId);
    return detail.run.pipeline === pipeline ? detail : undefined;
  } catch {
    return undefined;
  }
}

async function cellView(cellar: Cellar, def: CellDef, detail: RunDetail | undefined): Promise<CellView> {
  const report = detail?.cells.find((c) => c.cell === def.name);
  const going = detail?.run.state === RunState.Running || detail?.run.state === RunState.Queued;
  const view: CellView = { def, source: await cellSource(def), report, preview: undefined, going };
  const done = report && (report.state === CellState.Success || report.state === CellState.Cached);
  // A one-cell run records only its cell; the others are the latest checkpoints it read, made before it.
  const readIn = detail?.run.kind === "cell" && !report;
  if (!detail || !(done || readIn)) return view;
  const source = await storeSql(cellar);
  const checkpoint = readIn
    ? await latestCheckpoint(source, { pipeline: detail.run.pipeline, cell: def.name, beforeRun: detail.run.runId })
    : await checkpointOf(source, detail.run.runId, def.name);
  if (!checkpoint) return view;
  if (readIn) view.readFrom = checkpoint.runId;
  const { preview, sample } = await previewOf(source, checkpoint);
  return { ...view, preview, ...(sample ? { sample } : {}) };
}

function RunPicker(props: { pipeline: string; runs: RunRecord[]; selected: number | undefined }) {
  if (props.runs.length === 0) return <div />;
  return (
    <nav class="runpick">
      <span class="muted">Runs:</span>
      {props.runs.map((r) => (
        <a href={`/pipelines/${encodeURIComponent(props.pipeline)}?run=${r.runId}`} class={r.runId === props.selected ? "selected" : ""} title={`${r.state} · ${when(r.logicalDate)}`}>
          <span class={`dot state-${r.state}`} {...(r.runId === props.selected ? { "data-run-dot": "" } : {})} />{`#${r.runId}`}
        </a>
      ))}
    </nav>
  );
}

/**
 * The pipeline's params, each an input prefilled with the value the shown run used (its default when that run
 * predates the param, or when nothing has run), so that "run again, with one change" is one edit away.
 */
function RunForm(props: { pipeline: Pipeline; used: Record<string, unknown> | undefined }) {
  const notebook = `/pipelines/${encodeURIComponent(props.pipeline.id)}`;
  const params = Object.entries(props.pipeline.params).map(([name, value]) => [name, usedOr(props.used?.[name], value)] as const);
  return (
    <div class="actions">
      <form class="runform" data-post={`/api/v1${notebook}/runs`} data-notebook={notebook}>
        {params.map(([name, value]) => <ParamInput key={name} name={name} value={value} />)}
        <button type="submit">Run pipeline</button>
      </form>
      <p class="action-error" data-action-error="" hidden></p>
    </div>
  );
}

/** The used value when it has the default's type (the form types each input by the default). */
function usedOr(used: unknown, fallback: unknown): unknown {
  return used !== undefined && used !== null && typeof used === typeof fallback ? used : fallback;
}

function ParamInput(props: { name: string; value: unknown }) {
  const { name, value } = props;
  if (typeof value === "boolean") {
    return <label class="param"><input type="checkbox" name={name} data-type="boolean" checked={value} /> {name}</label>;
  }
  const type = typeof value === "number" ? "number" : "string";
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return <label class="param">{`${name} `}<input type={type === "number" ? "number" : "text"} step="any" name={name} data-type={type} value={text} /></label>;
}

function CellCard(props: CellView & { index: number; pipeline: string; runId?: number }) {
  const { def, report } = props;
  const notebook = `/pipelines/${encodeURIComponent(props.pipeline)}`;
  return (
    <section class={props.stale ? "cell stale" : "cell"} id={`cell-${def.name}`} data-cell={def.name}>
      <header>
        <span class="index">{`[${props.index}]`}</span>
        <h2 class="mono">{def.name}</h2>
        {report
          ? <StateBadge state={report.state} live="cell" />
          : props.readFrom !== undefined
          ? <StateBadge state={CellState.Cached} live="cell" />
          : <span class="muted" data-cell-badge="">{props.going ? "not started yet" : "not in this run"}</span>}
        {props.stale
          ? <span class="badge stale" data-cell-stale="" title={`its code changed since its latest checkpoint (run #${props.stale.checkpointRun}); run it to bring it up to date`}>stale</span>
          : null}
        <span class="opts">{cellOptions(def).map((o) => <span key={o} class="opt">{o}</span>)}</span>
        <span class="cell-actions">
          <button type="button" data-post={`/api/v1${notebook}/cells/${encodeURIComponent(def.name)}/runs`} data-notebook={notebook} title="Run this cell alone, its upstream inputs from their latest checkpoints">Run this cell</button>
          <button type="button" data-post={`/api/v1${notebook}/runs`} data-from={def.name} data-notebook={notebook} title="Recompute this cell and everything downstream">Run from here</button>
        </span>
      </header>
      {/* highlightTs's HTML is highlight.js's, which escapes the source it is given: the one raw insert. */}
      <pre class="source"><code class="hljs language-typescript" dangerouslySetInnerHTML={{ __html: highlightTs(props.source) }} /></pre>
      {report ? <CellResult report={report} preview={props.preview} sample={props.sample} runId={props.runId} log={props.log} /> : null}
      {!report && props.readFrom !== undefined ? <ReadFrom runId={props.readFrom} preview={props.preview} sample={props.sample} /> : null}
    </section>
  );
}

function cellOptions(def: CellDef): string[] {
  const options = [`retries ${def.retries}`];
  options.push(def.timeoutMs === undefined ? "no timeout" : `timeout ${duration(def.timeoutMs)}`);
  if (def.claim) options.push(`gpu ${def.claim.gpu}${def.claim.gpuMemory ? ` · ${Math.round(def.claim.gpuMemory / 2 ** 20)} MiB` : ""}`);
  if (!def.cache) options.push("no cache");
  if (def.needs.length > 0) options.push(`needs ${def.needs.join(", ")}`);
  if (def.triggerRule !== "all_success") options.push(def.triggerRule);
  return options;
}

function CellResult(props: { report: CellReport; preview: OutputPreview | undefined; sample: TablePreview | undefined; runId?: number; log?: CellLogTail }) {
  const { report, preview } = props;
  return (
    <div class="result">
      <div class="facts" data-cell-facts="">
        {report.cachedFrom !== null
          ? <span class="muted">served from the checkpoint of run <a href={`/runs/${report.cachedFrom}`}>{`#${report.cachedFrom}`}</a></span>
          : <CellFacts report={report} />}
      </div>
      {report.cacheReason ? <div class="reason muted" data-cell-reason={report.cacheReason.reason}>{reasonText(report.cacheReason)}</div> : null}
      {report.error ? <pre class="error">{report.error}</pre> : null}
      {preview ? <Preview preview={preview} sample={props.sample} /> : null}
      {props.log && props.runId !== undefined ? <CellLog runId={props.runId} cell={report.cell} tail={props.log} /> : null}
    </div>
  );
}

/** "try 2 · last 20 of 57 lines": live.js writes the same as it appends. */
function tailText(tail: CellLogTail): string {
  const n = tail.tryLines;
  const lines = n > tail.lines.length ? `last ${tail.lines.length} of ${n.toLocaleString("en")} lines` : `${n} ${n === 1 ? "line" : "lines"}`;
  return `log · try ${tail.tryNumber} · ${lines}`;
}

/**
 * The tail of the cell's log in the run, every level shown and each line escaped; the whole log, every try,
 * is a link away on the run page, filtered to the cell there and paged.
 */
function CellLog(props: { runId: number; cell: string; tail: CellLogTail }) {
  const { tail } = props;
  return (
    <div class="cell-log" data-cell-log="" data-log-try={String(tail.tryNumber)} data-log-try-lines={String(tail.tryLines)} data-log-total={String(tail.total)}>
      <div class="cell-log-head">
        <span data-cell-log-count="">{tailText(tail)}</span>
        <a class="cell-logs" href={`/runs/${props.runId}?cell=${encodeURIComponent(props.cell)}#logs`} data-cell-log-all="">
          {tail.total > tail.lines.length ? `all ${tail.total.toLocaleString("en")} lines →` : "in the run's log →"}
        </a>
      </div>
      <div class="cell-log-scroll">
        <table class="loglines">
          <tbody data-cell-log-lines="">
            {tail.lines.map((l) => <LogRow key={l.seq} line={l} cell={false} />)}
          </tbody>
        </table>
      </div>
    </div>
  );
}

/** A cell a one-cell run read from a checkpoint instead of running it. */
function ReadFrom(props: { runId: number; preview: OutputPreview | undefined; sample: TablePreview | undefined }) {
  return (
    <div class="result">
      <div class="facts" data-cell-facts="">
        <span class="muted">served from the checkpoint of run <a href={`/runs/${props.runId}`}>{`#${props.runId}`}</a> (its latest, read by this one-cell run)</span>
      </div>
      {props.preview ? <Preview preview={props.preview} sample={props.sample} /> : null}
    </div>
  );
}

function TableSample(props: { sample: TablePreview }) {
  const { columns, rows } = props.sample;
  return (
    <div class="sample">
      <table class="sample">
        <thead>
          <tr>{columns.map((c) => <th key={c.name}>{c.name}<span class="type">{c.type}</span></th>)}</tr>
        </thead>
        <tbody>{rows.map((row, i) => <tr key={i}>{row.map((v, j) => <td key={j}>{v}</td>)}</tr>)}</tbody>
      </table>
    </div>
  );
}

/** Why a cell in the run has no try, by its state. */
const NOT_RUN: Record<string, string> = {
  [CellState.UpstreamFailed]: "not run: an upstream cell did not succeed",
  [CellState.Cancelled]: "cancelled before it started",
  [CellState.Waiting]: "waiting for its upstream cells",
  [RunState.Interrupted]: "interrupted before it started",
};

/** What the try did; a figure the run did not record (no CPU time, no costs) is left out, not shown as "–". */
function CellFacts(props: { report: CellReport }) {
  const { report } = props;
  if (report.tries === 0) return <span class="muted">{NOT_RUN[report.state] ?? "not run"}</span>;
  return (
    <>
      <span data-cell-tries="">{report.tries === 1 ? "1 try" : `${report.tries} tries`}</span>
      <span>took <b data-cell-duration="">{report.durationMs !== null ? duration(report.durationMs) : "…"}</b></span>
      {report.cpuMs !== null ? <span>cpu <b>{duration(report.cpuMs)}</b></span> : null}
      {Object.keys(report.costs).length > 0 ? <span>cost <b>{costs(report.costs)}</b></span> : null}
    </>
  );
}

function Preview(props: { preview: OutputPreview; sample: TablePreview | undefined }) {
  const { preview, sample } = props;
  if (preview.kind === "table") {
    return (
      <div>
        <div class="output-table">table <b class="mono">{preview.name}</b>{` · ${preview.rows.toLocaleString("en")} rows`}{sample && sample.rows.length < preview.rows ? `, the first ${sample.rows.length} shown` : ""}{sample && sample.hiddenColumns > 0 ? ` · ${sample.hiddenColumns} more columns not shown` : ""}</div>
        {sample ? <TableSample sample={sample} /> : null}
      </div>
    );
  }
  return (
    <div>
      {preview.tree ? <JsonTree node={preview.tree} /> : <pre class="output">{preview.text}</pre>}
      {preview.truncated ? <div class="muted">{`… cut at ${PREVIEW_BYTES.toLocaleString("en")} of ${preview.bytes.toLocaleString("en")} bytes`}</div> : null}
    </div>
  );
}
