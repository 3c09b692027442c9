/**
 * `/pipelines/:id/grid`: the last runs × the pipeline's cells, one square per cell and run coloured by its
 * state, each linking to that run (Airflow's grid view); grid.js adds the square's cell to the link as it is
 * pointed at or clicked, so that a click opens that cell's attempts and log on the run page. Newest run on the right. `?runs=` picks how many
 * (25 by default, up to 1,000): the facade reads them all in two queries, not one read per run. The route
 * streams it (gridPageStream): the frame first, the runs when the store has answered.
 *
 * @example
 * ```ts
 * import { openCellar, pipeline } from "../../kernel/mod.ts";
 * import { gridPage } from "./grid-page.tsx";
 *
 * const cellar = openCellar({ db: "/tmp/cellar.duckdb" });
 * const page = await gridPage(cellar, pipeline({ id: "hello" }).cell("greet", () => "hi"));
 * ```
 */
import { html } from "hono/html";
import { type Cellar, errorLine, type GridCell, type GridRun, type Pipeline } from "../../kernel/mod.ts";
import { duration, when } from "./format.ts";
import { Layout, StateLegend } from "./layout.tsx";

export const GRID_RUNS = 25;
/** The page's script: a square's cell into its link (see grid.js). */
export const GRID_SCRIPT = "/ui/grid.js";
/** The most runs one grid shows: 50,000 squares for 50 cells, what bench/server-grid.bench.ts measures. */
export const MAX_GRID_RUNS = 1000;
/** The run counts the page offers to switch between. */
const CHOICES = [25, 100, 1000];

/** Where the frame is cut: the runs' part of the page goes here. Text no page holds (U+2063, twice). */
const CUT = "\u2063grid\u2063";

/** The page without its runs, cut in two: what goes before them and after. */
async function frame(pipeline: Pipeline): Promise<[string, string]> {
  const pipelineHref = `/pipelines/${encodeURIComponent(pipeline.id)}`;
  const page = await (
    <Layout title={`${pipeline.id} grid`} nav="Pipelines" scripts={[GRID_SCRIPT]}>
      <div class="crumbs"><a href="/">Pipelines</a> / <a href={pipelineHref}>{pipeline.id}</a> /</div>
      <h1>{`${pipeline.id} · grid`}</h1>
      {CUT}
    </Layout>
  ).toString();
  const [before, after] = String(page).split(CUT);
  return [before, after];
}

/** The runs' part: how many, the choice of how many, and the table. */
async function runsPart(cellar: Cellar, pipeline: Pipeline, count: number): Promise<string> {
  const grid = (await cellar.grid(pipeline.id, { runs: count })).reverse();
  const names = [...pipeline.cells.map((c) => c.name)];
  const seen = new Set(names);
  for (const g of grid) for (const c of g.cells) if (!seen.has(c.cell)) seen.add(c.cell), names.push(c.cell);
  const columns = grid.map((g) => ({ run: g.run, cells: new Map<string, GridCell>(g.cells.map((c) => [c.cell, c])) }));
  const pipelineHref = `/pipelines/${encodeURIComponent(pipeline.id)}`;
  const part = await (
    <>
      <p class="sub">
        {`last ${grid.length} run${grid.length === 1 ? "" : "s"}, oldest left · show `}
        {CHOICES.map((n, i) => (
          <>
            {i > 0 ? " · " : ""}
            {n === count ? <b>{String(n)}</b> : <a href={`${pipelineHref}/grid?runs=${n}`}>{String(n)}</a>}
          </>
        ))}
      </p>
      {grid.length === 0 ? <div class="empty">No runs yet.</div> : (
        <>
          <div class="scroll-x">{gridTable(names, columns)}</div>
          <StateLegend states={grid.flatMap((g) => [g.run.state, ...g.cells.map((c) => c.state)])} />
        </>
      )}
    </>
  ).toString();
  return String(part);
}

/** The whole page as one string. */
export async function gridPage(cellar: Cellar, pipeline: Pipeline, count = GRID_RUNS): Promise<string> {
  const [before, after] = await frame(pipeline);
  return before + (await runsPart(cellar, pipeline, count)) + after;
}

/**
 * The page as a stream: the frame and heading at once, so that the browser fetches the stylesheet and paints
 * while the store is read, then the runs. A read that fails once the frame is sent ends the page with its
 * error in one line (escaped), as the status has gone out.
 */
export function gridPageStream(cellar: Cellar, pipeline: Pipeline, count = GRID_RUNS): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    async start(controller) {
      const [before, after] = await frame(pipeline);
      controller.enqueue(encoder.encode(before));
      let part: string;
      try {
        part = await runsPart(cellar, pipeline, count);
      } catch (err) {
        part = String(html`<p class="notfound">${errorLine(err)}</p>`);
      }
      controller.enqueue(encoder.encode(part + after));
      controller.close();
    },
  });
}

/**
 * The table as hono/html templates, which escape what they interpolate as hono/jsx does: at 50,000 squares
 * a JSX element per square took most of the page's time.
 */
function gridTable(names: string[], columns: Array<{ run: GridRun["run"]; cells: Map<string, GridCell> }>) {
  const head = columns.map(({ run }) =>
    html`<th><a href="/runs/${run.runId}" title="${`${run.state} · ${when(run.logicalDate)}`}">#${run.runId}</a><span class="runbar state-${run.state}" title="${run.state}"></span></th>`
  );
  const rows = names.map((name) => {
    const squares = columns.map(({ run, cells }) => {
      const cell = cells.get(name);
      if (!cell) return html`<td><span class="sq none" title="not in this run"></span></td>`;
      const title = `${name} · ${cell.state} · ${cell.tries === 1 ? "1 try" : `${cell.tries} tries`} · ${duration(cell.durationMs)}`;
      return html`<td><a class="sq state-${cell.state}" href="/runs/${run.runId}" title="${title}"></a></td>`;
    });
    return html`<tr><td class="mono" title="${name}">${name}</td>${squares}</tr>`;
  });
  return html`<table class="grid"><thead><tr><th></th>${head}</tr></thead><tbody>${rows}</tbody></table>`;
}
