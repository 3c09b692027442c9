/**
 * The CLI beside a running `cellar serve`: commands on the server's store go through its API and print what
 * they print locally, with the same exit codes; its token; following a run across a dropped event stream; a
 * stale server file; backfill's reprocess choices over the API and the CLI. One real `cellar serve` process (token-protected) for the file, real HTTP on
 * 127.0.0.1, real DuckDB files; the local half runs after the server stops.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { type AddressInfo, connect, createServer, type Socket } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, type CliResult, ROOT, tempDir, TSX, writePipeline } from "./helpers.ts";

const TOKEN = "remote-test-token";
const dir = tempDir("cellar-remote-");
const db = join(dir, "cellar.duckdb");
const withToken = { cwd: dir, env: { CELLAR_TOKEN: TOKEN } };
let server: ChildProcess;
let url = "";

beforeAll(async () => {
  const pipelines = join(dir, "pipelines");
  mkdirSync(pipelines);
  writePipeline(pipelines, "small.ts", `export default pipeline({ id: "small", params: { fail: "no" } })
  .cell("a", (ctx) => { ctx.log.info("a ran"); return { n: 1 }; })
  .cell("b", (ctx, a: { n: number }) => { if (ctx.params.fail === "yes") throw new Error("b was asked to fail"); return { n: a.n + 1 }; });`);
  writePipeline(pipelines, "slow.ts", `export default pipeline({ id: "slow" })
  .cell("wait", (ctx) => new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason))));`);
  writePipeline(pipelines, "gated.ts", `import { existsSync } from "node:fs";
export default pipeline({ id: "gated" })
  .cell("held", async () => {
    while (!existsSync(${JSON.stringify(join(dir, "gate"))})) await new Promise((r) => setTimeout(r, 20));
    return "through";
  });`);
  writePipeline(pipelines, "daily.ts", `import { existsSync } from "node:fs";
export default pipeline({ id: "daily", schedule: "@daily", startDate: "2026-05-01", endDate: "2026-05-10" })
  .cell("day", (ctx) => {
    const day = ctx.logicalDate.toISOString().slice(0, 10);
    if (existsSync(${JSON.stringify(join(dir, "fail-"))} + day)) throw new Error("day " + day + " fails");
    return day;
  });`);
  server = spawn(process.execPath, ["--import", TSX, join(ROOT, "kernel/cli.ts"), "--db", db, "serve", "--port", "0", "--token", TOKEN, "--pipelines", pipelines], { cwd: dir });
  let out = "";
  let err = "";
  server.stderr!.on("data", (d) => (err += d));
  await new Promise<void>((resolve, reject) => {
    server.stdout!.on("data", (d) => {
      out += d;
      const listening = /listening on (\S+)/.exec(out);
      if (listening) (url = listening[1]), resolve();
    });
    server.on("exit", () => reject(new Error(`cellar serve exited: ${err}`)));
  });
}, 60_000);

afterAll(() => {
  if (server.exitCode === null) server.kill("SIGKILL");
});

const api = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { "content-type": "application/json" } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: await res.json() };
};
const runId = (r: CliResult) => Number(/run (\d+) /.exec(r.stderr)?.[1]);

/** What the commands printed through the server, compared below with what they print locally. */
const remote: Record<string, CliResult> = {};

