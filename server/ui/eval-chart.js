// The Eval page's charts, served at /ui/eval-chart.js (a static file: the CSP allows no inline script). Each
// `[data-chart]` element holds its data as JSON (oldest run first): the metric's value per run, the baseline
// that run was gated against and its threshold (baseline − allowed drop). uPlot (loaded before this, from
// /ui/vendor/uplot.js) draws them; a click on a point opens that run's verdict. The baseline and threshold
// are steps, each run's value a level across its whole column (drawn in markRuns): as lines through one
// point per run, the usual history of a first run without a baseline and a second with one showed them as a
// single invisible point. A run without a baseline leaves a gap in the steps rather than a made-up value.
"use strict";

const COLORS = { value: "#0969da", baseline: "#656d76", threshold: "#cf222e", fail: "#cf222e" };
/** The step series: their index in the chart's series, their colour and dash (CSS pixels). */
const STEPS = [
  { series: 2, key: "baseline", color: COLORS.baseline, dash: [6, 4] },
  { series: 3, key: "threshold", color: COLORS.threshold, dash: [2, 3] },
];

function draw(el) {
  const d = JSON.parse(el.dataset.chart);
  const xs = d.runs.map((_, i) => i);
  const label = (i) => (Number.isInteger(i) && d.runs[i] !== undefined ? `#${d.runs[i]}` : "");
  const fixed = (v) => (v === null || v === undefined ? "–" : v.toFixed(4));
  const all = [...d.values, ...d.baseline, ...d.threshold].filter((v) => v !== null);
  const lo = Math.min(...all);
  const hi = Math.max(...all);
  // Some room around the lines, so a flat series (or one run's point) is not drawn on the frame.
  const pad = Math.max((hi - lo) * 0.15, 0.02);
  const opts = {
    width: Math.max(el.clientWidth, 240),
    height: 200,
    legend: { live: true },
    cursor: { points: { size: 8 }, drag: { x: false, y: false } },
    scales: {
      x: { time: false, range: [-0.5, Math.max(xs.length - 0.5, 0.5)] },
      y: { range: [Math.max(0, lo - pad), Math.min(1, hi + pad)] },
    },
    axes: [
      { values: (_u, splits) => splits.map(label), incrs: [1, 2, 5, 10, 20, 50], grid: { stroke: "#eaeef2" } },
      // As many decimals as the ticks' step needs, so that no two ticks read the same.
      { values: (_u, splits) => splits.map((v) => v.toFixed(decimals(splits))), size: 48, grid: { stroke: "#eaeef2" } },
    ],
    series: [
      { label: "run", value: (_u, i) => label(i) },
      {
        label: "value",
        stroke: COLORS.value,
        width: 2,
        // The legend hides the x series (to fit one line): the hovered run is named here instead.
        value: (_u, v, _si, i) => (i === null || i === undefined ? "–" : `${fixed(v)} (${label(i)})`),
        points: { show: true, size: 7, fill: COLORS.value, stroke: COLORS.value },
      },
      // Their data is given to uPlot as gaps (it would draw lines between points); the legend reads d's.
      ...STEPS.map((s) => ({
        label: s.key, stroke: s.color, width: 1.5, dash: s.dash, points: { show: false },
        value: (_u, _v, _si, i) => (i === null || i === undefined ? "–" : fixed(d[s.key][i])),
      })),
    ],
    hooks: {
      draw: [(u) => markRuns(u, d)],
      // Until the cursor moves, the legend shows the selected run's values rather than dashes.
      ready: [(u) => d.selected >= 0 && u.setLegend({ idx: d.selected })],
    },
  };
  const gaps = xs.map(() => null);
  const chart = new uPlot(opts, [xs, d.values, gaps, gaps], el);
  chart.over.addEventListener("click", () => {
    const i = chart.cursor.idx;
    if (i !== null && i !== undefined && d.runs[i] !== undefined) location.assign(d.href + d.runs[i]);
  });
  el.dataset.drawn = String(xs.length);
  return chart;
}

/** Decimals for the y ticks: two, or as many more as their step has (0.025 apart: three; four at most). */
function decimals(splits) {
  const step = splits.length > 1 ? Math.abs(splits[1] - splits[0]) : 0.01;
  for (let d = 2; d < 4; d++) if (Math.abs(Math.round(step * 10 ** d) - step * 10 ** d) < 1e-6) return d;
  return 4;
}

/** A point whose metric failed its gate ringed red, and the selected run's column shaded: what the verdict below shows. */
function markRuns(u, d) {
  const ctx = u.ctx;
  const { top, height } = u.bbox;
  ctx.save();
  if (d.selected >= 0) {
    const x = u.valToPos(d.selected, "x", true);
    ctx.fillStyle = "rgba(9, 105, 218, 0.08)";
    const w = Math.max(12, u.bbox.width / Math.max(d.runs.length, 1) * 0.6);
    ctx.fillRect(x - w / 2, top, w, height);
  }
  drawSteps(u, d);
  ctx.setLineDash([]);
  ctx.lineWidth = 2 * devicePixelRatio;
  ctx.strokeStyle = COLORS.fail;
  d.values.forEach((v, i) => {
    if (v === null || !d.failed[i]) return;
    ctx.beginPath();
    ctx.arc(u.valToPos(i, "x", true), u.valToPos(v, "y", true), 6 * devicePixelRatio, 0, 2 * Math.PI);
    ctx.stroke();
  });
  ctx.restore();
}

/** The baseline and threshold as steps: a level across each run's column, joined where the next run's differs. */
function drawSteps(u, d) {
  const ctx = u.ctx;
  ctx.lineWidth = 1.5 * devicePixelRatio;
  for (const s of STEPS) {
    // A series hidden from its legend entry is not drawn.
    if (!u.series[s.series].show) continue;
    ctx.strokeStyle = s.color;
    ctx.setLineDash(s.dash.map((n) => n * devicePixelRatio));
    ctx.beginPath();
    let joined = false;
    d[s.key].forEach((v, i) => {
      if (v === null || v === undefined) return void (joined = false);
      const y = u.valToPos(v, "y", true);
      const x0 = u.valToPos(i - 0.5, "x", true);
      joined ? ctx.lineTo(x0, y) : ctx.moveTo(x0, y);
      ctx.lineTo(u.valToPos(i + 0.5, "x", true), y);
      joined = true;
    });
    ctx.stroke();
  }
}

document.addEventListener("DOMContentLoaded", () => {
  if (typeof uPlot !== "function") return;
  const charts = [...document.querySelectorAll("[data-chart]")].map((el) => ({ el, chart: draw(el) }));
  // The charts follow their column's width.
  addEventListener("resize", () => {
    for (const { el, chart } of charts) chart.setSize({ width: Math.max(el.clientWidth, 240), height: 200 });
  });
});
