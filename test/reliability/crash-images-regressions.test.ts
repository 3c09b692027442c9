// What the crash-image test (crash-images.test.ts) found, each made deterministic:
// - a database copied after a checkpoint with its WAL from before held every row of that WAL twice (and the
//   other way round lost the rows in between), opening as a store that looked valid: new stores are now made
//   in DuckDB's v1.4.0 storage format, whose WAL names the checkpoint it follows, and such a pair is refused;
// - damage DuckDB refuses (a block or a WAL entry failing its checksum, that mismatched WAL) leaked its raw
//   "IO Error: …" with checksums in it, at open or (a data block) at the query that reads it: now one line
//   naming the file, what is wrong and what to do;
// - damage found by a cell's own transaction or its commit (a commit reads blocks no reader touched, a free
//   block it reuses) failed the cell with that raw error and retried it: now the same line, not retried;
// - a cell that writes tables committed its checkpoint in its own transaction and its try's end afterwards,
//   through the group writer: a crash in between left an output whose try was running ("interrupted" once
//   reopened), and its costs gone.
import { copyFileSync, mkdirSync, openSync, closeSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isCellarError } from "../../kernel/errors.ts";
import { pipeline } from "../../kernel/mod.ts";
import { createManualRun } from "../../kernel/run-records.ts";
import { Runner } from "../../kernel/runner.ts";
import type { Change } from "../../kernel/store/group-commit.ts";
import { Store } from "../../kernel/store/store.ts";
import { tempDir } from "../helpers.ts";
import { checkInvariants } from "./invariants.ts";

/** Store.open's refusal of `db`, or undefined when it opened (then closed). */
async function refusal(db: string): Promise<string | undefined> {
  try {
    await (await Store.open(db)).close();
    return undefined;
  } catch (err) {
    expect(isCellarError(err), String(err)).toBe(true);
    return (err as Error).message;
  }
}

function copyTo(dir: string, files: Array<[from: string, to: string]>): string {
  mkdirSync(dir, { recursive: true });
  for (const [from, to] of files) copyFileSync(from, join(dir, to));
  return join(dir, "db.duckdb");
}

function overwrite(path: string, at: number, bytes: Uint8Array): void {
  const fd = openSync(path, "r+");
  writeSync(fd, bytes, 0, bytes.length, at);
  closeSync(fd);
}

