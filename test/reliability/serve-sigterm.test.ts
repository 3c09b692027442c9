// `cellar serve` stopped as SIGTERM stops it (a deploy's restart: the CLI's signal handler calls the server's
// close()) during a triggered run: the next server on the store adopts the run and finishes it from the first
// cell without a checkpoint, with the same id, and answers an identical trigger with it (the trigger routes ask the
// store for an active run, not only their memory); a run a user cancelled
// through the API before the stop stays interrupted. Real HTTP on 127.0.0.1, a real DuckDB file, the servers
// one after the other in this process (a child process's start would cost seconds of the suite's budget).
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type RunningServer, startServer } from "../../server/serve.ts";
import { tempDir, writePipeline } from "../helpers.ts";
import { checkInvariants } from "./invariants.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, read: () => T | Promise<T>, done: (value: T) => boolean, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(value)}`);
    await sleep(30);
  }
}

const dir = tempDir("cellar-serve-sigterm-");
const db = join(dir, "cellar.duckdb");
const log = join(dir, "cells.log");
const go = join(dir, "go");
const DATE = "2026-05-03T00:00:00Z";
// b waits for the go file (or its cancel): the stop lands while it runs, a's checkpoint committed.
writePipeline(dir, "steps.ts", `import { appendFileSync, existsSync } from "node:fs";
const mark = (ctx, name) => appendFileSync(${JSON.stringify(log)}, ctx.params.k + "." + name + "\\n");
export default pipeline({ id: "steps", params: { k: 0 } })
  .cell("a", (ctx) => (mark(ctx, "a"), 1))
  .cell("b", async (ctx, x) => {
    mark(ctx, "b");
    while (!existsSync(${JSON.stringify(go)}) && !ctx.signal.aborted) await new Promise((r) => setTimeout(r, 20));
    ctx.signal.throwIfAborted();
    return x + 1;
  })
  .cell("c", (ctx, x) => (mark(ctx, "c"), x + 1));`);
const executed = () => existsSync(log) ? readFileSync(log, "utf8").trim().split("\n") : [];

const servers = new Set<RunningServer>();
afterAll(async () => {
  for (const server of servers) await server.close();
});

async function serve(): Promise<RunningServer> {
  const server = await startServer({ db, host: "127.0.0.1", port: 0, pipelines: dir, schedule: false });
  servers.add(server);
  return server;
}

async function stop(server: RunningServer): Promise<void> {
  servers.delete(server);
  await server.close();
}

async function api(url: string, path: string, body?: unknown): Promise<any> {
  const init = body === undefined ? {} : { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
  return await (await fetch(`${url}/api/v1${path}`, init)).json();
}

describe("cellar serve stopped as SIGTERM stops it, during a run", () => {
  it("leaves the run to the next server, which adopts and finishes it; a run the user cancelled stays interrupted", async () => {
    const first = await serve();
    const { id } = await api(first.url, "/pipelines/steps/runs", { date: DATE, params: { k: 1 } });
    const { id: cancelled } = await api(first.url, "/pipelines/steps/runs", { date: DATE, params: { k: 2 } });
    await until("both runs in b", executed, (cells) => cells.includes("1.b") && cells.includes("2.b"));
    expect((await api(first.url, `/runs/${cancelled}/cancel`, {})).cancelled).toBe(true);
    await until("the cancel", () => api(first.url, `/runs/${cancelled}`), (d) => d.run.state === "interrupted");
    await stop(first);
    expect(await checkInvariants(db)).toEqual([]);

    const next = await serve();
    expect(next.adopted).toEqual([`adopted run ${id} (steps) left by a process that ended; resuming at b`]);
    // The same trigger again, after the restart: answered with the adopted run, which this server's trigger
    // route never started (the store's active runs, not its memory); other params are another run.
    expect((await api(next.url, "/pipelines/steps/runs", { date: DATE, params: { k: "1" } })).id).toBe(id);
    const { id: other } = await api(next.url, "/pipelines/steps/runs", { date: DATE, params: { k: 3 } });
    expect(other).not.toBe(id);
    // So is a one-cell run's trigger: b alone, on a's checkpoint, started by the facade.
    const alone = await next.cellar.startCell(next.registry.get("steps")!, "b", { date: DATE });
    expect((await api(next.url, "/pipelines/steps/cells/b/runs", { date: DATE })).id).toBe(alone.runId);
    writeFileSync(go, "");
    const detail = await until("the adopted run to succeed", () => api(next.url, `/runs/${id}`), (d) => d.run.state === "success");
    expect(detail.logs.map((l: any) => l.message)).toContain("interrupted by the server's shutdown; the next cellar serve on this store resumes it");
    expect((await api(next.url, `/runs/${cancelled}`)).run.state).toBe("interrupted");
    // a ran once; b again from its start; the cancelled run did nothing more.
    expect(executed().filter((c) => c.startsWith("1."))).toEqual(["1.a", "1.b", "1.b", "1.c"]);
    expect(executed().filter((c) => c.startsWith("2."))).toEqual(["2.a", "2.b"]);
    expect((await alone.done).state).toBe("success");
    await until("the other run to succeed", () => api(next.url, `/runs/${other}`), (d) => d.run.state === "success");
    expect((await api(next.url, "/runs?pipeline=steps")).runs.map((r: any) => r.id).sort()).toEqual([id, cancelled, other, alone.runId].sort());
    await stop(next);
    // Adopted once: a third start finds nothing left to adopt.
    const third = await serve();
    expect(third.adopted).toEqual([]);
    await stop(third);
    expect(await checkInvariants(db)).toEqual([]);
  }, 60_000);
});
