import { describe, expect, it } from "vitest";
import { CellarError } from "../kernel/errors.ts";
import { type DataInterval, Timetable } from "../kernel/timetable.ts";

const d = (iso: string) => new Date(iso);
const HOUR = 3_600_000;

/** [start, end] as ISO strings, for readable failures. */
const iso = (interval: DataInterval | null) => interval && [interval.start.toISOString(), interval.end.toISOString()];
const hours = (interval: DataInterval) => (interval.end.getTime() - interval.start.getTime()) / HOUR;

/** Wall-clock "YYYY-MM-DD HH:MM" of a date in a zone. */
function local(date: Date, timeZone: string): string {
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  }).formatToParts(date);
  const get = (type: string) => parts.find((part) => part.type === type)!.value;
  return `${get("year")}-${get("month")}-${get("day")} ${get("hour")}:${get("minute")}`;
}

function expectContiguous(intervals: DataInterval[]): void {
  for (const interval of intervals) expect(interval.end.getTime()).toBeGreaterThan(interval.start.getTime());
  for (let i = 1; i < intervals.length; i++) expect(intervals[i].start.getTime()).toBe(intervals[i - 1].end.getTime());
}

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected a throw");
}

describe("Timetable: the @weekly example", () => {
  const weekly = new Timetable({ schedule: "@weekly", startDate: d("2026-05-01T00:00:00Z") }); // a Friday

  it("starts the first interval at the first Sunday midnight at or after startDate", () => {
    expect(iso(weekly.nextInterval(undefined))).toEqual(["2026-05-03T00:00:00.000Z", "2026-05-10T00:00:00.000Z"]);
    expect(weekly.nextFireTime(undefined)).toEqual(d("2026-05-10T00:00:00Z"));
  });

  it("is due exactly when the interval ends, not before", () => {
    expect(weekly.dueIntervals(undefined, d("2026-05-09T23:59:59.999Z"))).toEqual([]);
    expect(weekly.latestDueInterval(undefined, d("2026-05-09T23:59:59.999Z"))).toBeNull();
    expect(weekly.dueIntervals(undefined, d("2026-05-10T00:00:00Z")).map(iso)).toEqual([
      ["2026-05-03T00:00:00.000Z", "2026-05-10T00:00:00.000Z"],
    ]);
    expect(iso(weekly.latestDueInterval(undefined, d("2026-05-10T00:00:00Z")))).toEqual([
      "2026-05-03T00:00:00.000Z", "2026-05-10T00:00:00.000Z",
    ]);
  });

  it("matches the spelled-out cron expression", () => {
    const cron = new Timetable({ schedule: "0 0 * * 0", startDate: d("2026-05-01T00:00:00Z") });
    const now = d("2026-09-01T00:00:00Z");
    expect(cron.dueIntervals(undefined, now)).toEqual(weekly.dueIntervals(undefined, now));
  });
});

