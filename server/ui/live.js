// The notebook UI's one client script, served at /ui/live.js (a static file: the CSP allows no inline script).
// Three jobs:
// - live updates: on a page whose run is still going (`[data-live-run]`), an EventSource on /api/v1/events
//   updates each cell's badge, tries and duration in place, shows a ctx.map's chunks (done, retried, failed)
//   on its cell, appends new log lines that match the run page's log filter (when it shows the newest ones)
//   or, on a notebook, each to its cell's log tail, and says when the run ended, then closes. A page showing
//   no running run opens no run stream, so nothing polls while nothing runs;
// - the buttons: `form[data-post]` and `button[data-post]` POST JSON to the API, then open the notebook at
//   `?run=<new id>`; `button[data-pause]` pauses or unpauses a schedule. A failed request's one-line error
//   is shown as text;
// - a notebook (`[data-notebook-pipeline]`) keeps one stream for its pipeline open: when the server reloads
//   the pipeline's file, or a run of it ends, its cells are drawn again (source, stale marks, results).
// Everything written into the page is text (textContent), never HTML.
"use strict";

const TERMINAL = new Set(["success", "failed", "cancelled", "interrupted", "upstream_failed", "cached"]);

function duration(ms) {
  if (ms === null || ms === undefined) return "…";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m ${Math.round(s % 60)}s` : `${Math.floor(m / 60)}h ${m % 60}m`;
}

function setBadge(el, state) {
  el.className = `badge state-${state}`;
  el.textContent = state.replace("_", " ");
}

/** The elements of one cell, on the notebook (a section) or the run page (a table row). */
function cellOf(name) {
  return [...document.querySelectorAll("[data-cell]")].find((el) => el.dataset.cell === name);
}

/** A notebook cell's facts line, made when the page had none for it (it had not run when the page was drawn). */
function factsOf(el) {
  if (el.tagName === "TR") return undefined;
  let facts = el.querySelector("[data-cell-facts]");
  if (!facts) {
    const result = document.createElement("div");
    result.className = "result";
    facts = document.createElement("div");
    facts.className = "facts";
    facts.dataset.cellFacts = "";
    result.append(facts);
    el.querySelector("pre.source")?.after(result);
  }
  return facts;
}

function showTries(el, facts) {
  if (facts.tries === undefined && facts.durationMs === undefined) return;
  let tries = el.querySelector("[data-cell-tries]");
  let took = el.querySelector("[data-cell-duration]");
  const line = factsOf(el);
  if (line && (!tries || !took)) {
    tries = document.createElement("span");
    tries.dataset.cellTries = "";
    const span = document.createElement("span");
    took = document.createElement("b");
    took.dataset.cellDuration = "";
    took.textContent = "…";
    span.append("took ", took);
    line.replaceChildren(tries, span);
  }
  if (tries && facts.tries !== undefined) tries.textContent = el.tagName === "TR" ? String(facts.tries) : facts.tries === 1 ? "1 try" : `${facts.tries} tries`;
  if (took && facts.durationMs !== undefined) took.textContent = duration(facts.durationMs);
}

/** On the run page, a row for a cell that started after the page was drawn. */
function newRow(name) {
  const body = document.querySelector("table.list[data-cells] tbody");
  if (!body) return undefined;
  const row = document.createElement("tr");
  row.dataset.cell = name;
  const cells = ["mono", "", "num", "num", "num", "mono", ""].map((cls) => Object.assign(document.createElement("td"), { className: cls }));
  cells[0].textContent = name;
  const badge = document.createElement("span");
  badge.dataset.cellBadge = "";
  cells[1].append(badge);
  cells[2].dataset.cellTries = "";
  cells[3].dataset.cellDuration = "";
  row.append(...cells);
  body.append(row);
  return row;
}

function applyCell(name, facts) {
  const el = cellOf(name) ?? newRow(name);
  if (!el) return;
  const badge = el.querySelector("[data-cell-badge]");
  if (badge && facts.state) setBadge(badge, facts.state);
  const line = facts.cachedFrom ? factsOf(el) : undefined;
  if (line) {
    const note = document.createElement("span");
    note.className = "muted";
    note.textContent = `served from the checkpoint of run #${facts.cachedFrom}`;
    line.replaceChildren(note);
  } else if (!facts.cachedFrom) showTries(el, facts);
}

