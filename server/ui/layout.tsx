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
import { FAVICON_PATH } from "./static-files.ts";
import { raw } from "hono/html";

export const STYLE_PATH = "/ui/style.css";
/** The one client script (live updates and the run buttons): a static file, as a CSP without inline script wants. */
export const LIVE_PATH = "/ui/live.js";

/** `scripts` and `styles`: a page's own static files (a chart library, its drawing code), after live.js. */
export function Layout(props: { title: string; children?: Child; scripts?: string[]; styles?: string[] }) {
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
            <a href="/">Pipelines</a>
            <a href="/eval">Eval</a>
            <a href="/costs">Costs</a>
            <a href="/devices">Devices</a>
            <a href="/search">Search</a>
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

export function NotFound(props: { what: string }) {
  return (
    <Layout title="Not found">
      <p class="notfound">{props.what}</p>
    </Layout>
  );
}
