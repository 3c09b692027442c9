/**
 * The frame every UI page shares (head, top bar, stylesheet) and the small pieces they repeat: a state
 * badge and the one-line 404 page. Text is escaped by hono/jsx; nothing here inserts raw HTML. Every page
 * loads live.js, which does nothing on a page without a running run or a run button.
 *
 * @example
 * ```ts
 * import { Layout, StateBadge } from "./layout.tsx";
 *
 * const page = Layout({ title: "Pipelines", children: StateBadge({ state: "success" }) });
 * ```
 */
import type { Child } from "hono/jsx";
import { raw } from "hono/html";
import { CellState, RunState } from "../../kernel/mod.ts";
import { FAVICON_PATH } from "./static-files.ts";

export const STYLE_PATH = "/ui/style.css";
/** The one client script (live updates and the run buttons): a static file, as a CSP without inline script wants. */
export const LIVE_PATH = "/ui/live.js";

/** The top bar's sections, each with its page; a page names its section so that the bar marks it. */
const NAV = [["/", "Pipelines"], ["/eval", "Eval"], ["/costs", "Costs"], ["/devices", "Devices"], ["/search", "Search"]] as const;
export type NavSection = typeof NAV[number][1];

/**
 * `scripts` and `styles`: a page's own static files (a chart library, its drawing code), after live.js.
 * `nav`: the section the page belongs to (a notebook, grid or run page is under Pipelines); "none" for the
 * login form, whose visitor could open none of them.
 */
export function Layout(props: { title: string; children?: Child; scripts?: string[]; styles?: string[]; nav?: NavSection | "none" }) {
  // Without a doctype a browser lays the page out in quirks mode. A constant, never data: the one raw() here.
  return (
    <>
      {raw("<!DOCTYPE html>")}
      <html lang="en">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <title>{`${props.title} · Cellar`}</title>
          <link rel="icon" type="image/svg+xml" href={FAVICON_PATH} />
          <link rel="stylesheet" href={STYLE_PATH} />
          {(props.styles ?? []).map((href) => <link key={href} rel="stylesheet" href={href} />)}
          <script src={LIVE_PATH} defer></script>
          {(props.scripts ?? []).map((src) => <script key={src} src={src} defer></script>)}
        </head>
        <body>
          <header class="top">
            <a class="brand" href="/">Cellar</a>
            {props.nav === "none" ? null : <nav>{NAV.map(([href, name]) => name === props.nav ? <a key={href} href={href} aria-current="page">{name}</a> : <a key={href} href={href}>{name}</a>)}</nav>}
          </header>
          <main>{props.children}</main>
        </body>
      </html>
    </>
  );
}

/** `live`: the attribute live.js finds it by (`data-cell-badge` for a cell's, `data-run-badge` for the run's). */
export function StateBadge(props: { state: string; live?: "cell" | "run" }) {
  const attrs = props.live === "cell" ? { "data-cell-badge": "" } : props.live === "run" ? { "data-run-badge": "" } : {};
  return <span class={`badge state-${props.state}`} {...attrs}>{props.state.replace("_", " ")}</span>;
}

/** The order a legend lists states in: the good, the going, the bad. */
const LEGEND_ORDER: string[] = [
  CellState.Success, CellState.Cached, RunState.Running, RunState.Queued, CellState.Waiting, CellState.UpForRetry,
  CellState.Failed, CellState.UpstreamFailed, CellState.Cancelled, RunState.Interrupted,
];

/** What the colours of a strip, a grid or a timeline mean: the states it shows, each with its swatch. */
export function StateLegend(props: { states: Iterable<string> }) {
  const shown = new Set(props.states);
  const states = [...LEGEND_ORDER.filter((s) => shown.has(s)), ...[...shown].filter((s) => !LEGEND_ORDER.includes(s))];
  if (states.length === 0) return null;
  return (
    <p class="legend">
      {states.map((s) => <span key={s}><span class={`swatch state-${s}`} />{s.replace("_", " ")}</span>)}
    </p>
  );
}

export function NotFound(props: { what: string }) {
  return (
    <Layout title="Not found">
      <div class="notfound-box">
        <p class="notfound">{props.what}</p>
        <a href="/">← all pipelines</a>
      </div>
    </Layout>
  );
}
