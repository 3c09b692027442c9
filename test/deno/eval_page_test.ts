// Eval results over time under Deno (Deno.serve through the runtime adapter): two runs of an eval cell
// through the real gate (cells/eval/gate.ts), triggered over the API — one passing, one regressed — then
// GET /api/v1/eval with both verdicts, the Eval page with the regressed run's rows escaped, and its script.
// test/eval-page.test.ts covers the same under Node, and the chart in Chromium.
// Run with: deno task test
import assert from "node:assert/strict";
import { startServer } from "../../server/serve.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

const EVAL = `import { CheckFailed, latestCheckpoint, pipeline } from ${JSON.stringify(`${ROOT}kernel/mod.ts`)};
import { compare } from ${JSON.stringify(`${ROOT}cells/eval/gate.ts`)};
export default pipeline({ id: "eval", params: { ndcg: 0.4 } })
  .cell("run_eval_suite", { cache: false }, async (ctx) => {
    const metrics = { "nDCG@10": ctx.params.ndcg as number };
    const perQuery = { "<i>q1</i>": metrics };
    const last = await latestCheckpoint<any>(ctx, { pipeline: ctx.pipeline, cell: ctx.cell, succeeded: true, excludeRun: ctx.runId });
    const baseline = last ? { source: "eval run " + last.runId, evalSet: { name: "t", fingerprint: "f" }, ...last.output } : null;
    const verdict = compare(baseline, metrics, { "nDCG@10": 0.02 }, perQuery);
    if (!verdict.pass) throw new CheckFailed("eval regressed", { details: { metrics, verdict } });
    return { metrics, perQuery, verdict };
  });
`;

Deno.test({
  name: "the eval history over the API and the Eval page under Deno, a failed gate's verdict included",
  // DuckDB's and the watcher's resources outlive the test by design; the server is closed at its end.
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "cellar-eval-page-" });
    await Deno.writeTextFile(`${dir}/eval.ts`, EVAL);
    const server = await startServer({ db: `${dir}/cellar.duckdb`, host: "127.0.0.1", port: 0, pipelines: dir, schedule: false });
    try {
      const ids: number[] = [];
      for (const [date, ndcg] of [["2026-05-01", 0.4], ["2026-05-02", 0.3]] as const) {
        const started = await fetch(`${server.url}/api/v1/pipelines/eval/runs`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ date, params: { ndcg } }),
        });
        assert.equal(started.status, 202);
        const { id } = await started.json();
        let state = "queued";
        for (const deadline = Date.now() + 30_000; Date.now() < deadline && state !== "success" && state !== "failed";) {
          await new Promise((r) => setTimeout(r, 30));
          state = (await (await fetch(`${server.url}/api/v1/runs/${id}`)).json()).state;
        }
        ids.push(id);
      }
      const history = await (await fetch(`${server.url}/api/v1/eval`)).json();
      assert.deepEqual(history.runs.map((r: any) => [r.id, r.state, r.verdict.pass]), [[ids[1], "failed", false], [ids[0], "success", true]]);
      assert.deepEqual(history.runs[0].verdict.rows[0], { metric: "nDCG@10", baseline: 0.4, now: 0.3, delta: history.runs[0].verdict.rows[0].delta, allowedDrop: 0.02, result: "FAIL" });
      assert.deepEqual(history.runs[0].verdict.drops["nDCG@10"], [{ qid: "<i>q1</i>", baseline: 0.4, now: 0.3 }]);

      const page = await fetch(`${server.url}/eval`);
      assert.equal(page.status, 200);
      const html = await page.text();
      assert.match(html, /<tr class="result-fail"><td class="mono">nDCG@10<\/td><td class="num">0\.4000<\/td><td class="num">0\.3000<\/td>/);
      assert.ok(html.includes(`<td class="mono">&lt;i&gt;q1&lt;/i&gt;</td>`));
      assert.ok(!html.includes("<i>q1</i>"));
      const script = await fetch(`${server.url}/ui/eval-chart.js`);
      assert.match(script.headers.get("content-type") ?? "", /^text\/javascript/);
      assert.match(await script.text(), /new uPlot\(/);
    } finally {
      await server.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
