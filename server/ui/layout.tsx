/**
 * The frame every UI page shares (head, top bar, stylesheet) and the small pieces they repeat: a state
 * badge and the one-line 404 page. Text is escaped by hono/jsx; nothing here inserts raw HTML.
 *
 * @example
 * ```ts
 * import { Layout, StateBadge } from "./layout.tsx";
 *
 * const page = Layout({ title: "Pipelines", children: StateBadge({ state: "success" }) });
 * ```
 */
import type { Child } from "hono/jsx";

export const STYLE_PATH = "/ui/style.css";

export function Layout(props: { title: string; children?: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${props.title} · Cellar`}</title>
        <link rel="stylesheet" href={STYLE_PATH} />
      </head>
      <body>
        <header class="top">
          <a class="brand" href="/">Cellar</a>
          <a href="/">Pipelines</a>
        </header>
        <main>{props.children}</main>
      </body>
    </html>
  );
}

export function StateBadge(props: { state: string }) {
  return <span class={`badge state-${props.state}`}>{props.state.replace("_", " ")}</span>;
}

export function NotFound(props: { what: string }) {
  return (
    <Layout title="Not found">
      <p class="notfound">{props.what}</p>
    </Layout>
  );
}
