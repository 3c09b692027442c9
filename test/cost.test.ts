import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { costLines, parseCostModel } from "../kernel/cost.ts";
import { CellarError } from "../kernel/errors.ts";
import { openCellar, pipeline, type Pipeline } from "../kernel/mod.ts";
import type { Store } from "../kernel/store/store.ts";
import { ROOT, storesClosedAfterEach } from "./helpers.ts";

const HEADER = "resource,unit,usd_per_unit";

/** The CellarError `body` throws (failing the test if it throws nothing or something else). */
function refusal(body: () => unknown): CellarError {
  try {
    body();
  } catch (err) {
    expect(err).toBeInstanceOf(CellarError);
    return err as CellarError;
  }
  throw new Error("expected a CellarError, nothing was thrown");
}

describe("parseCostModel", () => {
  it("reads resource, unit and price, tolerating spaces, blank lines, CRLF and extra columns", () => {
    const model = parseCostModel(
      ` resource , unit ,usd_per_unit,note\r\ncpu_seconds, second ,0.0000112,measured\r\n\r\nllm_tokens,token,2e-6,\r\nwall_seconds,second,0,free\r\n`,
      "model.csv",
    );
    expect(Object.fromEntries(model.prices)).toEqual({
      cpu_seconds: { unit: "second", usdPerUnit: 0.0000112 },
      llm_tokens: { unit: "token", usdPerUnit: 0.000002 },
      wall_seconds: { unit: "second", usdPerUnit: 0 },
    });
  });

  it("reads the repository's own cost model", () => {
    const model = parseCostModel(readFileSync(join(ROOT, "pipelines/cost-model.csv"), "utf8"), "pipelines/cost-model.csv");
    expect(model.prices.get("cpu_seconds")).toEqual({ unit: "second", usdPerUnit: 0.0000112 });
  });

  it("refuses a header without the three columns, naming what is missing, even with no rows", () => {
    for (const text of ["resource,price\ncpu_seconds,1\n", "resource,price\n", "resource,unit\n"]) {
      const err = refusal(() => parseCostModel(text, "m.csv"));
      expect(err.message).toMatch(/^cost model m\.csv: header "resource,(price|unit)" has no .*usd_per_unit; expected the header resource,unit,usd_per_unit$/);
    }
    expect(refusal(() => parseCostModel("resource,price\n", "m.csv")).message).toContain("has no unit, usd_per_unit");
    expect(refusal(() => parseCostModel("", "m.csv")).message).toBe("cost model m.csv: empty; expected the header resource,unit,usd_per_unit");
  });

  it("names the line (as numbered in the file) of a price that is not a number ≥ 0", () => {
    const text = `${HEADER}\ncpu_seconds,second,0.1\n\ngpu_seconds,second,cheap\n`;
    expect(refusal(() => parseCostModel(text, "m.csv")).message).toBe(
      `cost model m.csv line 4: "cheap" is not a price; expected a number ≥ 0 in usd_per_unit`,
    );
    expect(refusal(() => parseCostModel(`${HEADER}\ncpu_seconds,second,-1\n`, "m.csv")).message).toMatch(/^cost model m\.csv line 2: "-1" is not a price/);
    expect(refusal(() => parseCostModel(`${HEADER}\ncpu_seconds,second,\n`, "m.csv")).message).toMatch(/^cost model m\.csv line 2: "" is not a price/);
    expect(refusal(() => parseCostModel(`${HEADER}\ncpu_seconds,second,Infinity\n`, "m.csv")).message).toMatch(/line 2: "Infinity" is not a price/);
    expect(refusal(() => parseCostModel(`${HEADER}\n,second,1\n`, "m.csv")).message).toBe(
      "cost model m.csv line 2: no resource; expected a resource name such as cpu_seconds",
    );
  });

  it("refuses a resource priced twice, naming the second line", () => {
    const text = `${HEADER}\ncpu_seconds,second,0.1\nllm_tokens,token,0.2\ncpu_seconds,second,0.3\n`;
    expect(refusal(() => parseCostModel(text, "m.csv")).message).toBe(
      `cost model m.csv line 4: resource "cpu_seconds" is priced twice`,
    );
  });

  it("turns a malformed CSV into one line that names the file and the line", () => {
    const err = refusal(() => parseCostModel(`${HEADER}\ncpu_seconds,second,0.1\ngpu_seconds,0.2\n`, "m.csv"));
    expect(err.message).toMatch(/^cost model m\.csv: Invalid Record Length: .* line 3$/);
    expect(err.message).not.toContain("\n");
  });
});

