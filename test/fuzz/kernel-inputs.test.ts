// Fuzzed kernel inputs (issue 14, item 3): cron schedules and time zones, durations, dates and cell params.
// Each takes what a pipeline or a command line wrote; any input is a valid value or Cellar's one-line error.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseDuration } from "../../kernel/duration.ts";
import { cellParams, flag, nonEmptyText, numberIn, oneOf, wholeNumber } from "../../kernel/params.ts";
import { parseDate, pipeline } from "../../kernel/pipeline.ts";
import { Timetable } from "../../kernel/timetable.ts";
import { expectOneLineError, FUZZ_TIMEOUT, fuzz, valueOrOneLineError } from "./runs.ts";

/** Cron-like text: fields from numbers, ranges, steps, lists, names and junk, 1 to 7 of them, or a preset. */
const cronField = fc.oneof(
  fc.constantFrom("*", "?", "L", "W", "#", "LW", "-", "/", ",", "mon", "JAN", "sun-sat", "5L", "1#2", "15W"),
  fc.integer({ min: -2, max: 70 }).map(String),
  fc.tuple(fc.integer({ min: 0, max: 62 }), fc.integer({ min: 0, max: 62 })).map(([a, b]) => `${a}-${b}`),
  fc.tuple(fc.constantFrom("*", "0", "1-10", "3"), fc.integer({ min: 0, max: 70 })).map(([a, b]) => `${a}/${b}`),
  fc.array(fc.integer({ min: 0, max: 60 }), { minLength: 1, maxLength: 4 }).map((xs) => xs.join(",")),
  fc.string({ maxLength: 4 }),
);
const cronText = fc.oneof(
  { weight: 4, arbitrary: fc.array(cronField, { minLength: 1, maxLength: 7 }).map((fields) => fields.join(" ")) },
  { weight: 1, arbitrary: fc.constantFrom("@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@annually", "@midnight", "@every", "@", "@ daily", " @daily ") },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
);
const zone = fc.oneof(
  fc.constantFrom("UTC", "utc", "Etc/UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Chatham"),
  fc.string({ maxLength: 20 }),
);
/** Instants from 1971 to 2099 (ms). */
const instant = fc.integer({ min: Date.UTC(1971, 0, 1), max: Date.UTC(2099, 0, 1) }).map((ms) => new Date(ms));