function applyRun(root, state) {
  root.dataset.runState = state;
  const badge = root.querySelector("[data-run-badge]") ?? document.querySelector("[data-run-badge]");
  if (badge) setBadge(badge, state);
  const dot = document.querySelector("[data-run-dot]");
  if (dot) dot.className = `dot state-${state}`;
  const status = document.querySelector("[data-live-status]");
  if (status) status.textContent = state === "running" || state === "queued" ? "live: the run is going" : `the run ended: ${state.replace("_", " ")}`;
}

/** A ctx.map's chunks on its cell: a bar when their number is known, and the counts. */
function applyChunks(event) {
  const el = cellOf(event.cell) ?? newRow(event.cell);
  if (!el) return;
  let box = el.querySelector("[data-cell-chunks]");
  if (!box) {
    box = document.createElement("span");
    box.className = "chunks";
    box.dataset.cellChunks = "";
    box.append(document.createElement("progress"), document.createElement("span"));
    const badge = el.querySelector("[data-cell-badge]");
    if (badge) badge.after(box);
    else el.append(box);
  }
  const [bar, text] = box.children;
  bar.hidden = !event.total;
  if (event.total) {
    bar.max = event.total;
    bar.value = event.done;
  }
  let line = `${event.done}${event.total ? `/${event.total}` : ""} chunks`;
  if (event.retried) line += ` · ${event.retried} retried`;
  if (event.failed) line += ` · ${event.failed} failed`;
  text.textContent = line;
}

const LEVELS = ["debug", "info", "warn", "error"];
/** Rows the run page keeps while it tails a log: older ones leave (the "earlier" link still reaches them). */
const MAX_TAIL_ROWS = 1000;

/**
 * The run page's log, extended while the run goes on: lines from the stream's log events, and after the
 * stream opens (or after a missed event), the lines the API has after those
 * confirmed so far. Each line once (by seq), in seq order, and only when it matches the page's filter.
 * Long because it is one closure over the section's state (the lines seen, the confirmed cursor, the
 * catch-up chain); its parts are the small functions inside.
 */
