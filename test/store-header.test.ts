// A store whose main header was zeroed or overwritten is refused as a damaged DuckDB file (restore it from a
// backup), not as a file that is no DuckDB database: DuckDB refuses both as "not a valid DuckDB database file",
// and to be told to pass a DuckDB file sent a user looking for the wrong fix. A file that is not a database
// stays "not a DuckDB database file", a zeroed file of any size included. Each refusal leaves the file as it was.
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { Store } from "../kernel/store/store.ts";
import { tempDir } from "./helpers.ts";

const dir = tempDir("cellar-header-");
const whole = join(dir, "whole.duckdb");
beforeAll(async () => {
  const store = await Store.open(whole);
  await store.query("CHECKPOINT");
  await store.close();
});

/** A copy of the store with `damage` done to its bytes; the open's refusal, and whether the file stayed as damaged. */
async function refusal(name: string, damage: (bytes: Buffer) => void): Promise<{ path: string; message: string; unchanged: boolean }> {
  const path = join(dir, `${name}.duckdb`);
  copyFileSync(whole, path);
  const bytes = readFileSync(path);
  damage(bytes);
  writeFileSync(path, bytes);
  const message = await Store.open(path).then(async (s) => (await s.close(), "opened"), (err: Error) => err.message);
  return { path, message, unchanged: readFileSync(path).equals(bytes) };
}

const NOT_DUCKDB = "not a DuckDB database file; pass a DuckDB file or a new path with --db";

describe("a store whose header is damaged", () => {
  it("is refused as damaged, restore from a backup, when its main header is zeroed or loses the magic", async () => {
    const zeroed = await refusal("zeroed", (b) => b.fill(0, 0, 4096));
    expect(zeroed.message).toBe(
      `database ${zeroed.path}: damaged: a DuckDB file, but its main header (bytes 0-4095) is zeroed (its database headers still pass their checksums); restore the file from a backup`,
    );
    const magic = await refusal("magic", (b) => b.write("DUCX", 8));
    expect(magic.message).toMatch(/: damaged: a DuckDB file, but its main header \(bytes 0-4095\) has lost DuckDB's magic \(.*\); restore the file from a backup$/);
    // One database header zeroed too (a checkpoint's write torn): the other still tells.
    const one = await refusal("one", (b) => b.fill(0, 0, 8192));
    expect(one.message).toContain("(its database header at byte 8192 still passes its checksum); restore the file from a backup");
    const all = await refusal("all", (b) => b.fill(0, 0, 12288));
    expect(all.message).toMatch(/: damaged: a DuckDB file, but its headers \(bytes 0-12287\) are zeroed \(its size, \d+ bytes, is a DuckDB file's\); restore the file from a backup$/);
    // A flipped bit keeps the magic: DuckDB's checksum refusal, said as such.
    const flipped = await refusal("flipped", (b) => void (b[100] ^= 1));
    expect(flipped.message).toMatch(/: damaged: the block at byte 0 fails its checksum .*restore the file from a backup$/);
    expect([zeroed, magic, one, all, flipped].every((r) => r.unchanged)).toBe(true);
  });

  it("still calls a file that is no database not a DuckDB file", async () => {
    const text = await refusal("text", (b) => b.fill("not a database\n"));
    expect(text.message).toBe(`database ${text.path}: ${NOT_DUCKDB}`);
    const zeros = join(dir, "zeros.duckdb");
    writeFileSync(zeros, Buffer.alloc(20_000));
    await expect(Store.open(zeros)).rejects.toThrow(`database ${zeros}: ${NOT_DUCKDB}`);
    const short = join(dir, "short.duckdb");
    writeFileSync(short, readFileSync(whole).subarray(4096, 9000));
    await expect(Store.open(short)).rejects.toThrow(`database ${short}: ${NOT_DUCKDB}`);
  });
});