describe("cron schedules (kernel/timetable.ts over croner)", () => {
  it("builds a timetable or refuses in one line naming the schedule; a built one fires after now, at whole seconds", () => {
    let built = 0;
    fc.assert(
      fc.property(cronText, instant, (schedule, now) => {
        const made = valueOrOneLineError(() => new Timetable({ schedule, startDate: now }), JSON.stringify(schedule));
        if (!made.ok) return;
        built++;
        const next = made.value.nextInterval(undefined);
        // "never fires" is refused at construction; a schedule that fires once fires again (no years in a pattern).
        expect(next, `${schedule} from ${now.toISOString()}`).not.toBeNull();
        expect(next!.start.getTime()).toBeGreaterThanOrEqual(now.getTime());
        expect(next!.end.getTime()).toBeGreaterThan(next!.start.getTime());
        expect(next!.start.getTime() % 1000).toBe(0);
        // The next interval starts where this one ends: consecutive ticks bound the intervals.
        expect(made.value.nextInterval(next!.start)!.start.getTime()).toBe(next!.end.getTime());
      }),
      fuzz(),
    );
    expect(built).toBeGreaterThan(50); // the generator reaches valid schedules, not only refusals
  }, FUZZ_TIMEOUT);

  it("refuses a time zone in one line naming it, or reads the schedule in it with intervals in order", () => {
    fc.assert(
      fc.property(fc.constantFrom("@hourly", "@daily", "30 2 * * *", "0 */6 * * 1-5"), zone, instant, (schedule, timezone, now) => {
        const made = valueOrOneLineError(() => new Timetable({ schedule, timezone, startDate: now }), JSON.stringify(timezone));
        if (!made.ok) return;
        const due = made.value.dueIntervals(undefined, new Date(now.getTime() + 86_400_000));
        for (let i = 0; i < due.length; i++) {
          expect(due[i].end > due[i].start).toBe(true);
          if (i > 0) expect(due[i].start.getTime()).toBe(due[i - 1].end.getTime());
        }
      }),
      fuzz({}, 0.2),
    );
  }, FUZZ_TIMEOUT);

  it("across DST changes a fixed-time daily schedule fires once each local day, and an hourly one is never empty nor over 2 h", () => {
    // The changes of 2026 in zones with whole-hour, half-hour (Lord Howe) and 45-minute (Chatham) offsets, as UTC instants.
    const changes: [string, string][] = [
      ["America/New_York", "2026-03-08T07:00Z"], ["America/New_York", "2026-11-01T06:00Z"], ["Europe/Berlin", "2026-03-29T01:00Z"],
      ["Europe/Berlin", "2026-10-25T01:00Z"], ["Australia/Lord_Howe", "2026-04-04T15:00Z"], ["Australia/Lord_Howe", "2026-10-03T15:30Z"],
      ["Pacific/Chatham", "2026-04-04T14:00Z"], ["Pacific/Chatham", "2026-09-26T14:00Z"],
    ];
    const formats = new Map(changes.map(([timeZone]) => [timeZone, new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" })]));
    const localDate = (date: Date, timeZone: string) => formats.get(timeZone)!.format(date);
    fc.assert(
      fc.property(fc.constantFrom(...changes), fc.boolean(), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 }), ([timezone, at], daily, before, hour, minute) => {
        const change = Date.parse(at);
        if (daily) {
          const startDate = new Date(change - before * 86_400_000);
          const due = new Timetable({ schedule: `${minute} ${hour} * * *`, timezone, startDate }).dueIntervals(undefined, new Date(change + 3 * 86_400_000));
          expect(due.length).toBeGreaterThanOrEqual(before + 1);
          for (let i = 1; i < due.length; i++) {
            expect(due[i].start.getTime()).toBe(due[i - 1].end.getTime());
            const next = new Date(Date.parse(`${localDate(due[i - 1].start, timezone)}T12:00:00Z`) + 86_400_000);
            expect(localDate(due[i].start, timezone), `${minute} ${hour} * * * in ${timezone}`).toBe(next.toISOString().slice(0, 10));
          }
          return;
        }
        const hourly = new Timetable({ schedule: `${minute} * * * *`, timezone, startDate: new Date(change - 4 * 3_600_000) }).dueIntervals(undefined, new Date(change + 4 * 3_600_000));
        expect(hourly.length).toBeGreaterThanOrEqual(6);
        for (const interval of hourly) {
          const length = interval.end.getTime() - interval.start.getTime();
          expect(length).toBeGreaterThan(0);
          expect(length).toBeLessThanOrEqual(2 * 3_600_000);
        }
      }),
      fuzz(),
    );
  }, FUZZ_TIMEOUT);

  it("refuses a schedule that is not a string in one line", () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), fc.bigInt()), (schedule) => {
        fc.pre(typeof schedule !== "string");
        expect(() => new Timetable({ schedule: schedule as string })).toThrow();
        try {
          new Timetable({ schedule: schedule as string });
        } catch (err) {
          expectOneLineError(err, "schedule");
        }
      }),
      fuzz(),
    );
  }, FUZZ_TIMEOUT);
});