describe("cellar commands on a store a server holds", () => {
  it("announce the server in <db>.server.json, without its token", () => {
    const file = JSON.parse(readFileSync(`${db}.server.json`, "utf8"));
    expect(file).toEqual({ url, pid: server.pid, tokenRequired: true });
  });

  it("run, cell, runs and show go through the API, with the local exit codes; without the token, one line", async () => {
    remote.run = await cli(["--db", db, "run", "small"], withToken);
    expect(remote.run.code, remote.run.stderr).toBe(0);
    expect(remote.run.stderr).toMatch(/run \d+ small: success/);
    expect(remote.run.stderr).not.toContain("held");
    // Once "a" has a checkpoint, the rest at once: the server runs them side by side.
    [remote.cell, remote.failedRun, remote.failedCell] = await Promise.all([
      cli(["--db", db, "cell", "small", "b"], withToken),
      cli(["--db", db, "--token", TOKEN, "run", "small", "--param", "fail=yes"], { cwd: dir }),
      cli(["--db", db, "cell", "small", "b", "--param", "fail=yes"], withToken),
    ]);
    expect(remote.cell.code, remote.cell.stderr).toBe(0);
    expect(JSON.parse(remote.cell.stdout)).toEqual({ n: 2 });
    expect(remote.failedRun.code, remote.failedRun.stderr).toBe(1);
    expect(remote.failedRun.stderr).toContain("b was asked to fail");
    expect(remote.failedCell.code).toBe(2);
    expect(remote.failedCell.stdout).toBe("");

    const id = runId(remote.run);
    // Read-only through the server: at once.
    let refused: CliResult;
    [remote.runsJson, remote.show, remote.showJson, remote.missing, refused] = await Promise.all([
      cli(["--db", db, "runs", "small", "--json"], withToken),
      cli(["--db", db, "show", String(id), "--logs"], withToken),
      cli(["--db", db, "show", String(runId(remote.failedRun)), "--json", "--logs"], withToken),
      cli(["--db", db, "show", "9999"], withToken),
      cli(["--db", db, "runs", "small"], { cwd: dir }),
    ]);
    expect(JSON.parse(remote.runsJson.stdout).map((r: { state: string }) => r.state).sort()).toEqual(["failed", "failed", "success", "success"]);
    expect(remote.show.stdout).toContain(`run ${id} of small (manual) — success`);
    expect(remote.show.stdout).toMatch(/a #1 \[info\] a ran/);
    expect(remote.missing).toMatchObject({ code: 2, stderr: `cellar: run 9999: no such run in ${db}\n` });
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim().split("\n")).toEqual([`cellar: the server holding ${db} at ${url} needs its token: pass --token or set CELLAR_TOKEN`]);
  }, 60_000);

  it("run follows its run over SSE, and cellar cancel stops it there: the run exits 130, resumable", async () => {
    const child = spawn(process.execPath, ["--import", TSX, join(ROOT, "kernel/cli.ts"), "--db", db, "run", "slow"], { cwd: dir, env: { ...process.env, CELLAR_TOKEN: TOKEN } });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const done = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    const deadline = Date.now() + 20_000;
    while (!/run (\d+) wait: running/.test(stderr) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const id = Number(/run (\d+) wait: running/.exec(stderr)?.[1]);
    const cancel = await cli(["--db", db, "cancel", String(id)], withToken);
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(cancel.stdout).toBe(`run ${id}: cancelling its running cells; resume it with: cellar resume ${id}\n`);
    expect(await done).toBe(130);
    expect(stderr).toContain(`run ${id} interrupted; resume it with: cellar resume ${id}`);
    const again = await cli(["--db", db, "cancel", String(runId(remote.run))], withToken);
    expect(again.code).toBe(2);
    expect(again.stderr).toBe(`cellar: run ${runId(remote.run)} has already ended (success); nothing to cancel\n`);
  }, 60_000);

  it("backfill's reprocess choices over the API and the CLI: none, failed, all", async () => {
    writeFileSync(join(dir, "fail-2026-05-02"), "");
    const first = await cli(["--db", db, "backfill", "daily", "--from", "2026-05-01", "--to", "2026-05-03"], withToken);
    expect(first.code, first.stderr).toBe(1);
    expect(first.stderr).toContain("backfill daily: 3 intervals, 3 new runs");
    rmSync(join(dir, "fail-2026-05-02"));
    const range = { start: "2026-05-01", end: "2026-05-03" };

    const none = await api("POST", "/pipelines/daily/backfills", { ...range, reprocess: "none" });
    expect(none).toEqual({ status: 202, body: { intervals: 3, notEnded: 0, created: 0, runs: [] } });
    const failed = await cli(["--db", db, "backfill", "daily", "--from", "2026-05-01", "--to", "2026-05-03", "--reprocess", "failed"], withToken);
    expect(failed.code, failed.stderr).toBe(0);
    expect(failed.stderr).toContain("backfill daily: 3 intervals, 0 new runs");
    expect(failed.stderr.match(/run \d+ daily: success/g)).toHaveLength(1);

    const all = await api("POST", "/pipelines/daily/backfills", { ...range, reprocess: "all" });
    expect(all.status).toBe(202);
    expect(all.body.created).toBe(3);
    expect(all.body.runs.map((r: { logicalDate: string; kind: string }) => `${r.kind} ${r.logicalDate.slice(0, 10)}`))
      .toEqual(["backfill 2026-05-01", "backfill 2026-05-02", "backfill 2026-05-03"]);
    const doc = (await api("GET", "/openapi.json")).body;
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(["/pipelines/{id}/backfills", "/runs/{id}/cells/{cell}/output"]));
    expect(doc.components.schemas.Backfill.properties.reprocess.enum).toEqual(["none", "failed", "all"]);
    const bad = await api("POST", "/pipelines/daily/backfills", { ...range, reprocess: "sometimes" });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/^bad request: reprocess: /);
    // The "all" runs end before the server stops (they take milliseconds).
    for (const run of all.body.runs as { id: number }[]) {
      for (let t = 0; t < 100 && (await api("GET", `/runs/${run.id}`)).body.state !== "success"; t++) await new Promise((r) => setTimeout(r, 50));
    }
  }, 60_000);

  it("run goes on following its run after the event stream drops, from the last event it read (Last-Event-ID)", async () => {
    // A TCP proxy in front of the server, named in the server file: dropping its sockets drops the CLI's stream.
    const target = new URL(url);
    const sockets = new Set<Socket>();
    const resumedFrom: string[] = [];
    const proxy = createServer((client) => {
      const upstream = connect(Number(target.port), target.hostname);
      sockets.add(client);
      client.once("data", (d) => {
        const resume = /^last-event-id: (\d+)/im.exec(d.toString("latin1"));
        if (resume) resumedFrom.push(resume[1]);
      });
      client.pipe(upstream).pipe(client);
      const end = () => (client.destroy(), upstream.destroy(), sockets.delete(client));
      client.on("error", end).on("close", end);
      upstream.on("error", end).on("close", end);
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    const file = `${db}.server.json`;
    const real = readFileSync(file, "utf8");
    writeFileSync(file, JSON.stringify({ ...JSON.parse(real), url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}` }));
    try {
      const child = spawn(process.execPath, ["--import", TSX, join(ROOT, "kernel/cli.ts"), "--db", db, "run", "gated"], { cwd: dir, env: { ...process.env, CELLAR_TOKEN: TOKEN } });
      let stderr = "";
      child.stderr.on("data", (d) => (stderr += d));
      const done = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
      const deadline = Date.now() + 20_000;
      while (!/held: running/.test(stderr) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      for (const socket of sockets) socket.destroy();
      writeFileSync(join(dir, "gate"), ""); // the run ends while the CLI reconnects, or after
      expect(await done, stderr).toBe(0);
      expect(stderr).toMatch(/run \d+ held: success/);
      expect(stderr).toMatch(/run \d+ gated: success/);
      expect(resumedFrom.length).toBeGreaterThan(0);
    } finally {
      writeFileSync(file, real);
      proxy.close();
    }
  }, 60_000);

  it("a stale server file (dead pid, or no answer) is ignored: the command runs here", async () => {
    const other = join(tempDir("cellar-stale-"), "cellar.duckdb");
    for (const stale of [{ url: "http://127.0.0.1:9", pid: 2 ** 22 + 7, tokenRequired: false }, { url: "http://127.0.0.1:9", pid: process.pid, tokenRequired: false }]) {
      writeFileSync(`${other}.server.json`, JSON.stringify(stale));
      const r = await cli(["--db", other, "runs", "small"]);
      expect(r.stderr).toBe(`cellar: database ${other} does not exist; pass an existing store with --db (a run creates one)\n`);
    }
  }, 30_000);

  it("once the server stops, its file is gone, and the same commands print the same locally", async () => {
    server.kill("SIGTERM");
    await new Promise((resolve) => server.exitCode === null ? server.on("exit", resolve) : resolve(undefined));
    expect(server.exitCode).toBe(0);
    expect(existsSync(`${db}.server.json`)).toBe(false);

    const local = async (args: string[]) => await cli(["--db", db, ...args], { cwd: dir });
    expect((await local(["runs", "small", "--json"])).stdout).toBe(remote.runsJson.stdout);
    expect((await local(["show", String(runId(remote.run)), "--logs"])).stdout).toBe(remote.show.stdout);
    expect((await local(["show", String(runId(remote.failedRun)), "--json", "--logs"])).stdout).toBe(remote.showJson.stdout);
    const cell = await local(["cell", "small", "b"]);
    expect({ code: cell.code, stdout: cell.stdout }).toEqual({ code: remote.cell.code, stdout: remote.cell.stdout });
    const failedCell = await local(["cell", "small", "b", "--param", "fail=yes"]);
    expect({ code: failedCell.code, stdout: failedCell.stdout }).toEqual({ code: remote.failedCell.code, stdout: remote.failedCell.stdout });
  }, 60_000);
});
