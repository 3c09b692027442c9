/** Issue 9, items 7–11: long durations, strict dates, DuckDB names, errors across kernel copies, ctx.map retries. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Compute } from "../kernel/compute/devices.ts";
import { type Cellar, type CellarEvent, CellarError, openCellar, pipeline, type Pipeline, task } from "../kernel/mod.ts";
import { parseDate } from "../kernel/pipeline.ts";
import { Store } from "../kernel/store/store.ts";
import { setLongTimeout } from "../kernel/timer.ts";
import { cli, ROOT, storesClosedAfterEach, tempDir } from "./helpers.ts";

const store = storesClosedAfterEach();

async function run(s: Store, p: Pipeline, cellar: Cellar = openCellar({ db: s })) {
  return await cellar.run(p, { date: "2026-05-03T00:00:00Z", new: true });
}

describe("durations of any length (7)", () => {
  it("a 30d timeout does not fire at once", async () => {
    const s = await store();
    const p = pipeline({ id: "slow" }).cell("wait", { timeout: "30d" }, async () => {
      await new Promise((r) => setTimeout(r, 1_200));
      return "done";
    });
    const result = await run(s, p);
    expect(result.cells.get("wait")).toBe("success");
  });

  it("a 30d retry delay is really waited", async () => {
    const s = await store();
    let tries = 0;
    const p = pipeline({ id: "retrying" }).cell("flaky", { retries: 1, retryDelay: "30d", maxRetryDelay: "60d" }, () => {
      tries++;
      throw new Error("flaky");
    });
    const cellar = openCellar({ db: s });
    const events: CellarEvent[] = [];
    cellar.on((e) => events.push(e));
    const done = run(s, p, cellar);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(tries).toBe(1);
    const retry = events.find((e) => e.type === "cell" && e.state === "up_for_retry");
    expect(retry && retry.type === "cell" && retry.retryInMs).toBe(30 * 86_400_000);
    cellar.cancel();
    expect((await done).state).toBe("interrupted");
    expect(tries).toBe(1);
  });

  it("chains steps of at most the platform's limit", async () => {
    const t0 = performance.now();
    const elapsed = await new Promise<number>((resolve) => setLongTimeout(() => resolve(performance.now() - t0), 150, 40));
    expect(elapsed).toBeGreaterThanOrEqual(145);
  });

  it("a cell that returns after its timeout failed, even when it blocked the thread", async () => {
    const s = await store();
    const p = pipeline({ id: "busy" }).cell("spin", { timeout: "200ms" }, () => {
      const end = Date.now() + 600;
      while (Date.now() < end) { /* busy */ }
      return "late";
    });
    const result = await run(s, p);
    expect(result.cells.get("spin")).toBe("failed");
    const [attempt] = await s.query(`SELECT error FROM attempts WHERE run_id = ? AND state = 'failed'`, [result.runId]);
    expect(String(attempt.error)).toMatch(/timed out after 200ms/);
  });
});

