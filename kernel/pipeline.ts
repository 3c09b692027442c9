import { parseClaim } from "./compute/claim.ts";
import type { Context } from "./context.ts";
import { type Duration, parseDuration } from "./duration.ts";
import { CellarError, quoteValue } from "./errors.ts";
import type { RunKind } from "./run-records.ts";
import type { EndedRunState } from "./state.ts";
import { type DataInterval, Timetable } from "./timetable.ts";

/** A pipeline parameter: its default's type is the type `--param` values are read as. */
export type ParamValue = string | number | boolean | null | ParamValue[] | { [key: string]: ParamValue };

export interface RetryOptions {
  /** Tries after the first. Default 0. */
  retries?: number;
  /** Wait before the first retry. Default "5m", Airflow's. */
  retryDelay?: Duration;
  /** "exponential" waits retryDelay × 2^(retry−1). Default "fixed". */
  retryBackoff?: "fixed" | "exponential";
  /** Cap on any one wait. Default "24h", Airflow's. */
  maxRetryDelay?: Duration;
  /** An attempt running longer is aborted through `ctx.signal` and counts as failed. */
  timeout?: Duration;
  /** Serve an unchanged cell from its checkpoint. Default true. */
  cache?: boolean;
}

export interface CellOptions extends RetryOptions {
  /** The device share this cell's `ctx.map` chunks claim: a fraction in (0, 1] or whole devices (Ray's `num_gpus`). */
  gpu?: number;
  /** Device memory in bytes each chunk claims with its share. */
  gpuMemory?: number;
  /**
   * The cells this one depends on. By default a cell depends on the cell written
   * just before it; naming `needs` replaces that, so `needs: []` starts an
   * independent branch and `needs: ["a", "b"]` joins two.
   */
  needs?: string[];
  /** "all_success" (default) runs only if every upstream succeeded; "all_done" once they all finished. */
  triggerRule?: "all_success" | "all_done";
}

/** What an alert hook receives when a run has finally failed. */
export interface RunFailure {
  pipeline: string;
  runId: number;
  logicalDate: string;
  failedCells: Array<{ cell: string; tries: number; error: string }>;
}

export type AlertHook = (failure: RunFailure) => unknown;

/** What a trigger's `when` and `params` receive: a run of the pipeline it waits on, as it ended. */
export interface RunOutcome {
  pipeline: string;
  runId: number;
  kind: RunKind;
  state: EndedRunState;
  logicalDate: Date;
  dataInterval: DataInterval;
  /** The outputs of the cells that succeeded or were served from cache in that run, by cell. */
  outputs: Record<string, unknown>;
  /**
   * Cells whose last try failed, with its one-line error as `cellar show` prints it; `check` when it
   * threw CheckFailed (a negative verdict, not an error), whose error then reads "CheckFailed: …".
   */
  failedCells: Array<{ cell: string; error: string; check: boolean }>;
  /** A SELECT against the store (its tables, the run's tables); anything else is refused. */
  sql(query: string, values?: unknown[]): Promise<Record<string, unknown>[]>;
}

/**
 * Runs this pipeline when a run of `after` ends and `when` holds (by default:
 * the run succeeded). The triggered run has the ending run's logical date and
 * data interval, and the params `params` returns over the pipeline's defaults.
 */
export interface PipelineTrigger {
  /** The id of the pipeline whose runs this trigger waits on. */
  after: string;
  when?: (outcome: RunOutcome) => boolean | Promise<boolean>;
  params?: (outcome: RunOutcome) => Record<string, ParamValue> | Promise<Record<string, ParamValue>>;
}

export interface PipelineOptions {
  /** Letters, digits, "_" and "-"; `pipelines/<id>.ts` is found by it. */
  id: string;
  description?: string;
  /** A cron expression or @hourly, @daily, @weekly, @monthly, @yearly. */
  schedule?: string;
  /** IANA time zone the schedule is read in. Default "UTC". */
  timezone?: string;
  /** First data interval starts at the first schedule tick at or after this. */
  startDate?: string | Date;
  endDate?: string | Date;
  /** Create every missed interval (true), or only the latest (false, default). */
  catchup?: boolean;
  /** Runs of this pipeline executing at once. Default 16, Airflow's. */
  maxActiveRuns?: number;
  /** Cells of one run executing at once. Default 8. */
  maxActiveCells?: number;
  /** Defaults for every cell's retry, timeout and cache options. */
  defaults?: RetryOptions;
  params?: Record<string, ParamValue>;
  /** Called (function) or POSTed as JSON (URL) when a run finally fails. Default: $CELLAR_ALERT_WEBHOOK, if set. */
  alert?: string | AlertHook;
  /** Runs of other pipelines that start a run of this one; see PipelineTrigger. */
  triggers?: PipelineTrigger[];
}