function logTail(root) {
  const section = document.querySelector("section.logs[data-log-run]");
  if (!section || !("logEnd" in section.dataset) || section.dataset.logRun !== root.dataset.liveRun) return undefined;
  const body = section.querySelector("[data-log-lines]");
  const f = section.dataset;
  const lowest = "logErrors" in f ? "error" : f.logLevel;
  const seen = new Set([...body.querySelectorAll("tr[data-seq]")].map((tr) => Number(tr.dataset.seq)));
  let confirmed = Number(f.logAfter ?? 0);
  let catching;
  const matches = (l) =>
    (f.logCell === undefined || l.cell === f.logCell) && (f.logTry === undefined || l.tryNumber === Number(f.logTry)) &&
    (lowest === undefined || LEVELS.indexOf(l.level) >= LEVELS.indexOf(lowest));
  const add = (l) => {
    if (l.seq === undefined || seen.has(l.seq) || !matches(l)) return;
    seen.add(l.seq);
    const row = document.createElement("tr");
    row.className = `level-${l.level}`;
    row.dataset.seq = String(l.seq);
    const cells = ["ts", "lcell", "level", "msg"].map((cls) => Object.assign(document.createElement("td"), { className: cls }));
    cells[0].textContent = new Date(l.ts).toISOString().slice(11, 23);
    cells[1].textContent = l.cell === "" ? "run" : `${l.cell}#${l.tryNumber}`; // as log-view.tsx labels a run's own line
    cells[2].textContent = l.level;
    cells[3].textContent = l.message;
    row.append(...cells);
    // Almost always the newest line: appended; an error line caught up later goes in its place.
    const last = body.lastElementChild;
    const before = !last || Number(last.dataset.seq) < l.seq ? last : [...body.children].reverse().find((tr) => Number(tr.dataset.seq) < l.seq);
    if (before) before.after(row);
    else body.prepend(row);
    if (body.children.length <= MAX_TAIL_ROWS) return;
    while (body.children.length > MAX_TAIL_ROWS) body.firstElementChild.remove();
    earlierThan(Number(body.firstElementChild.dataset.seq));
  };
  /** The lines that left the page stay one click away: "earlier" now ends just before the first line kept. */
  const earlierThan = (seq) => {
    let link = section.querySelector("[data-log-earlier]");
    if (!link) {
      link = Object.assign(document.createElement("a"), { textContent: "← earlier" });
      link.dataset.logEarlier = "";
      section.querySelector(".pager")?.prepend(link);
    }
    const q = filters();
    q.set("before", String(seq));
    link.href = `/runs/${encodeURIComponent(f.logRun)}?${q}#logs`;
  };
  const scroll = section.querySelector(".logscroll");
  /** Adds lines; the log follows them if it was scrolled to its end (not while someone reads further up). */
  const show = (lines) => {
    const following = !scroll || scroll.scrollTop + scroll.clientHeight >= scroll.scrollHeight - 24;
    lines.forEach(add);
    const count = section.querySelector("[data-log-count]");
    if (count) count.textContent = `${body.children.length} lines shown · live`;
    if (scroll && following) scroll.scrollTop = scroll.scrollHeight;
  };
  const filters = () => {
    const q = new URLSearchParams();
    if (f.logCell !== undefined) q.set("cell", f.logCell);
    if (f.logTry !== undefined) q.set("try", f.logTry);
    if (f.logLevel !== undefined) q.set("level", f.logLevel);
    if ("logErrors" in f) q.set("errors", "1");
    return q;
  };
  const query = () => {
    const q = filters();
    q.set("limit", "1000");
    q.set("after", String(confirmed));
    return q;
  };
  const catchUp = async () => {
    for (let pages = 0; pages < 5; pages++) {
      const res = await fetch(`/api/v1/runs/${encodeURIComponent(f.logRun)}/logs?${query()}`, { headers: { accept: "application/json" } });
      if (!res.ok) return;
      const page = await res.json();
      show(page.lines);
      if (page.lines.length > 0) confirmed = page.lines[page.lines.length - 1].seq;
      if (page.later === null) return;
    }
  };
  return {
    line(event) {
      show([event]);
    },
    /** One catch-up at a time; one asked for during it runs after it, from where it got to. */
    catchUp() {
      catching = (catching ?? Promise.resolve()).then(catchUp).catch(() => {});
      return catching;
    },
  };
}

/** Lines a notebook cell's log tail keeps as it grows (as many as the server draws, notebook-page.tsx). */
const CELL_LOG_ROWS = 20;

/** "log · try 2 · last 20 of 57 lines", as notebook-page.tsx's tailText writes it. */
function tailText(tryNumber, shown, tryLines, live) {
  const lines = tryLines > shown ? `last ${shown} of ${tryLines.toLocaleString("en")} lines` : `${tryLines} ${tryLines === 1 ? "line" : "lines"}`;
  return `log · try ${tryNumber} · ${lines}${live ? " · live" : ""}`;
}

/**
 * A notebook cell's log tail, made when the page drew none for it (no line yet when it was drawn): its own
 * count, its "all lines" link to the run page, and its table.
 */
function newCellLog(el, runId, cell) {
  const box = document.createElement("div");
  box.className = "cell-log";
  Object.assign(box.dataset, { cellLog: "", logTry: "0", logTryLines: "0", logTotal: "0" });
  const head = document.createElement("div");
  head.className = "cell-log-head";
  const count = document.createElement("span");
  count.dataset.cellLogCount = "";
  const all = document.createElement("a");
  all.className = "cell-logs";
  all.dataset.cellLogAll = "";
  all.href = `/runs/${encodeURIComponent(runId)}?cell=${encodeURIComponent(cell)}#logs`;
  head.append(count, all);
  const scroll = document.createElement("div");
  scroll.className = "cell-log-scroll";
  const table = document.createElement("table");
  table.className = "loglines";
  const body = document.createElement("tbody");
  body.dataset.cellLogLines = "";
  table.append(body);
  scroll.append(table);
  box.append(head, scroll);
  factsOf(el)?.parentElement?.append(box);
  return box;
}

