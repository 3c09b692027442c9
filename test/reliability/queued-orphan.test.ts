// A kill between `cellar run` creating its manual run (queued) and the runner marking it running. The file a
// process killed at that instant leaves is rebuilt here from a finished run, exactly: the run's row as
// createManualRun wrote it, nothing else of the run. The next `cellar run` with the same params must take that
// run, as it takes an interrupted one, and not leave it queued beside a new run: a queued manual run is an orphan
// that a later `cellar serve` would adopt and execute once more (kernel/orphans.ts). Found by reading the kill
// windows the harness's final comparison would flag (`runs ingest: queued×1 success×1` against `success×1`); a
// random kill lands in this one (a few milliseconds) only rarely.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Store } from "../../kernel/store/store.ts";
import { cli, ROOT, tempDir } from "../helpers.ts";
import { checkInvariants, tableHashes } from "./invariants.ts";

const FIXTURE = join(ROOT, "test/fixtures/crash.ts");

describe("a kill right after cellar run created its run", () => {
  it("has the next cellar run with the same params take the queued run", async () => {
    const dir = tempDir("cellar-queued-");
    const db = join(dir, "db.duckdb");
    writeFileSync(join(dir, "log"), "");
    const args = ["--db", db, "run", FIXTURE, "--param", `log=${join(dir, "log")}`, "--param", "rows=2000"];
    const clean = await cli(args);
    expect(clean.code, clean.stderr).toBe(0);
    const expected = await tableHashes(db);

    const store = await Store.open(db);
    try {
      for (const table of ["outputs", "attempts", "cell_reasons", "costs", "logs"]) await store.query(`DELETE FROM ${table}`);
      for (const name of ["numbers"]) {
        await store.query(`DROP VIEW crash.${name}`);
        await store.query(`DROP TABLE crash."${name}@1"`);
      }
      await store.query(`UPDATE runs SET state = 'queued', started_at = NULL, ended_at = NULL`);
    } finally {
      await store.close();
    }
    expect(await checkInvariants(db, { crashed: true })).toEqual([]);

    const again = await cli(args);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain("starting run 1 (queued, never started");
    expect(again.stderr).not.toContain("resuming");
    expect(await checkInvariants(db)).toEqual([]);
    expect(await tableHashes(db)).toEqual(expected);
  });

  it("leaves a queued run of other params alone", async () => {
    const dir = tempDir("cellar-queued-");
    const db = join(dir, "db.duckdb");
    writeFileSync(join(dir, "log"), "");
    const args = ["--db", db, "run", FIXTURE, "--param", `log=${join(dir, "log")}`];
    expect((await cli([...args, "--param", "rows=2000"])).code).toBe(0);
    const store = await Store.open(db);
    try {
      await store.query(`UPDATE runs SET state = 'queued', started_at = NULL, ended_at = NULL`);
    } finally {
      await store.close();
    }
    const other = await cli([...args, "--param", "rows=1000"]);
    expect(other.code, other.stderr).toBe(0);
    expect(other.stderr).not.toContain("resuming");
    const reopened = await Store.open(db);
    try {
      expect(await reopened.query(`SELECT run_id::INTEGER AS run_id, state FROM runs ORDER BY run_id`)).toEqual([
        { run_id: 1, state: "queued" },
        { run_id: 2, state: "success" },
      ]);
    } finally {
      await reopened.close();
    }
  });
});
