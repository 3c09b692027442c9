/**
 * `/eval`: eval results over time. A chart per headline metric (nDCG@10, recall@10, MRR) over the eval
 * pipeline's runs, with each run's gate baseline and threshold (baseline − allowed drop) drawn beside it;
 * the verdict table of the selected run (`?run=`, the newest by default); the questions that fell most; the
 * retrieval specs that run compared, side by side, each metric's best in bold.
 * The charts are uPlot's, drawn by eval-chart.js from each chart's `data-chart` JSON (an attribute, so
 * hono/jsx escapes it and no inline script is needed); static-files.ts serves uPlot and eval-chart.js.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { evalRoutes } from "./eval-page.tsx";
 * import type { ServerDeps } from "../deps.ts";
 * declare const deps: ServerDeps;
 *
 * const app = new Hono().route("/", evalRoutes(deps)); // GET /eval?pipeline=eval&run=12
 * ```
 */
import { Hono } from "hono";
import type { Pipeline } from "../../kernel/mod.ts";
import type { ServerDeps } from "../deps.ts";
import { type EvalComparison, EVAL_CELL, evalHistory, type EvalRun } from "../eval-history.ts";
import { when } from "./format.ts";
import { Layout, NotFound } from "./layout.tsx";
import { UPLOT_SCRIPT, UPLOT_STYLE } from "./static-files.ts";

/** The metrics charted, as the issue names them; the verdict table shows every metric the gate checked. */
export const CHART_METRICS = ["nDCG@10", "recall@10", "MRR"];
/** Runs charted: enough to see a trend, few enough to read each point. */
const HISTORY = 50;
const RUN_ID = /^[1-9]\d{0,15}$/;

export const EVAL_CHART_PATH = "/ui/eval-chart.js";

export function evalRoutes(deps: ServerDeps): Hono {
  const app = new Hono();
  app.get("/eval", async (c) => {
    const evals = deps.pipelines.list().filter((p) => p.cells.some((cell) => cell.name === EVAL_CELL));
    const id = c.req.query("pipeline") ?? (evals.find((p) => p.id === "eval") ?? evals[0])?.id;
    if (id === undefined) return c.html(<EvalPage evals={[]} pipeline={undefined} runs={[]} selected={undefined} />);
    if (!evals.some((p) => p.id === id)) return c.html(<NotFound what={`pipeline ${id}: no such pipeline with an ${EVAL_CELL} cell`} />, 404);
    const run = c.req.query("run");
    if (run !== undefined && !RUN_ID.test(run)) return c.html(<NotFound what={`run ${run}: no such run`} />, 404);
    const runs = await evalHistory(deps.cellar, { pipeline: id, cell: EVAL_CELL, limit: HISTORY });
    const selected = run === undefined ? runs[0] : runs.find((r) => r.runId === Number(run));
    if (run !== undefined && !selected) return c.html(<NotFound what={`run ${run}: no eval result of pipeline ${id} among its last ${HISTORY}`} />, 404);
    return c.html(<EvalPage evals={evals} pipeline={id} runs={runs} selected={selected} />);
  });
  return app;
}

const fixed = (n: number | null | undefined, sign = false) => (n === null || n === undefined ? "–" : `${sign && n >= 0 ? "+" : ""}${n.toFixed(4)}`);