describe("durations (kernel/duration.ts)", () => {
  const units = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

  it("reads back what it was written as: n + unit is n × the unit's milliseconds", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e9 }), fc.constantFrom(...(Object.keys(units) as (keyof typeof units)[])), fc.constantFrom("", " "), (n, unit, gap) => {
        expect(parseDuration(`${n}${gap}${unit}`, "timeout")).toBe(Math.round(n * units[unit]));
        expect(parseDuration(n, "timeout")).toBe(n);
      }),
      fuzz(),
    );
  }, FUZZ_TIMEOUT);

  it("any value is a finite number of milliseconds ≥ 0, or one line naming the option", () => {
    const value = fc.oneof(fc.string({ maxLength: 12 }), fc.double(), fc.anything(), fc.bigInt(), fc.constantFrom("1e3s", "-5s", "5 s", "5S", "Infinityms", "0x10s", "1.s", ".5s"));
    fc.assert(
      fc.property(value, (v) => {
        const read = valueOrOneLineError(() => parseDuration(v as string, "retryDelay"), "retryDelay");
        if (read.ok) expect(Number.isFinite(read.value) && read.value >= 0).toBe(true);
      }),
      fuzz(),
    );
  }, FUZZ_TIMEOUT);

  it("regression: a BigInt or a circular value is refused in one line, not a TypeError from JSON.stringify", () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    for (const v of [10n, circular]) {
      expectOneLineError(catching(() => parseDuration(v as never, "retryDelay")), "retryDelay");
      expectOneLineError(catching(() => parseDate(v as never, "--date")), "--date");
      expectOneLineError(catching(() => new Timetable({ schedule: v as never })), "schedule");
      expectOneLineError(catching(() => new Timetable({ schedule: "@daily", timezone: v as never })), "timezone");
    }
  });
});

describe("dates (kernel/pipeline.ts parseDate)", () => {
  const anyInstant = fc.integer({ min: Date.UTC(0, 0, 1) - 0, max: Date.UTC(9999, 11, 31, 23, 59, 59, 999) }).map((ms) => new Date(ms));

  it("reads back every ISO date-time it could be written as", () => {
    fc.assert(
      fc.property(anyInstant, fc.integer({ min: -14 * 60, max: 14 * 60 }), (date, offset) => {
        // toISOString's form, a date alone, and the same instant written in another offset.
        expect(parseDate(date.toISOString(), "--date").getTime()).toBe(date.getTime());
        const day = date.toISOString().slice(0, 10);
        expect(parseDate(day, "--date").toISOString().slice(0, 10)).toBe(day);
        const local = new Date(date.getTime() + offset * 60_000).toISOString().slice(0, 23);
        const sign = offset < 0 ? "-" : "+";
        const hhmm = `${String(Math.floor(Math.abs(offset) / 60)).padStart(2, "0")}:${String(Math.abs(offset) % 60).padStart(2, "0")}`;
        fc.pre(Number(local.slice(0, 4)) <= 9999 && !local.startsWith("-") && !local.startsWith("+"));
        expect(parseDate(`${local}${sign}${hhmm}`, "--date").getTime()).toBe(date.getTime());
      }),
      fuzz(),
    );
  }, FUZZ_TIMEOUT);

  it("any text is a valid date that prints back the fields it was written with, or one line naming it", () => {
    const digits = (n: number) => fc.integer({ min: 0, max: 10 ** n - 1 }).map((x) => String(x).padStart(n, "0"));
    const dateLike = fc.tuple(digits(4), digits(2), digits(2), fc.option(fc.tuple(fc.constantFrom("T", " ", "t"), digits(2), digits(2), fc.option(digits(2)), fc.option(fc.constantFrom("Z", "z", "+02:00", "-0930", "+24:00", "+00:60", "-23:59"))))).map(
      ([y, m, d, time]) => `${y}-${m}-${d}${time ? `${time[0]}${time[1]}:${time[2]}${time[3] ? `:${time[3]}` : ""}${time[4] ?? ""}` : ""}`,
    );
    fc.assert(
      fc.property(fc.oneof(dateLike, fc.string({ maxLength: 30 }), fc.anything(), fc.bigInt()), (text) => {
        const read = valueOrOneLineError(() => parseDate(text as string, "--date"), "--date");
        if (!read.ok) return;
        expect(Number.isNaN(read.value.getTime())).toBe(false);
        const match = /^(\d{4})-(\d{2})-(\d{2})/.exec((text as string).trim())!;
        // No field rolled over: with no offset the UTC date is the one written.
        if (!/[+-]\d{2}:?\d{2}$|[zZ]$/.test((text as string).trim())) {
          expect(read.value.toISOString().slice(0, 10)).toBe(`${match[1]}-${match[2]}-${match[3]}`);
        }
      }),
      fuzz(),
    );
  }, FUZZ_TIMEOUT);
});

