// `cellar serve` stopped by SIGTERM, as a deploy restarts it, during a triggered run: the next server on the
// store adopts the run and finishes it from the first cell without a checkpoint, with the same id; a run a
// user cancelled through the API before the SIGTERM stays interrupted. The first server is the CLI as a child
// process (real signal, real HTTP on 127.0.0.1, a real DuckDB file); the next one starts in this process.
import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type RunningServer, startServer } from "../../server/serve.ts";
import { ROOT, tempDir, TSX, writePipeline } from "../helpers.ts";
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
// b waits for the go file (or its cancel): the SIGTERM lands while it runs, a's checkpoint committed.
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

let next: RunningServer | undefined;
const child = spawn(process.execPath, ["--import", TSX, join(ROOT, "kernel/cli.ts"), "--db", db, "serve", "--port", "0", "--pipelines", dir], {
  cwd: dir,
  env: { ...process.env, CELLAR_DEVICES: "cpu", NO_COLOR: "1" },
});
let out = "";
child.stdout.on("data", (d) => (out += d));
child.stderr.on("data", (d) => (out += d));
const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
afterAll(async () => {
  child.kill("SIGKILL");
  await next?.close();
});

async function api(url: string, path: string, body?: unknown): Promise<any> {
  const init = body === undefined ? {} : { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
  return await (await fetch(`${url}/api/v1${path}`, init)).json();
}

describe("cellar serve stopped by SIGTERM during a run", () => {
  it("leaves the run to the next server, which adopts and finishes it; a run the user cancelled stays interrupted", async () => {
    const url = (await until("the server to listen", () => /listening on (http:\S+)/.exec(out)?.[1], Boolean))!;
    const { id } = await api(url, "/pipelines/steps/runs", { params: { k: 1 } });
    const { id: cancelled } = await api(url, "/pipelines/steps/runs", { params: { k: 2 } });
    await until("both runs in b", executed, (cells) => cells.includes("1.b") && cells.includes("2.b"));
    expect((await api(url, `/runs/${cancelled}/cancel`, {})).cancelled).toBe(true);
    await until("the cancel", () => api(url, `/runs/${cancelled}`), (d) => d.run.state === "interrupted");
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(await checkInvariants(db)).toEqual([]);

    writeFileSync(go, "");
    next = await startServer({ db, host: "127.0.0.1", port: 0, pipelines: dir, schedule: false });
    expect(next.adopted).toEqual([`adopted run ${id} (steps) left by a process that ended; resuming at b`]);
    const detail = await until("the adopted run to succeed", () => api(next!.url, `/runs/${id}`), (d) => d.run.state === "success");
    expect(detail.logs.map((l: any) => l.message)).toContain("interrupted by the server's shutdown; the next cellar serve on this store resumes it");
    expect((await api(next.url, `/runs/${cancelled}`)).run.state).toBe("interrupted");
    // a ran once; b again from its start; the cancelled run did nothing more.
    expect(executed().filter((c) => c.startsWith("1."))).toEqual(["1.a", "1.b", "1.b", "1.c"]);
    expect(executed().filter((c) => c.startsWith("2."))).toEqual(["2.a", "2.b"]);
    await next.close();
    next = undefined;
    // Adopted once: a third start finds nothing left to adopt.
    const third = await startServer({ db, host: "127.0.0.1", port: 0, pipelines: dir, schedule: false });
    expect(third.adopted).toEqual([]);
    await third.close();
    expect(await checkInvariants(db)).toEqual([]);
  }, 60_000);
});
