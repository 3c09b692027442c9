// The costs page's chart, served at /ui/costs.js after uPlot (/ui/uplot.js): a static file, as the CSP allows
// no inline script. It reads the series from the chart element's data-cost-chart attribute (JSON the server
// wrote, escaped as an attribute) and draws one line per pipeline · cell over the days of the window.
"use strict";

const COLOURS = ["#0969da", "#1a7f37", "#cf222e", "#8250df", "#d4a72c", "#e16f24", "#0a7e8c", "#6e7781", "#bf3989", "#57606a"];

function drawCosts(el) {
  const data = JSON.parse(el.dataset.costChart);
  if (data.series.length === 0) return;
  const day = 86400;
  const first = data.x[0];
  const last = data.x[data.x.length - 1];
  const opts = {
    width: Math.max(320, el.clientWidth),
    height: 280,
    // A day's margin each side, so today's point is not drawn on the edge.
    scales: { x: { time: true, range: () => [first - day, last + day] }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
    axes: [{}, { label: data.resource, size: 70 }],
    series: [
      { label: "Day", value: (_u, v) => (v === null ? "–" : new Date(v * 1000).toISOString().slice(0, 10)) },
      ...data.series.map((s, i) => ({
        label: s.name,
        stroke: COLOURS[i % COLOURS.length],
        width: 2,
        points: { show: true, size: 9, fill: COLOURS[i % COLOURS.length] },
        spanGaps: false,
        value: (_u, v) => (v === null ? "–" : Number.isInteger(v) ? String(v) : v.toFixed(3)),
      })),
    ],
  };
  el.replaceChildren();
  const chart = new uPlot(opts, [data.x, ...data.series.map((s) => s.values)], el);
  el.dataset.drawn = "";
  addEventListener("resize", () => chart.setSize({ width: Math.max(320, el.clientWidth), height: 280 }));
}

function startCosts() {
  for (const el of document.querySelectorAll("[data-cost-chart]")) drawCosts(el);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", startCosts);
else startCosts();
