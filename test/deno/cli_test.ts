// The CLI end to end under Deno: a run, a cache hit (also across runtimes),
// and kill -9 followed by resume. Run with: deno task test
import assert from "node:assert/strict";

const ROOT = new URL("../..", import.meta.url).pathname;
const CLI = `${ROOT}kernel/cli.ts`;
const FIXTURE = `${ROOT}test/fixtures/crash.ts`;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function deno(args: string[]): Promise<Result> {
  const out = await new Deno.Command(Deno.execPath(), { args: ["run", "-A", CLI, ...args], cwd: ROOT }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

async function node(args: string[]): Promise<Result> {
  const out = await new Deno.Command("node", { args: ["--import", "tsx", CLI, ...args], cwd: ROOT }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

async function workspace(): Promise<{ db: string; log: string; params: string[] }> {
  const dir = await Deno.makeTempDir({ prefix: "cellar-deno-" });
  const log = `${dir}/log`;
  await Deno.writeTextFile(log, "");
  return { db: `${dir}/db.duckdb`, log, params: ["--param", `log=${log}`] };
}

async function show(db: string, runId: number): Promise<{ run: { state: string }; cells: Array<{ cell: string; state: string }> }> {
  const result = await deno(["--db", db, "show", String(runId), "--json"]);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout);
}

const executions = async (log: string) => (await Deno.readTextFile(log)).split("\n").filter(Boolean);

Deno.test("runs a pipeline, then serves every unchanged cell from its checkpoint", async () => {
  const { db, log, params } = await workspace();
  const first = await deno(["--db", db, "run", FIXTURE, ...params]);
  assert.equal(first.code, 0, first.stderr);
  assert.equal((await executions(log)).length, 6);
  const second = await deno(["--db", db, "run", FIXTURE, ...params]);
  assert.equal(second.code, 0, second.stderr);
  assert.equal((await executions(log)).length, 6, "no cell ran again");
  const detail = await show(db, 2);
  assert.deepEqual(detail.cells.map((c) => c.state), Array(6).fill("cached"));
});

Deno.test("gives the same cache hits whichever runtime opens the database", async () => {
  const { db, log, params } = await workspace();
  const underNode = await node(["--db", db, "run", FIXTURE, ...params]);
  assert.equal(underNode.code, 0, underNode.stderr);
  const underDeno = await deno(["--db", db, "run", FIXTURE, ...params]);
  assert.equal(underDeno.code, 0, underDeno.stderr);
  assert.equal((await executions(log)).length, 6, "Deno re-ran cells Node had checkpointed");
  assert.deepEqual((await show(db, 2)).cells.map((c) => c.state), Array(6).fill("cached"));
});

Deno.test("kill -9 mid-run, then the next run resumes without redoing committed cells", async () => {
  const { db, log, params } = await workspace();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, "--db", db, "run", FIXTURE, ...params],
    cwd: ROOT,
    stderr: "piped",
    stdout: "null",
  }).spawn();
  const committed: string[] = [];
  let text = "";
  const decoder = new TextDecoder();
  // Kill while the table-writing cell is between two of its appends: after "seed" has committed.
  for await (const chunk of child.stderr) {
    text += decoder.decode(chunk, { stream: true });
    for (const match of text.matchAll(/run \d+ (\w+): success/g)) if (!committed.includes(match[1])) committed.push(match[1]);
    if (/appended 2000 rows/.test(text)) {
      child.kill("SIGKILL");
      break;
    }
  }
  const status = await child.status;
  assert.equal(status.signal, "SIGKILL");
  assert.ok(committed.includes("seed"), `seed should have committed before the kill: ${text}`);
  assert.ok(!committed.includes("numbers"));

  const resumed = await deno(["--db", db, "run", FIXTURE, ...params]);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, /resuming run 1/);
  const runs = await executions(log);
  assert.equal(runs.filter((c) => c === "seed").length, 1, "seed was committed and must not run again");
  assert.equal(runs.filter((c) => c === "numbers").length, 2, "the interrupted cell runs again");
  const detail = await show(db, 1);
  assert.equal(detail.run.state, "success");
  assert.deepEqual(detail.cells.map((c) => c.state).sort(), Array(6).fill("success"));

  // Same outputs as a run that was never interrupted.
  const clean = await workspace();
  assert.equal((await deno(["--db", clean.db, "run", FIXTURE, ...clean.params])).code, 0);
  const outputs = async (file: string) => {
    const { DuckDBInstance } = await import("@duckdb/node-api");
    const instance = await DuckDBInstance.create(file);
    const conn = await instance.connect();
    const rows = (await conn.runAndReadAll("SELECT cell, output_hash FROM outputs WHERE run_id = 1 ORDER BY cell")).getRowObjectsJS();
    conn.closeSync();
    instance.closeSync();
    return rows;
  };
  assert.deepEqual(await outputs(db), await outputs(clean.db));
});
