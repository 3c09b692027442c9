/**
 * The CLI as a process: output complete through a slow pipe, signals that always end the
 * process (a cell blocked opening a FIFO included), read-only commands that never create a store.
 * Real child processes under Node (tsx), real DuckDB files, a real FIFO (mkfifo).
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { openCellar, RunState } from "../kernel/mod.ts";
import { type CliResult, cli, ROOT, tempDir, TSX, writePipeline } from "./helpers.ts";

/**
 * The fifo runs' states as `cellar runs fifo` reads them (cellar.runs, which finds a run its dead process left
 * running interrupted), in this process: opening the store also proves the ended CLI released it.
 */
async function runStates(db: string): Promise<string[]> {
  const cellar = openCellar({ db });
  try {
    return (await cellar.runs("fifo")).map((r) => r.state);
  } finally {
    await cellar.close();
  }
}

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

    // The cell's own run (run 1 of the new store) holds the 20,000 log lines.
    const show = await slowReader(["--db", db, "show", "1", "--json", "--logs"], dir, 1_000);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout.length).toBeGreaterThan(1_200_000);
    const parsed = JSON.parse(show.stdout);
    expect(parsed.run).toMatchObject({ runId: 1, kind: "cell" });
    const shown = JSON.stringify(parsed);
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
    const { db, child, done, t } = await startBlocked();
    t();
    child.kill("SIGTERM");
    const ended = await done;
    interruptedExit(ended);
    expect(ended.ms).toBeLessThan(10_000);
    expect(await runStates(db)).toEqual([RunState.Interrupted]);
  }, 60_000);

  it("a second signal ends it at once", async () => {
    const { db, child, done, t } = await startBlocked();
    child.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 200));
    t();
    child.kill("SIGTERM");
    const ended = await done;
    interruptedExit(ended);
    expect(ended.ms).toBeLessThan(2_000);
    expect(await runStates(db)).toEqual([RunState.Interrupted]);
  }, 60_000);
});

describe("read-only commands never create a store", () => {
  it("runs, show, costs and search on a missing database say so in one line, exit 2 and create nothing", async () => {
    const dir = tempDir();
    const db = join(dir, "mistyped/path.duckdb");
    const commands = [["runs", "x"], ["show", "1"], ["costs", "x"], ["search", "anything"]];
    // At once: none of them may create the store the others would then find.
    const results = await Promise.all(commands.map((args) => cli(["--db", db, ...args]))); // in the repository, where search finds the ingest pipeline
    for (const [i, args] of commands.entries()) {
      const r = results[i];
      expect(r.code, `${args[0]}: ${r.stderr}`).toBe(2);
      expect(r.stderr.trim().split("\n"), args[0]).toEqual([`cellar: database ${db} does not exist; pass an existing store with --db (a run creates one)`]);
      expect(r.stdout).toBe("");
    }
    expect(existsSync(join(dir, "mistyped"))).toBe(false);
  }, 60_000);
});
