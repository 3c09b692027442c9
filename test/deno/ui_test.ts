// The notebook UI under Deno: the same routes over a real store, so that what differs between the runtimes
// (a cell's call site is a file: URL here, highlight.js loads through Deno's npm resolution) is covered.
// Run with: deno task test
import assert from "node:assert/strict";
import { Hono } from "hono";
import { openCellar, type Pipeline } from "../../kernel/mod.ts";
import { uiRoutes } from "../../server/ui/routes.tsx";

const ROOT = new URL("../..", import.meta.url).pathname;

Deno.test({
  name: "the notebook UI shows a pipeline's cells, their TypeScript source highlighted, and its run under Deno",
  // DuckDB's resources outlive the test by design; the facade is closed at its end.
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "cellar-ui-" });
    const file = `${dir}/small.ts`;
    await Deno.writeTextFile(
      file,
      `import { pipeline } from ${JSON.stringify(`${ROOT}kernel/mod.ts`)};
export default pipeline({ id: "small" })
  .cell("make", (): number[] => [1, 2, 3])
  .cell("sum", (_ctx, xs: number[]) => xs.reduce((a, b) => a + b, 0) + "<script>alert(1)</script>");
`,
    );
    const small = (await import(`file://${file}`)).default as Pipeline;
    const cellar = openCellar({ db: `${dir}/cellar.duckdb` });
    try {
      const { runId } = await cellar.run(small, { date: "2026-05-03" });
      const app = new Hono().route("/", uiRoutes({ cellar, pipelines: { list: () => [small], get: (id) => (id === "small" ? small : undefined), changed: () => () => {} } }));
      const list = await (await app.request("/")).text();
      assert.match(list, new RegExp(`href="/runs/${runId}"`));
      const page = await app.request("/pipelines/small");
      assert.equal(page.status, 200);
      const html = await page.text();
      // The source as written, its type annotations included: read from the file, not fn.toString().
      assert.match(html, /xs<\/span>: <span class="hljs-built_in">number<\/span>\[\]/);
      assert.match(html, /class="badge state-success"/);
      assert.ok(html.includes("6&lt;script&gt;alert(1)&lt;/script&gt;"));
      assert.ok(!html.includes("<script>"));
      assert.equal((await app.request(`/runs/${runId}`)).status, 200);
      assert.equal((await app.request("/runs/999")).status, 404);
      // The costs page and its CSV (csv-stringify through Deno's npm resolution), and a page script read by node:fs.
      const costs = await (await app.request("/costs")).text();
      assert.ok(costs.includes('<td class="mono">make</td>') && costs.includes('<td class="mono">sum</td>'));
      const csv = await app.request("/costs.csv?days=7");
      assert.equal(csv.headers.get("content-disposition"), 'attachment; filename="cellar-costs-7d.csv"');
      assert.match(await csv.text(), /^day,pipeline,cell,resource,amount,unit\n\d{4}-\d\d-\d\d,small,make,cpu_seconds,/);
      assert.match(await (await app.request("/ui/costs.js")).text(), /new uPlot\(/);
      assert.match(await (await app.request("/ui/vendor/uplot.js")).text(), /uPlot/);
    } finally {
      await cellar.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