describe("Timetable: catchup", () => {
  const daily = new Timetable({ schedule: "@daily", startDate: d("2026-05-01T00:00:00Z") });

  it("gives every day of May, contiguous, for a run at June 1 midnight", () => {
    const due = daily.dueIntervals(undefined, d("2026-06-01T00:00:00Z"));
    expect(due).toHaveLength(31);
    expect(iso(due[0])).toEqual(["2026-05-01T00:00:00.000Z", "2026-05-02T00:00:00.000Z"]);
    expect(iso(due[30])).toEqual(["2026-05-31T00:00:00.000Z", "2026-06-01T00:00:00.000Z"]);
    expectContiguous(due);
    expect(due.every((interval) => hours(interval) === 24)).toBe(true);
    expect(daily.dueIntervals(undefined, d("2026-05-31T23:59:59Z"))).toHaveLength(30);
  });

  it("starts strictly after `after`", () => {
    const due = daily.dueIntervals(d("2026-05-10T00:00:00Z"), d("2026-06-01T00:00:00Z"));
    expect(due[0].start).toEqual(d("2026-05-11T00:00:00Z"));
    expect(due).toHaveLength(21);
    // An `after` between ticks (a backfill, or a changed schedule) still skips only what it covers.
    expect(daily.dueIntervals(d("2026-05-10T12:00:00Z"), d("2026-06-01T00:00:00Z"))[0].start).toEqual(d("2026-05-11T00:00:00Z"));
    expect(daily.nextInterval(d("2026-05-10T00:00:00Z"))!.start).toEqual(d("2026-05-11T00:00:00Z"));
    expect(daily.nextFireTime(d("2026-05-10T00:00:00Z"))).toEqual(d("2026-05-12T00:00:00Z"));
  });

  it("never starts before startDate, even with an earlier `after`", () => {
    expect(daily.dueIntervals(d("2026-04-01T00:00:00Z"), d("2026-05-03T00:00:00Z")).map((i) => i.start)).toEqual([
      d("2026-05-01T00:00:00Z"), d("2026-05-02T00:00:00Z"),
    ]);
    expect(daily.nextInterval(d("2026-04-01T00:00:00Z"))!.start).toEqual(d("2026-05-01T00:00:00Z"));
  });

  it("has nothing left once the last due interval is created", () => {
    const now = d("2026-06-01T12:00:00Z");
    const last = daily.dueIntervals(undefined, now).at(-1)!;
    expect(daily.dueIntervals(last.start, now)).toEqual([]);
    expect(daily.latestDueInterval(last.start, now)).toBeNull();
    expect(daily.nextFireTime(last.start)).toEqual(d("2026-06-02T00:00:00Z"));
  });

  it("returns 1826 intervals for 5 years of @daily", () => {
    const fiveYears = new Timetable({ schedule: "@daily", startDate: d("2021-01-01T00:00:00Z") });
    const due = fiveYears.dueIntervals(undefined, d("2026-01-01T00:00:00Z"));
    expect(due).toHaveLength(1826);
    expect(due[0].start).toEqual(d("2021-01-01T00:00:00Z"));
    expect(due[1825].end).toEqual(d("2026-01-01T00:00:00Z"));
    expectContiguous(due);
  });
});

describe("Timetable: latestDueInterval (catchup: false)", () => {
  const daily = new Timetable({ schedule: "@daily", startDate: d("2026-05-01T00:00:00Z") });
  const now = d("2026-05-20T13:00:00Z");

  it("gives only the latest interval that has ended", () => {
    expect(iso(daily.latestDueInterval(undefined, now))).toEqual(["2026-05-19T00:00:00.000Z", "2026-05-20T00:00:00.000Z"]);
    expect(daily.latestDueInterval(undefined, now)).toEqual(daily.dueIntervals(undefined, now).at(-1));
  });

  it("gives nothing at or before `after`", () => {
    expect(daily.latestDueInterval(d("2026-05-19T00:00:00Z"), now)).toBeNull();
    expect(daily.latestDueInterval(d("2026-05-20T00:00:00Z"), now)).toBeNull();
    expect(iso(daily.latestDueInterval(d("2026-05-18T23:59:59Z"), now))).toEqual([
      "2026-05-19T00:00:00.000Z", "2026-05-20T00:00:00.000Z",
    ]);
  });

  it("gives nothing before startDate", () => {
    expect(daily.latestDueInterval(undefined, d("2026-05-01T12:00:00Z"))).toBeNull();
    expect(iso(daily.latestDueInterval(undefined, d("2026-05-02T00:00:00Z")))).toEqual([
      "2026-05-01T00:00:00.000Z", "2026-05-02T00:00:00.000Z",
    ]);
    const late = new Timetable({ schedule: "@daily", startDate: d("2026-05-01T00:00:01Z") });
    expect(late.latestDueInterval(undefined, d("2026-05-02T00:00:00Z"))).toBeNull();
    expect(late.latestDueInterval(undefined, d("2026-05-03T00:00:00Z"))!.start).toEqual(d("2026-05-02T00:00:00Z"));
  });
});

