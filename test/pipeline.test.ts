import { describe, expect, it } from "vitest";
import { parseDuration } from "../kernel/duration.ts";
import { CellarError } from "../kernel/errors.ts";
import { pipeline } from "../kernel/mod.ts";
import { retryDelayMs } from "../kernel/retry-delay.ts";

const noop = () => null;

describe("definitions", () => {
  it("keeps cells in written order, each depending on the one before by default", () => {
    const p = pipeline({ id: "p" }).cell("a", noop).cell("b", noop).cell("c", { needs: ["a"] }, noop);
    expect(p.cells.map((c) => [c.name, c.needs])).toEqual([["a", []], ["b", ["a"]], ["c", ["a"]]]);
    expect(p.validate().map((c) => c.name)).toEqual(["a", "b", "c"]);
  });

  it("orders forward needs after their upstreams", () => {
    const p = pipeline({ id: "p" }).cell("late", { needs: ["early"] }, noop).cell("early", { needs: [] }, noop);
    expect(p.validate().map((c) => c.name)).toEqual(["early", "late"]);
  });

  it("resolves cell options over pipeline defaults", () => {
    const p = pipeline({ id: "p", defaults: { retries: 3, retryDelay: "15m", retryBackoff: "exponential", timeout: "2h" } })
      .cell("a", noop)
      .cell("b", { retries: 1, cache: false, timeout: 500 }, noop);
    const [a, b] = p.cells;
    expect(a).toMatchObject({ retries: 3, retryDelayMs: 900_000, exponential: true, timeoutMs: 7_200_000, cache: true });
    expect(b).toMatchObject({ retries: 1, retryDelayMs: 900_000, timeoutMs: 500, cache: false });
  });

  it.each([
    ["duplicate cell", () => pipeline({ id: "p" }).cell("a", noop).cell("a", noop), /cell "a": duplicate cell name/],
    ["unknown needs", () => pipeline({ id: "p" }).cell("a", { needs: ["zz"] }, noop).validate(), /cell "a": needs "zz", which is not a cell/],
    [
      "cycle",
      () => pipeline({ id: "p" }).cell("a", { needs: ["c"] }, noop).cell("b", { needs: ["a"] }, noop).cell("c", { needs: ["b"] }, noop).validate(),
      /cycle a → c → b → a/,
    ],
    ["bad duration", () => pipeline({ id: "p" }).cell("a", { retryDelay: "5 minutes" }, noop), /cell "a" retryDelay: "5 minutes" is not a duration/],
    ["negative duration", () => pipeline({ id: "p", defaults: { timeout: -1 } }).cell("a", noop), /timeout: -1 is not a duration/],
    ["invalid cron", () => pipeline({ id: "p", schedule: "61 * * * *" }), /schedule "61 \* \* \* \*"/],
    ["invalid timezone", () => pipeline({ id: "p", schedule: "@daily", timezone: "Mars/Olympus" }), /timezone "Mars\/Olympus"/],
    ["startDate after endDate", () => pipeline({ id: "p", startDate: "2026-06-01", endDate: "2026-05-01" }), /startDate 2026-06-01T00:00:00.000Z is after endDate/],
    ["bad date", () => pipeline({ id: "p", startDate: "yesterday" }), /startDate "yesterday": expected a date/],
    ["unknown option", () => pipeline({ id: "p" }).cell("a", { retry: 3 } as never, noop), /unknown option "retry"/],
    ["bad backoff", () => pipeline({ id: "p" }).cell("a", { retryBackoff: "linear" } as never, noop), /retryBackoff "linear"/],
    ["bad id", () => pipeline({ id: "my pipeline" }), /pipeline id "my pipeline"/],
    ["not a function", () => pipeline({ id: "p" }).cell("a", {} as never), /expected a function/],
    ["bad alert", () => pipeline({ id: "p", alert: "mailto:x@y" }), /alert "mailto:x@y": expected a function or an http\(s\) URL/],
  ])("refuses %s with a one-line CellarError", (_name, make, message) => {
    let error: unknown;
    try {
      make();
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(CellarError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain("\n");
  });

  it("reads --param values as their default's type and refuses unknown params", () => {
    const p = pipeline({ id: "p", params: { n: 1, flag: false, name: "x", list: [1] } }).cell("a", noop);
    expect(p.resolveParams({ n: "42", flag: "true", name: "y", list: "[2,3]" })).toEqual({ n: 42, flag: true, name: "y", list: [2, 3] });
    expect(() => p.resolveParams({ n: "many" })).toThrow(/^param n: expected a number, got "many"$/);
    expect(() => p.resolveParams({ nope: "1" })).toThrow(/--param nope: pipeline "p" has no param "nope"; it has n, flag, name, list/);
  });
});

describe("durations and retry delays", () => {
  it("parses the documented forms", () => {
    expect(parseDuration("30s", "x")).toBe(30_000);
    expect(parseDuration("15m", "x")).toBe(900_000);
    expect(parseDuration("2h", "x")).toBe(7_200_000);
    expect(parseDuration("1d", "x")).toBe(86_400_000);
    expect(parseDuration("250ms", "x")).toBe(250);
    expect(parseDuration(1234, "x")).toBe(1234);
  });

  it("follows Airflow's exponential formula, capped", () => {
    const cell = { retryDelayMs: 60_000, exponential: true, maxRetryDelayMs: 300_000 };
    expect([1, 2, 3, 4, 5].map((retry) => retryDelayMs(cell, retry))).toEqual([60_000, 120_000, 240_000, 300_000, 300_000]);
    expect(retryDelayMs({ ...cell, exponential: false }, 4)).toBe(60_000);
  });
});
