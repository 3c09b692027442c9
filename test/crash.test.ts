// kill -9 at many points of a `cellar run` process; the next run resumes it, does not
// re-execute cells that had committed, and ends with the outputs of a run that
// was never interrupted. The resume is the facade's run in this process, the very call
// `cellar run` makes (kernel/cli/run.ts): a CLI start per kill point would prove nothing more,
// and test/reliability/kill-cli.test.ts resumes with real `cellar run` processes.
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Compute } from "../kernel/compute/devices.ts";
import { openCellar, RunState } from "../kernel/mod.ts";
import { Store } from "../kernel/store/store.ts";
import { cli, ROOT, tempDir, TSX } from "./helpers.ts";

const FIXTURE = join(ROOT, "test/fixtures/crash.ts");
const compute = new Compute({ devices: "cpu" });
afterAll(() => compute.close());

/**
 * Starts a run and SIGKILLs it right after its `killAt`-th progress line, or the first line `killAt` accepts.
 * Returns the lines seen.
 */
function runAndKill(db: string, log: string, killAt: number | ((line: string) => boolean), args: string[] = []): Promise<string[]> {
  const kill = typeof killAt === "number" ? (_line: string, seen: number) => seen === killAt : (line: string) => killAt(line);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", TSX, join(ROOT, "kernel/cli.ts"), "--db", db, "run", FIXTURE, "--param", `log=${log}`, ...args], {
      cwd: ROOT,
    });
    const lines: string[] = [];
    let buffer = "";
    child.stderr.on("data", (chunk) => {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        lines.push(buffer.slice(0, nl));
        buffer = buffer.slice(nl + 1);
        if (kill(lines.at(-1)!, lines.length)) child.kill("SIGKILL");
      }
    });
    child.on("close", () => resolve(lines));
  });
}

async function finalOutputs(db: string): Promise<{ runIds: number[]; outputs: Record<string, unknown> }> {
  const store = await Store.open(db);
  try {
    const runs = await store.query("SELECT run_id FROM runs ORDER BY run_id");
    const runId = Number(runs.at(-1)!.run_id);
    const rows = await store.query("SELECT cell, output FROM outputs WHERE run_id = ? ORDER BY cell", [runId]);
    const outputs: Record<string, unknown> = {};
    for (const row of rows) {
      // The physical table name carries the run id; the rows and their hash must match.
      outputs[String(row.cell)] = JSON.parse(String(row.output), (key, value) => (key === "sql" ? undefined : value));
    }
    return { runIds: runs.map((r) => Number(r.run_id)), outputs };
  } finally {
    await store.close();
  }
}

const executions = (log: string) => readFileSync(log, "utf8").split("\n").filter(Boolean);