describe("a pipeline's params (--param and the API's trigger: Pipeline.resolveParams)", () => {
  const defaults = { n: 2, word: "x", on: true, list: [1, 2], opts: { a: 1 }, none: null };
  const p = pipeline({ id: "fuzzed", params: defaults });
  const key = fc.oneof(fc.constantFrom(...Object.keys(defaults), "__proto__", "constructor", "toString", "hasOwnProperty", "valueOf", "nope", ""), fc.string({ maxLength: 6 }));
  const raw = fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom("1", "-0", "1e3", "0x10", "true", "false", "null", "[1]", '{"a":2}', " ", ""), fc.json());

  it("gives exactly the pipeline's params, each of its default's type when given as a string, or refuses in one line naming the param", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(key, raw), { maxLength: 3 }), (pairs) => {
        const overrides = Object.fromEntries(pairs);
        const read = valueOrOneLineError(() => p.resolveParams(overrides), "param ");
        if (!read.ok) {
          expect(pairs.some(([k]) => read.error.message.includes(`param ${k}`))).toBe(true);
          return;
        }
        expect(Object.keys(read.value).sort()).toEqual(Object.keys(defaults).sort());
        expect(Object.getPrototypeOf(read.value)).toBe(Object.prototype);
        for (const [k, v] of Object.entries(read.value)) {
          const d = defaults[k as keyof typeof defaults];
          if (typeof d === "number" || typeof d === "boolean" || typeof d === "string") expect(typeof v).toBe(typeof d);
        }
      }),
      fuzz(),
    );
  }, FUZZ_TIMEOUT);

  it("regression: refuses a param named after an Object.prototype member (constructor, __proto__, toString), which it does not have", () => {
    for (const k of ["constructor", "__proto__", "toString", "hasOwnProperty"]) {
      expectOneLineError(catching(() => p.resolveParams(JSON.parse(`{"${k}": "1"}`))), `--param ${k}: pipeline "fuzzed" has no param`);
    }
  });
});

describe("cell params (kernel/params.ts)", () => {
  const params = cellParams({
    k: wholeNumber(1, 1000).default(10).describe("hits"),
    alpha: numberIn({ above: 0, max: 1 }).default(0.5).describe("weight"),
    mode: oneOf(["dense", "lexical"] as const).default("dense").describe("mode"),
    label: nonEmptyText().default("x").describe("label"),
    fresh: flag().default(false).describe("fresh"),
  });
  const value = fc.oneof(fc.anything(), fc.string({ maxLength: 8 }), fc.double(), fc.integer({ min: -5, max: 2000 }).map(String), fc.constantFrom("true", "false", "dense", " ", "1e2", "0x10", "Infinity"));

  it("reads any params into values inside their bounds, or refuses in one line naming the param", () => {
    fc.assert(
      fc.property(fc.constantFrom("k", "alpha", "mode", "label", "fresh"), value, (name, v) => {
        const read = valueOrOneLineError(() => params.read({ [name]: v }), `param ${name}: expected `);
        if (!read.ok) return;
        const p = read.value;
        expect(Number.isInteger(p.k) && p.k >= 1 && p.k <= 1000).toBe(true);
        expect(p.alpha > 0 && p.alpha <= 1).toBe(true);
        expect(["dense", "lexical"]).toContain(p.mode);
        expect(typeof p.label === "string" && p.label.trim() !== "").toBe(true);
        expect(typeof p.fresh).toBe("boolean");
      }),
      fuzz(),
    );
  }, FUZZ_TIMEOUT);

  it("reads a number written as a string as the number", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1000 }), fc.double({ min: 1e-9, max: 1, noNaN: true }), (k, alpha) => {
        expect(params.read({ k: String(k), alpha: String(alpha) })).toMatchObject({ k, alpha });
      }),
      fuzz(),
    );
  }, FUZZ_TIMEOUT);
});

function catching(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected a throw");
}
