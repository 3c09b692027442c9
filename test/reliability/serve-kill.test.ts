// `cellar serve` SIGKILLed during a run and started again on the same store (issue 14, item 1): the run goes
// on by itself, with the same id, from the first cell without a committed checkpoint, as Airflow's scheduler
// adopts a dead scheduler's tasks; and a live process's run is never adopted (DuckDB lets one process open
// the file). Real child processes (the CLI under tsx), real HTTP on 127.0.0.1, a real DuckDB file, the store
// checked by invariants.ts after each kill and at the end. SERVE_KILL_SEED replays the kill times.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { afterAll, describe, expect, it } from "vitest";
import { openCellar } from "../../kernel/cellar.ts";
import { pipeline } from "../../kernel/pipeline.ts";
import { createManualRun, createScheduledRuns } from "../../kernel/run-records.ts";
import { Store } from "../../kernel/store/store.ts";
import { ROOT, tempDir, TSX, writePipeline } from "../helpers.ts";
import { rng } from "../random.ts";
import { checkInvariants, committedSnapshot, type Snapshot, tableHashes } from "./invariants.ts";
import { cellar, makeSlice } from "./kill-harness.ts";

const SEED = Number(process.env.SERVE_KILL_SEED ?? Date.now() % 1_000_000);
/** `npm run test:soak`: also the shipped ingest over a slice of the bundled corpus, killed KILLS times. */
const LONG = process.env.SOAK === "long";
const KILLS = 4;
const random = rng(SEED);
const CELL_MS = 700;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A directory of pipelines whose every cell execution is appended to `cells.log` as "<pipeline>.<cell>". */
function workspace(...served: Array<"slow" | "sched" | "retry">): { dir: string; pipelines: string; db: string; executed: () => string[] } {
  const dir = tempDir("cellar-serve-kill-");
  const pipelines = join(dir, "pipelines");
  mkdirSync(pipelines);
  const log = join(dir, "cells.log");
  const step = `const step = (name, body = () => name) => async (ctx, input) => {
  appendFileSync(${JSON.stringify(log)}, ctx.pipeline + "." + name + "\\n");
  await new Promise((r) => setTimeout(r, ${CELL_MS}));
  return await body(ctx, input);
};`;
  const head = `import { appendFileSync, existsSync, writeFileSync } from "node:fs";\n${step}`;
  // numbers writes a table in batches, so that a kill can land while its checkpoint commits.
  if (served.includes("slow")) writePipeline(pipelines, "slow.ts", `${head}
export default pipeline({ id: "slow" })
  .cell("a", step("a"))
  .cell("numbers", step("numbers", async (ctx) => {
    const table = await ctx.table("numbers", { n: "BIGINT" });
    for (let i = 0; i < 20; i++) await table.append(Array.from({ length: 2000 }, (_, j) => ({ n: i * 2000 + j })));
    return { numbers: await table.finish() };
  }))
  .cell("b", step("b", async (ctx, input) => (await ctx.sql(\`SELECT count(*)::INTEGER AS n FROM \${input.numbers.sql}\`))[0].n))
  .cell("c", step("c", (_ctx, n) => n + 1));`);
  if (served.includes("sched")) writePipeline(pipelines, "sched.ts", `${head}
export default pipeline({ id: "sched", schedule: "@daily", startDate: "2026-01-01", catchup: false })
  .cell("a", step("a")).cell("b", step("b")).cell("c", step("c"));`);
  // flaky fails its first try and sleeps a long retry delay: the kill lands while it is up for retry.
  const mark = join(dir, "flaky.tried");
  if (served.includes("retry")) writePipeline(pipelines, "retry.ts", `${head}
export default pipeline({ id: "retry" })
  .cell("a", step("a"))
  .cell("flaky", { retries: 1, retryDelay: "60s" }, step("flaky", () => {
    if (!existsSync(${JSON.stringify(mark)})) { writeFileSync(${JSON.stringify(mark)}, ""); throw new Error("transient"); }
    return 1;
  }));`);
  const executed = () => existsSync(log) ? readFileSync(log, "utf8").trim().split("\n").filter(Boolean) : [];
  return { dir, pipelines, db: join(dir, "cellar.duckdb"), executed };
}

