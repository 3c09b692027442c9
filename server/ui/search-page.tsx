/**
 * `/search`: a query box over a pipeline's indexes (the facade's search, through the pipeline module's `search`
 * export, which opens the retriever `mode` names: the same function as `cellar search --mode` and the eval), and
 * the hits with their rank and score. The mode select offers the usual specs and the pipeline's default (empty);
 * any other spec given as `?mode=` is offered too, and a bad one is the pipeline's one-line refusal. Hits are crawled text: escaped like everything else, so
 * a page whose title holds `<script>` shows it as text. A refusal (no such index yet, no search export) is
 * one line on the page.
 *
 * @example
 * ```ts
 * import { searchPage } from "./search-page.tsx";
 *
 * const page = searchPage({ pipelines: ["ingest"], pipeline: "ingest", q: "lift", k: 10, mode: "hybrid:rrf", hits: [{ rank: 1, score: 0.82, document: "cran-12", title: "Lift on wings" }] });
 * ```
 */
import { errorLine, isCellarError, type SearchHit } from "../../kernel/mod.ts";
import type { ServerDeps } from "../deps.ts";
import { Layout } from "./layout.tsx";

const MAX_K = 1000;
const MAX_QUERY = 2000;
const MAX_MODE = 200;

/** The retrieval specs the select offers; "" is the pipeline's own default. */
export const SEARCH_MODES = ["", "dense", "lexical", "lexical+rm3", "hybrid", "hybrid+rm3", "hybrid:rrf", "hybrid+rm3:rrf"];

export interface SearchView {
  /** The pipelines served, offered in the form. */
  pipelines: string[];
  pipeline: string;
  q: string;
  k: number;
  /** The retrieval spec, "" for the pipeline's default. */
  mode: string;
  hits?: SearchHit[];
  /** Why there are no hits: one line. */
  error?: string;
}

/** The page for `?q=&pipeline=&k=&mode=`: the form alone without a query; a bad k or mode, an unknown pipeline or a refused search as one line. */
export async function searchResponse(deps: ServerDeps, query: Record<string, string | undefined>): Promise<{ status: 200 | 400 | 404; page: ReturnType<typeof searchPage> }> {
  const ids = deps.pipelines.list().map((p) => p.id);
  const q = (query.q ?? "").trim();
  const pipeline = query.pipeline || (ids.includes("ingest") ? "ingest" : ids[0] ?? "ingest");
  const k = query.k ?? "10";
  const mode = (query.mode ?? "").trim();
  const view: SearchView = { pipelines: ids, pipeline, q, k: 10, mode: mode.slice(0, MAX_MODE) };
  if (mode.length > MAX_MODE) return { status: 400, page: searchPage({ ...view, mode: "", error: `the mode has ${mode.length} characters; at most ${MAX_MODE}` }) };
  if (!/^[1-9]\d{0,3}$/.test(k) || Number(k) > MAX_K) return { status: 400, page: searchPage({ ...view, error: `k ${k}: expected a whole number from 1 to ${MAX_K}` }) };
  view.k = Number(k);
  if (q === "") return { status: 200, page: searchPage(view) };
  if (q.length > MAX_QUERY) return { status: 400, page: searchPage({ ...view, error: `the query has ${q.length} characters; at most ${MAX_QUERY}` }) };
  if (!deps.pipelines.get(pipeline)) return { status: 404, page: searchPage({ ...view, error: `pipeline ${pipeline}: no such pipeline` }) };
  try {
    const hits = await deps.cellar.search(q, { pipeline: deps.pipelines.fileOf?.(pipeline) ?? pipeline, k: view.k, mode: mode || undefined });
    return { status: 200, page: searchPage({ ...view, hits }) };
  } catch (err) {
    if (!isCellarError(err)) throw err;
    return { status: 400, page: searchPage({ ...view, error: errorLine(err) }) };
  }
}

export function searchPage(view: SearchView) {
  return (
    <Layout title={view.q ? `Search: ${view.q}` : "Search"} nav="Search">
      <h1>Search</h1>
      <p class="sub">the documents a pipeline's indexes rank best for a query: by cosine similarity (dense), BM25 (lexical), or both fused (hybrid)</p>
      <form class="searchform" method="get" action="/search">
        <input type="search" name="q" value={view.q} placeholder="boundary layer transition" required autofocus aria-label="Query" />
        <label class="param">
          index of{" "}
          <select name="pipeline">
            {view.pipelines.map((p) => <option key={p} value={p} selected={p === view.pipeline}>{p}</option>)}
          </select>
        </label>
        <label class="param">
          mode{" "}
          <select name="mode">
            {(SEARCH_MODES.includes(view.mode) ? SEARCH_MODES : [...SEARCH_MODES, view.mode]).map((m) => (
              <option key={m} value={m} selected={m === view.mode}>{m === "" ? "default" : m}</option>
            ))}
          </select>
        </label>
        <label class="param">k <input type="number" name="k" min="1" max="1000" value={String(view.k)} /></label>
        <button type="submit">Search</button>
      </form>
      {view.error ? <p class="action-error search-error">{view.error}</p> : null}
      {view.hits ? <Hits hits={view.hits} q={view.q} pipeline={view.pipeline} /> : null}
    </Layout>
  );
}

function Hits(props: { hits: SearchHit[]; q: string; pipeline: string }) {
  if (props.hits.length === 0) return <div class="empty">{`No hits for “${props.q}” in the index of ${props.pipeline}.`}</div>;
  const best = Math.max(...props.hits.map((h) => h.score), 1e-9);
  return (
    <table class="list hits">
      <thead><tr><th class="num">Rank</th><th class="num">Score</th><th>Document</th></tr></thead>
      <tbody>
        {props.hits.map((h) => (
          <tr>
            <td class="num">{String(h.rank)}</td>
            <td class="num score">
              <span class="mono">{h.score.toFixed(4)}</span>
              <svg class="bar" width="60" height="6" role="img" aria-label="score relative to the best">
                <rect class="bar-bg" x="0" y="0" width="60" height="6" rx="2" />
                <rect class="bar-fill" x="0" y="0" width={Math.max(1, Math.round(60 * Math.max(0, h.score) / best))} height="6" rx="2" />
              </svg>
            </td>
            <td>
              <div class="hit-title">{h.title ?? h.document}</div>
              {h.title ? <div class="mono small muted">{h.document}</div> : null}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
