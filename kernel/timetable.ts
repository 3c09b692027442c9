/**
 * Airflow's data-interval model on a cron schedule (its CronDataIntervalTimetable).
 *
 * Consecutive cron ticks bound the data intervals. A run covers one interval:
 * its logical date is the interval's start, and it fires when the interval
 * ends, once the data is complete. The first interval starts at the first
 * tick at or after startDate; no interval starts after endDate.
 *
 * Ticks are wall-clock times in the timezone (default UTC), so @daily in
 * America/New_York starts at local midnight and its intervals are 23 or 25
 * hours long on DST change days. Around DST changes croner (with
 * fixedTimeRule "no-wildcard") decides what a tick is:
 * - A pattern with fixed hours and minutes ("30 2 * * *", "0 1,13 * * *")
 *   names clock times. One in the spring-forward gap fires at the jump
 *   instead (02:30 becomes 03:00 that day, 07:00Z in New York on 2026-03-08);
 *   one in the repeated hour fires once, at its first occurrence. So a daily
 *   schedule has exactly one interval per day, none of them empty.
 * - A pattern with `*` or a step in its minutes or hours ("0 * * * *",
 *   "15 8-18/2 * * *") is an interval: times in the gap are skipped and both
 *   passes of the repeated hour fire, so @hourly fires every real hour.
 *
 * @example
 * ```ts
 * import { Timetable } from "./timetable.ts";
 *
 * const timetable = new Timetable({ schedule: "@weekly", startDate: new Date("2026-05-01") });
 * timetable.nextInterval(undefined); // → { start: 2026-05-03T00:00Z, end: 2026-05-10T00:00Z }
 * ```
 */
import { Cron } from "croner";
import { CellarError, quoteValue } from "./errors.ts";

/** The data a run covers: logical date = start; the run fires at end. */
export interface DataInterval {
  start: Date;
  end: Date;
}

export interface TimetableOptions {
  /** A cron expression (5 fields, or 6 with seconds first) or @hourly, @daily, @weekly, @monthly, @yearly. */
  schedule: string;
  /** IANA time zone the schedule is read in. Default "UTC". */
  timezone?: string;
  startDate?: Date;
  endDate?: Date;
}

const EXPECTED_SCHEDULE = "expected a cron expression or @hourly, @daily, @weekly, @monthly, @yearly";

/**
 * The data intervals of one schedule.
 *
 * `after` arguments are the logical date (interval start) of the last run
 * already created; only intervals starting strictly after it are returned.
 *
 * @example
 * ```ts
 * import { Timetable } from "./timetable.ts";
 *
 * const daily = new Timetable({ schedule: "@daily", startDate: new Date("2026-05-01T00:00Z") });
 * daily.dueIntervals(undefined, new Date("2026-05-04T12:00Z")).length; // → 3: May 1, 2 and 3
 * ```
 */
export class Timetable {
  readonly schedule: string;
  readonly timezone: string;
  readonly startDate: Date | undefined;
  readonly endDate: Date | undefined;
  readonly #cron: Cron;

  /**
   * Throws CellarError on an invalid schedule or an unknown time zone.
   *
   * @example
   * ```ts
   * import { Timetable } from "./timetable.ts";
   *
   * new Timetable({ schedule: "0 6 * * 1-5", timezone: "America/New_York" });
   * ```
   */
  constructor(options: TimetableOptions) {
    this.schedule = options.schedule;
    this.timezone = canonicalZone(options.timezone ?? "UTC");
    this.startDate = options.startDate;
    this.endDate = options.endDate;
    this.#cron = parseSchedule(this.schedule, this.timezone);
  }

