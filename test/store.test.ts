import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import { afterEach, describe, expect, it } from "vitest";
import { CellarError } from "../kernel/errors.ts";
import { openCellar, pipeline } from "../kernel/mod.ts";
import { createManualRun, markInterrupted } from "../kernel/run-records.ts";
import { SCHEMA_VERSION } from "../kernel/store/schema.ts";
import { Store } from "../kernel/store/store.ts";
import { type Change, GroupWriter, type LogRecord, type OutputRecord } from "../kernel/store/group-commit.ts";
import { ROOT, tempDir } from "./helpers.ts";

const open: Store[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

async function openStore(path = join(tempDir(), "cellar.duckdb")): Promise<Store> {
  const s = await Store.open(path);
  open.push(s);
  return s;
}

async function closeStore(s: Store): Promise<void> {
  open.splice(open.indexOf(s), 1);
  await s.close();
}

/** Runs `sql` on a DuckDB file with the bare driver, outside Cellar. */
async function raw(path: string, sql: string): Promise<Record<string, unknown>[]> {
  const instance = await DuckDBInstance.create(path);
  const conn = await instance.connect();
  try {
    return (await conn.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

/** Opens each file from another process; resolves to its report, or rejects with what that process said. */
function openFromAnotherProcess(paths: string[]): Promise<string> {
  const script = `
    import { DuckDBInstance } from "@duckdb/node-api";
    for (const path of ${JSON.stringify(paths)}) {
      const instance = await DuckDBInstance.create(path);
      instance.closeSync();
    }
    console.log("opened ${paths.length}");`;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ["--input-type=module", "-e", script], { cwd: ROOT }, (err, stdout, stderr) => {
      if (err) reject(new Error(stderr || String(err)));
      else resolve(stdout.trim());
    });
  });
}

const date = new Date("2026-05-03T00:00:00Z");
const interval = { start: date, end: date };
const log = (runId: number, message: string): Change => ({
  logs: [{ runId, cell: "c", tryNumber: 1, ts: new Date(), level: "info", message } satisfies LogRecord],
});
const output = (runId: number, cell: string): OutputRecord => ({
  runId, cell, pipeline: "p", tryNumber: 1, cacheKey: "k", output: "1", outputHash: "h", reads: "{}",
});

/** A GroupWriter on its own connection that counts the transactions it commits; `commitMs` slows each commit down. */
async function countingWriter(s: Store, commitMs = 0): Promise<{ writer: GroupWriter; commits: () => number; close: () => void }> {
  const conn = await s.connect();
  let commits = 0;
  const counting = {
    run: async (sql: string, values?: never) => {
      if (sql === "COMMIT") {
        commits++;
        if (commitMs) await new Promise((r) => setTimeout(r, commitMs));
      }
      return await conn.run(sql, values);
    },
    closeSync: () => conn.closeSync(),
  } as unknown as DuckDBConnection;
  return { writer: new GroupWriter(counting), commits: () => commits, close: () => conn.closeSync() };
}

describe("store", () => {
  it("creates a fresh database at the current schema version", async () => {
    const s = await openStore();
    expect(SCHEMA_VERSION).toBeGreaterThanOrEqual(1);
    expect(await s.query(`SELECT key, value FROM cellar_meta`)).toEqual([{ key: "schema_version", value: String(SCHEMA_VERSION) }]);
    // Only the schemas the kernel uses: cell tables live in a schema per pipeline, not in a shared one.
    const schemas = await s.query(`SELECT schema_name FROM information_schema.schemata WHERE catalog_name = current_database() ORDER BY 1`);
    expect(schemas.map((r) => r.schema_name).filter((n) => String(n).startsWith("cellar"))).toEqual(["cellar_triggers"]);
    const tables = await s.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY ALL`);
    expect(tables.map((t) => t.table_name)).toEqual(["attempts", "cell_reasons", "cellar_meta", "check_details", "costs", "logs", "outputs", "paused_pipelines", "run_handoffs", "runs"]);
  });

  it("keeps its data when reopened, without migrating again", async () => {
    const path = join(tempDir(), "cellar.duckdb");
    const first = await openStore(path);
    const run = await createManualRun(first, "p", "manual", date, interval, { n: 1 }, {});
    await first.writer.write({ ...log(run.runId, "kept"), outputs: [output(run.runId, "a")] });
    await closeStore(first);

    const again = await openStore(path);
    expect(await again.query(`SELECT value FROM cellar_meta WHERE key = 'schema_version'`)).toEqual([{ value: String(SCHEMA_VERSION) }]);
    expect(await again.query(`SELECT run_id::INT AS run_id, pipeline, params FROM runs`)).toEqual([{ run_id: run.runId, pipeline: "p", params: '{"n":1}' }]);
    expect(await again.query(`SELECT message FROM logs`)).toEqual([{ message: "kept" }]);
    expect(await again.query(`SELECT cell FROM outputs`)).toEqual([{ cell: "a" }]);
    // The run id sequence carries on rather than restarting.
    expect((await createManualRun(again, "p", "manual", date, interval, {}, {})).runId).toBe(run.runId + 1);
  });

  it("releases the file on close, so that another process can open it", async () => {
    const path = join(tempDir(), "cellar.duckdb");
    const s = await openStore(path);
    await createManualRun(s, "p", "manual", date, interval, {}, {});
    await s.writer.write(log(1, "written through the writer's own connection"));
    await s.query("SELECT count(*) FROM runs");
    await closeStore(s);
    await expect(openFromAnotherProcess([path])).resolves.toBe("opened 1");
  });

  it("refuses a DuckDB file that is not a Cellar store, leaves it alone, and lets it go", async () => {
    const path = join(tempDir(), "other.duckdb");
    await raw(path, "CREATE TABLE customers (id INTEGER); INSERT INTO customers VALUES (42)");
    const err = await Store.open(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CellarError);
    expect((err as Error).message).toBe(
      `database ${path}: a DuckDB file, but not a Cellar store (no cellar_meta table); use another --db`,
    );
    // Not migrated, and not held open by this process.
    await expect(openFromAnotherProcess([path])).resolves.toBe("opened 1");
    expect(await raw(path, "SELECT table_name FROM information_schema.tables")).toEqual([{ table_name: "customers" }]);
  });

  it("refuses a store written by a newer schema version, and a file that is not DuckDB", async () => {
    const newer = join(tempDir(), "newer.duckdb");
    await closeStore(await openStore(newer));
    await raw(newer, "UPDATE cellar_meta SET value = '999' WHERE key = 'schema_version'");
    const before = readFileSync(newer);
    await expect(Store.open(newer)).rejects.toThrow(
      `database ${newer}: written by a newer Cellar (schema version 999; this Cellar knows up to ${SCHEMA_VERSION}); upgrade Cellar to open it`,
    );
    expect(readFileSync(newer).equals(before)).toBe(true);

    const garbage = join(tempDir(), "garbage.duckdb");
    writeFileSync(garbage, "this is not a database\n".repeat(200));
    await expect(Store.open(garbage)).rejects.toThrow(
      `database ${garbage}: not a DuckDB database file; pass a DuckDB file or a new path with --db`,
    );
    expect(readFileSync(garbage, "utf8")).toBe("this is not a database\n".repeat(200));
    await expect(openFromAnotherProcess([newer])).resolves.toBe("opened 1");
  });

  it("markInterrupted turns running runs and attempts into interrupted, and nothing else", async () => {
    const s = await openStore();
    const ids = [];
    for (let i = 0; i < 4; i++) ids.push((await createManualRun(s, "p", "manual", date, interval, {}, {})).runId);
    const [running, succeeded, queued, failed] = ids;
    await s.writer.write({
      runStates: [[running, { state: "running", startedAt: date }], [succeeded, { state: "success" }], [failed, { state: "failed" }]],
      attempts: [
        { runId: running, cell: "a", tryNumber: 1, state: "success", startedAt: date, endedAt: date },
        { runId: running, cell: "b", tryNumber: 1, state: "failed", startedAt: date, endedAt: date, error: "x" },
        { runId: running, cell: "b", tryNumber: 2, state: "running", startedAt: date },
        { runId: running, cell: "c", tryNumber: 1, state: "running", startedAt: date },
        { runId: succeeded, cell: "a", tryNumber: 1, state: "success", startedAt: date },
      ],
    });
    await markInterrupted(s);
    const runs = await s.query(`SELECT run_id::INT AS run_id, state FROM runs ORDER BY run_id`);
    expect(runs).toEqual([
      { run_id: running, state: "interrupted" },
      { run_id: succeeded, state: "success" },
      { run_id: queued, state: "queued" },
      { run_id: failed, state: "failed" },
    ]);
    const attempts = await s.query(`SELECT run_id, cell, try_number, state FROM attempts ORDER BY ALL`);
    expect(attempts.map((a) => `${a.run_id}/${a.cell}#${a.try_number}:${a.state}`)).toEqual([
      `${running}/a#1:success`, `${running}/b#1:failed`, `${running}/b#2:interrupted`, `${running}/c#1:interrupted`,
      `${succeeded}/a#1:success`,
    ]);
  });
});

