// The store's DuckDB has a bounded memory limit and spills beside its file (kernel/store/store.ts):
// DuckDB's own default, 80% of RAM, never evicts, and an ingest's RSS grew with every document.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { MEMORY_LIMIT_ENV, Store } from "../kernel/store/store.ts";
import { tempDir } from "./helpers.ts";

const saved = process.env[MEMORY_LIMIT_ENV];
afterEach(() => {
  if (saved === undefined) delete process.env[MEMORY_LIMIT_ENV];
  else process.env[MEMORY_LIMIT_ENV] = saved;
});

async function settings(store: Store) {
  const [row] = await store.query("SELECT current_setting('memory_limit') AS m, current_setting('temp_directory') AS t");
  return { limit: String(row.m), temp: String(row.t) };
}

describe("the store's memory limit", () => {
  it("is 512MB by default, on every connection, and spills into <db>.tmp", async () => {
    delete process.env[MEMORY_LIMIT_ENV];
    const db = join(tempDir(), "cellar.duckdb");
    const store = await Store.open(db);
    try {
      expect(await settings(store)).toEqual({ limit: "488.2 MiB", temp: `${db}.tmp` });
      const conn = await store.connect();
      const [row] = (await conn.runAndReadAll("SELECT current_setting('memory_limit') AS m")).getRowObjectsJS();
      conn.closeSync();
      expect(row.m).toBe("488.2 MiB");
    } finally {
      await store.close();
    }
  });

  it(`takes ${MEMORY_LIMIT_ENV}, and a sort larger than it spills instead of failing`, async () => {
    process.env[MEMORY_LIMIT_ENV] = "64MB";
    const db = join(tempDir(), "cellar.duckdb");
    const store = await Store.open(db);
    try {
      expect((await settings(store)).limit).toBe("61.0 MiB");
      await store.query("CREATE TABLE big AS SELECT i, md5(i::VARCHAR) AS s FROM range(1500000) t(i)");
      const [row] = await store.query("SELECT count(*) AS n, max(s) AS top FROM (SELECT s FROM big ORDER BY s)");
      expect(Number(row.n)).toBe(1_500_000);
      expect(existsSync(`${db}.tmp`)).toBe(true);
    } finally {
      await store.close();
    }
  });

  it("refuses a value DuckDB cannot read in one line naming the variable", async () => {
    process.env[MEMORY_LIMIT_ENV] = "lots";
    await expect(Store.open(join(tempDir(), "cellar.duckdb"))).rejects.toThrow(
      `${MEMORY_LIMIT_ENV}=lots: expected a memory size such as 512MB or 2GB`,
    );
  });
});