/**
 * On a notebook, the shown run's new log lines, each under its cell: a line of a newer try starts that try's
 * tail afresh, one of an older try is dropped, and each tail keeps its last CELL_LOG_ROWS lines. A line the
 * page drew (its seq at most the page's `data-log-seq`) or one already added is skipped, so the catch-up
 * after the stream opens and the stream itself may both carry it.
 */
function cellLogs(root) {
  if (!document.querySelector("[data-notebook-pipeline]")) return undefined;
  const runId = root.dataset.liveRun;
  const drawn = Number(root.dataset.logSeq ?? 0);
  const seen = new Set();
  const add = (l) => {
    if (l.seq === undefined || l.seq <= drawn || seen.has(l.seq)) return;
    const el = cellOf(l.cell);
    if (!el || el.tagName !== "SECTION") return;
    const tryNumber = l.tryNumber ?? 0;
    const box = el.querySelector("[data-cell-log]") ?? newCellLog(el, runId, l.cell);
    const f = box.dataset;
    if (tryNumber < Number(f.logTry)) return;
    const body = box.querySelector("[data-cell-log-lines]");
    if (body.querySelector(`tr[data-seq="${l.seq}"]`)) return;
    if (tryNumber > Number(f.logTry)) {
      body.replaceChildren();
      Object.assign(f, { logTry: String(tryNumber), logTryLines: "0" });
    }
    seen.add(l.seq);
    const row = document.createElement("tr");
    row.className = `level-${l.level}`;
    row.dataset.seq = String(l.seq);
    const cells = ["ts", "level", "msg"].map((cls) => Object.assign(document.createElement("td"), { className: cls }));
    cells[0].textContent = new Date(l.ts).toISOString().slice(11, 23);
    cells[1].textContent = l.level;
    cells[2].textContent = l.message;
    row.append(...cells);
    const before = [...body.children].reverse().find((tr) => Number(tr.dataset.seq) < l.seq);
    if (before) before.after(row);
    else body.prepend(row);
    while (body.children.length > CELL_LOG_ROWS) body.firstElementChild.remove();
    f.logTryLines = String(Number(f.logTryLines) + 1);
    f.logTotal = String(Number(f.logTotal) + 1);
    const total = Number(f.logTotal);
    box.querySelector("[data-cell-log-count]").textContent = tailText(tryNumber, body.children.length, Number(f.logTryLines), true);
    box.querySelector("[data-cell-log-all]").textContent = total > body.children.length ? `all ${total.toLocaleString("en")} lines →` : "in the run's log →";
  };
  return {
    line: add,
    /** The lines written between the page's drawing and the stream's opening: one request for every cell. */
    async catchUp() {
      const res = await fetch(`/api/v1/runs/${encodeURIComponent(runId)}/logs?after=${drawn}&limit=1000`, { headers: { accept: "application/json" } });
      if (res.ok) (await res.json()).lines.forEach(add);
    },
  };
}

/**
 * How many stream events have been applied, and after which of them each cell (and the run, as "") last
 * changed: a snapshot asked for before an event is older than it, and must not undo it.
 */
const applied = { events: 0, at: new Map() };

function applyEvent(key) {
  applied.at.set(key, ++applied.events);
}

/**
 * The run as the API has it: once when the stream opens (what happened before it) and once at the end. A
 * cell or run state that an event changed while the request was out is newer than the answer: kept (on a
 * loaded host the answer came after the start's own `success` and set its badge back to running).
 */
async function sync(root, runId) {
  const asked = applied.events;
  const newer = (key) => (applied.at.get(key) ?? 0) > asked;
  const res = await fetch(`/api/v1/runs/${runId}`, { headers: { accept: "application/json" } });
  if (!res.ok) return undefined;
  const detail = await res.json();
  for (const c of detail.cells) {
    if (!newer(c.cell)) applyCell(c.cell, { state: c.state, tries: c.tries, durationMs: c.durationMs, cachedFrom: c.cachedFrom });
  }
  if (!newer("")) applyRun(root, detail.state);
  return detail.state;
}

/**
 * At the end of a run, each notebook cell's result (facts, error, output preview), or the run page's whole
 * content, as the server now renders it: one request for the page, parsed inert by DOMParser, whose
 * escaped nodes replace the old ones.
 */
