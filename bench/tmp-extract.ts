import { readdirSync, readFileSync } from "node:fs";
import { extractHtml } from "../cells/crawl/html.ts";
const dir = "/usr/share/doc/postgresql-doc-15/html";
const pages = readdirSync(dir).filter((f) => f.endsWith(".html")).map((f) => ({ url: `http://x/${f}`, html: readFileSync(`${dir}/${f}`, "utf8") }));
let out = 0;
for (let round = 0; round < 4; round++) {
  const t0 = performance.now();
  for (const p of pages) out += extractHtml(p.html, p.url).text.length;
  console.log(round, (performance.now() - t0).toFixed(0), "ms");
}
console.log(out);