describe("Timetable: endDate", () => {
  const daily = new Timetable({ schedule: "@daily", startDate: d("2026-05-01T00:00:00Z"), endDate: d("2026-05-10T00:00:00Z") });
  const later = d("2027-01-01T00:00:00Z");

  it("produces no interval starting after endDate; one starting on it still runs", () => {
    const due = daily.dueIntervals(undefined, later);
    expect(due).toHaveLength(10);
    expect(iso(due.at(-1)!)).toEqual(["2026-05-10T00:00:00.000Z", "2026-05-11T00:00:00.000Z"]);
    expect(daily.nextInterval(d("2026-05-10T00:00:00Z"))).toBeNull();
    expect(daily.nextFireTime(d("2026-05-10T00:00:00Z"))).toBeNull();
  });

  it("gives the last interval before endDate as the latest, once", () => {
    expect(iso(daily.latestDueInterval(undefined, later))).toEqual(["2026-05-10T00:00:00.000Z", "2026-05-11T00:00:00.000Z"]);
    expect(daily.latestDueInterval(d("2026-05-10T00:00:00Z"), later)).toBeNull();
  });

  it("ignores an endDate between ticks beyond its own day", () => {
    const midday = new Timetable({ schedule: "@daily", startDate: d("2026-05-01T00:00:00Z"), endDate: d("2026-05-10T12:00:00Z") });
    expect(midday.dueIntervals(undefined, later)).toEqual(daily.dueIntervals(undefined, later));
  });
});

describe("Timetable: without startDate", () => {
  const daily = new Timetable({ schedule: "@daily" });
  const now = d("2026-05-20T13:00:00Z");

  it("has no first interval, and catchup has nothing to catch up from but the latest", () => {
    expect(daily.nextInterval(undefined)).toBeNull();
    expect(daily.nextFireTime(undefined)).toBeNull();
    expect(daily.dueIntervals(undefined, now).map(iso)).toEqual([["2026-05-19T00:00:00.000Z", "2026-05-20T00:00:00.000Z"]]);
    expect(daily.dueIntervals(d("2026-05-17T00:00:00Z"), now)).toHaveLength(2);
  });
});

