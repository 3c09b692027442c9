/**
 * The UI's static files beside style.css and live.js: uPlot's two files (the charting library, from
 * node_modules, for the costs and eval charts), the costs, devices and eval pages' scripts, and the favicon (also
 * at `/favicon.ico`, where a browser asks for one by default, so that it gets no 404). A fixed table from
 * URL path to file, each read once at its first request, so no request path ever becomes a file path (no
 * traversal) and the CSP's script-src 'self' holds.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { staticFiles, UPLOT_SCRIPT } from "./static-files.ts";
 *
 * const app = new Hono().route("/", staticFiles()); // GET /ui/vendor/uplot.js → uPlot's minified IIFE build
 * ```
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Hono } from "hono";

export const UPLOT_SCRIPT = "/ui/vendor/uplot.js";
export const UPLOT_STYLE = "/ui/vendor/uplot.css";
/** The icon every page's head links to (layout.tsx); open without a token, as /favicon.ico is (app.ts). */
export const FAVICON_PATH = "/ui/favicon.svg";

const JS = "text/javascript; charset=utf-8";
const CSS = "text/css; charset=utf-8";
const SVG = "image/svg+xml";

const require = createRequire(import.meta.url);

/** URL path → where the file is (resolved at the first request, so a missing package fails that request only) and its type. */
const FILES: Record<string, { file: () => URL; type: string }> = {
  [UPLOT_SCRIPT]: { file: () => pathToFileURL(require.resolve("uplot/dist/uPlot.iife.min.js")), type: JS },
  [UPLOT_STYLE]: { file: () => pathToFileURL(require.resolve("uplot/dist/uPlot.min.css")), type: CSS },
  "/ui/costs.js": { file: () => new URL("./costs.js", import.meta.url), type: JS },
  "/ui/devices.js": { file: () => new URL("./devices.js", import.meta.url), type: JS },
  "/ui/eval-chart.js": { file: () => new URL("./eval-chart.js", import.meta.url), type: JS },
  "/ui/grid.js": { file: () => new URL("./grid.js", import.meta.url), type: JS },
  [FAVICON_PATH]: { file: () => new URL("./favicon.svg", import.meta.url), type: SVG },
  "/favicon.ico": { file: () => new URL("./favicon.svg", import.meta.url), type: SVG },
};

const read = new Map<string, Promise<string>>();

export function staticFiles(): Hono {
  const app = new Hono();
  for (const [path, { file, type }] of Object.entries(FILES)) {
    app.get(path, async (c) => {
      let text = read.get(path);
      if (!text) {
        read.set(path, text = (async () => await readFile(file(), "utf8"))());
        // A read that failed is tried again at the next request.
        text.catch(() => read.delete(path));
      }
      return c.body(await text, 200, { "content-type": type, "cache-control": "public, max-age=300" });
    });
  }
  return app;
}