async function refreshResults(tailing) {
  const url = new URL(location.href);
  // A log that was tailed stays on its newest lines (an ended run's page otherwise opens on its first).
  if (tailing && !url.searchParams.has("after") && !url.searchParams.has("before")) url.searchParams.set("tail", "1");
  const res = await fetch(url, { headers: { accept: "text/html" } });
  if (!res.ok) return;
  const page = new DOMParser().parseFromString(await res.text(), "text/html");
  const main = page.querySelector("main");
  // The run page has no buttons to keep: its timeline, cells and logs are taken whole.
  if (!document.querySelector("section[data-cell]") && main) return document.querySelector("main")?.replaceWith(document.adoptNode(main));
  for (const fresh of page.querySelectorAll("section[data-cell]")) {
    const el = cellOf(fresh.dataset.cell);
    if (!el || el.tagName !== "SECTION") continue;
    markStale(el, fresh);
    const next = fresh.querySelector(".result");
    const old = el.querySelector(".result");
    if (next) old ? old.replaceWith(document.adoptNode(next)) : el.append(document.adoptNode(next));
  }
}

/**
 * Follows the run of `root` live: over its own stream, or on a notebook over the page's stream for the
 * pipeline (`shared`), which also carries other runs' events: only this run's are applied.
 */
function follow(root, shared) {
  const runId = root.dataset.liveRun;
  const tail = logTail(root);
  const cellLog = cellLogs(root);
  const source = shared ?? new EventSource(`/api/v1/events?run=${encodeURIComponent(runId)}`);
  let ended = false;
  const on = (type, handle) =>
    source.addEventListener(type, (e) => {
      const event = JSON.parse(e.data);
      if (!ended && (event.runId === undefined || String(event.runId) === runId)) handle(event);
    });
  const end = () => {
    ended = true;
    if (!shared) source.close();
    void sync(root, runId).then(async (state) => {
      await tail?.catchUp();
      await refreshResults(tail !== undefined);
      // The run page's header was replaced with the rest: say again that the run ended.
      const now = document.querySelector("[data-live-run]");
      if (now && state) applyRun(now, state);
    });
  };
  source.addEventListener("open", () => {
    void tail?.catchUp();
    void cellLog?.catchUp().catch(() => {});
    void sync(root, runId).then((state) => state && !isGoing(state) && end());
  }, { once: true });
  on("log", (event) => {
    tail?.line(event);
    cellLog?.line(event);
  });
  on("chunks", (event) => applyChunks(event));
  on("cell", (event) => {
    applyEvent(event.cell);
    const facts = { state: event.state };
    if (event.tryNumber > 0) facts.tries = event.tryNumber;
    if (event.ms !== undefined) facts.durationMs = event.ms;
    applyCell(event.cell, facts);
  });
  on("run", (event) => {
    applyEvent("");
    applyRun(root, event.state);
    if (!isGoing(event.state)) end();
  });
  on("missed", () => {
    void sync(root, runId);
    void tail?.catchUp();
  });
  applyRun(root, root.dataset.runState ?? "running");
}

function isGoing(state) {
  return !TERMINAL.has(state);
}

function csrfHeaders() {
  const token = document.querySelector('meta[name="csrf-token"]')?.getAttribute("content");
  return token ? { "x-csrf-token": token } : {};
}

/** A form's inputs as the params object, typed by each input's `data-type` (the default's type). */
function paramsOf(form) {
  const params = {};
  for (const input of form.querySelectorAll("input[name]")) {
    const type = input.dataset.type;
    params[input.name] = type === "boolean" ? input.checked : type === "number" && input.value !== "" ? Number(input.value) : input.value;
  }
  return params;
}

async function post(el, body) {
  const error = document.querySelector("[data-action-error]");
  if (error) error.hidden = true;
  el.disabled = true;
  try {
    const res = await fetch(el.dataset.post, {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json", accept: "application/json", ...csrfHeaders() },
      body: JSON.stringify(body),
    });
    const answer = await res.json().catch(() => ({ error: `${res.status} ${res.statusText}` }));
    if (!res.ok || typeof answer.id !== "number") throw new Error(answer.error ?? `${res.status} ${res.statusText}`);
    location.assign(`${el.dataset.notebook}?run=${answer.id}`);
  } catch (err) {
    el.disabled = false;
    if (error) {
      error.textContent = String(err instanceof Error ? err.message : err).split("\n")[0];
      error.hidden = false;
    }
  }
}