describe("crash images: regressions", () => {
  it("refuses a WAL copied from before a checkpoint with the database from after it (and the other way round)", async () => {
    const dir = tempDir();
    const db = join(dir, "db.duckdb");
    const store = await Store.open(db);
    await store.query("CREATE TABLE t (id INTEGER)");
    await store.query("CHECKPOINT");
    await store.query("INSERT INTO t SELECT range FROM range(5)");
    const before = copyTo(join(dir, "before"), [[db, "db.duckdb"], [`${db}.wal`, "db.duckdb.wal"]]);
    await store.query("CHECKPOINT");
    await store.query("INSERT INTO t SELECT range FROM range(5, 8)");
    const after = copyTo(join(dir, "after"), [[db, "db.duckdb"], [`${db}.wal`, "db.duckdb.wal"]]);
    await store.close();

    const oldWal = copyTo(join(dir, "old-wal"), [[after, "db.duckdb"], [`${before}.wal`, "db.duckdb.wal"]]);
    const newWal = copyTo(join(dir, "new-wal"), [[before, "db.duckdb"], [`${after}.wal`, "db.duckdb.wal"]]);
    for (const image of [oldWal, newWal]) {
      expect(await refusal(image)).toBe(
        `database ${image}: its WAL ${image}.wal belongs to another state of the file (the two were copied at different moments); ` +
          `restore both from one backup, or move the WAL aside to open the store as of its last checkpoint`,
      );
    }
    // Each pair as it was opens, with its rows once.
    for (const [image, rows] of [[before, 5], [after, 8]] as const) {
      const s = await Store.open(image);
      expect(await s.query("SELECT count(*)::INTEGER AS n, count(DISTINCT id)::INTEGER AS d FROM t")).toEqual([{ n: rows, d: rows }]);
      await s.close();
    }
  });

  it("refuses a block that fails its checksum, and a damaged WAL entry, in one line naming the file", async () => {
    const dir = tempDir();
    const db = join(dir, "db.duckdb");
    const store = await Store.open(db);
    await store.query("CREATE TABLE t AS SELECT range AS id FROM range(1000)");
    const open = copyTo(join(dir, "open"), [[db, "db.duckdb"], [`${db}.wal`, "db.duckdb.wal"]]);
    await store.close();

    // The header of the checkpoint in use (DuckDB keeps two, at 4096 and 8192): a flipped bit in its body.
    const block = copyTo(join(dir, "block"), [[db, "db.duckdb"]]);
    for (const at of [4096 + 100, 8192 + 100]) overwrite(block, at, new Uint8Array([0xff]));
    expect(await refusal(block)).toMatch(
      new RegExp(`^database ${block}: damaged: the block at byte \\d+ fails its checksum \\(bad media, or a write torn by a crash\\); restore the file from a backup$`),
    );

    // The WAL's tail zeroed where the data never reached the disk, its length kept.
    const wal = copyTo(join(dir, "wal"), [[open, "db.duckdb"], [`${open}.wal`, "db.duckdb.wal"]]);
    const size = statSync(`${wal}.wal`).size;
    overwrite(`${wal}.wal`, Math.floor(size / 2), new Uint8Array(size - Math.floor(size / 2)));
    const message = await refusal(wal);
    expect(message).toMatch(new RegExp(`^database ${wal}: its WAL ${wal}\\.wal is damaged at byte \\d+ \\(an entry fails its checksum\\); `));
    expect(message).not.toContain("\n");
  });

  it("refuses a damaged block found only when a query or a transaction reads it, in the same line as open", async () => {
    const dir = tempDir();
    const db = join(dir, "db.duckdb");
    const store = await Store.open(db);
    await store.query("CREATE TABLE t AS SELECT range AS id, range * 2 AS twice FROM range(300000)");
    const [{ block }] = await store.query("SELECT max(block_id)::INTEGER AS block FROM pragma_storage_info('t') WHERE segment_type = 'BIGINT' AND persistent");
    await store.close();
    // DuckDB's file: three 4 KiB headers, then 256 KiB blocks; a zeroed stretch inside the column's block.
    overwrite(db, 3 * 4096 + Number(block) * 262144 + 1000, new Uint8Array(64));
    const reopened = await Store.open(db);
    try {
      const error = await reopened.query("SELECT sum(id + twice) FROM t").then(() => undefined, (err) => err);
      expect(isCellarError(error), String(error)).toBe(true);
      expect(error.message).toMatch(new RegExp(`^database ${db}: damaged: the block at byte \\d+ fails its checksum`));
      // And in a transaction (markInterrupted's, as openCellar opens a store, read a damaged runs table so).
      const inTransaction = await reopened.transaction((conn) => conn.run("SELECT sum(id + twice) FROM t")).then(() => undefined, (err) => err);
      expect(inTransaction?.message).toBe(error.message);
    } finally {
      await reopened.close();
    }
  });

  it("fails a cell whose own transaction reads a damaged block with the store's one line, and does not retry it", async () => {
    const dir = tempDir();
    const db = join(dir, "db.duckdb");
    const store = await Store.open(db);
    await store.query("CREATE TABLE t AS SELECT range AS id, range * 2 AS twice FROM range(300000)");
    const [{ block }] = await store.query("SELECT max(block_id)::INTEGER AS block FROM pragma_storage_info('t') WHERE segment_type = 'BIGINT' AND persistent");
    await store.close();
    overwrite(db, 3 * 4096 + Number(block) * 262144 + 1000, new Uint8Array(64));
    const reopened = await Store.open(db);
    // A table-writing cell reads through its own transaction, as a commit does: damage found there was the raw
    // "IO Error: Corrupt database file: computed checksum …", and retried as if it were the cell's fault.
    const p = pipeline({ id: "damaged" }).cell("sums", { retries: 2, retryDelay: "1ms" }, async (ctx) => {
      const out = await ctx.table("sums", { s: "BIGINT" });
      await out.append(await ctx.sql("SELECT sum(id + twice)::BIGINT AS s FROM t"));
      return { sums: await out.finish() };
    });
    const date = new Date("2026-05-03T00:00:00Z");
    const record = await createManualRun(reopened, p.id, "manual", date, { start: date, end: date }, {}, {});
    expect((await new Runner(reopened).execute(p, record)).state).toBe("failed");
    const tries = await reopened.query("SELECT error FROM attempts WHERE cell = 'sums' ORDER BY try_number");
    await reopened.close();
    expect(tries).toHaveLength(1);
    expect(String(tries[0].error)).toMatch(new RegExp(`^database ${db}: damaged: the block at byte \\d+ fails its checksum .*; restore the file from a backup$`));
  });

  it("commits a table-writing cell's try end with its checkpoint, not after it", async () => {
    const db = join(tempDir(), "db.duckdb");
    const store = await Store.open(db);
    const p = pipeline({ id: "gap" })
      .cell("numbers", async (ctx) => {
        const t = await ctx.table("numbers", { n: "INTEGER" });
        await t.append([{ n: 1 }, { n: 2 }]);
        ctx.cost.add("rows", 2);
        return { numbers: await t.finish() };
      });
    // The process dies right after the cell's transaction commits: whatever the writer is handed for the try's
    // end from then on never reaches the file.
    const write = store.writer.write.bind(store.writer);
    store.writer.write = (change: Change) =>
      change.attempts?.some((a) => a.cell === "numbers" && a.state === "success") ? Promise.resolve() : write(change);
    const date = new Date("2026-05-03T00:00:00Z");
    const record = await createManualRun(store, p.id, "manual", date, { start: date, end: date }, {}, {});
    expect((await new Runner(store).execute(p, record)).state).toBe("success");
    expect(await store.query("SELECT state FROM attempts WHERE cell = 'numbers'")).toEqual([{ state: "success" }]);
    expect(await store.query("SELECT resource, amount FROM costs WHERE cell = 'numbers'")).toEqual([{ resource: "rows", amount: 2 }]);
    await store.close();
    expect(await checkInvariants(db)).toEqual([]);
  });
});
