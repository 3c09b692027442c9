/**
 * `/pipelines/:id/grid`: the last runs × the pipeline's cells, one square per cell and run coloured by its
 * state, each linking to that run (Airflow's grid view). Newest run on the right.
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
import type { Cellar, Pipeline, RunDetail } from "../../kernel/mod.ts";
import { duration, when } from "./format.ts";
import { Layout } from "./layout.tsx";

export const GRID_RUNS = 25;

export async function gridPage(cellar: Cellar, pipeline: Pipeline) {
  const runs = (await cellar.runs(pipeline.id, { limit: GRID_RUNS })).reverse();
  // One read per run: fine for 25; the 1,000-run grid of the benchmark needs a batch read in the facade.
  const details: RunDetail[] = await Promise.all(runs.map((r) => cellar.show(r.runId)));
  const names = [...pipeline.cells.map((c) => c.name)];
  for (const d of details) for (const c of d.cells) if (!names.includes(c.cell)) names.push(c.cell);
  const pipelineHref = `/pipelines/${encodeURIComponent(pipeline.id)}`;
  return (
    <Layout title={`${pipeline.id} grid`}>
      <div class="crumbs"><a href="/">Pipelines</a> / <a href={pipelineHref}>{pipeline.id}</a> /</div>
      <h1>{`${pipeline.id} · grid`}</h1>
      <p class="sub">{`last ${runs.length} run${runs.length === 1 ? "" : "s"}, oldest left`}</p>
      {details.length === 0 ? <div class="empty">No runs yet.</div> : (
        <table class="grid">
          <thead>
            <tr>
              <th />
              {details.map((d) => (
                <th key={d.run.runId}>
                  <a href={`/runs/${d.run.runId}`} title={`${d.run.state} · ${when(d.run.logicalDate)}`}>{`#${d.run.runId}`}</a>
                  <span class={`runbar state-${d.run.state}`} title={d.run.state} />
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {names.map((name) => (
              <tr key={name}>
                <td class="mono">{name}</td>
                {details.map((d) => {
                  const cell = d.cells.find((c) => c.cell === name);
                  if (!cell) return <td key={d.run.runId}><span class="sq none" title="not in this run" /></td>;
                  return (
                    <td key={d.run.runId}>
                      <a class={`sq state-${cell.state}`} href={`/runs/${d.run.runId}`} title={`${name} · ${cell.state} · ${cell.tries} tries · ${duration(cell.durationMs)}`} />
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Layout>
  );
}
