/**
 * The UI's one stylesheet, served by the UI router at `/ui/style.css` (a string here, so the server needs no
 * static folder and no build step). State colours are one class per state, `state-<state>`, used by badges,
 * run strips and timeline bars alike (as `fill` for the SVG ones). Pages carry no style attributes, so a CSP
 * without 'unsafe-inline' for styles holds: sizes and positions computed from data are SVG attributes.
 *
 * @example
 * ```ts
 * import { STYLE } from "./style.ts";
 *
 * STYLE.includes(".state-success"); // → true
 * ```
 */
import { CellState, RunState } from "../../kernel/mod.ts";

/** Every state a run or cell can show in, each with its colour variable below. */
const STATES = [...new Set<string>([...Object.values(RunState), ...Object.values(CellState)])];

export const STYLE = `
:root {
  --fg: #1f2328; --muted: #656d76; --line: #d8dee4; --bg: #f6f8fa; --card: #fff; --link: #0969da;
  --success: #1a7f37; --failed: #cf222e; --running: #0969da; --cached: #8c959f; --upstream_failed: #e16f24;
  --queued: #d0d7de; --waiting: #d0d7de; --up_for_retry: #d4a72c; --interrupted: #8250df; --cancelled: #6e7781;
  --mono: ui-monospace, SFMono-Regular, "DejaVu Sans Mono", Menlo, Consolas, monospace;
}
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.5 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--link); text-decoration: none; }
a:hover { text-decoration: underline; }
header.top { display: flex; align-items: center; gap: 24px; padding: 10px 24px; background: #24292f; color: #fff; }
header.top a { color: #fff; }
header.top .brand { font-weight: 600; font-size: 16px; }
header.top nav { display: flex; gap: 4px 18px; flex-wrap: wrap; }
header.top nav a { color: #c9d1d9; padding: 2px 0; border-bottom: 2px solid transparent; }
header.top nav a:hover { color: #fff; text-decoration: none; border-bottom-color: #8c959f; }
header.top nav a[aria-current="page"] { color: #fff; font-weight: 600; border-bottom-color: #fff; }
main { max-width: 1100px; margin: 0 auto; padding: 20px 24px 48px; }
h1 { font-size: 22px; margin: 4px 0 4px; }
h2 { font-size: 16px; margin: 0; }
.crumbs { color: var(--muted); font-size: 13px; }
.sub { color: var(--muted); margin: 0 0 16px; }
.muted { color: var(--muted); }
.small { font-size: 12px; }
th.strip-col { width: 350px; }
code, pre, .mono { font-family: var(--mono); font-size: 12.5px; }
table.list { width: 100%; border-collapse: collapse; background: var(--card); border: 1px solid var(--line); border-radius: 6px; overflow: hidden; }
table.list th, table.list td { text-align: left; padding: 8px 12px; border-bottom: 1px solid var(--line); vertical-align: middle; }
table.list th { background: var(--bg); font-weight: 600; font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: .03em; }
table.list tr:last-child td { border-bottom: 0; }
/* The cell a grid square opened the run page for. */
table.list tr.picked td { background: #ddf4ff; }
table.list tr.picked td:first-child { box-shadow: inset 3px 0 0 var(--link); }
table.list .num { text-align: right; font-variant-numeric: tabular-nums; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; color: #fff; white-space: nowrap; }
.badge.state-queued, .badge.state-waiting { color: var(--fg); }
` + STATES.map((s) => `.state-${s} { background: var(--${s}); fill: var(--${s}); }`).join("\n") + `
svg.strip { display: block; }
svg.strip a:hover rect { stroke: var(--fg); stroke-width: 2; }
.cell { background: var(--card); border: 1px solid var(--line); border-radius: 8px; margin: 0 0 16px; overflow: hidden; }
.cell > header { display: flex; align-items: center; gap: 10px; padding: 8px 14px; border-bottom: 1px solid var(--line); }
.cell > header .index { color: var(--muted); font-family: var(--mono); font-size: 12px; min-width: 2.5em; }
.cell > header .opts { margin-left: auto; display: flex; gap: 6px; flex-wrap: wrap; }
.opt { font-size: 12px; color: var(--muted); border: 1px solid var(--line); border-radius: 4px; padding: 0 6px; background: var(--bg); }
.cell pre.source { margin: 0; padding: 12px 14px; background: #fafbfc; overflow-x: auto; border-bottom: 1px solid var(--line); line-height: 1.45; }
.cell .result { padding: 10px 14px; }
.facts { display: flex; gap: 18px; flex-wrap: wrap; align-items: center; margin-bottom: 6px; }
.facts span b { font-weight: 600; }
.cell-log { margin-top: 10px; border: 1px solid var(--line); border-radius: 6px; overflow: hidden; }
.cell-log-head { display: flex; gap: 12px; align-items: baseline; padding: 3px 10px; background: var(--bg); border-bottom: 1px solid var(--line); font-size: 12px; color: var(--muted); }
.cell-log-head a.cell-logs { margin-left: auto; }
/* column-reverse: the scroll opens at its end, on the newest lines, and stays there as lines are added. */
.cell-log-scroll { max-height: 190px; overflow: auto; display: flex; flex-direction: column-reverse; }
.cell-log table.loglines td { padding: 1px 10px; }
.cell-log table.loglines tr:last-child td { border-bottom: 0; }
pre.error { margin: 6px 0; padding: 8px 10px; background: #ffebe9; border: 1px solid #ffcecb; border-radius: 6px; color: #82071e; white-space: pre-wrap; word-break: break-word; }
pre.error.earlier { background: #fff8f0; border-color: #f5d9b8; color: #7d4e00; }
pre.output { margin: 6px 0 0; padding: 8px 10px; background: var(--bg); border: 1px solid var(--line); border-radius: 6px; max-height: 260px; overflow: auto; white-space: pre-wrap; word-break: break-word; }
.runpick { display: flex; gap: 6px; flex-wrap: wrap; align-items: center; margin: 0 0 16px; }
.runpick a { padding: 2px 8px; border: 1px solid var(--line); border-radius: 12px; background: var(--card); font-size: 12px; color: var(--fg); display: inline-flex; gap: 5px; align-items: center; }
.runpick a.selected { border-color: var(--fg); font-weight: 600; }
button { font: inherit; font-size: 12px; padding: 2px 10px; border: 1px solid var(--line); border-radius: 6px; background: var(--card); color: var(--fg); cursor: pointer; }
button:hover { border-color: var(--link); color: var(--link); }
button:disabled { opacity: .5; cursor: progress; }
.actions { margin: 0 0 16px; }
.runform { display: flex; gap: 12px; flex-wrap: wrap; align-items: center; }
.runform button { background: var(--success); border-color: var(--success); color: #fff; font-weight: 600; padding: 4px 14px; }
.runform button:hover { color: #fff; filter: brightness(1.1); }
.param { font-size: 12px; color: var(--muted); font-family: var(--mono); }
.param input[type="text"], .param input[type="number"] { font: inherit; width: 9em; padding: 2px 6px; border: 1px solid var(--line); border-radius: 4px; color: var(--fg); }
.cell-actions { display: flex; gap: 6px; }
.cell.stale { border-color: #d4a72c; box-shadow: inset 4px 0 0 #d4a72c; }
.cell.stale pre.source { background: #fff8c5; }
.badge.stale { background: #fff8c5; color: #7d4e00; border: 1px solid #d4a72c; }
.badge.paused { background: #fff8c5; color: #7d4e00; border: 1px solid #d4a72c; margin-left: 6px; }
.schedule { display: inline-flex; align-items: center; gap: 6px; }
.schedule button.pause { font-family: system-ui, sans-serif; }
.reason { font-size: 12.5px; margin-top: 4px; }
.action-error { margin: 8px 0 0; padding: 6px 10px; background: #ffebe9; border: 1px solid #ffcecb; border-radius: 6px; color: #82071e; }
.action-error[hidden] { display: none; }
form.login { max-width: 360px; margin: 64px auto; padding: 24px 28px; background: #fff; border: 1px solid var(--line); border-radius: 8px; display: flex; flex-direction: column; gap: 14px; }
form.login h1 { margin: 0; font-size: 20px; }
form.login label { display: flex; flex-direction: column; gap: 6px; font-weight: 600; }
form.login input[type="password"] { padding: 8px 10px; font: inherit; border: 1px solid #d0d7de; border-radius: 6px; }
form.login button { align-self: flex-start; padding: 7px 16px; font: inherit; font-weight: 600; color: #fff; background: #1f883d; border: 0; border-radius: 6px; cursor: pointer; }
form.login p.error { margin: 0; padding: 6px 10px; background: #ffebe9; border: 1px solid #ffcecb; border-radius: 6px; color: #82071e; }
h1 .live-status { font-size: 14px; font-weight: 400; }
.dot { width: 8px; height: 8px; border-radius: 50%; display: inline-block; }
.timeline { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; margin: 0 0 20px; }
.tl-row { display: grid; grid-template-columns: 180px 1fr; align-items: center; gap: 10px; height: 24px; }
.tl-name { font-family: var(--mono); font-size: 12px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
svg.tl-track { display: block; width: 100%; height: 14px; background: var(--bg); border-radius: 3px; }
.tl-axis { display: flex; justify-content: space-between; margin-left: 190px; color: var(--muted); font-size: 11px; }
.logs { background: var(--card); border: 1px solid var(--line); border-radius: 8px; margin: 20px 0 0; overflow: hidden; }
.logs > header { display: flex; align-items: baseline; gap: 12px; padding: 8px 14px; border-bottom: 1px solid var(--line); }
.logs .pager { margin-left: auto; display: flex; gap: 14px; }
.logscroll { max-height: 420px; overflow: auto; }
form.logfilter { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 14px; padding: 6px 14px; border-bottom: 1px solid var(--line); background: var(--bg); font-size: 12px; color: var(--muted); }
form.logfilter select { font: inherit; color: var(--fg); padding: 1px 4px; border: 1px solid var(--line); border-radius: 4px; background: var(--card); }
form.logfilter label.check { display: inline-flex; align-items: center; gap: 4px; }
.chunks { display: inline-flex; align-items: center; gap: 6px; margin-left: 8px; font-size: 12px; color: var(--muted); white-space: nowrap; }
.chunks progress { width: 90px; height: 8px; accent-color: var(--running); }
table.loglines { width: 100%; border-collapse: collapse; font-family: var(--mono); font-size: 12px; }
table.loglines td { padding: 2px 10px; vertical-align: top; border-bottom: 1px solid #f0f2f4; }
table.loglines td.ts, table.loglines td.lcell, table.loglines td.level { white-space: nowrap; color: var(--muted); }
table.loglines td.msg { white-space: pre-wrap; word-break: break-word; width: 100%; }
tr.level-warn td.level { color: #9a6700; font-weight: 600; } tr.level-error td.level, tr.level-error td.msg { color: var(--failed); }
table.grid { border-collapse: separate; border-spacing: 3px; background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 8px; }
table.grid th { font-size: 11px; font-weight: 500; padding: 0 2px 4px; text-align: center; vertical-align: bottom; }
table.grid th .runbar { display: block; height: 4px; border-radius: 2px; margin-top: 2px; }
table.grid td.mono { padding-right: 12px; font-size: 12px; text-align: left; max-width: 18em; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
/* The cell names stay in view while a wide grid scrolls sideways. */
table.grid td.mono, table.grid thead th:first-child { position: sticky; left: 0; background: var(--card); z-index: 1; }
table.grid td { text-align: center; }
.sq { display: inline-block; width: 18px; height: 18px; border-radius: 3px; vertical-align: middle; }
a.sq:hover { outline: 2px solid var(--fg); outline-offset: 1px; }
.sq.none { background: transparent; border: 1px dashed var(--line); }
.scroll-x { overflow-x: auto; max-width: 100%; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 14px; margin: 8px 0 0; font-size: 12px; color: var(--muted); }
.legend .swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 5px; vertical-align: -1px; }
div.sample { margin-top: 6px; overflow-x: auto; border: 1px solid var(--line); border-radius: 6px; width: fit-content; max-width: 100%; }
table.sample { border-collapse: collapse; font-family: var(--mono); font-size: 12px; }
table.sample th, table.sample td { padding: 3px 10px; border-bottom: 1px solid var(--line); text-align: left; white-space: nowrap; max-width: 420px; overflow: hidden; text-overflow: ellipsis; }
table.sample th { background: var(--bg); font-weight: 600; }
table.sample th .type { color: var(--muted); font-weight: 400; margin-left: 6px; }
table.sample tr:last-child td { border-bottom: 0; }
.notfound { padding: 48px 0; font-size: 16px; }
.empty { padding: 24px; text-align: center; color: var(--muted); background: var(--card); border: 1px dashed var(--line); border-radius: 8px; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: 14px; margin: 0 0 16px; }
figure.chart { margin: 0; padding: 10px 12px 6px; background: var(--card); border: 1px solid var(--line); border-radius: 8px; min-width: 0; }
figure.chart figcaption { font-weight: 600; font-family: var(--mono); margin-bottom: 4px; }
figure.chart .plot { min-height: 200px; }
figure.chart .u-legend { font-size: 11px; text-align: left; }
figure.chart .u-legend .u-series > * { padding: 1px 3px; }
figure.chart .u-legend .u-label { font-weight: 500; }
figure.chart .u-legend .u-series:first-child { display: none; }
section.verdict h2 { margin: 0 0 2px; display: flex; gap: 8px; align-items: center; }
section.verdict h2.fell { margin: 20px 0 8px; }
table.verdict-table tr.result-fail td { background: #fff5f5; }
table.verdict-table tr.result-fail .verdict-result { color: var(--failed); font-weight: 700; }
table.verdict-table tr.result-pass .verdict-result { color: var(--success); }
table.verdict-table tr.result-new .verdict-result { color: var(--muted); }
section.compared { margin-top: 24px; }
section.compared h2 { margin: 0 0 2px; }
table.compare-table td.best { font-weight: 700; }
table.compare-table th.metric { text-transform: none; } /* nDCG@10, not NDCG@10 */
table.compare-table .badge { margin-left: 8px; background: var(--fg); }
/* costs, devices, search */
nav.tabs { display: flex; gap: 6px; flex-wrap: wrap; align-items: center; margin: 0 0 10px; }
nav.tabs .tab { padding: 2px 10px; border: 1px solid var(--line); border-radius: 12px; background: var(--card); font-size: 12px; font-family: var(--mono); color: var(--fg); }
nav.tabs .tab.selected { border-color: var(--fg); }
nav.tabs .tabs-label { color: var(--muted); font-size: 12px; min-width: 5.5em; }
.cost-chart { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px 6px; margin: 0 0 16px; min-height: 300px; }
.cost-chart .u-legend { font-size: 12px; text-align: left; }
table.list tr.total td { font-weight: 600; background: var(--bg); }
.devices-summary { display: flex; gap: 22px; flex-wrap: wrap; margin: 0 0 12px; }
svg.bar { vertical-align: middle; }
svg.bar .bar-bg { fill: var(--line); }
svg.bar .bar-fill { fill: var(--running); }
table.devices tr.removed td { color: var(--muted); }
table.devices .opt { margin-left: 8px; }
section.workers { margin-top: 28px; }
section.workers h2 { margin: 0 0 10px; }
table.devices td.meter { white-space: nowrap; }
form.searchform { display: flex; gap: 12px; flex-wrap: wrap; align-items: center; margin: 0 0 16px; }
form.searchform input[type=search] { flex: 1 1 360px; font: inherit; padding: 5px 10px; border: 1px solid var(--line); border-radius: 6px; }
form.searchform select, form.searchform input[type=number] { font: inherit; font-size: 13px; padding: 2px 6px; border: 1px solid var(--line); border-radius: 6px; background: var(--card); }
form.searchform input[type=number] { width: 5em; }
form.searchform button { padding: 5px 16px; font-size: 13px; background: var(--link); border-color: var(--link); color: #fff; font-weight: 600; }
form.searchform button:hover { color: #fff; filter: brightness(1.1); }
table.hits td.score { white-space: nowrap; }
table.hits td.score svg { margin-left: 8px; }
.hit-title { font-weight: 600; word-break: break-word; }
.json-tree { margin: 6px 0 0; padding: 6px 10px; background: var(--bg); border: 1px solid var(--line); border-radius: 6px; max-height: 260px; overflow: auto; font-family: var(--mono); font-size: 12.5px; }
.json-tree ul { list-style: none; margin: 0; padding: 0 0 0 18px; }
.json-tree summary { cursor: pointer; }
.json-tree .j-key { color: #953800; }
.json-tree .j-string { color: #0a3069; word-break: break-word; }
.json-tree .j-number, .json-tree .j-boolean { color: #0550ae; }
.json-tree .j-null, .json-tree .j-shape { color: var(--muted); }
.json-tree .j-vector { color: #8250df; }
/* long names and messages: break them rather than widen the page */
h1, .crumbs, .cell > header h2, table.list td:first-child, .hit-title { overflow-wrap: anywhere; }
button, table.list th, table.list .num, .when, .runpick a, .schedule { white-space: nowrap; }
table.list td.errors { min-width: 18em; }
table.loglines td.lcell { max-width: 16em; overflow: hidden; text-overflow: ellipsis; }
form.logfilter select { max-width: 16em; }
.cell > header { flex-wrap: wrap; row-gap: 6px; }
.cell > header h2 { min-width: 0; }
.notfound-box { padding: 40px 0; }
.notfound-box .notfound { padding: 10px 14px; margin: 0 0 12px; background: var(--card); border: 1px solid var(--line); border-left: 4px solid var(--failed); border-radius: 6px; }
/* narrow screens (a phone): tables scroll inside their box, the page itself never sideways */
@media (max-width: 720px) {
  header.top { flex-wrap: wrap; gap: 2px 16px; padding: 8px 12px; }
  header.top nav { gap: 2px 14px; }
  main { padding: 14px 12px 32px; }
  h1 { font-size: 19px; }
  table.list { display: block; overflow-x: auto; }
  table.list td:first-child:not(.num) { min-width: 9em; }
  table.grid td.mono { max-width: 9em; }
  .cell > header .opts { margin-left: 0; }
  .cell > header .cell-actions { margin-left: auto; }
  .tl-row { grid-template-columns: 90px 1fr; }
  .tl-axis { margin-left: 100px; }
  table.loglines tr { display: flex; flex-wrap: wrap; }
  table.loglines td.msg { flex-basis: 100%; padding-left: 18px; }
  table.loglines td { border-bottom: 0; }
  table.loglines tr { border-bottom: 1px solid #f0f2f4; }
  .devices-summary { gap: 4px 16px; }
}
/* highlight.js, GitHub's light palette */
.hljs-keyword, .hljs-meta .hljs-keyword, .hljs-built_in { color: #cf222e; }
.hljs-title, .hljs-title.function_ { color: #8250df; }
.hljs-string, .hljs-regexp, .hljs-template-string { color: #0a3069; }
.hljs-number, .hljs-literal, .hljs-attr, .hljs-variable.language_ { color: #0550ae; }
.hljs-comment { color: #6e7781; font-style: italic; }
.hljs-type, .hljs-title.class_ { color: #953800; }
.hljs-params { color: #24292f; }
`;