describe("dates are real dates (8)", () => {
  it.each(["2026-02-30", "2026-04-31", "1", "2026-13-01", "2026-05-01T25:00:00Z"])("refuses %s", (value) => {
    expect(() => parseDate(value, "--date")).toThrow(new RegExp(`^--date "${value}": expected a date`));
    expect(() => pipeline({ id: "p", startDate: value })).toThrow(/startDate/);
  });
  it("reads dates and ISO date-times", () => {
    expect(parseDate("2024-02-29", "d").toISOString()).toBe("2024-02-29T00:00:00.000Z");
    expect(parseDate("2026-03-06T00:00:00-05:00", "d").toISOString()).toBe("2026-03-06T05:00:00.000Z");
  });
  it("the CLI refuses --date 2026-04-31 in one line", async () => {
    const result = await cli(["--db", join(tempDir(), "c.duckdb"), "run", "hello", "--date", "2026-04-31"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^cellar: --date "2026-04-31": expected a date[^\n]*April 2026 has no day 31\n$/);
  });
});

describe("names never collide inside DuckDB (9)", () => {
  it("a database file named like the pipeline works", async () => {
    const s = await Store.open(join(tempDir(), "hello.duckdb"));
    try {
      const p = pipeline({ id: "hello" })
        .cell("store", async (ctx) => {
          const t = await ctx.table("greetings", { line: "VARCHAR" });
          await t.append([{ line: "hi" }]);
          return { greetings: await t.finish() };
        })
        .cell("count", async (ctx, input) => (await ctx.sql(`SELECT count(*)::INT AS n FROM ${input.greetings.sql}`))[0]);
      const result = await run(s, p);
      expect(result.state).toBe("success");
      expect(result.outputs.get("count")).toEqual({ n: 1 });
      expect(await s.query(`SELECT count(*)::INT AS n FROM hello.greetings`)).toEqual([{ n: 1 }]);
    } finally {
      await s.close();
    }
  });

  it("refuses two table names that differ only in case, in one line", async () => {
    const s = await store();
    const write = (name: string) => async (ctx: any) => {
      const t = await ctx.table(name, { x: "INTEGER" });
      await t.append([{ x: 1 }]);
      return { t: await t.finish() };
    };
    const p = pipeline({ id: "cases" }).cell("A", { needs: [] }, write("T")).cell("a", { needs: ["A"] }, write("t"));
    const result = await run(s, p);
    expect(result.cells.get("A")).toBe("success");
    expect(result.cells.get("a")).toBe("failed");
    const [attempt] = await s.query(`SELECT error FROM attempts WHERE run_id = ? AND cell = 'a' AND state = 'failed'`, [result.runId]);
    expect(String(attempt.error)).toBe(
      `ctx.table("t") in cell "a": cell "A" of this run already writes table "T", the same table to DuckDB, whose names ignore case; give each table its own name`,
    );
  });
});

describe("pipeline ids that are the store's own schemas (9)", () => {
  it("refuses main, temp and the store's schemas in one line, whatever their case", () => {
    for (const id of ["main", "Main", "temp", "system", "cellar_data", "cellar_triggers"]) {
      expect(() => pipeline({ id })).toThrowError(new RegExp(`^pipeline id "${id}": the store already uses that name`));
    }
    expect(pipeline({ id: "mainline" }).id).toBe("mainline");
  });
});

describe("a pipeline outside the repo behaves like one inside (10)", () => {
  it("a CellarError from a second copy of the kernel fails at once", async () => {
    const dir = tempDir("cellar-outside-");
    const file = join(dir, "outside.ts");
    writeFileSync(file, `import { pipeline, CellarError } from ${JSON.stringify(join(ROOT, "kernel/mod.ts"))};
export default pipeline({ id: "outside", defaults: { retries: 3, retryDelay: 0 } })
  .cell("bad", () => { throw new CellarError("bad seeds"); });
`);
    const db = join(dir, "c.duckdb");
    const result = await cli(["--db", db, "run", file], { cwd: dir });
    expect(result.code).toBe(1);
    const shown = await cli(["--db", db, "show", "1", "--json"], { cwd: dir });
    const detail = JSON.parse(shown.stdout);
    expect(JSON.stringify(detail)).toContain("bad seeds");
    const s = await Store.open(db);
    try {
      expect(await s.query(`SELECT count(*)::INT AS n FROM attempts WHERE cell = 'bad'`)).toEqual([{ n: 1 }]);
    } finally {
      await s.close();
    }
  });
});

describe("a failed ctx.map keeps the cell's retries (11)", () => {
  it("a transient chunk failure leaves the cell retryable; bad input fails at once", async () => {
    const s = await store();
    const compute = new Compute({ devices: "cpu" });
    try {
      let cellTries = 0;
      const p = pipeline({ id: "mapped", defaults: { retries: 2, retryDelay: 0 } })
        .cell("transient", { needs: [] }, async (ctx) => {
          cellTries++;
          return await ctx.map([1, 2, 3], () => { throw new Error("device lost"); }, { retries: 0 });
        })
        .cell("bad", { needs: [] }, async (ctx) => await ctx.map([1], () => { throw new CellarError("bad input"); }));
      const result = await run(s, p, openCellar({ db: s, compute }));
      expect(cellTries).toBe(3);
      const rows = await s.query(`SELECT cell, count(*)::INT AS n, max(error) AS error FROM attempts WHERE run_id = ? GROUP BY cell ORDER BY cell`, [result.runId]);
      expect(rows[0]).toMatchObject({ cell: "bad", n: 1 }); // one try
      expect(String(rows[0].error)).toMatch(/chunk 0 .*failed after 1 try: bad input/);
      expect(String(rows[1].error)).toMatch(/chunk 0 .*device lost/);
      const tries = await s.query(`SELECT cell, max(try_number)::INT AS n FROM attempts WHERE run_id = ? GROUP BY cell ORDER BY cell`, [result.runId]);
      expect(tries).toEqual([{ cell: "bad", n: 1 }, { cell: "transient", n: 3 }]);
    } finally {
      await compute.close();
    }
  });

  it("CPU workers receive the chunk's index", async () => {
    const s = await store();
    const compute = new Compute({ devices: "cpu" });
    try {
      const p = pipeline({ id: "indexed" }).cell("idx", async (ctx) =>
        await ctx.map([1, 2, 3, 4, 5], task(new URL("./fixtures/chunk-index.ts", import.meta.url).href, "chunkIndex"), { batchSize: 2 }));
      const result = await run(s, p, openCellar({ db: s, compute }));
      expect(result.outputs.get("idx")).toEqual([0, 0, 1, 1, 2]);
    } finally {
      await compute.close();
    }
  });
});
