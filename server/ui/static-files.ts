/**
 * The costs and devices pages' client scripts, beside live.js: a fixed table from URL path to file, each
 * read once at its first request, so no request path ever becomes a file path (no traversal) and the CSP's
 * script-src 'self' holds. uPlot's own two files are served by eval-page.tsx, at UPLOT_SCRIPT and UPLOT_STYLE.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { staticFiles } from "./static-files.ts";
 *
 * const app = new Hono().route("/", staticFiles()); // GET /ui/costs.js → server/ui/costs.js
 * ```
 */
import { readFile } from "node:fs/promises";
import { Hono } from "hono";

/** Where eval-page.tsx serves uPlot from node_modules. */
export const UPLOT_SCRIPT = "/ui/vendor/uplot.js";
export const UPLOT_STYLE = "/ui/vendor/uplot.css";

const JS = "text/javascript; charset=utf-8";

/** URL path → the file's URL and content type. */
const FILES: Record<string, { file: URL; type: string }> = {
  "/ui/costs.js": { file: new URL("./costs.js", import.meta.url), type: JS },
  "/ui/devices.js": { file: new URL("./devices.js", import.meta.url), type: JS },
};

const read = new Map<string, Promise<string>>();

export function staticFiles(): Hono {
  const app = new Hono();
  for (const [path, { file, type }] of Object.entries(FILES)) {
    app.get(path, async (c) => {
      let text = read.get(path);
      if (!text) {
        read.set(path, text = readFile(file, "utf8"));
        // A read that failed is tried again at the next request.
        text.catch(() => read.delete(path));
      }
      return c.body(await text, 200, { "content-type": type, "cache-control": "public, max-age=300" });
    });
  }
  return app;
}