describe("costLines", () => {
  const newStore = storesClosedAfterEach();

  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  // "flaky" fails twice before it succeeds, reporting tokens on every try;
  // "steady" reports GPU seconds in two calls and an unpriced unit.
  const priced = pipeline({ id: "priced" })
    .cell("flaky", { retries: 2, retryDelay: 1, cache: false }, async (ctx) => {
      ctx.cost.add("llm_tokens", 100);
      await sleep(25);
      if (ctx.tryNumber < 3) throw new Error(`flake ${ctx.tryNumber}`);
      return ctx.tryNumber;
    })
    .cell("steady", { cache: false }, (ctx) => {
      ctx.cost.add("gpu_seconds", 1.5);
      ctx.cost.add("gpu_seconds", 0.5);
      ctx.cost.add("api_calls", 2);
      return "ok";
    });
  const other = pipeline({ id: "other" }).cell("x", { cache: false }, (ctx) => (ctx.cost.add("llm_tokens", 1e6), 1));

  async function runAt(s: Store, p: Pipeline, day: string): Promise<number> {
    const result = await openCellar({ db: s }).run(p, { date: day, new: true });
    expect(result.state).toBe("success");
    return result.runId;
  }

  const model = parseCostModel(
    `${HEADER}\nwall_seconds,second,0.01\ncpu_seconds,second,0.1\nllm_tokens,token,0.002\ngpu_seconds,gpu-second,0.5\n`,
    "model.csv",
  );

  it("prices measured time and added units per run and cell, summing every try, newest run first", async () => {
    const s = await newStore();
    // Run ids are not in logical-date order, so the ordering is really by date.
    const may2 = await runAt(s, priced, "2026-05-02");
    const may1 = await runAt(s, priced, "2026-05-01");
    await runAt(s, other, "2026-05-04");
    const may3 = await runAt(s, priced, "2026-05-03");

    const lines = await costLines(s, "priced", model);
    expect([...new Set(lines.map((l) => l.runId))]).toEqual([may3, may2, may1]);
    expect(lines.every((l) => l.cell !== "x")).toBe(true);

    for (const runId of [may1, may2, may3]) {
      const attempts = await s.query(
        `SELECT cell, try_number, wall_ms, cpu_ms FROM attempts WHERE run_id = ? ORDER BY cell, try_number`,
        [runId],
      );
      const tries = attempts.filter((a) => a.cell === "flaky");
      expect(tries.map((a) => a.try_number)).toEqual([1, 2, 3]);
      const wallMs = tries.map((a) => Number(a.wall_ms));
      const cpuMs = tries.map((a) => Number(a.cpu_ms));
      const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

      const mine = lines.filter((l) => l.runId === runId);
      const line = (cell: string, resource: string) => {
        const found = mine.filter((l) => l.cell === cell && l.resource === resource);
        expect(found, `${cell} ${resource}`).toHaveLength(1);
        return found[0];
      };
      expect(mine.map((l) => `${l.cell}/${l.resource}`)).toEqual([
        "flaky/cpu_seconds", "flaky/llm_tokens", "flaky/wall_seconds",
        "steady/api_calls", "steady/cpu_seconds", "steady/gpu_seconds", "steady/wall_seconds",
      ]);

      // Every try's time counts, not only the last one's: three tries of ≥ 25 ms each.
      const wall = line("flaky", "wall_seconds");
      expect(wall.amount).toBeCloseTo(sum(wallMs) / 1000, 9);
      expect(wall.amount).toBeGreaterThanOrEqual(0.072);
      expect(wall).toMatchObject({ unit: "second", logicalDate: expect.any(Date) });
      expect(wall.usd).toBeCloseTo(wall.amount * 0.01, 12);
      const cpu = line("flaky", "cpu_seconds");
      expect(cpu.amount).toBeCloseTo(sum(cpuMs) / 1000, 9);
      expect(cpu.usd).toBeCloseTo(cpu.amount * 0.1, 12);

      // Units added with ctx.cost.add: the failed tries' tokens were used too.
      expect(line("flaky", "llm_tokens")).toMatchObject({ amount: 300, unit: "token" });
      expect(line("flaky", "llm_tokens").usd).toBeCloseTo(0.6, 12);
      expect(line("steady", "gpu_seconds")).toMatchObject({ amount: 2, unit: "gpu-second", usd: 1 });
      expect(line("steady", "api_calls")).toMatchObject({ amount: 2, unit: "", usd: undefined });
    }
    expect(lines.find((l) => l.runId === may1)!.logicalDate.toISOString()).toBe("2026-05-01T00:00:00.000Z");

    // The most recent runs only; no model: amounts without prices.
    const recent = await costLines(s, "priced", undefined, 2);
    expect([...new Set(recent.map((l) => l.runId))]).toEqual([may3, may2]);
    expect(recent.every((l) => l.usd === undefined)).toBe(true);
    expect(recent.find((l) => l.resource === "wall_seconds")!.unit).toBe("second");
    expect(recent.find((l) => l.resource === "llm_tokens")!.unit).toBe("");
    expect(await costLines(s, "nothing", model)).toEqual([]);
  });
});