describe("kill -9 and resume", () => {
  it("resumes at every kill point with the uninterrupted run's outputs", async () => {
    const reference = tempDir();
    const refLog = join(reference, "log");
    writeFileSync(refLog, "");
    const clean = await cli(["--db", join(reference, "db.duckdb"), "run", FIXTURE, "--param", `log=${refLog}`]);
    expect(clean.code, clean.stderr).toBe(0);
    const expected = (await finalOutputs(join(reference, "db.duckdb"))).outputs;
    expect(Object.keys(expected)).toEqual(["join", "left", "numbers", "right", "seed", "sum"]);
    const totalLines = clean.stderr.split("\n").filter(Boolean).length;
    expect(totalLines).toBeGreaterThan(14);

    // Every line of progress is a distinct moment of the run: cells starting, appending, committing.
    // Up to the line where the last cell starts: a kill after its success line may land after the run has
    // finished, and then a new run (all cached) is the right answer, not a resume.
    const killPoints = Array.from({ length: 12 }, (_, i) => 1 + Math.floor((i * (totalLines - 3)) / 11));
    expect(new Set(killPoints).size).toBeGreaterThanOrEqual(10);

    const check = async (killAt: number) => {
      const dir = tempDir();
      const db = join(dir, "db.duckdb");
      const log = join(dir, "log");
      writeFileSync(log, "");
      const seen = await runAndKill(db, log, killAt);
      const committed = seen.flatMap((line) => /run \d+ (\w+): success/.exec(line)?.[1] ?? []);
      const executedBefore = executions(log);

      // What `cellar run <file> --param log=…` does after the kill: resume the interrupted run with the same params.
      const cellar = openCellar({ db, compute });
      try {
        const resumed = await cellar.run(FIXTURE, { params: { log } });
        expect(resumed.state, `kill at line ${killAt}`).toBe(RunState.Success);
      } finally {
        await cellar.close();
      }
      const { runIds, outputs } = await finalOutputs(db);
      expect(runIds, `kill at line ${killAt}: the interrupted run was resumed, not replaced`).toEqual([1]);
      expect(outputs, `kill at line ${killAt}`).toEqual(expected);

      const counts = new Map<string, number>();
      for (const cell of executions(log)) counts.set(cell, (counts.get(cell) ?? 0) + 1);
      for (const cell of committed) expect(counts.get(cell), `kill at line ${killAt}: ${cell} committed before the kill`).toBe(1);
      for (const cell of Object.keys(expected)) expect(counts.get(cell) ?? 0).toBeGreaterThanOrEqual(1);
      return { killAt, committed: committed.length, executedBefore: executedBefore.length };
    };

    const results = [];
    for (let i = 0; i < killPoints.length; i += 2) {
      results.push(...await Promise.all(killPoints.slice(i, i + 2).map(check)));
    }
    // The kill points really spread over the run: from nothing committed to most of it.
    const committedCounts = new Set(results.map((r) => r.committed));
    expect(committedCounts.size).toBeGreaterThanOrEqual(4);
  }, 180_000); // 13 runs and 12 resumes: past the default 60 s on a loaded host

  // Killed once `sum` has committed in run 2: the cells it forces that follow have their checkpoints from run 1,
  // with the same inputs, and a cache hit would serve them; a forced cell is recomputed, resumed or not, and one
  // this run already computed is kept (recomputing it clashed with its own checkpoint).
  it.each([
    { args: ["--from", "sum"], once: ["seed", "numbers"] },
    { args: ["--no-cache"], once: [] },
  ])("resumes a killed run of $args recomputing what it forces, keeping what it had computed", async ({ args, once }) => {
    const dir = tempDir();
    const db = join(dir, "db.duckdb");
    const log = join(dir, "log");
    writeFileSync(log, "");
    const first = await cli(["--db", db, "run", FIXTURE, "--param", `log=${log}`]);
    expect(first.code, first.stderr).toBe(0);
    const expected = (await finalOutputs(db)).outputs;
    await runAndKill(db, log, (line) => /run 2 sum: success/.test(line), args);
    const cellar = openCellar({ db, compute });
    try {
      const resumed = await cellar.run(FIXTURE, { params: { log } });
      expect(resumed.state).toBe(RunState.Success);
    } finally {
      await cellar.close();
    }
    const { runIds, outputs } = await finalOutputs(db);
    expect(runIds, "the interrupted run was resumed, not replaced").toEqual([1, 2]);
    expect(outputs).toEqual(expected);
    const counts: Record<string, number> = {};
    for (const cell of executions(log)) counts[cell] = (counts[cell] ?? 0) + 1;
    // Run 1 ran each cell once. Run 2 ran the cells up to sum before the kill, but those it served from cache,
    // and never again; what follows sum, after the resume (it may also have started before the kill).
    for (const cell of ["seed", "numbers", "sum"]) expect(counts[cell], cell).toBe(once.includes(cell) ? 1 : 2);
    for (const cell of ["left", "right", "join"]) expect(counts[cell], cell).toBeGreaterThanOrEqual(2);
    const store = await Store.open(db);
    try {
      const served = await store.query("SELECT cell FROM attempts WHERE run_id = 2 AND state = 'cached' ORDER BY cell");
      expect(served.map((r) => String(r.cell)), "run 2 served from cache").toEqual([...once].sort());
    } finally {
      await store.close();
    }
  }, 60_000);
});
