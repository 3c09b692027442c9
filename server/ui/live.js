// The notebook UI's one client script, served at /ui/live.js (a static file: the CSP allows no inline script).
// Two jobs:
// - live updates: on a page whose run is still going (`[data-live-run]`), an EventSource on /api/v1/events
//   updates each cell's badge, tries and duration in place, and says when the run ended, then closes. A page
//   showing no running run opens no connection, so nothing polls while nothing runs;
// - the buttons: `form[data-post]` and `button[data-post]` POST JSON to the API, then open the notebook at
//   `?run=<new id>`. A failed request's one-line error is shown as text.
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

/** The run as the API has it: once when the stream opens (what happened before it) and once at the end. */
async function sync(root, runId) {
  const res = await fetch(`/api/v1/runs/${runId}`, { headers: { accept: "application/json" } });
  if (!res.ok) return undefined;
  const detail = await res.json();
  for (const c of detail.cells) applyCell(c.cell, { state: c.state, tries: c.tries, durationMs: c.durationMs, cachedFrom: c.cachedFrom });
  applyRun(root, detail.state);
  return detail.state;
}

/**
 * At the end of a run, each notebook cell's result (facts, error, output preview), or the run page's whole
 * content, as the server now renders it: one request for the page, parsed inert by DOMParser, whose
 * escaped nodes replace the old ones.
 */
async function refreshResults() {
  const res = await fetch(location.href, { headers: { accept: "text/html" } });
  if (!res.ok) return;
  const page = new DOMParser().parseFromString(await res.text(), "text/html");
  const main = page.querySelector("main");
  // The run page has no buttons to keep: its timeline, cells and logs are taken whole.
  if (!document.querySelector("section[data-cell]") && main) return document.querySelector("main")?.replaceWith(document.adoptNode(main));
  for (const fresh of page.querySelectorAll("section[data-cell]")) {
    const el = cellOf(fresh.dataset.cell);
    if (!el || el.tagName !== "SECTION") continue;
    const next = fresh.querySelector(".result");
    const old = el.querySelector(".result");
    if (next) old ? old.replaceWith(document.adoptNode(next)) : el.append(document.adoptNode(next));
  }
}

function follow(root) {
  const runId = root.dataset.liveRun;
  const source = new EventSource(`/api/v1/events?run=${encodeURIComponent(runId)}`);
  const end = () => {
    source.close();
    void sync(root, runId).then(async (state) => {
      await refreshResults();
      // The run page's header was replaced with the rest: say again that the run ended.
      const now = document.querySelector("[data-live-run]");
      if (now && state) applyRun(now, state);
    });
  };
  source.addEventListener("open", () => void sync(root, runId).then((state) => state && !isGoing(state) && end()), { once: true });
  source.addEventListener("cell", (e) => {
    const event = JSON.parse(e.data);
    const facts = { state: event.state };
    if (event.tryNumber > 0) facts.tries = event.tryNumber;
    if (event.ms !== undefined) facts.durationMs = event.ms;
    applyCell(event.cell, facts);
  });
  source.addEventListener("run", (e) => {
    const event = JSON.parse(e.data);
    applyRun(root, event.state);
    if (!isGoing(event.state)) end();
  });
  source.addEventListener("missed", () => void sync(root, runId));
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

function wireActions() {
  for (const form of document.querySelectorAll("form[data-post]")) {
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const params = paramsOf(form);
      void post(form, Object.keys(params).length > 0 ? { params } : {});
    });
  }
  for (const button of document.querySelectorAll("button[data-post]")) {
    button.addEventListener("click", () => void post(button, button.dataset.from ? { from: button.dataset.from } : {}));
  }
}

function start() {
  wireActions();
  const root = document.querySelector("[data-live-run]");
  if (root && isGoing(root.dataset.runState ?? "")) follow(root);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
