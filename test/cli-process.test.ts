/**
 * The CLI as a process: output complete through a slow pipe, signals that always end the
 * process (a cell blocked opening a FIFO included), read-only commands that never create a store.
 * Real child processes under Node (tsx), real DuckDB files, a real FIFO (mkfifo).
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cli, type CliResult, ROOT, tempDir, TSX, writePipeline } from "./helpers.ts";

/** `cellar <args>`, its stdout read only after `readAfterMs`: the pipe fills and the CLI must wait for it. */
function slowReader(args: string[], cwd: string, readAfterMs: number): Promise<CliResult & { ms: number }> {
  const t0 = Date.now();
  const child = spawn(process.execPath, ["--import", TSX, join(ROOT, "kernel/cli.ts"), ...args], { cwd });
  const chunks: Buffer[] = [];
  let stderr = "";
  child.stdout.pause();
  setTimeout(() => child.stdout.resume(), readAfterMs);
  child.stdout.on("data", (d: Buffer) => chunks.push(d));
  child.stderr.on("data", (d) => (stderr += d));
  return new Promise((resolve) =>
    child.on("close", (code, signal) =>
      resolve({ code, signal, stdout: Buffer.concat(chunks).toString("utf8"), stderr, ms: Date.now() - t0 })
    )
  );
}

describe("output through a pipe", () => {
  it("cellar cell and cellar show --json write all of a 1 MB output to a pipe read late", async () => {
    const dir = tempDir();
    // 1.1 MB as one output, and 1.2 MB of log lines for show --logs.
    writePipeline(dir, "big.ts", `export default pipeline({ id: "big" })
      .cell("make", async (ctx) => {
        for (let i = 0; i < 20_000; i++) ctx.log.info("line " + String(i).padStart(5, "0") + " " + "y".repeat(50));
        return { blob: "x".repeat(1_100_000), n: 1 };
      });`);
    const db = join(dir, "big.duckdb");
    const cell = await slowReader(["--db", db, "cell", join(dir, "big.ts"), "make"], dir, 1_000);
    expect(cell.code, cell.stderr).toBe(0);
    expect(JSON.parse(cell.stdout)).toEqual({ blob: "x".repeat(1_100_000), n: 1 });

    expect((await cli(["--db", db, "run", join(dir, "big.ts"), "--no-cache"], { cwd: dir })).code).toBe(0);
    const runs = JSON.parse((await cli(["--db", db, "runs", "big", "--json"], { cwd: dir })).stdout);
    const show = await slowReader(["--db", db, "show", String(runs[0].runId), "--json", "--logs"], dir, 1_000);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout.length).toBeGreaterThan(1_200_000);
    const shown = JSON.stringify(JSON.parse(show.stdout));
    expect(shown).toContain("line 00000 ");
    expect(shown).toContain("line 19999 ");
  });
});

describe("signals always end the process", () => {
  const fifoPipeline = (dir: string) =>
    writePipeline(dir, "fifo.ts", `import { readFile } from "node:fs/promises";
export default pipeline({ id: "fifo", params: { fifo: "" } })
  .cell("blocked", async (ctx) => {
    ctx.log.info("opening the FIFO");
    return { text: String(await readFile(String(ctx.params.fifo))) }; // no writer: the open never returns
  });`);

  async function startBlocked(): Promise<{ db: string; dir: string; child: ReturnType<typeof spawn>; done: Promise<CliResult & { ms: number }>; t: () => number }> {
    const dir = tempDir();
    const file = fifoPipeline(dir);
    const fifo = join(dir, "pipe.md");
    execFileSync("mkfifo", [fifo]);
    const db = join(dir, "fifo.duckdb");
    const child = spawn(process.execPath, ["--import", TSX, join(ROOT, "kernel/cli.ts"), "--db", db, "run", file, "--param", `fifo=${fifo}`], { cwd: dir });
    let stderr = "";
    let signalledAt = 0;
    child.stderr!.on("data", (d) => (stderr += d));
    const done = new Promise<CliResult & { ms: number }>((resolve) =>
      child.on("close", (code, signal) => resolve({ code, signal, stdout: "", stderr, ms: Date.now() - signalledAt }))
    );
    const deadline = Date.now() + 30_000;
    while (!stderr.includes("opening the FIFO")) {
      if (Date.now() > deadline) throw new Error(`the cell never started; stderr:\n${stderr}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    await new Promise((r) => setTimeout(r, 300)); // the open is now blocking a threadpool thread
    return { db, dir, child, done, t: () => (signalledAt = Date.now()) };
  }

  /** Exit 130, or death by the SIGINT the CLI sends itself when Node's own exit is held. */
  const interruptedExit = (r: CliResult) => expect(r.code === 130 || r.signal === "SIGINT", `code ${r.code} signal ${r.signal}\n${r.stderr}`).toBe(true);

  it("a SIGTERM ends a run blocked opening a FIFO within 10 s, leaves it interrupted and releases the store", async () => {
    const { db, dir, child, done, t } = await startBlocked();
    t();
    child.kill("SIGTERM");
    const ended = await done;
    interruptedExit(ended);
    expect(ended.ms).toBeLessThan(10_000);
    const runs = await cli(["--db", db, "runs", "fifo", "--json"], { cwd: dir });
    expect(runs.code, runs.stderr).toBe(0);
    expect(JSON.parse(runs.stdout).map((r: { state: string }) => r.state)).toEqual(["interrupted"]);
  }, 60_000);

  it("a second signal ends it at once", async () => {
    const { db, dir, child, done, t } = await startBlocked();
    child.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 200));
    t();
    child.kill("SIGTERM");
    const ended = await done;
    interruptedExit(ended);
    expect(ended.ms).toBeLessThan(2_000);
    const runs = await cli(["--db", db, "runs", "fifo", "--json"], { cwd: dir });
    expect(JSON.parse(runs.stdout).map((r: { state: string }) => r.state)).toEqual(["interrupted"]);
  }, 60_000);
});

describe("read-only commands never create a store", () => {
  it("runs, show, costs and search on a missing database say so in one line, exit 2 and create nothing", async () => {
    const dir = tempDir();
    const db = join(dir, "mistyped/path.duckdb");
    for (const args of [["runs", "x"], ["show", "1"], ["costs", "x"], ["search", "anything"]]) {
      const r = await cli(["--db", db, ...args]); // in the repository, where search finds the ingest pipeline
      expect(r.code, `${args[0]}: ${r.stderr}`).toBe(2);
      expect(r.stderr.trim().split("\n"), args[0]).toEqual([`cellar: database ${db} does not exist; pass an existing store with --db (a run creates one)`]);
      expect(r.stdout).toBe("");
    }
    expect(existsSync(join(dir, "mistyped"))).toBe(false);
  }, 60_000);
});
