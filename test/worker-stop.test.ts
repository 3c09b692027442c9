// A remote kernel stops promptly after it has run chunks, under `cellar serve --nats-local`: leaving the server
// withdraws the worker's NATS user, so a NATS drain after the leave waited on a connection reconnecting forever
// (`cellar worker` then hit its 8 s stop deadline, the line the server-load bench's remote phase printed). Real
// nats-server, real HTTP on 127.0.0.1, the remote kernel in this process.
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runRemoteKernel } from "../kernel/remote/remote-kernel.ts";
import { type RunningServer, startServer } from "../server/serve.ts";
import { ROOT, tempDir, writePipeline } from "./helpers.ts";

const TOKEN = "t0ken";
let server: RunningServer;
beforeAll(async () => {
  const dir = tempDir("cellar-worker-stop-");
  writePipeline(dir, "far.ts", `import { task } from ${JSON.stringify(join(ROOT, "kernel/mod.ts"))};
const WAIT = task(${JSON.stringify(pathToFileURL(join(ROOT, "bench/load-tasks.ts")).href)}, "wait");
export default pipeline({ id: "far" })
  .cell("squares", (ctx) => ctx.map([1, 2, 3, 4].map((n) => ({ n, ms: 20 })), WAIT, { placement: "remote", batchSize: 2 }));`);
  server = await startServer({ db: join(dir, "cellar.duckdb"), host: "127.0.0.1", port: 0, pipelines: dir, schedule: false, token: TOKEN, natsLocal: true });
}, 30_000);
afterAll(async () => await server?.close());

describe("a remote kernel asked to stop", () => {
  it("drains NATS before it leaves, and ends within a second or two of the abort", async () => {
    const stop = new AbortController();
    const said: string[] = [];
    const kernel = runRemoteKernel({
      server: server.url, token: TOKEN, devices: "cpu", name: "w-stop", capacity: 1, modules: "cells", drainMs: 0,
      signal: stop.signal, say: (line) => said.push(line), warn: (line) => said.push(line),
    });
    while (!said.some((l) => l.startsWith("joined "))) await new Promise((r) => setTimeout(r, 20));
    const res = await fetch(`${server.url}/api/v1/pipelines/far/runs`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` } });
    const { id } = await res.json() as { id: number };
    for (;;) {
      const { run } = await server.cellar.show(id);
      if (run.state !== "running" && run.state !== "queued") break;
      await new Promise((r) => setTimeout(r, 30));
    }
    expect((await server.cellar.show(id)).run.state).toBe("success");
    const t0 = performance.now();
    stop.abort();
    const ended = await Promise.race([kernel.then(() => "stopped"), new Promise((r) => setTimeout(r, 6_000, "still stopping"))]);
    expect(ended).toBe("stopped");
    expect(performance.now() - t0).toBeLessThan(3_000);
    expect(said.at(-1)).toMatch(/^stopped: 2 chunks done; left http/);
    expect(server.workers.list()).toEqual([]);
  }, 30_000);
});