// deno-lint-ignore no-explicit-any
export type CellFn = (ctx: Context, input: any) => unknown;

/** A cell with its options resolved to numbers. */
export interface CellDef {
  name: string;
  fn: CellFn;
  needs: string[];
  triggerRule: "all_success" | "all_done";
  retries: number;
  retryDelayMs: number;
  exponential: boolean;
  maxRetryDelayMs: number;
  timeoutMs: number | undefined;
  cache: boolean;
  /** The default claim of the cell's `ctx.map` chunks, if it claims a GPU share. */
  claim: { gpu: number; gpuMemory?: number } | undefined;
  /** Where `.cell()` was called: the file whose text identifies the cell's code. */
  callSite: { file: string; line: number } | undefined;
}

const PIPELINE_BRAND = Symbol.for("cellar.pipeline");
const NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;
/** A pipeline's id is its DuckDB schema: these are the store's own schemas and DuckDB's catalogs. */
const RESERVED_SCHEMAS = new Set(["main", "cellar_data", "cellar_triggers", "temp", "system", "information_schema", "pg_catalog"]);
const CELL_OPTIONS = new Set([
  "retries", "retryDelay", "retryBackoff", "maxRetryDelay", "timeout", "cache", "needs", "triggerRule", "gpu", "gpuMemory",
]);
const PIPELINE_OPTIONS = new Set([
  "id", "description", "schedule", "timezone", "startDate", "endDate", "catchup",
  "maxActiveRuns", "maxActiveCells", "defaults", "params", "alert", "triggers",
]);
const TRIGGER_OPTIONS = new Set(["after", "when", "params"]);

/**
 * A pipeline: cells in the order written, with a schedule and defaults.
 *
 * @example
 * ```ts
 * import { pipeline } from "./pipeline.ts";
 *
 * export default pipeline({ id: "hello", schedule: "@daily", startDate: "2026-05-01" })
 *   .cell("greet", (ctx) => `hello for ${ctx.logicalDate.toISOString()}`)
 *   .cell("shout", { retries: 2 }, (_ctx, text: string) => text.toUpperCase());
 * ```
 */
export function pipeline(options: PipelineOptions): Pipeline {
  return new Pipeline(options);
}

export class Pipeline {
  readonly [PIPELINE_BRAND] = true;
  readonly id: string;
  readonly timetable: Timetable | undefined;
  readonly startDate: Date | undefined;
  readonly endDate: Date | undefined;
  readonly catchup: boolean;
  readonly maxActiveRuns: number;
  readonly maxActiveCells: number;
  readonly params: Readonly<Record<string, ParamValue>>;
  readonly alert: string | AlertHook | undefined;
  readonly triggers: readonly PipelineTrigger[];
  readonly #cells = new Map<string, CellDef>();
  readonly #defaults: RetryOptions;