interface Server {
  child: ChildProcess;
  url: string;
  out: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children = new Set<ChildProcess>();
afterAll(() => {
  for (const child of children) child.kill("SIGKILL");
});

/** `cellar --db <db> <args>` as a child process; `listening` resolves with the server's URL once it says so. */
function cellarProcess(db: string, cwd: string, args: string[]): Server & { listening: Promise<string> } {
  const child = spawn(process.execPath, ["--import", TSX, join(ROOT, "kernel/cli.ts"), "--db", db, ...args], {
    cwd,
    env: { ...process.env, CELLAR_DEVICES: "cpu", NO_COLOR: "1" },
  });
  children.add(child);
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("close", (code, signal) => (children.delete(child), resolve({ code, signal })))
  );
  const listening = (async () => {
    for (;;) {
      const m = /listening on (http:\S+)/.exec(out);
      if (m) return m[1];
      const ended = await Promise.race([exited, sleep(50).then(() => undefined)]);
      if (ended) throw new Error(`cellar ${args.join(" ")} exited ${ended.code}: ${out}`);
    }
  })();
  listening.catch(() => {}); // a process refused the store: the test reads its exit
  return { child, url: "", out: () => out, exited, listening };
}

async function serve(ws: ReturnType<typeof workspace>): Promise<Server> {
  const server = cellarProcess(ws.db, ws.dir, ["serve", "--port", "0", "--pipelines", ws.pipelines]);
  return { ...server, url: await server.listening };
}

