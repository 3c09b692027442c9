// The grid page over a store of 1,000 runs × 50 cells. Prints one JSON object per result. Node only.
//
//   npx tsx bench/server-grid.bench.ts [--runs 1000] [--repeats 20] [--db <path>]
//
// The store is made through the facade (1,000 runs of a 50-cell pipeline, cache off, every 20th failing at
// cell 37), or reused when --db names one that exists; `cellar serve` serves it in a process of its own.
// (a) server time: request to last byte over 127.0.0.1 of /pipelines/grid/grid?runs=1000 (50,000 squares),
//     median and p90 of --repeats GETs after one warm-up; target ≤ 300 ms. Beside it, in the same run, the
//     default 25-run grid and /healthz (the reference: what the machine's noise and the HTTP stack cost).
// (b) first paint in Chromium of the 1,000-run grid (first-contentful-paint from the page's paint entries,
//     a fresh browser context each time, so nothing is cached); target ≤ 1 s. The page is streamed, so that
//     first paint is its frame and heading; DOMContentLoaded beside it is when all 50,000 links were parsed.
// (c) requests per click: a square clicked on the loaded grid, the requests the browser made until the run
//     page was loaded and idle, and those that reached the server (the rest came from its cache); target 1.
import { type Browser, chromium } from "playwright-core";
import { arg, GRID_CELLS, GRID_PIPELINE, gridStore, serveProcess, summary } from "./server-store.ts";

const RUNS = Number(arg("runs") ?? 1000);
const REPEATS = Number(arg("repeats") ?? 20);
const PAINTS = 9;
const CHROMIUM_ARGS = [
  "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
  "--disable-sync", "--no-first-run",
];

/** Request to last byte, `REPEATS` times after one warm-up; the body's size. */
async function timeGets(url: string): Promise<{ times: number[]; bytes: number }> {
  let bytes = 0;
  const times: number[] = [];
  for (let i = 0; i <= REPEATS; i++) {
    const t0 = performance.now();
    const res = await fetch(url);
    const body = await res.text();
    if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${body.slice(0, 200)}`);
    if (i > 0) times.push(performance.now() - t0);
    bytes = Buffer.byteLength(body);
  }
  return { times, bytes };
}

async function paints(browser: Browser, url: string): Promise<{ fcp: number[]; dcl: number[]; load: number[] }> {
  const out = { fcp: [] as number[], dcl: [] as number[], load: [] as number[] };
  for (let i = 0; i < PAINTS; i++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await page.goto(url, { waitUntil: "load" });
    // A small page can reach its load event before its first paint is recorded: wait for the entry.
    const t = await page.evaluate(() =>
      new Promise<{ fcp: number; dcl: number; load: number }>((resolve) => {
        new PerformanceObserver((list) => {
          const fcp = list.getEntriesByName("first-contentful-paint")[0];
          const nav = performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming;
          if (fcp) resolve({ fcp: fcp.startTime, dcl: nav.domContentLoadedEventEnd, load: nav.loadEventEnd });
        }).observe({ type: "paint", buffered: true });
      })
    );
    out.fcp.push(t.fcp), out.dcl.push(t.dcl), out.load.push(t.load);
    await context.close();
  }
  return out;
}

/**
 * Clicks a square of the loaded grid (the middle run, the middle cell) and counts what the browser asked for
 * until the run page loaded (Chromium's network events), and which of those went to the server rather than
 * to its cache (requestServedFromCache, or a response from the disk cache).
 */
async function click(browser: Browser, url: string): Promise<Record<string, unknown>> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  await page.goto(url, { waitUntil: "networkidle" });
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  // Each request, by id: what it asked for, and when (ms from here); only those after the click count.
  const asked = new Map<string, { what: string; at: number }>();
  const t0 = performance.now();
  const cached = new Set<string>();
  cdp.on("Network.requestWillBeSent", (e) =>
    asked.set(e.requestId, { what: `${new URL(e.request.url).pathname} (${e.type ?? "?"} of ${new URL(e.documentURL).pathname})`, at: performance.now() - t0 }));
  cdp.on("Network.requestServedFromCache", (e) => cached.add(e.requestId));
  cdp.on("Network.responseReceived", (e) => e.response.fromDiskCache && cached.add(e.requestId));
  const square = page.locator(`tbody tr:nth-child(${GRID_CELLS / 2}) td:nth-child(${Math.floor(RUNS / 2)}) a.sq`);
  const href = await square.getAttribute("href");
  const clickAt = Math.round(performance.now() - t0);
  await square.click();
  // grid.js adds the square's cell to its link as it is clicked: the run page opens on that cell.
  await page.waitForURL(`**${href}?cell=*`, { waitUntil: "networkidle" });
  const ms = performance.now() - t0 - clickAt;
  const opened = new URL(page.url());
  await context.close();
  // The grid's own late requests (its favicon) came before the click.
  const after = [...asked].filter(([, r]) => r.at >= clickAt);
  const network = after.filter(([id]) => !cached.has(id)).map(([, r]) => r.what);
  return {
    clicked: href,
    opened: opened.pathname + opened.search,
    requests_per_click: after.length,
    requests: after.map(([, r]) => r.what),
    network_requests_per_click: network.length,
    network_requests: network,
    click_to_network_idle_ms: Math.round(ms),
  };
}

const store = await gridStore(RUNS, arg("db"));
const server = await serveProcess(store);
let browser: Browser | undefined;
try {
  const gridUrl = `${server.url}/pipelines/${GRID_PIPELINE}/grid?runs=${RUNS}`;
  const healthz = await timeGets(`${server.url}/healthz`);
  const small = await timeGets(`${server.url}/pipelines/${GRID_PIPELINE}/grid`);
  const big = await timeGets(gridUrl);
  const big_ = summary(big.times);
  const ref = summary(healthz.times);
  console.log(JSON.stringify({
    bench: "server_grid_page",
    runtime: "node",
    server: "startServer (what cellar serve starts), a separate process; client: fetch over 127.0.0.1, request to last byte",
    runs: RUNS,
    cells: GRID_CELLS,
    store_build_ms: store.buildMs,
    store_build: store.buildMs === null ? `reused ${store.db}` : "through the facade: cellar.run(cache: false), one run after another",
    repeats: REPEATS,
    grid_1000: { ...big_, bytes: big.bytes },
    grid_25: { ...summary(small.times), bytes: small.bytes },
    healthz_reference: ref,
    grid_over_healthz_median: Math.round((big_.median_ms / ref.median_ms) * 10) / 10,
    target_ms: 300,
  }));
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
  const p = await paints(browser, gridUrl);
  const p25 = await paints(browser, `${server.url}/pipelines/${GRID_PIPELINE}/grid`);
  console.log(JSON.stringify({
    bench: "server_grid_first_paint",
    browser: `chromium ${browser.version()}`,
    runs: RUNS,
    cells: GRID_CELLS,
    fresh_contexts: PAINTS,
    first_contentful_paint: summary(p.fcp),
    dom_content_loaded: summary(p.dcl),
    load: summary(p.load),
    grid_25_first_contentful_paint: summary(p25.fcp),
    target_ms: 1000,
  }));
  console.log(JSON.stringify({ bench: "server_grid_click", runs: RUNS, ...(await click(browser, gridUrl)), target_requests: 1 }));
} finally {
  await browser?.close();
  await server.close();
}