  constructor(readonly options: PipelineOptions) {
    if (typeof options !== "object" || options === null) throw new CellarError("pipeline(): expected an options object with an id");
    const id = options.id;
    if (typeof id !== "string" || !NAME.test(id)) {
      throw new CellarError(`pipeline id ${JSON.stringify(id)}: expected letters, digits, "_" or "-"`);
    }
    if (RESERVED_SCHEMAS.has(id.toLowerCase())) {
      throw new CellarError(
        `pipeline id ${JSON.stringify(id)}: the store already uses that name for its own tables (${[...RESERVED_SCHEMAS].join(", ")}); choose another id`,
      );
    }
    this.id = id;
    unknownKeys(options, PIPELINE_OPTIONS, `pipeline "${id}"`);
    const where = `pipeline "${id}"`;
    this.startDate = options.startDate === undefined ? undefined : parseDate(options.startDate, `${where} startDate`);
    this.endDate = options.endDate === undefined ? undefined : parseDate(options.endDate, `${where} endDate`);
    if (this.startDate && this.endDate && this.startDate > this.endDate) {
      throw new CellarError(
        `${where}: startDate ${this.startDate.toISOString()} is after endDate ${this.endDate.toISOString()}`,
      );
    }
    if (options.timezone !== undefined && options.schedule === undefined) {
      throw new CellarError(`${where}: timezone ${JSON.stringify(options.timezone)} given without a schedule`);
    }
    this.timetable = options.schedule === undefined ? undefined : new Timetable({
      schedule: options.schedule,
      timezone: options.timezone,
      startDate: this.startDate,
      endDate: this.endDate,
    });
    this.catchup = options.catchup ?? false;
    this.maxActiveRuns = positiveInt(options.maxActiveRuns ?? 16, `${where} maxActiveRuns`);
    this.maxActiveCells = positiveInt(options.maxActiveCells ?? 8, `${where} maxActiveCells`);
    this.#defaults = options.defaults ?? {};
    unknownKeys(this.#defaults, CELL_OPTIONS, `${where} defaults`);
    this.params = options.params ?? {};
    this.alert = options.alert;
    if (this.alert !== undefined && typeof this.alert !== "function") {
      try {
        const url = new URL(String(this.alert));
        if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error();
      } catch {
        throw new CellarError(`${where} alert ${JSON.stringify(this.alert)}: expected a function or an http(s) URL`);
      }
    }
    this.triggers = parseTriggers(options.triggers, id);
  }

  /** Adds a cell. Its default upstream is the cell written before it. */
  cell(name: string, fn: CellFn): this;
  cell(name: string, options: CellOptions, fn: CellFn): this;
  cell(name: string, optionsOrFn: CellOptions | CellFn, maybeFn?: CellFn): this {
    const [options, fn] = typeof optionsOrFn === "function" ? [{}, optionsOrFn] : [optionsOrFn ?? {}, maybeFn];
    const where = `pipeline "${this.id}" cell ${JSON.stringify(name)}`;
    if (typeof name !== "string" || !NAME.test(name)) {
      throw new CellarError(`${where}: a cell name needs letters, digits, "_" or "-", starting with a letter or "_"`);
    }
    if (this.#cells.has(name)) throw new CellarError(`${where}: duplicate cell name`);
    if (typeof fn !== "function") throw new CellarError(`${where}: expected a function (ctx, input) => output`);
    unknownKeys(options, CELL_OPTIONS, where);
    const merged = { ...this.#defaults, ...options };
    const previous = [...this.#cells.keys()].at(-1);
    const needs = options.needs ?? (previous === undefined ? [] : [previous]);
    if (!Array.isArray(needs) || needs.some((n) => typeof n !== "string")) {
      throw new CellarError(`${where}: needs must be an array of cell names`);
    }
    const backoff = merged.retryBackoff ?? "fixed";
    if (backoff !== "fixed" && backoff !== "exponential") {
      throw new CellarError(`${where}: retryBackoff ${JSON.stringify(backoff)}; expected "fixed" or "exponential"`);
    }
    const triggerRule = options.triggerRule ?? "all_success";
    if (triggerRule !== "all_success" && triggerRule !== "all_done") {
      throw new CellarError(`${where}: triggerRule ${JSON.stringify(triggerRule)}; expected "all_success" or "all_done"`);
    }
    const retries = merged.retries ?? 0;
    if (!Number.isInteger(retries) || retries < 0) {
      throw new CellarError(`${where}: retries ${JSON.stringify(retries)}; expected a whole number ≥ 0`);
    }
    this.#cells.set(name, {
      name,
      fn,
      needs: [...new Set(needs)],
      triggerRule,
      retries,
      retryDelayMs: parseDuration(merged.retryDelay ?? "5m", `${where} retryDelay`),
      exponential: backoff === "exponential",
      maxRetryDelayMs: parseDuration(merged.maxRetryDelay ?? "24h", `${where} maxRetryDelay`),
      timeoutMs: merged.timeout === undefined ? undefined : parseDuration(merged.timeout, `${where} timeout`),
      cache: merged.cache ?? true,
      claim: options.gpu === undefined ? undefined : (parseClaim(options, where), { gpu: options.gpu, gpuMemory: options.gpuMemory }),
      callSite: callSite(),
    });
    return this;
  }

  /** The cells in the order written. */
  get cells(): readonly CellDef[] {
    return [...this.#cells.values()];
  }

  getCell(name: string): CellDef {
    const cell = this.#cells.get(name);
    if (!cell) {
      throw new CellarError(`cell ${JSON.stringify(name)}: pipeline "${this.id}" has no such cell; it has ${[...this.#cells.keys()].join(", ")}`);
    }
    return cell;
  }

  /**
   * Checks what only the whole pipeline shows: unknown `needs` and cycles.
   * Returns the cells in an order where every cell follows its upstreams,
   * keeping the written order wherever the dependencies allow.
   */
  validate(): CellDef[] {
    if (this.#cells.size === 0) throw new CellarError(`pipeline "${this.id}": has no cells`);
    for (const cell of this.#cells.values()) {
      for (const need of cell.needs) {
        if (!this.#cells.has(need)) {
          throw new CellarError(`pipeline "${this.id}" cell "${cell.name}": needs "${need}", which is not a cell of this pipeline`);
        }
        if (need === cell.name) throw new CellarError(`pipeline "${this.id}" cell "${cell.name}": needs itself`);
      }
    }
    const order: CellDef[] = [];
    const state = new Map<string, "visiting" | "done">();
    const visit = (cell: CellDef, path: string[]): void => {
      const seen = state.get(cell.name);
      if (seen === "done") return;
      if (seen === "visiting") {
        const cycle = [...path.slice(path.indexOf(cell.name)), cell.name];
        throw new CellarError(`pipeline "${this.id}": cycle ${cycle.join(" → ")}`);
      }
      state.set(cell.name, "visiting");
      for (const need of cell.needs) visit(this.#cells.get(need)!, [...path, cell.name]);
      state.set(cell.name, "done");
      order.push(cell);
    };
    for (const cell of this.#cells.values()) visit(cell, []);
    return order;
  }

  /** Defaults overridden by `overrides`, each read as its default's type. */
  resolveParams(overrides: Record<string, string | ParamValue>): Record<string, ParamValue> {
    const params: Record<string, ParamValue> = { ...this.params };
    for (const [key, raw] of Object.entries(overrides)) {
      // Own keys only: `in` would take constructor, toString or __proto__ (from Object.prototype) for params the pipeline has.
      if (!Object.hasOwn(this.params, key)) {
        const known = Object.keys(this.params);
        throw new CellarError(
          `--param ${key}: pipeline "${this.id}" has no param "${key}"; ${known.length ? `it has ${known.join(", ")}` : "it takes no params"}`,
        );
      }
      params[key] = typeof raw === "string" ? coerceParam(key, raw, this.params[key]) : raw;
    }
    return params;
  }
}

/** True for a value made by `pipeline()`, also when another copy of this module made it. */
export function isPipeline(value: unknown): value is Pipeline {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[PIPELINE_BRAND] === true;
}

function coerceParam(key: string, raw: string, example: ParamValue): ParamValue {
  const fail = (expected: string): never => {
    throw new CellarError(`param ${key}: expected ${expected}, got ${JSON.stringify(raw)}`);
  };
  switch (typeof example) {
    case "number": {
      const n = Number(raw);
      return raw.trim() !== "" && Number.isFinite(n) ? n : fail("a number");
    }
    case "boolean":
      return raw === "true" ? true : raw === "false" ? false : fail("true or false");
    case "string":
      return raw;
    default:
      try {
        return JSON.parse(raw) as ParamValue;
      } catch {
        return example === null ? raw : fail("JSON");
      }
  }
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

/**
 * A date as written in a pipeline or on the command line (startDate, endDate, --date, backfill --from/--to):
 * "2026-05-01" (UTC midnight) or an ISO date-time, "2026-05-01T06:30:00Z" or with an offset ("+02:00"; none
 * is UTC). Each field is checked, so "2026-02-30" is refused instead of becoming March 2, and anything
 * else ("1", "May 1") is refused instead of being guessed at.
 *
 * @example
 * ```ts
 * import { parseDate } from "./pipeline.ts";
 *
 * parseDate("2026-05-01", "--date"); // → 2026-05-01T00:00:00.000Z
 * ```
 */
export function parseDate(value: string | Date, what: string): Date {
  const fail = (why: string): never => {
    const expected = `expected a date like "2026-05-01" or an ISO date-time like "2026-05-01T06:00:00Z"`;
    throw new CellarError(`${what} ${quoteValue(value instanceof Date ? String(value) : value)}: ${expected}${why ? `; ${why}` : ""}`);
  };
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? fail("an invalid Date") : new Date(value.getTime());
  if (typeof value !== "string") return fail(`a ${typeof value}, not a date`);
  const match = ISO_DATE.exec(value.trim());
  if (!match) return fail("");
  const [year, month, day, hour = 0, minute = 0, second = 0] = match.slice(1, 7).map((f) => (f === undefined ? undefined : Number(f))) as number[];
  const ms = match[7] === undefined ? 0 : Number(match[7].slice(0, 3).padEnd(3, "0"));
  if (month < 1 || month > 12) fail(`month ${month} does not exist`);
  if (day < 1 || day > daysIn(year, month)) fail(`${monthName(month)} ${year} has no day ${day}`);
  if (hour > 23 || minute > 59 || second > 59) fail("no such time of day");
  let offsetMinutes = 0;
  const zone = match[8];
  if (zone !== undefined && zone.toUpperCase() !== "Z") {
    const [, sign, hh, mm] = /^([+-])(\d{2}):?(\d{2})$/.exec(zone)!;
    if (Number(hh) > 23 || Number(mm) > 59) fail(`no such UTC offset ${zone}`);
    offsetMinutes = (sign === "-" ? -1 : 1) * (Number(hh) * 60 + Number(mm));
  }
  // setUTCFullYear: Date.UTC would read years 0–99 as 1900–1999.
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, ms);
  // Round trip: every field must come back as written (nothing rolled over into the next one).
  if (
    date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day ||
    date.getUTCHours() !== hour || date.getUTCMinutes() !== minute || date.getUTCSeconds() !== second
  ) {
    fail("no such date");
  }
  return new Date(date.getTime() - offsetMinutes * 60_000);
}

function daysIn(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return month === 2 ? (leap ? 29 : 28) : [31, 0, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
}

function monthName(month: number): string {
  return new Date(Date.UTC(2001, month - 1, 1)).toLocaleString("en-US", { month: "long", timeZone: "UTC" });
}

function parseTriggers(triggers: unknown, id: string): PipelineTrigger[] {
  if (triggers === undefined) return [];
  if (!Array.isArray(triggers)) throw new CellarError(`pipeline "${id}" triggers: expected an array of { after, when?, params? }`);
  const seen = new Set<string>();
  return triggers.map((trigger: PipelineTrigger, i) => {
    const where = `pipeline "${id}" triggers[${i}]`;
    if (typeof trigger !== "object" || trigger === null) throw new CellarError(`${where}: expected an object { after, when?, params? }`);
    unknownKeys(trigger, TRIGGER_OPTIONS, where);
    const { after, when, params } = trigger;
    if (typeof after !== "string" || !NAME.test(after)) {
      throw new CellarError(`${where} after ${JSON.stringify(after)}: expected a pipeline id (letters, digits, "_" or "-")`);
    }
    // One triggered run per ending run: two triggers on one pipeline would compete for it.
    if (seen.has(after)) throw new CellarError(`${where}: a second trigger after "${after}"; combine their conditions in one when`);
    seen.add(after);
    if (when !== undefined && typeof when !== "function") {
      throw new CellarError(`${where} when: expected a function (outcome) => boolean, got ${typeof when}`);
    }
    if (params !== undefined && typeof params !== "function") {
      throw new CellarError(`${where} params: expected a function (outcome) => params, got ${typeof params}`);
    }
    if (after === id && when === undefined) {
      throw new CellarError(`${where}: after its own pipeline without a when would run "${id}" forever; give a when`);
    }
    return { after, when, params };
  });
}

function positiveInt(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 1) throw new CellarError(`${what} ${JSON.stringify(value)}: expected a whole number ≥ 1`);
  return value;
}

function unknownKeys(options: object, known: Set<string>, where: string): void {
  for (const key of Object.keys(options)) {
    if (!known.has(key)) throw new CellarError(`${where}: unknown option "${key}"; expected one of ${[...known].join(", ")}`);
  }
}

/** The file and line of the code that called `.cell()`, read off a stack trace. */
function callSite(): CellDef["callSite"] {
  const frames = (new Error().stack ?? "").split("\n").slice(1);
  for (const frame of frames) {
    const match = /(file:\/\/[^\s)]+|\/[^\s():]+):(\d+):\d+\)?\s*$/.exec(frame);
    if (!match || match[1].includes("/kernel/pipeline.ts")) continue;
    // A module imported anew (the server reloading a changed file) has a query string; the file has not.
    return { file: match[1].replace(/\?[^/]*$/, ""), line: Number(match[2]) };
  }
  return undefined;
}
