/**
 * A run's log lines on its page: a filter form (cell, attempt, lowest level, errors only) that is a plain GET
 * form, and one bounded page of lines read by cursor (`?after=`, `?before=`, `?tail=1`), so that a run that
 * logged a million lines opens as fast as one that logged ten, and paging works without JS. While the run
 * goes on and the page shows the newest lines, live.js appends new lines that match the filter (it reads the
 * filter and the last line's seq off the data-* attributes here). Messages are text: hono/jsx escapes them.
 *
 * @example
 * ```ts
 * import { LogView, logFilter } from "./log-view.tsx";
 *
 * const filter = logFilter(new URLSearchParams("level=warn&tail=1")); // → { query: { level: "warn", tail: true, limit: 200 }, … }
 * const view = LogView({ runId: 7, cells: ["load"], tries: [1], filter: filter.filter, page: { lines: [], earlier: null, later: null, matching: 0 } });
 * ```
 */
import { LOG_LEVELS, type LogLevel, type LogLine, type LogPage, type LogQuery } from "../../kernel/mod.ts";

export const LOG_PAGE = 200;

/** The filter as the page's query string holds it (what the form submits, and what paging links keep). */
export interface LogFilter {
  cell?: string;
  try?: number;
  level?: LogLevel;
  errors?: boolean;
}

/**
 * The page's query string as a filter and the facade's query; `error` names a parameter that cannot be read.
 * An empty field (a form submitted with "all") is no filter.
 */
export function logFilter(params: URLSearchParams, going = false): { filter: LogFilter; query: LogQuery; error?: string } {
  const filter: LogFilter = {};
  const value = (name: string) => {
    const v = params.get(name);
    return v === null || v === "" ? undefined : v;
  };
  const cell = value("cell");
  if (cell !== undefined) filter.cell = cell;
  const tryText = value("try");
  if (tryText !== undefined) {
    if (!/^\d{1,6}$/.test(tryText)) return { filter, query: {}, error: `try ${tryText}: expected an attempt number` };
    filter.try = Number(tryText);
  }
  const level = value("level");
  if (level !== undefined) {
    if (!(LOG_LEVELS as readonly string[]).includes(level)) return { filter, query: {}, error: `level ${level}: expected one of ${LOG_LEVELS.join(", ")}` };
    filter.level = level as LogLevel;
  }
  if (value("errors") !== undefined && value("errors") !== "0") filter.errors = true;
  const cursor: Pick<LogQuery, "after" | "before" | "tail"> = {};
  for (const name of ["after", "before"] as const) {
    const text = value(name);
    if (text === undefined) continue;
    if (!/^\d{1,15}$/.test(text)) return { filter, query: {}, error: `${name} ${text}: expected a log line's cursor` };
    cursor[name] = Number(text);
  }
  if (value("tail") !== undefined && cursor.after === undefined && cursor.before === undefined) cursor.tail = true;
  if (cursor.after !== undefined && cursor.before !== undefined) return { filter, query: {}, error: "after and before: give one of them" };
  // A run that goes on opens on its newest lines, which live.js then extends; an ended one on its first.
  if (going && Object.keys(cursor).length === 0) cursor.tail = true;
  const query: LogQuery = {
    limit: LOG_PAGE,
    ...cursor,
    ...(filter.cell !== undefined ? { cell: filter.cell } : {}),
    ...(filter.try !== undefined ? { tryNumber: filter.try } : {}),
    ...(filter.level !== undefined ? { level: filter.level } : {}),
    ...(filter.errors ? { errors: true } : {}),
  };
  return { filter, query };
}

/** The query string of `filter` and a cursor, for paging links. */
function href(runId: number, filter: LogFilter, cursor: Record<string, string>): string {
  const params = new URLSearchParams();
  if (filter.cell !== undefined) params.set("cell", filter.cell);
  if (filter.try !== undefined) params.set("try", String(filter.try));
  if (filter.level !== undefined) params.set("level", filter.level);
  if (filter.errors) params.set("errors", "1");
  for (const [k, v] of Object.entries(cursor)) params.set(k, v);
  const text = params.toString();
  return `/runs/${runId}${text ? `?${text}` : ""}#logs`;
}