  /**
   * The first interval starting strictly after `after` (undefined: the first
   * one at or after startDate), due or not; null past endDate, or with
   * neither `after` nor startDate.
   *
   * @example
   * ```ts
   * import { Timetable } from "./timetable.ts";
   * const daily = new Timetable({ schedule: "@daily", startDate: new Date("2026-05-01T00:00Z") });
   *
   * daily.nextInterval(new Date("2026-05-03T00:00Z")); // → { start: 2026-05-04T00:00Z, end: 2026-05-05T00:00Z }
   * ```
   */
  nextInterval(after: Date | undefined): DataInterval | null {
    const start = this.#firstStart(after);
    if (start === null || this.#pastEnd(start)) return null;
    const end = this.#cron.nextRun(start);
    return end && { start, end };
  }

  /**
   * Every interval that has ended by `now` and starts after `after`, oldest
   * first: what catchup creates. With neither `after` nor startDate there is
   * no beginning to catch up from, so it is only the latest due interval.
   *
   * @example
   * ```ts
   * import { Timetable } from "./timetable.ts";
   * const daily = new Timetable({ schedule: "@daily", startDate: new Date("2026-05-01T00:00Z") });
   *
   * daily.dueIntervals(new Date("2026-05-02T00:00Z"), new Date("2026-05-04T12:00Z")); // → [{ start: 2026-05-03T00:00Z, end: 2026-05-04T00:00Z }]
   * ```
   */
  dueIntervals(after: Date | undefined, now: Date): DataInterval[] {
    if (after === undefined && this.startDate === undefined) {
      const latest = this.latestDueInterval(undefined, now);
      return latest ? [latest] : [];
    }
    const intervals: DataInterval[] = [];
    let start = this.#firstStart(after);
    while (start !== null && !this.#pastEnd(start)) {
      const end = this.#cron.nextRun(start);
      if (end === null || end > now) break;
      intervals.push({ start, end });
      start = end;
    }
    return intervals;
  }

  /**
   * Only the latest interval that has ended by `now` (catchup: false), if it
   * starts after `after` and at or after startDate; otherwise null. Past
   * endDate it is the last interval starting at or before endDate.
   *
   * @example
   * ```ts
   * import { Timetable } from "./timetable.ts";
   * const daily = new Timetable({ schedule: "@daily", startDate: new Date("2026-05-01T00:00Z") });
   *
   * daily.latestDueInterval(undefined, new Date("2026-05-04T12:00Z")); // → { start: 2026-05-03T00:00Z, end: 2026-05-04T00:00Z }
   * ```
   */
  latestDueInterval(after: Date | undefined, now: Date): DataInterval | null {
    let end = this.#tickAtOrBefore(now);
    let start = end && this.#tickBefore(end);
    if (start !== null && this.#pastEnd(start)) {
      start = this.#tickAtOrBefore(this.endDate!);
      end = start && this.#cron.nextRun(start);
    }
    if (start === null || end === null) return null;
    if (this.startDate !== undefined && start < this.startDate) return null;
    if (after !== undefined && start <= after) return null;
    return { start, end };
  }

  /**
   * When the next interval after `after` becomes due (its end), for the
   * scheduler to sleep until; null if there is none.
   *
   * @example
   * ```ts
   * import { Timetable } from "./timetable.ts";
   * const daily = new Timetable({ schedule: "@daily", startDate: new Date("2026-05-01T00:00Z") });
   *
   * daily.nextFireTime(new Date("2026-05-03T00:00Z")); // → 2026-05-05T00:00Z
   * ```
   */
  nextFireTime(after: Date | undefined): Date | null {
    return this.nextInterval(after)?.end ?? null;
  }

  /**
   * The interval of a manual run at logical date `date`: the latest complete
   * one ending at or before it, as Airflow's infer_manual_data_interval.
   * startDate and endDate do not apply to manual runs.
   *
   * @example
   * ```ts
   * import { Timetable } from "./timetable.ts";
   * const daily = new Timetable({ schedule: "@daily", startDate: new Date("2026-05-01T00:00Z") });
   *
   * daily.manualInterval(new Date("2026-05-25T01:00Z")); // → { start: 2026-05-24T00:00Z, end: 2026-05-25T00:00Z }
   * ```
   */
  manualInterval(date: Date): DataInterval {
    const end = this.#tickAtOrBefore(date);
    const start = end && this.#tickBefore(end);
    if (start === null || end === null) {
      throw new CellarError(`manual run at ${date.toISOString()}: schedule "${this.schedule}" has no complete interval before it`);
    }
    return { start, end };
  }

  /** The tick that starts the first interval after `after`: later than it, and at or after startDate. */
  #firstStart(after: Date | undefined): Date | null {
    if (after !== undefined && (this.startDate === undefined || after >= this.startDate)) return this.#cron.nextRun(after);
    if (this.startDate === undefined) return null;
    // nextRun is strictly after its argument; a tick exactly at startDate counts.
    return this.#cron.nextRun(new Date(this.startDate.getTime() - 1));
  }

  /** croner's previousRuns is strictly before its argument; ticks are whole seconds, so 1ms later includes `date`. */
  #tickAtOrBefore(date: Date): Date | null {
    return this.#cron.previousRuns(1, new Date(date.getTime() + 1))[0] ?? null;
  }

  #tickBefore(date: Date): Date | null {
    return this.#cron.previousRuns(1, date)[0] ?? null;
  }

  #pastEnd(start: Date): boolean {
    return this.endDate !== undefined && start > this.endDate;
  }
}

/** The zone's canonical name ("utc" and "Etc/UTC" become "UTC"), or a CellarError if there is no such zone. */
function canonicalZone(timezone: string): string {
  try {
    return new Intl.DateTimeFormat("en-US", { timeZone: timezone }).resolvedOptions().timeZone;
  } catch {
    throw new CellarError(`timezone ${quoteValue(timezone)}: not a known IANA time zone`);
  }
}

function parseSchedule(schedule: string, timezone: string): Cron {
  const fail = (reason: string) => new CellarError(`schedule ${quoteValue(schedule)}: ${reason}; ${EXPECTED_SCHEDULE}`);
  if (typeof schedule !== "string") throw fail("not a string");
  // croner's errors for these speak of its 7-field mode and its own parser; say it plainly.
  const preset = schedule.trim().startsWith("@");
  const fields = schedule.trim().split(/\s+/);
  if (!preset && fields.length !== 5 && fields.length !== 6) throw fail(`${fields.length} fields, not 5 (or 6 with seconds first)`);
  let cron: Cron;
  try {
    cron = new Cron(schedule, {
      paused: true,
      mode: "5-or-6-parts",
      fixedTimeRule: "no-wildcard",
      // utcOffset skips croner's Intl time zone conversions, which make a named zone ~4x slower.
      ...(timezone === "UTC" ? { utcOffset: 0 } : { timezone }),
    });
  } catch (err) {
    throw fail(preset ? "not a known preset" : cronerReason(err));
  }
  // Without years a pattern that matches once matches forever, so this only catches dates like Feb 30.
  if (cron.nextRun(new Date(0)) === null) throw fail("never fires");
  return cron;
}

/** "CronPattern: Invalid value for minute: 61" -> "invalid value for minute: 61"; first sentence only. */
function cronerReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const reason = message.replace(/^CronPattern:\s*/, "").split(/\.(\s|$)/, 1)[0];
  return reason.charAt(0).toLowerCase() + reason.slice(1);
}
