// Opening a page of a 1,000,000-line log. Prints one JSON object per result. Node only.
//
//   npx tsx bench/server-log.bench.ts [--lines 1000000] [--repeats 20]
//
// The store: one run of a one-cell pipeline through the facade (its first try fails, its second succeeds, and
// it logs as it goes), then its log grown to --lines lines for that cell by SQL, numbered on from the
// writer's last seq (what a cell logging a million lines leaves, without the minutes it takes to log them).
// (a) before the server opens the file, in this process: the queries themselves, median of --repeats: the
//     reference `SELECT count(*)` of the run's lines, the OFFSET query the run page used before (ORDER BY ts,
//     cell, rowid LIMIT 201 OFFSET 900,000: a page 90% down), and the keyset page that replaced it;
// (b) server time, request to last byte over 127.0.0.1, of `cellar serve` in a process of its own: the run
//     page (its first log page), its newest page (?tail=1), a page 90% down (?after=), that page filtered to
//     warnings, the notebook (each cell's log tail) and the run's API detail, and the same pages of
//     GET /api/v1/runs/{id}/logs; median and p90 after one warm-up, and each
//     over the deep OFFSET query of (a). Target ≤ 200 ms.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { cellLogTails } from "../kernel/cell-log-tails.ts";
import { openCellar, type Pipeline } from "../kernel/mod.ts";
import { Store } from "../kernel/store/store.ts";
import { arg, serveProcess, summary, writePipelineFile } from "./server-store.ts";

const LINES = Number(arg("lines") ?? 1_000_000);
const REPEATS = Number(arg("repeats") ?? 20);
const DEEP = Math.floor(LINES * 0.9);

const SOURCE = `export default pipeline({ id: "biglog" })
  .cell("spew", { retries: 1, retryDelay: "1ms" }, (ctx) => {
    for (let i = 0; i < 500; i++) ctx.log.info("part " + i + " of try " + ctx.tryNumber);
    if (ctx.tryNumber === 1) throw new Error("spew: the first try fails");
    return 1;
  });
`;

async function time(times: number, body: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i <= times; i++) {
    const t0 = performance.now();
    await body();
    if (i > 0) out.push(performance.now() - t0);
  }
  return out;
}

/** The store with one run whose cell logged `LINES` lines over two tries; the run's id and a seq 90% down. */
async function bigLogStore(): Promise<{ db: string; pipelines: string; runId: number; deepSeq: number; buildMs: number }> {
  const dir = mkdtempSync(join(tmpdir(), "cellar-log-bench-"));
  const pipelines = join(dir, "pipelines");
  const file = writePipelineFile(pipelines, "biglog", SOURCE);
  const db = join(dir, "cellar.duckdb");
  const t0 = performance.now();
  const cellar = openCellar({ db });
  let runId: number;
  try {
    runId = (await cellar.run((await import(pathToFileURL(file).href)).default as Pipeline)).runId;
  } finally {
    await cellar.close();
  }
  const store = await Store.open(db);
  try {
    const [{ last, ts, n }] = await store.query(`SELECT max(seq)::BIGINT AS last, max(ts) AS ts, count(*)::BIGINT AS n FROM logs WHERE run_id = ?`, [runId]);
    // Lines on the second try, after those it logged; a warning every 97 lines, an error every 1,000.
    await store.query(
      `INSERT INTO logs (run_id, cell, try_number, ts, level, message, seq)
       SELECT ?, 'spew', 2, ?::TIMESTAMPTZ + to_microseconds(i * 10),
         CASE WHEN i % 1000 = 999 THEN 'error' WHEN i % 97 = 96 THEN 'warn' ELSE 'info' END,
         'loaded part ' || i || ' of the big input: ' || repeat('x', (i % 40)::INT), ? + 1 + i
       FROM range(?) t(i)`,
      [runId, (ts as Date).toISOString(), Number(last), LINES - Number(n)],
    );
    const [{ seq }] = await store.query(`SELECT seq FROM logs WHERE run_id = ? ORDER BY seq LIMIT 1 OFFSET ${DEEP}`, [runId]);
    return { db, pipelines, runId, deepSeq: Number(seq), buildMs: Math.round(performance.now() - t0) };
  } finally {
    await store.close();
  }
}