function wireActions(root = document) {
  for (const form of root.querySelectorAll("form[data-post]")) {
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const params = paramsOf(form);
      void post(form, Object.keys(params).length > 0 ? { params } : {});
    });
  }
  for (const button of root.querySelectorAll("button[data-post]")) {
    button.addEventListener("click", () => void post(button, button.dataset.from ? { from: button.dataset.from } : {}));
  }
  for (const button of root.querySelectorAll("button[data-pause]")) button.addEventListener("click", () => void togglePause(button));
}

/** Pauses or unpauses a pipeline's schedule (the button's `data-pause` URL), then redraws the page with its new state. */
async function togglePause(button) {
  const error = document.querySelector("[data-action-error]");
  button.disabled = true;
  try {
    const res = await fetch(button.dataset.pause, {
      method: "POST",
      credentials: "same-origin",
      headers: { accept: "application/json", ...csrfHeaders() },
    });
    const answer = await res.json().catch(() => ({ error: `${res.status} ${res.statusText}` }));
    if (!res.ok) throw new Error(answer.error ?? `${res.status} ${res.statusText}`);
    location.reload();
  } catch (err) {
    button.disabled = false;
    if (error) {
      error.textContent = String(err instanceof Error ? err.message : err).split("\n")[0];
      error.hidden = false;
    }
  }
}

/** A notebook cell's stale mark as in `fresh`, its newer rendering: a run's new checkpoint may have cleared it. */
function markStale(el, fresh) {
  el.className = fresh.className;
  const mark = fresh.querySelector("[data-cell-stale]");
  const old = el.querySelector("[data-cell-stale]");
  if (mark) old ? old.replaceWith(document.adoptNode(mark)) : el.querySelector("[data-cell-badge]")?.after(document.adoptNode(mark));
  else old?.remove();
}

/**
 * The notebook's cells as the server now renders them (their source, stale marks, results), after the
 * pipeline's file changed: one request for the page, parsed inert, whose sections replace the old ones.
 */
async function refreshCells() {
  const res = await fetch(location.href, { headers: { accept: "text/html" } });
  if (!res.ok) return;
  const page = new DOMParser().parseFromString(await res.text(), "text/html");
  const old = [...document.querySelectorAll("section[data-cell]")];
  const fresh = [...page.querySelectorAll("section[data-cell]")].map((el) => document.adoptNode(el));
  if (old.length > 0) old[0].before(...fresh);
  else document.querySelector("main")?.append(...fresh);
  old.forEach((el) => el.remove());
  for (const el of fresh) wireActions(el);
}

/**
 * A notebook keeps one stream open for its pipeline, which also carries its runs' events (follow() reads
 * the shown run's from it): when the server reloads the pipeline's file (saved in an editor),
 * `pipeline_changed` redraws the cells, so stale marks appear without a reload. An idle stream sends
 * nothing, so nothing polls.
 */
function watchNotebook(pipeline) {
  const source = new EventSource(`/api/v1/events?pipeline=${encodeURIComponent(pipeline)}`);
  source.addEventListener("pipeline_changed", () => void refreshCells());
  // A run's end gives cells new checkpoints, so a stale mark may go: the cells are drawn again, unless the
  // page follows that run (follow() then redraws their results and marks itself).
  source.addEventListener("run", (e) => {
    const event = JSON.parse(e.data);
    if (!isGoing(event.state) && String(event.runId) !== following) void refreshCells();
  });
  return source;
}

/** The run this page follows live, if any. */
let following;

function start() {
  wireActions();
  const root = document.querySelector("[data-live-run]");
  const notebook = document.querySelector("[data-notebook-pipeline]");
  if (root && isGoing(root.dataset.runState ?? "")) following = root.dataset.liveRun;
  const shared = notebook ? watchNotebook(notebook.dataset.notebookPipeline) : undefined;
  if (following) follow(root, shared);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
