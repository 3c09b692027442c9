// A kill between a cell's checkpoint commit and the views on its tables (kernel/attempt.ts commits a cell's
// tables, output and try in the cell's own transaction, then points the pipeline's views at the new tables).
// The store a process killed at that instant leaves is rebuilt here from a finished run, exactly: the run still
// marked running, the view not yet made, nothing downstream started. Found by reading the kill windows the
// harness's invariants would flag (view-latest); a random kill lands in this one only rarely.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Store } from "../../kernel/store/store.ts";
import { cli, ROOT, tempDir } from "../helpers.ts";
import { checkInvariants, committedSnapshot, tableHashes } from "./invariants.ts";

const FIXTURE = join(ROOT, "test/fixtures/crash.ts");

describe("a kill between a checkpoint's commit and its views", () => {
  /** A finished run of the fixture, then rebuilt as the file a kill right after numbers' commit leaves. */
  async function killedAfterNumbersCommit(): Promise<{ db: string; log: string; args: string[]; expected: Map<string, string> }> {
    const dir = tempDir("cellar-window-");
    const db = join(dir, "db.duckdb");
    const log = join(dir, "log");
    writeFileSync(log, "");
    const args = ["--db", db, "run", FIXTURE, "--param", `log=${log}`, "--param", "rows=2000"];
    const clean = await cli(args);
    expect(clean.code, clean.stderr).toBe(0);
    const expected = await tableHashes(db);

    const store = await Store.open(db);
    try {
      const downstream = "('sum', 'left', 'right', 'join')";
      for (const table of ["outputs", "attempts", "cell_reasons", "costs", "logs"]) {
        await store.query(`DELETE FROM ${table} WHERE cell IN ${downstream}`);
      }
      await store.query(`UPDATE runs SET state = 'running', ended_at = NULL`);
      await store.query(`DROP VIEW crash.numbers`);
    } finally {
      await store.close();
    }
    return { db, log, args, expected };
  }

  it("leaves the view on the checkpoint's table once the run is resumed", async () => {
    const { db, log, args, expected } = await killedAfterNumbersCommit();
    const committed = await committedSnapshot(db);
    expect(await checkInvariants(db, { committed, crashed: true })).toEqual([
      { invariant: "view-latest", detail: 'no view crash.numbers; the latest committed version is crash.numbers@1' },
    ]);

    writeFileSync(log, "");
    const resumed = await cli(args);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain("resuming run 1");
    expect(await checkInvariants(db, { committed })).toEqual([]);
    expect(await tableHashes(db)).toEqual(expected);
    // The checkpoint was kept: numbers did not run again, its dependents did.
    expect(readLines(log)).toEqual(["sum", "left", "right", "join"].sort());
  });

  it("leaves a later run's view where it is when the killed run is resumed after it", async () => {
    const { db, args } = await killedAfterNumbersCommit();
    const later = await cli([...args, "--new", "--no-cache"]);
    expect(later.code, later.stderr).toBe(0);
    const resumed = await cli(["--db", db, "resume", "1"]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(await checkInvariants(db)).toEqual([]);
    const store = await Store.open(db);
    try {
      const [view] = await store.query(`SELECT sql FROM duckdb_views() WHERE view_name = 'numbers'`);
      expect(String(view.sql)).toContain('"numbers@2"');
    } finally {
      await store.close();
    }
  });
});

function readLines(file: string): string[] {
  return readFileSync(file, "utf8").split("\n").filter(Boolean).sort();
}