function EvalPage(props: { evals: Pipeline[]; pipeline: string | undefined; runs: EvalRun[]; selected: EvalRun | undefined }) {
  const { pipeline, runs, selected } = props;
  return (
    <Layout title="Eval" nav="Eval" styles={[UPLOT_STYLE]} scripts={[UPLOT_SCRIPT, EVAL_CHART_PATH]}>
      <h1>{pipeline === undefined ? "Eval" : `Eval · ${pipeline}`}</h1>
      {props.evals.length > 1 ? <PipelinePicker evals={props.evals} pipeline={pipeline} /> : null}
      {pipeline === undefined
        ? <div class="empty">{`No pipeline served here has an eval cell (${EVAL_CELL}); pipelines/eval.ts defines one.`}</div>
        : runs.length === 0
        ? (
          <div class="empty">
            {`No eval run of ${pipeline} yet. Run it with `}
            <code>{`cellar run ${pipeline}`}</code>
            {" (it searches the newest index: run ingest first), or from its "}
            <a href={`/pipelines/${encodeURIComponent(pipeline)}`}>notebook</a>.
          </div>
        )
        : (
          <>
            <p class="sub">
              {runs.length === 1
                ? `${EVAL_CELL}'s one run so far. Dashed: the baseline a run was gated against; dotted: its threshold (baseline − allowed drop).`
                : `${EVAL_CELL} over the last ${runs.length} runs, oldest left. Dashed: the baseline each run was gated against; dotted: its threshold (baseline − allowed drop). Click a point to pick its run.`}
            </p>
            <Charts pipeline={pipeline} runs={runs} selected={selected} />
            <EvalRunPicker pipeline={pipeline} runs={runs} selected={selected} />
            {selected ? <Verdict run={selected} /> : null}
            {selected?.comparison ? <Compared run={selected} comparison={selected.comparison} /> : null}
          </>
        )}
    </Layout>
  );
}

function PipelinePicker(props: { evals: Pipeline[]; pipeline: string | undefined }) {
  return (
    <nav class="runpick">
      <span class="muted">Pipelines:</span>
      {props.evals.map((p) => <a key={p.id} href={`/eval?pipeline=${encodeURIComponent(p.id)}`} class={p.id === props.pipeline ? "selected" : ""}>{p.id}</a>)}
    </nav>
  );
}

/** One chart per metric; its data oldest first, as eval-chart.js draws it. */
function Charts(props: { pipeline: string; runs: EvalRun[]; selected: EvalRun | undefined }) {
  const runs = [...props.runs].reverse();
  const rowOf = (r: EvalRun, metric: string) => r.verdict.rows.find((row) => row.metric === metric);
  return (
    <div class="charts">
      {CHART_METRICS.map((metric) => {
        const data = {
          metric,
          href: `/eval?pipeline=${encodeURIComponent(props.pipeline)}&run=`,
          runs: runs.map((r) => r.runId),
          failed: runs.map((r) => rowOf(r, metric)?.result === "FAIL"),
          values: runs.map((r) => r.metrics[metric] ?? null),
          baseline: runs.map((r) => rowOf(r, metric)?.baseline ?? null),
          threshold: runs.map((r) => {
            const row = rowOf(r, metric);
            return row?.baseline === null || row?.baseline === undefined ? null : row.baseline - row.allowedDrop;
          }),
          selected: props.selected ? runs.indexOf(props.selected) : -1,
        };
        return (
          <figure class="chart">
            <figcaption>{metric}</figcaption>
            <div class="plot" data-chart={JSON.stringify(data)}></div>
          </figure>
        );
      })}
    </div>
  );
}

function EvalRunPicker(props: { pipeline: string; runs: EvalRun[]; selected: EvalRun | undefined }) {
  return (
    <nav class="runpick">
      <span class="muted">Runs:</span>
      {props.runs.map((r) => (
        <a
          href={`/eval?pipeline=${encodeURIComponent(props.pipeline)}&run=${r.runId}`}
          class={r === props.selected ? "selected" : ""}
          title={`${r.verdict.pass ? "gate passed" : "gate failed"} · ${when(r.logicalDate)}`}
        >
          <span class={`dot ${r.verdict.pass ? "state-success" : "state-failed"}`} />
          {`#${r.runId}`}
        </a>
      ))}
    </nav>
  );
}

