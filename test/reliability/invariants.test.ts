// The invariant checker finds each kind of damage it names: a store written by a real run passes, and the same
// store broken one way at a time fails exactly the invariant that describes the damage.
import { copyFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { Store } from "../../kernel/store/store.ts";
import { cli, ROOT, tempDir } from "../helpers.ts";
import { checkInvariants, committedSnapshot, StoreUnreadable, tableHashes } from "./invariants.ts";

const FIXTURE = join(ROOT, "test/fixtures/crash.ts");

describe("invariant checker", () => {
  let clean: string;
  beforeAll(async () => {
    const dir = tempDir("cellar-invariants-");
    clean = join(dir, "db.duckdb");
    writeFileSync(join(dir, "log"), "");
    const run = await cli(["--db", clean, "run", FIXTURE, "--param", `log=${join(dir, "log")}`, "--param", "rows=2000"]);
    expect(run.code, run.stderr).toBe(0);
  });

  /** A copy of the clean store with `sql` applied. */
  async function broken(...sql: string[]): Promise<string> {
    const copy = join(tempDir("cellar-broken-"), "db.duckdb");
    copyFileSync(clean, copy);
    const store = await Store.open(copy);
    try {
      for (const statement of sql) await store.query(statement);
    } finally {
      await store.close();
    }
    return copy;
  }

  const names = async (db: string, committed?: Awaited<ReturnType<typeof committedSnapshot>>) =>
    [...new Set((await checkInvariants(db, { committed })).map((v) => v.invariant))].sort();

  it("passes a store a run wrote, and hashes its tables the same as a copy's", async () => {
    expect(await checkInvariants(clean, { committed: await committedSnapshot(clean) })).toEqual([]);
    const hashes = await tableHashes(clean);
    expect(hashes.get("table crash.numbers")).toMatch(/^2000:\d+$/);
    expect(hashes.get("runs crash")).toBe("success×1 ");
    expect(await tableHashes(await broken())).toEqual(hashes);
  });

  it("names each kind of damage", async () => {
    const snapshot = await committedSnapshot(clean);
    expect(await names(await broken("DELETE FROM outputs WHERE cell = 'sum'"), snapshot)).toContain("committed-output-kept");
    expect(await names(await broken(`UPDATE outputs SET output_hash = 'x' WHERE cell = 'left'`), snapshot)).toEqual(["committed-output-kept"]);
    expect(await names(await broken(`INSERT INTO crash."numbers@1" SELECT * FROM crash."numbers@1" LIMIT 1`)))
      .toEqual(["no-duplicate-row", "table-ref-intact"]);
    expect(await names(await broken(`DELETE FROM crash."numbers@1" WHERE n = 5`))).toEqual(["table-ref-intact"]);
    expect(await names(await broken(`CREATE TABLE crash."numbers@9" AS SELECT * FROM crash."numbers@1"`, `CREATE OR REPLACE VIEW crash.numbers AS SELECT * FROM crash."numbers@9"`)))
      .toEqual(["view-committed"]);
    expect(await names(await broken(`UPDATE runs SET state = 'running'`))).toEqual(["run-finished-or-resumable"]);
    expect(await names(await broken(`UPDATE attempts SET state = 'interrupted' WHERE cell = 'numbers'`))).toEqual(["attempts-match-cells"]);
    expect(await names(await broken(`UPDATE attempts SET state = 'running' WHERE cell = 'seed'`))).toEqual(["attempts-match-cells"]);
    expect(await names(await broken(`INSERT INTO costs VALUES (1, 'sum', 7, 'tokens', 3)`))).toEqual(["costs-match-attempts"]);
    expect(await names(await broken(`INSERT INTO logs VALUES (1, 'ghost', 1, now(), 'info', 'hello', 999999)`))).toEqual(["logs-match-attempts"]);
  });

  it("names a view left on an older committed version", async () => {
    const db = await broken(
      `CREATE TABLE crash."numbers@2" AS SELECT * FROM crash."numbers@1"`,
      `INSERT INTO runs SELECT 2, pipeline, 'second', kind, logical_date, interval_start, interval_end, params, options, state, now(), started_at, now() FROM runs`,
      `INSERT INTO attempts SELECT 2, cell, try_number, state, started_at, ended_at, wall_ms, cpu_ms, error FROM attempts WHERE cell = 'numbers'`,
      `INSERT INTO outputs SELECT 2, cell, pipeline, try_number, cache_key, replace(output, 'numbers@1', 'numbers@2'), output_hash, reads, NULL, now() FROM outputs WHERE cell = 'numbers'`,
    );
    const violations = await checkInvariants(db);
    expect(violations).toEqual([{ invariant: "view-latest", detail: expect.stringContaining("crash.numbers@2") }]);
  });

  it("refuses a file it cannot open with one line, telling it apart from damage", async () => {
    const dir = tempDir("cellar-unreadable-");
    writeFileSync(join(dir, "junk.duckdb"), "not a database at all, just some bytes that are long enough to read".repeat(100));
    const refusal = await checkInvariants(join(dir, "junk.duckdb")).catch((err) => err);
    expect(refusal).toBeInstanceOf(StoreUnreadable);
    expect(refusal.message.split("\n")).toHaveLength(1);
    expect(refusal.message).toContain("junk.duckdb: cannot be opened for checking");
    await expect(checkInvariants(join(dir, "missing.duckdb"))).rejects.toBeInstanceOf(StoreUnreadable);
  });

  it("takes a file a process was killed in before it made any table as an empty store", async () => {
    const dir = tempDir("cellar-empty-");
    const { DuckDBInstance } = await import("@duckdb/node-api");
    const instance = await DuckDBInstance.create(join(dir, "empty.duckdb"));
    instance.closeSync();
    expect(await checkInvariants(join(dir, "empty.duckdb"))).toEqual([]);
    expect(await tableHashes(join(dir, "empty.duckdb"))).toEqual(new Map());
    const lost = await checkInvariants(join(dir, "empty.duckdb"), { committed: await committedSnapshot(clean) });
    expect(lost.map((v) => v.invariant)).toEqual(Array(6).fill("committed-output-kept"));
  });
});