async function until<T>(what: string, read: () => T | Promise<T>, done: (value: T) => boolean, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(value)} (seed ${SEED})`);
    await sleep(40);
  }
}

async function api(server: Server, path: string, body?: unknown): Promise<any> {
  const res = await fetch(server.url + "/api/v1" + path, body === undefined ? {} : {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return await res.json();
}

/** SIGKILLs the server and checks the file as it left it (runs may still be marked running). */
async function kill(server: Server, db: string) {
  server.child.kill("SIGKILL");
  expect((await server.exited).signal).toBe("SIGKILL");
  expect(await checkInvariants(db, { crashed: true }), `seed ${SEED}`).toEqual([]);
  return await committedSnapshot(db);
}

/** SIGTERM, as an operator stops it: the store is released for the checks. */
async function stop(server: Server): Promise<void> {
  server.child.kill("SIGTERM");
  expect((await server.exited).code).toBe(0);
}

const count = (cells: string[], name: string) => cells.filter((c) => c === name).length;

/**
 * Where the run must resume after a kill: its first cell without a checkpoint committed by then. A cell's
 * dependents start as soon as its output is known, before its checkpoint is durable, so that is not always
 * the cell that was running.
 */
function resumeAt(snapshot: Snapshot, runId: number, order: string[]): string | undefined {
  return order.find((cell) => !snapshot.outputs.has(`${runId}/${cell}`));
}

function adoptedLine(runId: number, pipeline: string, at: string | undefined): string {
  return `adopted run ${runId} (${pipeline}) left by a process that ended; ${at ? `resuming at ${at}` : "every cell has its checkpoint; finishing it"}`;
}

/** Rows of a query over the store file, opened read-only (no process holds it). */
async function query<T>(db: string, sql: string): Promise<T[]> {
  const instance = await DuckDBInstance.create(db, { access_mode: "READ_ONLY" });
  const conn = await instance.connect();
  try {
    return (await conn.runAndReadAll(sql)).getRowObjectsJS() as T[];
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

const attempts = (db: string, runId: number) =>
  query<{ cell: string; try_number: number; state: string }>(db, `SELECT cell, try_number, state FROM attempts WHERE run_id = ${runId} ORDER BY cell, try_number`);

/** The run's state in the file as a killed server left it: "success" when the kill came after its end. */
async function stateAtKill(db: string, runId: number): Promise<string> {
  return (await query<{ state: string }>(db, `SELECT state FROM runs WHERE run_id = ${runId}`))[0].state;
}

describe(`cellar serve killed during a run (seed ${SEED})`, () => {
  it("adopts a run triggered through the API, twice killed, and finishes it as a run never killed would", async () => {
    const ws = workspace("slow");
    let server = await serve(ws);
    const { id } = await api(server, "/pipelines/slow/runs", {});
    const order = ["a", "numbers", "b", "c"];
    // First kill: in numbers (asleep, appending its table's 40,000 rows, its checkpoint committing) or in b.
    await until("slow.numbers to start", ws.executed, (cells) => cells.includes("slow.numbers"));
    await sleep(CELL_MS * (0.8 + random()));
    const first = resumeAt(await kill(server, ws.db), id, order);
    const byFirst = ws.executed().length;

    server = await serve(ws);
    await until("the adoption line", server.out, (out) => out.includes(adoptedLine(id, "slow", first)));
    expect((await api(server, `/runs/${id}`)).run.state).toBe("running");
    // Second kill, during the adopted run: anywhere from c's start to shortly after, its checkpoint committing or not.
    await until("slow.c to start", ws.executed, (cells) => cells.includes("slow.c"));
    await sleep(random() * CELL_MS * 1.2);
    const snapshot = await kill(server, ws.db);
    // Killed after the run ended (its last checkpoint and its end committed), there is nothing to adopt.
    const ended = (await stateAtKill(ws.db, id)) === "success";
    const second = ended ? undefined : resumeAt(snapshot, id, order);
    const bySecond = ws.executed().length;

    server = await serve(ws);
    if (!ended) await until("the second adoption", server.out, (out) => out.includes(adoptedLine(id, "slow", second)));
    const detail = await until("the run to succeed", () => api(server, `/runs/${id}`), (d) => d.run.state === "success");
    const adoptions = detail.logs.filter((l: any) => l.cell === "" && l.message.startsWith(`adopted run ${id} `));
    expect(adoptions.length).toBe(ended ? 1 : 2);
    if (ended) expect(server.out()).not.toContain("adopted");
    expect((await api(server, "/runs?pipeline=slow")).runs.map((r: any) => r.id)).toEqual([id]);
    await stop(server);

    // Each adopting server executed the cells from its resume point on, in order, and none committed before.
    const cells = ws.executed();
    const from = (cell: string | undefined) => cell === undefined ? [] : order.slice(order.indexOf(cell)).map((c) => `slow.${c}`);
    const adopter = cells.slice(byFirst, bySecond);
    expect(adopter).toEqual(from(first).slice(0, adopter.length));
    expect(adopter.length).toBeGreaterThan(0);
    expect(cells.slice(bySecond)).toEqual(from(second));
    expect(await checkInvariants(ws.db, { committed: snapshot })).toEqual([]);
    const reference = join(tempDir("cellar-serve-ref-"), "cellar.duckdb");
    const cellar = openCellar({ db: reference });
    expect((await cellar.run(join(ws.pipelines, "slow.ts"))).state).toBe("success");
    await cellar.close();
    expect(await tableHashes(ws.db)).toEqual(await tableHashes(reference));
  }, 120_000);

  it("leaves a scheduled run to its scheduler, which resumes it: one run for the interval", async () => {
    const ws = workspace("sched");
    let server = await serve(ws);
    await until("sched.b to start", ws.executed, (cells) => cells.includes("sched.b"));
    const snapshot = await kill(server, ws.db);
    server = await serve(ws);
    const runs = (await api(server, "/runs?pipeline=sched")).runs;
    expect(runs.length).toBe(1);
    const at = resumeAt(snapshot, runs[0].id, ["a", "b", "c"]);
    await until("the adoption line", server.out, (out) => out.includes(`${adoptedLine(runs[0].id, "sched", at)} (its scheduler starts it)`));
    await until("the run to succeed", () => api(server, `/runs/${runs[0].id}`), (d) => d.run.state === "success");
    expect((await api(server, "/runs?pipeline=sched")).runs.length).toBe(1);
    await stop(server);
    expect(count(ws.executed(), "sched.a")).toBe(at === "a" ? 2 : 1);
    expect(await checkInvariants(ws.db)).toEqual([]);
  }, 120_000);

  it("adopts a run whose cell was up for retry, and tries it again at once", async () => {
    const ws = workspace("retry");
    let server = await serve(ws);
    const { id } = await api(server, "/pipelines/retry/runs", {});
    await until("flaky's first try to fail", () => api(server, `/runs/${id}`), (d) => d.cells.some((c: any) => c.cell === "flaky" && c.error !== null));
    const at = resumeAt(await kill(server, ws.db), id, ["a", "flaky"]);
    server = await serve(ws);
    await until("the adoption line", server.out, (out) => out.includes(adoptedLine(id, "retry", at)));
    // Well within flaky's 60 s retry delay: the adopted run does not sleep it out again.
    await until("the run to succeed", () => api(server, `/runs/${id}`), (d) => d.run.state === "success", 15_000);
    await stop(server);
    expect((await attempts(ws.db, id)).filter((a) => a.cell === "flaky").map((a) => [a.try_number, a.state])).toEqual([[1, "failed"], [2, "success"]]);
    expect(await checkInvariants(ws.db)).toEqual([]);
  }, 120_000);

  it("does not adopt a run of a pipeline paused meanwhile, and says so in the run's log", async () => {
    const ws = workspace("slow");
    let server = await serve(ws);
    const { id } = await api(server, "/pipelines/slow/runs", {});
    expect((await api(server, "/pipelines/slow/pause", {})).paused).toBe(true);
    await until("slow.numbers to start", ws.executed, (cells) => cells.includes("slow.numbers"));
    await kill(server, ws.db);
    const before = ws.executed().length;
    server = await serve(ws);
    await until("the refusal", server.out, (out) => out.includes(`run ${id} (slow) left by a process that ended: not adopted, pipeline "slow" is paused`));
    await sleep(CELL_MS * 2);
    const detail = await api(server, `/runs/${id}`);
    expect(detail.run.state).toBe("interrupted");
    expect(detail.logs.some((l: any) => l.level === "warn" && l.message.includes("is paused"))).toBe(true);
    expect(ws.executed().length).toBe(before);
    await stop(server);
  }, 120_000);

  it("adopts a manual run that a process created and died before starting", async () => {
    const ws = workspace("slow");
    const store = await Store.open(ws.db);
    const date = new Date();
    const run = await createManualRun(store, "slow", "manual", date, { start: date, end: date }, {}, {});
    await store.close();
    const server = await serve(ws);
    await until("the adoption line", server.out, (out) => out.includes(`adopted run ${run.runId} (slow) queued and never started by a process that ended; resuming at a`));
    await until("the run to succeed", () => api(server, `/runs/${run.runId}`), (d) => d.run.state === "success");
    await stop(server);
    expect(await checkInvariants(ws.db)).toEqual([]);
  }, 120_000);

  it("never adopts a live process's run: a second server, or one beside a cellar run, is refused the store", async () => {
    const ws = workspace("retry");
    const run = cellarProcess(ws.db, ws.dir, ["run", join(ws.pipelines, "retry.ts")]);
    await until("retry.a to start", ws.executed, (cells) => cells.includes("retry.a"));
    const beside = cellarProcess(ws.db, ws.dir, ["serve", "--port", "0", "--pipelines", ws.pipelines]);
    expect((await beside.exited).code).not.toBe(0);
    expect(beside.out()).toMatch(/held for writing by another process \(PID \d+/);
    expect(beside.out()).not.toContain("adopted");
    // The run goes on under its own process (flaky fails once, then its 60 s retry delay: cancel it there).
    await until("flaky's first try", ws.executed, (cells) => cells.includes("retry.flaky"));
    run.child.kill("SIGINT");
    await run.exited;

    const server = await serve(ws);
    const second = cellarProcess(ws.db, ws.dir, ["serve", "--port", "0", "--pipelines", ws.pipelines]);
    expect((await second.exited).code).not.toBe(0);
    expect(second.out()).toMatch(/held for writing by another process \(PID \d+/);
    // Interrupted by its own process's SIGINT, not left by one that died: no orphan, nothing adopted.
    expect(server.out()).not.toContain("adopted");
    await stop(server);
  }, 120_000);

  it.runIf(LONG)(`adopts the shipped ingest over a corpus slice, killed ${KILLS} times, and ends with the tables of a run never killed`, async () => {
    const dir = tempDir("cellar-serve-kill-ingest-");
    const slice = makeSlice(dir, { docs: 40, queries: 5 });
    const seeds = join(dir, "docs.jsonl");
    const pipelines = join(dir, "pipelines");
    mkdirSync(pipelines);
    writeFileSync(join(pipelines, "ingest.ts"), `export { default, search } from ${JSON.stringify(join(ROOT, "pipelines/ingest.ts"))};\n`);
    const ws = { dir: ROOT, pipelines, db: join(dir, "cellar.duckdb"), executed: () => [] };
    const reference = join(dir, "reference.duckdb");
    // ingest is @weekly: its run of this week is there (and succeeded) in both stores, so the server's
    // scheduler starts none with the default seeds, and both stores hold the same runs.
    for (const db of [ws.db, reference]) await weeklyRunDone(db);
    const straight = await cellar(reference, slice.phases[0].args);
    expect(straight.code, straight.stderr).toBe(0);

    let server = await serve(ws);
    const { id } = await api(server, "/pipelines/ingest/runs", { params: { seeds } });
    let snapshot: Snapshot | undefined;
    const resumedAt: Array<string | undefined> = [];
    for (let k = 0; k < KILLS; k++) {
      await sleep(random() * straight.ms * 0.6);
      snapshot = await kill(server, ws.db);
      const ended = (await stateAtKill(ws.db, id)) === "success";
      server = await serve(ws);
      if (ended) break;
      const at = resumeAt(snapshot, id, ["crawl_seeds", "dedup_corpus", "embed_docs", "build_index"]);
      await until(`adoption ${k + 1}`, server.out, (out) => out.includes(adoptedLine(id, "ingest", at)));
      resumedAt.push(at);
    }
    console.log(`serve-kill ingest (SERVE_KILL_SEED=${SEED}): ${resumedAt.length} kills, resumed at ${resumedAt.join(", ")}`);
    await until("the run to succeed", () => api(server, `/runs/${id}`), (d) => d.run.state === "success", 300_000);
    await stop(server);
    expect(await checkInvariants(ws.db, snapshot ? { committed: snapshot } : {})).toEqual([]);
    expect(await tableHashes(ws.db)).toEqual(await tableHashes(reference));
  }, 900_000);
});

/** A store at `db` whose ingest run of this week's interval has succeeded. */
async function weeklyRunDone(db: string): Promise<void> {
  const interval = pipeline({ id: "ingest", schedule: "@weekly", startDate: "2026-05-01" }).timetable!.latestDueInterval(undefined, new Date())!;
  const store = await Store.open(db);
  try {
    await createScheduledRuns(store, "ingest", [interval], {}, "scheduled");
    await store.transaction((conn) => conn.run(`UPDATE runs SET state = 'success', started_at = now(), ended_at = now() WHERE pipeline = 'ingest'`));
  } finally {
    await store.close();
  }
}