function Verdict(props: { run: EvalRun }) {
  const { run } = props;
  const drops = Object.entries(run.verdict.drops).filter(([, questions]) => questions.length > 0);
  return (
    <section class="verdict">
      <h2>
        {`Verdict of run `}
        <a href={`/runs/${run.runId}`}>{`#${run.runId}`}</a>
        {" "}
        <span class={`badge ${run.verdict.pass ? "state-success" : "state-failed"}`}>{run.verdict.pass ? "pass" : "regression"}</span>
      </h2>
      <p class="sub">
        {`${run.verdict.baseline === null ? "no baseline (nothing to compare)" : `against ${run.verdict.baseline}`} · ${run.kind} run, ${run.state} · logical date ${when(run.logicalDate)} · finished ${when(run.finishedAt)}`}
      </p>
      <table class="list verdict-table">
        <thead>
          <tr><th>metric</th><th class="num">baseline</th><th class="num">now</th><th class="num">delta</th><th class="num">allowed drop</th><th class="num">threshold</th><th>result</th></tr>
        </thead>
        <tbody>
          {run.verdict.rows.map((row) => (
            <tr class={`result-${row.result.toLowerCase()}`}>
              <td class="mono">{row.metric}</td>
              <td class="num">{fixed(row.baseline)}</td>
              <td class="num">{fixed(row.now)}</td>
              <td class="num">{fixed(row.delta, true)}</td>
              <td class="num">{fixed(row.allowedDrop)}</td>
              <td class="num">{fixed(row.baseline === null || row.baseline === undefined ? null : row.baseline - row.allowedDrop)}</td>
              <td><span class="verdict-result">{row.result}</span></td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2 class="fell">Questions that fell most</h2>
      {drops.length === 0
        ? <p class="muted">{run.verdict.pass ? "No metric regressed in this run." : "The baseline kept no per-question metrics to compare."}</p>
        : (
          <table class="list drops">
            <thead>
              <tr><th>metric</th><th>question</th><th class="num">baseline</th><th class="num">now</th><th class="num">delta</th></tr>
            </thead>
            <tbody>
              {drops.flatMap(([metric, questions]) =>
                questions.map((q) => (
                  <tr>
                    <td class="mono">{metric}</td>
                    <td class="mono">{q.qid}</td>
                    <td class="num">{fixed(q.baseline)}</td>
                    <td class="num">{fixed(q.now)}</td>
                    <td class="num">{fixed(q.now - q.baseline, true)}</td>
                  </tr>
                ))
              )}
            </tbody>
          </table>
        )}
    </section>
  );
}

/** The metrics of cells/eval/compare.ts's table, in its order. */
const COMPARED = ["nDCG@10", "recall@10", "MRR", "MAP"];

function Compared(props: { run: EvalRun; comparison: EvalComparison }) {
  const { rows, folds, seed, metric } = props.comparison;
  const best = Object.fromEntries(COMPARED.map((m) => [m, Math.max(...rows.map((r) => r.metrics[m] ?? -Infinity))]));
  // An index column only when the run compared several indexes (an eval after a retrain, say).
  const indexes = new Set(rows.map((r) => r.index && `${r.index.pipeline} ${r.index.model}`));
  const byIndex = indexes.size > 1;
  return (
    <section class="compared">
      <h2>{`Retrieval compared in run #${props.run.runId}`}</h2>
      <p class="sub">
        {`Each spec scored on the same questions${byIndex ? ", over each index compared (its pipeline and the model that built it)" : ""}. A spec with a grid is scored by ${folds}-fold cross-validation (seed ${seed}) on ${metric}: each fold with the point the other folds chose. The gated spec is marked.`}
      </p>
      <table class="list compare-table">
        <thead>
          <tr>{byIndex ? <th>index</th> : null}<th>retrieval</th>{COMPARED.map((m) => <th key={m} class="num metric">{m}</th>)}<th class="num">ms/query</th></tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr class={row.primary ? "primary" : ""}>
              {byIndex ? <IndexCell index={row.index} /> : null}
              <td>
                <span class="mono">{row.spec}</span>
                {row.primary ? <span class="badge">gated</span> : null}
                {row.cv ? <div class="muted small">{`${row.points} points; the folds chose ${row.resolved} most`}</div> : null}
              </td>
              {COMPARED.map((m) => <td key={m} class={`num${row.metrics[m] === best[m] ? " best" : ""}`}>{fixed(row.metrics[m])}</td>)}
              <td class="num">{row.msPerQuery.toFixed(2)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function IndexCell(props: { index: EvalComparison["rows"][number]["index"] }) {
  const { index } = props;
  if (!index) return <td class="muted">–</td>;
  return (
    <td>
      <span class="mono">{index.pipeline}</span>
      <div class="muted small mono">{index.model}</div>
    </td>
  );
}