/** (a): the queries in this process, before the server takes the file. */
async function queries(db: string, runId: number, deepSeq: number): Promise<Record<string, ReturnType<typeof summary>>> {
  const store = await Store.open(db);
  try {
    const [{ n }] = await store.query(`SELECT count(*)::BIGINT AS n FROM logs WHERE run_id = ?`, [runId]);
    if (Number(n) !== LINES) throw new Error(`the run has ${n} lines; expected ${LINES}`);
    return {
      count_star_reference: summary(await time(REPEATS, () => store.query(`SELECT count(*) FROM logs WHERE run_id = ?`, [runId]))),
      old_offset_page_90pct: summary(await time(REPEATS, () =>
        store.query(`SELECT ts, cell, try_number, level, message FROM logs WHERE run_id = ? ORDER BY ts, cell, rowid LIMIT 201 OFFSET ${DEEP}`, [runId]))),
      keyset_page_90pct: summary(await time(REPEATS, () =>
        store.query(`SELECT seq, ts, cell, try_number, level, message FROM logs WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT 201`, [runId, deepSeq]))),
      // What the notebook shows under each cell: the last 20 lines of its latest try, every cell at once.
      cell_log_tails_20: summary(await time(REPEATS, () => cellLogTails(store, runId, { lines: 20 }))),
    };
  } finally {
    await store.close();
  }
}

async function timeGets(url: string): Promise<{ summary: ReturnType<typeof summary>; bytes: number }> {
  let bytes = 0;
  const times = await time(REPEATS, async () => {
    const res = await fetch(url);
    const body = await res.text();
    if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${body.slice(0, 200)}`);
    bytes = Buffer.byteLength(body);
  });
  return { summary: summary(times), bytes };
}

const built = await bigLogStore();
const direct = await queries(built.db, built.runId, built.deepSeq);
const offset = direct.old_offset_page_90pct.median_ms;
console.log(JSON.stringify({
  bench: "log_queries",
  runtime: "node",
  lines: LINES,
  store_build_ms: built.buildMs,
  store_build: "one run through the facade (500 lines a try), then its log grown by INSERT … SELECT range()",
  repeats: REPEATS,
  ...direct,
  offset_over_keyset_median: Math.round((offset / direct.keyset_page_90pct.median_ms) * 10) / 10,
}));
const server = await serveProcess(built);
try {
  const run = `${server.url}/runs/${built.runId}`;
  const api = `${server.url}/api/v1/runs/${built.runId}/logs`;
  const pages: Record<string, string> = {
    run_page_first: run,
    run_page_tail: `${run}?tail=1`,
    run_page_90pct: `${run}?after=${built.deepSeq}`,
    run_page_90pct_warn: `${run}?level=warn&after=${built.deepSeq}`,
    notebook_page_with_log_tails: `${server.url}/pipelines/biglog?run=${built.runId}`,
    api_run_detail_with_previews: `${server.url}/api/v1/runs/${built.runId}`,
    api_first: `${api}?limit=200`,
    api_tail: `${api}?tail=1&limit=200`,
    api_90pct: `${api}?after=${built.deepSeq}&limit=200`,
    api_errors_try2: `${api}?errors=1&try=2&limit=200`,
    healthz_reference: `${server.url}/healthz`,
  };
  const results: Record<string, unknown> = {};
  for (const [name, url] of Object.entries(pages)) {
    const { summary: s, bytes } = await timeGets(url);
    results[name] = { ...s, bytes, over_old_offset_query: Math.round((s.median_ms / offset) * 100) / 100 };
  }
  console.log(JSON.stringify({
    bench: "server_log_page",
    runtime: "node",
    server: "startServer (what cellar serve starts), a separate process; client: fetch over 127.0.0.1, request to last byte",
    lines: LINES,
    page_lines: 200,
    repeats: REPEATS,
    ...results,
    old_offset_query_median_ms: offset,
    target_ms: 200,
  }));
} finally {
  await server.close();
}