describe("group-commit writer", () => {
  it("commits a burst of 200 concurrent writes in one transaction, each durable when it resolves", async () => {
    const s = await openStore();
    const { writer, commits, close } = await countingWriter(s);
    const visibleWhenResolved: number[] = [];
    const writes = Array.from({ length: 200 }, (_, i) =>
      writer.write(log(1, `m${i}`)).then(async () => {
        // Another connection sees the row as soon as its write resolves.
        if (i % 50 === 0) {
          const rows = await s.query(`SELECT count(*)::INT AS n FROM logs WHERE message = ?`, [`m${i}`]);
          visibleWhenResolved.push(Number(rows[0].n));
        }
      }));
    await Promise.all(writes);
    expect(commits()).toBe(1);
    expect(visibleWhenResolved).toEqual([1, 1, 1, 1]);
    expect(await s.query(`SELECT count(DISTINCT message)::INT AS n FROM logs`)).toEqual([{ n: 200 }]);
    close();
  });

  it("gathers writes that arrive while a transaction commits into the next one", async () => {
    const s = await openStore();
    // Commits take ≥ 10 ms; 200 writers arrive spread over ~40 ms.
    const { writer, commits, close } = await countingWriter(s, 10);
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    await Promise.all(Array.from({ length: 200 }, async (_, i) => {
      await sleep(i % 40);
      await writer.write({ attempts: [{ runId: 1, cell: `c${i}`, tryNumber: 1, state: "success", startedAt: date }] });
    }));
    expect(await s.query(`SELECT count(*)::INT AS n FROM attempts`)).toEqual([{ n: 200 }]);
    expect(commits()).toBeGreaterThan(1);
    expect(commits()).toBeLessThanOrEqual(20);
    close();
  });

  it("store.writer: 200 concurrent writes from concurrent tasks all land", async () => {
    const s = await openStore();
    await Promise.all(Array.from({ length: 200 }, async (_, i) => {
      await new Promise((r) => setTimeout(r, i % 7));
      await s.writer.write({ ...log(i, `w${i}`), costs: [{ runId: i, cell: "c", tryNumber: 1, resource: "tokens", amount: i }] });
    }));
    expect(await s.query(`SELECT count(*)::INT AS n, sum(amount)::INT AS total FROM costs`)).toEqual([{ n: 200, total: 19_900 }]);
    expect(await s.query(`SELECT count(*)::INT AS n FROM logs`)).toEqual([{ n: 200 }]);
  });

  it("rejects only the waiters of a write that violates a constraint, losing no other write", async () => {
    const s = await openStore();
    await s.writer.write({ outputs: [output(1, "x")] });
    // Same turn, so one batch: the duplicate checkpoint shares its transaction with innocent writes.
    const before = s.writer.write(log(1, "before"));
    const duplicate = s.writer.write({ ...log(1, "with the duplicate"), outputs: [output(1, "x")] });
    const after = s.writer.write({ ...log(1, "same batch"), outputs: [output(1, "y")] });
    // And a later write, made while that batch commits.
    const later = new Promise<void>((resolve, reject) => setTimeout(() => s.writer.write(log(1, "later")).then(resolve, reject), 0));
    const settled = await Promise.allSettled([before, duplicate, after, later]);
    expect(settled.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled", "fulfilled"]);
    expect(String((settled[1] as PromiseRejectedResult).reason)).toMatch(/duplicate key|constraint/i);
    expect((await s.query(`SELECT message FROM logs ORDER BY ALL`)).map((r) => r.message)).toEqual(["before", "later", "same batch"]);
    expect((await s.query(`SELECT cell FROM outputs ORDER BY ALL`)).map((r) => r.cell)).toEqual(["x", "y"]);
    // The same write alone in its batch is rejected as it is, with nothing to redo.
    await expect(s.writer.write({ outputs: [output(1, "x")] })).rejects.toThrow(/duplicate key|constraint/i);
    // The writer carries on.
    await s.writer.write(log(1, "afterwards"));
    await s.writer.drain();
    expect(await s.query(`SELECT count(*)::INT AS n FROM logs WHERE message = 'afterwards'`)).toEqual([{ n: 1 }]);
  });

  it("applies changes to one attempt batched together as if committed one after another", async () => {
    const s = await openStore();
    const startedAt = new Date("2026-05-03T01:02:03.000Z");
    const endedAt = new Date("2026-05-03T01:02:04.000Z");
    const sequential = async (runId: number) => {
      await s.writer.write({ attempts: [{ runId, cell: "c", tryNumber: 1, state: "running", startedAt }] });
      await s.writer.write({ attempts: [{ runId, cell: "c", tryNumber: 1, state: "success", endedAt, wallMs: 5 }] });
    };
    const batched = async (runId: number) => {
      await Promise.all([
        s.writer.write({ attempts: [{ runId, cell: "c", tryNumber: 1, state: "running", startedAt }] }),
        s.writer.write({ attempts: [{ runId, cell: "c", tryNumber: 1, state: "success", endedAt, wallMs: 5 }] }),
      ]);
    };
    await sequential(1);
    await batched(2);
    const rows = await s.query(`SELECT run_id, state, started_at, ended_at, wall_ms FROM attempts ORDER BY run_id`);
    expect(rows.map(({ run_id: _, ...rest }) => rest)).toEqual([
      { state: "success", started_at: startedAt, ended_at: endedAt, wall_ms: 5 },
      { state: "success", started_at: startedAt, ended_at: endedAt, wall_ms: 5 },
    ]);
  });
});

describe("runDetail (what cellar show reads)", () => {
  it("reports each cell by its latest attempt, also for a cell that was upstream_failed before a resume", async () => {
    const s = await openStore();
    let broken = true;
    const p = pipeline({ id: "healed" })
      .cell("a", () => {
        if (broken) throw new Error("not yet");
        return 1;
      })
      .cell("b", (_ctx, x: number) => x + 1);
    const cellar = openCellar({ db: s });
    const run = await cellar.run(p, { date });
    expect(run.state).toBe("failed");
    broken = false;
    expect((await cellar.resume(run.runId, { pipeline: p })).state).toBe("success");

    const detail = await cellar.show(run.runId);
    expect(detail.cells.map((c) => c.cell)).toEqual(["a", "b"]);
    const [a, b] = detail.cells;
    expect(a.attempts.map((t) => [t.tryNumber, t.state, t.error])).toEqual([[1, "failed", "not yet"], [2, "success", null]]);
    expect(a).toMatchObject({ state: "success", tries: 2, error: null });
    expect(b.attempts.map((t) => [t.tryNumber, t.state])).toEqual([[0, "upstream_failed"], [1, "success"]]);
    expect(b).toMatchObject({ state: "success", tries: 1, error: null, durationMs: b.attempts[1].durationMs });
    expect(b.durationMs).toEqual(expect.any(Number));
    expect(b.cpuMs).toEqual(expect.any(Number));
    expect(b.endedAt).toEqual(expect.any(Date));
  });
});
