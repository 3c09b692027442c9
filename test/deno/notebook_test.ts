// The notebook's server side under Deno (Deno.serve, Deno.watchFs through the runtime adapter), over real
// HTTP on 127.0.0.1: saving a served pipeline file sends `pipeline_changed` on the live-updates stream and
// marks the edited cell stale in the pipeline's detail; a run's detail says why each cell ran; a schedule
// pauses and unpauses. Run with: deno task test
import assert from "node:assert/strict";
import { startServer } from "../../server/serve.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const source = (sum: string) =>
  `import { pipeline } from ${JSON.stringify(`${ROOT}kernel/mod.ts`)};
export default pipeline({ id: "small", schedule: "@daily", startDate: "2026-05-01" })
  .cell("make", () => [1, 2, 3])
  .cell("sum", (_ctx, xs: number[]) => ${sum});
`;

Deno.test({
  name: "a saved pipeline file sends pipeline_changed and marks its edited cell stale; pause and unpause under Deno",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "cellar-notebook-" });
    await Deno.writeTextFile(`${dir}/small.ts`, source("xs.reduce((a, b) => a + b, 0)"));
    const server = await startServer({ db: `${dir}/cellar.duckdb`, host: "127.0.0.1", port: 0, pipelines: dir, schedule: false });
    const post = (path: string, body?: unknown) =>
      fetch(`${server.url}/api/v1${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    try {
      const { id } = await (await post("/pipelines/small/runs", { date: "2026-05-03" })).json();
      let detail: { state: string; cells: Array<{ cell: string; cacheReason: { reason: string } | null }> } = { state: "queued", cells: [] };
      for (const deadline = Date.now() + 30_000; Date.now() < deadline && detail.state !== "success";) {
        await new Promise((r) => setTimeout(r, 50));
        detail = await (await fetch(`${server.url}/api/v1/runs/${id}`)).json();
      }
      assert.deepEqual(detail.cells.map((c) => `${c.cell}:${c.cacheReason?.reason}`), ["make:no_checkpoint", "sum:no_checkpoint"]);
      assert.deepEqual((await (await fetch(`${server.url}/api/v1/pipelines/small`)).json()).stale, []);

      const live = await fetch(`${server.url}/api/v1/events?pipeline=small`);
      const reader = live.body!.pipeThrough(new TextDecoderStream()).getReader();
      await Deno.writeTextFile(`${dir}/small.ts`, source("xs.reduce((a, b) => a + b, 10)"));
      let text = "";
      for (const deadline = Date.now() + 10_000; Date.now() < deadline && !text.includes("event: pipeline_changed");) {
        text += (await reader.read()).value ?? "";
      }
      assert.match(text, /event: pipeline_changed\ndata: \{"type":"pipeline_changed","pipeline":"small"\}/);
      await reader.cancel();
      const after = await (await fetch(`${server.url}/api/v1/pipelines/small`)).json();
      assert.deepEqual(after.stale, [{ cell: "sum", checkpointRun: id }]);

      assert.deepEqual(await (await post("/pipelines/small/pause")).json(), { pipeline: "small", paused: true, changed: true });
      assert.equal((await (await fetch(`${server.url}/api/v1/pipelines`)).json()).pipelines[0].paused, true);
      assert.deepEqual(await (await post("/pipelines/small/unpause")).json(), { pipeline: "small", paused: false, changed: true });
      const unknown = await post("/pipelines/nope/pause");
      assert.equal(unknown.status, 404);
      assert.deepEqual(await unknown.json(), { error: "pipeline nope: no such pipeline" });
    } finally {
      await server.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