/** `cells` and `tries`: what the form offers (the run's cells and the attempt numbers they reached). */
export function LogView(props: { runId: number; cells: string[]; tries: number[]; filter: LogFilter; page: LogPage }) {
  const { runId, filter, page } = props;
  const filtered = filter.cell !== undefined || filter.try !== undefined || filter.level !== undefined || filter.errors === true;
  const last = page.lines.at(-1)?.seq;
  // What live.js needs to extend the page: only a page that shows the newest matching lines is extended.
  const live = {
    "data-log-run": String(runId),
    "data-log-after": String(last ?? (page.earlier === null ? 0 : page.earlier - 1)),
    ...(page.later === null ? { "data-log-end": "" } : {}),
    ...(filter.cell !== undefined ? { "data-log-cell": filter.cell } : {}),
    ...(filter.try !== undefined ? { "data-log-try": String(filter.try) } : {}),
    ...(filter.level !== undefined ? { "data-log-level": filter.level } : {}),
    ...(filter.errors ? { "data-log-errors": "" } : {}),
  };
  return (
    <section class="logs" id="logs" {...live}>
      <header>
        <h2>Logs</h2>
        <span class="muted small" data-log-count="">
          {page.matching === 0 ? (filtered ? "no line matches" : "no log lines") : `${page.lines.length} of ${page.matching.toLocaleString("en")} ${filtered ? "matching " : ""}lines`}
        </span>
        <span class="pager">
          {page.earlier !== null ? <a href={href(runId, filter, {})}>⇤ first</a> : null}
          {page.earlier !== null ? <a data-log-earlier="" href={href(runId, filter, { before: String(page.earlier) })}>← earlier</a> : null}
          {page.later !== null ? <a href={href(runId, filter, { after: String(page.later) })}>later →</a> : null}
          {page.later !== null ? <a href={href(runId, filter, { tail: "1" })}>newest ⇥</a> : null}
        </span>
      </header>
      <FilterForm {...props} filtered={filtered} />
      <div class="logscroll">
        <table class="loglines">
          <tbody data-log-lines="">
            {page.lines.map((l) => <LogRow key={l.seq} line={l} />)}
          </tbody>
        </table>
      </div>
    </section>
  );
}

/**
 * One log line as a row: its time, its cell and try (left out where a table holds one cell's try, as a
 * notebook cell's tail does), level and message. live.js builds the same row for a line that streams in.
 */
export function LogRow(props: { line: LogLine; cell?: boolean }) {
  const l = props.line;
  return (
    <tr class={`level-${l.level}`} data-seq={String(l.seq)}>
      <td class="ts">{l.ts.toISOString().slice(11, 23)}</td>
      {/* A line of the run's own (no cell's), such as a server's adoption of it, is labelled "run". */}
      {props.cell === false ? null : <td class="lcell">{l.cell === "" ? "run" : `${l.cell}#${l.tryNumber}`}</td>}
      <td class="level">{l.level}</td>
      <td class="msg">{l.message}</td>
    </tr>
  );
}

function FilterForm(props: { runId: number; cells: string[]; tries: number[]; filter: LogFilter; filtered: boolean }) {
  const { runId, cells, tries, filter } = props;
  return (
    <form class="logfilter" method="get" action={`/runs/${runId}#logs`}>
      <label>
        cell{" "}
        <select name="cell">
          <option value="">all</option>
          {cells.map((c) => <option key={c} value={c} selected={c === filter.cell}>{c}</option>)}
        </select>
      </label>
      <label>
        attempt{" "}
        <select name="try">
          <option value="">all</option>
          {tries.map((t) => <option key={t} value={String(t)} selected={t === filter.try}>{`try ${t}`}</option>)}
        </select>
      </label>
      <label>
        level{" "}
        <select name="level">
          <option value="">all</option>
          {LOG_LEVELS.map((l) => <option key={l} value={l} selected={l === filter.level}>{l === "error" ? l : `${l} and above`}</option>)}
        </select>
      </label>
      <label class="check">
        <input type="checkbox" name="errors" value="1" checked={filter.errors === true} /> errors only
      </label>
      <button type="submit">Filter</button>
      {props.filtered ? <a href={`/runs/${runId}#logs`}>clear</a> : null}
    </form>
  );
}