describe("Timetable: time zones and DST", () => {
  const NY = "America/New_York";

  it("gives a 23-hour day at the March change and a 25-hour day in November, each from local midnight", () => {
    const daily = new Timetable({ schedule: "@daily", timezone: NY, startDate: d("2026-03-06T05:00:00Z") });
    const march = daily.dueIntervals(undefined, d("2026-03-11T00:00:00Z"));
    expect(march.map(hours)).toEqual([24, 24, 23, 24]);
    expect(iso(march[2])).toEqual(["2026-03-08T05:00:00.000Z", "2026-03-09T04:00:00.000Z"]);
    expect(march.map((interval) => local(interval.start, NY))).toEqual([
      "2026-03-06 00:00", "2026-03-07 00:00", "2026-03-08 00:00", "2026-03-09 00:00",
    ]);

    const november = daily.dueIntervals(d("2026-10-30T04:00:00Z"), d("2026-11-04T00:00:00Z"));
    expect(november.map(hours)).toEqual([24, 25, 24]);
    expect(iso(november[1])).toEqual(["2026-11-01T04:00:00.000Z", "2026-11-02T05:00:00.000Z"]);
    expect(november.map((interval) => local(interval.start, NY))).toEqual(["2026-10-31 00:00", "2026-11-01 00:00", "2026-11-02 00:00"]);
  });

  it("runs a time in the spring-forward gap at the jump, exactly once that day", () => {
    const daily = new Timetable({ schedule: "30 2 * * *", timezone: NY, startDate: d("2026-03-05T00:00:00Z") });
    const due = daily.dueIntervals(undefined, d("2026-03-12T00:00:00Z"));
    expectContiguous(due);
    // 02:30 does not exist on 2026-03-08; that day's tick is 03:00 EDT.
    expect(due.map((interval) => local(interval.start, NY))).toEqual([
      "2026-03-05 02:30", "2026-03-06 02:30", "2026-03-07 02:30", "2026-03-08 03:00", "2026-03-09 02:30", "2026-03-10 02:30",
    ]);
    expect(due.map(hours)).toEqual([24, 24, 23.5, 23.5, 24, 24]);

    const berlin = new Timetable({ schedule: "30 2 * * *", timezone: "Europe/Berlin", startDate: d("2026-03-27T00:00:00Z") });
    expect(berlin.dueIntervals(undefined, d("2026-03-31T01:00:00Z")).map((interval) => interval.start.toISOString())).toEqual([
      "2026-03-27T01:30:00.000Z", "2026-03-28T01:30:00.000Z", "2026-03-29T01:00:00.000Z", "2026-03-30T00:30:00.000Z",
    ]);
  });

  it("runs a time in the repeated autumn hour once, at its first occurrence", () => {
    const berlin = new Timetable({ schedule: "30 2 * * *", timezone: "Europe/Berlin", startDate: d("2026-10-23T00:00:00Z") });
    const due = berlin.dueIntervals(undefined, d("2026-10-28T00:00:00Z"));
    expect(due.map((interval) => interval.start.toISOString())).toEqual([
      "2026-10-23T00:30:00.000Z", "2026-10-24T00:30:00.000Z", "2026-10-25T00:30:00.000Z", "2026-10-26T01:30:00.000Z",
    ]);
    expect(due.map(hours)).toEqual([24, 24, 25, 24]);
    // A list of clock hours is clock times too: the twice-daily run happens twice a day, not three times.
    const twice = new Timetable({ schedule: "0 1,13 * * *", timezone: NY, startDate: d("2026-10-31T04:00:00Z") });
    const november = twice.dueIntervals(undefined, d("2026-11-02T06:00:00Z"));
    expect(november.map((interval) => local(interval.start, NY))).toEqual([
      "2026-10-31 01:00", "2026-10-31 13:00", "2026-11-01 01:00", "2026-11-01 13:00",
    ]);
  });

  it("keeps an hourly schedule firing every real hour across both changes", () => {
    for (const [timezone, from] of [[NY, "2026-03-08T00:00:00Z"], [NY, "2026-11-01T00:00:00Z"], ["Europe/Berlin", "2026-10-24T12:00:00Z"]]) {
      const hourly = new Timetable({ schedule: "@hourly", timezone, startDate: d(from) });
      const due = hourly.dueIntervals(undefined, new Date(d(from).getTime() + 24 * HOUR));
      expect(due, `${timezone} from ${from}`).toHaveLength(24);
      expectContiguous(due);
      expect(due.every((interval) => hours(interval) === 1), `${timezone} from ${from}`).toBe(true);
    }
  });

  it("agrees on the latest interval with catchup, across DST", () => {
    const schedules = ["@daily", "@hourly", "30 2 * * *", "30 1 * * *", "*/20 * * * *"];
    for (const schedule of schedules) {
      const timetable = new Timetable({ schedule, timezone: NY, startDate: d("2026-10-30T00:00:00Z") });
      const all = timetable.dueIntervals(undefined, d("2026-11-03T00:00:00Z"));
      for (let now = d("2026-10-31T00:00:00Z").getTime(); now < d("2026-11-03T00:00:00Z").getTime(); now += 37 * 60_000) {
        const at = new Date(now);
        expect(timetable.latestDueInterval(undefined, at), `${schedule} at ${at.toISOString()}`)
          .toEqual(all.filter((interval) => interval.end <= at).at(-1) ?? null);
      }
    }
  });

  it("reads the schedule in UTC by default", () => {
    const daily = new Timetable({ schedule: "@daily", startDate: d("2026-05-01T00:00:00Z") });
    expect(daily.timezone).toBe("UTC");
    expect(daily.nextInterval(undefined)!.start).toEqual(d("2026-05-01T00:00:00Z"));
    expect(new Timetable({ schedule: "@daily", timezone: "Etc/UTC" }).timezone).toBe("UTC");
  });
});

