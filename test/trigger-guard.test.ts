// The trigger routes answer an identical trigger (pipeline, logical date, params, start cell) with the run
// that is already going, also one this server's memory does not hold: a run started by the facade itself, as
// the runs a restarted server adopts are. Real HTTP on 127.0.0.1, a real DuckDB file.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, startServer } from "../server/serve.ts";
import { tempDir, writePipeline } from "./helpers.ts";

const DATE = "2026-05-03T00:00:00Z";
let server: RunningServer;
beforeAll(async () => {
  const dir = tempDir();
  // Its one cell waits until the run is cancelled (the server's close).
  writePipeline(dir, "slow.ts", `export default pipeline({ id: "slow", params: { n: 2, tag: "x" } })
  .cell("wait", (ctx) => new Promise((r) => {
    if (ctx.signal.aborted) return r(0);
    const t = setTimeout(r, 30_000);
    ctx.signal.addEventListener("abort", () => (clearTimeout(t), r(0)));
  }));`);
  server = await startServer({ db: join(dir, "cellar.duckdb"), host: "127.0.0.1", port: 0, pipelines: dir, schedule: false });
}, 30_000);
afterAll(async () => await server?.close());

async function trigger(path: string, body: unknown): Promise<number> {
  const res = await fetch(`${server.url}/api/v1${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  expect(res.status).toBe(202);
  return ((await res.json()) as { id: number }).id;
}

describe("the trigger's double-click guard", () => {
  it("answers with the active run in the store that matches, which the route did not start", async () => {
    const slow = server.registry.get("slow")!;
    const going = await server.cellar.start(slow, { date: DATE, params: { tag: "x", n: "2" } });
    // The same params as the store holds them, given otherwise (defaults left out, a number as text).
    expect(await trigger("/pipelines/slow/runs", { date: "2026-05-03", params: { n: 2 } })).toBe(going.runId);
    const cell = await server.cellar.startCell(slow, "wait", { date: DATE });
    expect(await trigger("/pipelines/slow/cells/wait/runs", { date: DATE })).toBe(cell.runId);
    // Another param, date or start cell is another run.
    const other = await trigger("/pipelines/slow/runs", { date: DATE, params: { n: 3 } });
    const later = await trigger("/pipelines/slow/runs", { date: "2026-05-04" });
    const from = await trigger("/pipelines/slow/runs", { date: DATE, from: "wait" });
    expect(new Set([going.runId, cell.runId, other, later, from]).size).toBe(5);
  }, 30_000);
});
