// The migration that numbers the log lines of a store written before `seq` (kernel/run-logs.ts pages by it;
// its tests over a real run are in ui.test.ts, which has the UI fixture).
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { describe, expect, it } from "vitest";
import { MIGRATIONS } from "../kernel/store/schema.ts";
import { Store } from "../kernel/store/store.ts";
import { tempDir } from "./helpers.ts";

describe("the logs migration", () => {
  it("numbers the lines of a store from before seq in the order they were shown, and new lines after them", async () => {
    const path = join(tempDir(), "old.duckdb");
    const instance = await DuckDBInstance.create(path);
    const conn = await instance.connect();
    const before = MIGRATIONS.findIndex((m) => m.includes("logs_by_seq"));
    for (const m of MIGRATIONS.slice(0, before)) await conn.run(m);
    await conn.run(`INSERT INTO cellar_meta VALUES ('schema_version', '${before}')`);
    // Written out of time order, as two cells' lines can be.
    await conn.run(`INSERT INTO logs VALUES (1, 'b', 1, '2026-05-01T00:00:02Z', 'info', 'third'), (1, 'a', 1, '2026-05-01T00:00:01Z', 'info', 'second'),
      (1, 'a', 1, '2026-05-01T00:00:00Z', 'warn', 'first')`);
    conn.closeSync();
    instance.closeSync();
    const store = await Store.open(path);
    try {
      await store.writer.write({ logs: [{ runId: 1, cell: "a", tryNumber: 2, ts: new Date("2026-04-01T00:00:00Z"), level: "info", message: "new" }] });
      const rows = await store.query("SELECT seq::INT AS seq, message FROM logs ORDER BY seq");
      expect(rows).toEqual([{ seq: 1, message: "first" }, { seq: 2, message: "second" }, { seq: 3, message: "third" }, { seq: 4, message: "new" }]);
    } finally {
      await store.close();
    }
  });
});