describe("Timetable: schedules", () => {
  it("expands each preset to its cron expression", () => {
    const presets: Record<string, string> = {
      "@hourly": "0 * * * *", "@daily": "0 0 * * *", "@weekly": "0 0 * * 0",
      "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *",
    };
    const startDate = d("2026-05-01T00:00:00Z");
    const firstThree = (timetable: Timetable) => {
      const first = timetable.nextInterval(undefined)!;
      const second = timetable.nextInterval(first.start)!;
      return [first, second, timetable.nextInterval(second.start)!];
    };
    for (const [preset, cron] of Object.entries(presets)) {
      expect(firstThree(new Timetable({ schedule: preset, startDate })), preset).toEqual(firstThree(new Timetable({ schedule: cron, startDate })));
    }
    expect(firstThree(new Timetable({ schedule: "@monthly", startDate })).map((interval) => interval.start.toISOString())).toEqual([
      "2026-05-01T00:00:00.000Z", "2026-06-01T00:00:00.000Z", "2026-07-01T00:00:00.000Z",
    ]);
  });

  it("takes 6 fields as seconds first", () => {
    const every30s = new Timetable({ schedule: "*/30 * * * * *", startDate: d("2026-05-01T00:00:00Z") });
    expect(every30s.dueIntervals(undefined, d("2026-05-01T00:02:00Z")).map(hours).map((h) => h * 3600)).toEqual([30, 30, 30, 30]);
  });
});

describe("Timetable: manualInterval", () => {
  const daily = new Timetable({ schedule: "@daily", startDate: d("2026-05-01T00:00:00Z") });

  it("is the latest complete interval ending at or before the date", () => {
    expect(iso(daily.manualInterval(d("2026-05-25T01:00:00Z")))).toEqual(["2026-05-24T00:00:00.000Z", "2026-05-25T00:00:00.000Z"]);
    expect(iso(daily.manualInterval(d("2026-05-25T00:00:00Z")))).toEqual(["2026-05-24T00:00:00.000Z", "2026-05-25T00:00:00.000Z"]);
    expect(iso(daily.manualInterval(d("2026-05-24T23:59:59Z")))).toEqual(["2026-05-23T00:00:00.000Z", "2026-05-24T00:00:00.000Z"]);
  });

  it("follows the schedule and zone, not startDate", () => {
    expect(iso(daily.manualInterval(d("2020-02-29T12:00:00Z")))).toEqual(["2020-02-28T00:00:00.000Z", "2020-02-29T00:00:00.000Z"]);
    const weekly = new Timetable({ schedule: "@weekly" });
    expect(iso(weekly.manualInterval(d("2026-05-13T09:00:00Z")))).toEqual(["2026-05-03T00:00:00.000Z", "2026-05-10T00:00:00.000Z"]);
    const ny = new Timetable({ schedule: "@daily", timezone: "America/New_York" });
    expect(iso(ny.manualInterval(d("2026-03-09T12:00:00Z")))).toEqual(["2026-03-08T05:00:00.000Z", "2026-03-09T04:00:00.000Z"]);
  });
});

describe("Timetable: invalid options", () => {
  const cases: [string, () => unknown, string[]][] = [
    ["minute out of range", () => new Timetable({ schedule: "61 * * * *" }), [`schedule "61 * * * *": `, "minute", "@hourly"]],
    ["too few fields", () => new Timetable({ schedule: "* * * *" }), [`schedule "* * * *": `, "4 fields"]],
    ["seven fields", () => new Timetable({ schedule: "0 0 0 * * * 2026" }), [`schedule "0 0 0 * * * 2026": `, "7 fields"]],
    ["unknown preset", () => new Timetable({ schedule: "@fortnightly" }), [`schedule "@fortnightly": not a known preset`]],
    ["never fires", () => new Timetable({ schedule: "0 0 30 2 *" }), [`schedule "0 0 30 2 *": never fires`]],
    ["unknown zone", () => new Timetable({ schedule: "@daily", timezone: "Mars/Base" }), [`timezone "Mars/Base": not a known IANA time zone`]],
    ["empty zone", () => new Timetable({ schedule: "@daily", timezone: "" }), [`timezone "": not a known IANA time zone`]],
  ];
  for (const [name, fn, fragments] of cases) {
    it(`throws a one-line CellarError naming the value: ${name}`, () => {
      const err = thrown(fn);
      expect(err).toBeInstanceOf(CellarError);
      expect(err.message).not.toContain("\n");
      for (const fragment of fragments) expect(err.message).toContain(fragment);
    });
  }

  it("says what croner found wrong", () => {
    expect(thrown(() => new Timetable({ schedule: "61 * * * *" })).message).toBe(
      `schedule "61 * * * *": invalid value for minute: 61; expected a cron expression or @hourly, @daily, @weekly, @monthly, @yearly`,
    );
  });
});
