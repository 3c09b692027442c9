// The notebook UI over real HTTP on 127.0.0.1: the pages list, show and link what a real store holds, and
// everything from data (outputs, errors) is escaped.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cellCall } from "../server/ui/cell-source.ts";
import { outputPreview } from "../server/preview/output-preview.ts";
import { valueText } from "../server/preview/table-preview.ts";
import type { LogLine, LogQuery } from "../kernel/mod.ts";
import { SCRIPT_OUTPUT, type UiFixture, uiFixture } from "./ui-fixture.ts";

let ui: UiFixture;
beforeAll(async () => {
  ui = await uiFixture();
}, 60_000);
afterAll(async () => await ui?.close());

async function get(path: string): Promise<{ status: number; type: string; body: string }> {
  const res = await fetch(ui.base + path);
  return { status: res.status, type: res.headers.get("content-type") ?? "", body: await res.text() };
}

describe("notebook UI", () => {
  it("lists the pipelines with their schedule, last state and a strip linking each run", async () => {
    const page = await get("/");
    expect(page.status).toBe(200);
    expect(page.type).toMatch(/^text\/html/);
    expect(page.body).toContain('href="/pipelines/notes"');
    expect(page.body).toContain('href="/pipelines/flaky"');
    expect(page.body).toContain("@daily");
    for (const id of [...ui.runIds.notes, ...ui.runIds.flaky]) expect(page.body).toContain(`href="/runs/${id}"`);
    expect(page.body).toMatch(/class="state-failed"/);
    expect(page.body).toMatch(/class="state-success"/);
    const css = await get("/ui/style.css");
    expect(css.status).toBe(200);
    expect(css.type).toMatch(/^text\/css/);
  });

  it("shows a pipeline as a notebook: every cell, its highlighted source, options, state and output", async () => {
    const page = await get("/pipelines/notes");
    expect(page.status).toBe(200);
    for (const cell of ["fetch_notes", "keep_table", "headline", "count"]) expect(page.body).toContain(`id="cell-${cell}"`);
    // The TypeScript source as written, types and comment included, through highlight.js.
    expect(page.body).toContain('class="hljs-comment"');
    expect(page.body).toContain('<span class="hljs-title function_">from</span>');
    expect(page.body).toContain('Array</span>&lt;{ <span class="hljs-attr">id</span>: <span class="hljs-built_in">number</span>;');
    expect(page.body).toContain("retries 2");
    expect(page.body).toContain("timeout 30 s");
    expect(page.body).toContain("gpu 0.25");
    // The latest run is selected: its cells' states and outputs.
    expect(page.body).toContain(`showing run <a href="/runs/${ui.runIds.notes[1]}">`);
    expect(page.body).toContain('class="badge state-success"');
    expect(page.body).toMatch(/table <b class="mono">notes<\/b> · 3 rows</);
    // Its first rows through LIMIT, with the column types; values escaped.
    expect(page.body).toContain('<th>id<span class="type">INTEGER</span></th><th>title<span class="type">VARCHAR</span></th>');
    expect(page.body).toContain("<tr><td>1</td><td>&lt;script&gt;alert(1)&lt;/script&gt;</td></tr>");
    expect(page.body).toMatch(/… cut at 4,096 of [\d,]+ bytes/);
    const failed = await get(`/pipelines/flaky?run=${ui.runIds.flaky[1]}`);
    expect(failed.body).toContain('<span class="muted">not run: an upstream cell did not succeed</span>');
    const older = await get(`/pipelines/notes?run=${ui.runIds.notes[0]}`);
    expect(older.body).toContain(`showing run <a href="/runs/${ui.runIds.notes[0]}">`);
  });

  it("escapes outputs and errors: a <script> output shows as text", async () => {
    const page = await get("/pipelines/notes");
    expect(page.body).not.toContain(SCRIPT_OUTPUT);
    expect(page.body).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    const failed = await get(`/runs/${ui.runIds.flaky[3]}`);
    expect(failed.body).toContain("check failed: &lt;b&gt;x&lt;/b&gt; was 41");
    expect(failed.body).not.toContain("<b>x</b>");
  });

  it("shows a run: cells with state, tries, duration, errors, and a timeline bar per attempt", async () => {
    const page = await get(`/runs/${ui.runIds.flaky[1]}`);
    expect(page.status).toBe(200);
    expect(page.body).toContain("Run #" + ui.runIds.flaky[1]);
    expect(page.body).toContain('class="badge state-failed"');
    expect(page.body).toContain('class="badge state-upstream_failed"');
    expect(page.body).toContain('href="/pipelines/flaky"');
    expect(page.body.match(/class="tl-bar state-/g)?.length).toBe(2); // load and check ran; publish never started
    // A retried cell: a bar per try, each try's error, its costs summed.
    const retried = await get(`/runs/${ui.runIds.flaky[0]}`);
    expect(retried.body.match(/class="tl-bar state-/g)?.length).toBe(4);
    expect(retried.body).toContain('<pre class="error earlier">try 1: publish: the endpoint answered 503</pre>');
    expect(retried.body).toContain("api_calls 4");
    const ok = await get(`/runs/${ui.runIds.notes[0]}`);
    expect(ok.body.match(/class="tl-bar state-success"/g)?.length).toBe(4);
  });

  it("shows a grid of runs × cells, each square linking to its run", async () => {
    const page = await get("/pipelines/flaky/grid");
    expect(page.status).toBe(200);
    expect(page.body.match(/class="sq state-/g)?.length).toBe(3 * ui.runIds.flaky.length);
    expect(page.body.match(/<a class="sq state-upstream_failed" href="\/runs\/\d+"/g)?.length).toBe(2);
    for (const id of ui.runIds.flaky) expect(page.body).toContain(`href="/runs/${id}"`);
    expect((await get("/pipelines/nope/grid")).status).toBe(404);
    // A square opens its cell on the run page through grid.js, which reads the name from the row: no bytes
    // per square for it. The run page opened so marks that cell and shows its log alone.
    expect(page.body).toContain('<script src="/ui/grid.js" defer=""></script>');
    expect(page.body).toContain('<tr><td class="mono" title="check">check</td>');
    expect((await get("/ui/grid.js")).body).toContain("?cell=${encodeURIComponent(name)}");
    const run = await get(`/runs/${ui.runIds.flaky[3]}?cell=check`);
    expect(run.body.match(/<tr[^>]*class="picked"[^>]*>/g)).toEqual(['<tr data-cell="check" class="picked" aria-current="true">']);
    expect(new Set(run.body.match(/<td class="lcell">[^<]*</g))).toEqual(new Set(['<td class="lcell">check#1<']));
  });

  it("draws the grid from one batch read that says what `cellar show` says of each cell, for ?runs= runs", async () => {
    const grid = await ui.cellar.grid("flaky", { runs: 3 });
    expect(grid.map((g) => g.run.runId)).toEqual(ui.runIds.flaky.slice(1).reverse());
    for (const { run, cells } of grid) {
      const shown = (await ui.cellar.show(run.runId)).cells.map((c) => ({ cell: c.cell, state: c.state, tries: c.tries, durationMs: c.durationMs }));
      expect(cells).toEqual(shown);
    }
    const page = await get("/pipelines/flaky/grid?runs=2");
    expect(page.body.match(/class="sq state-/g)?.length).toBe(3 * 2);
    expect(page.body).not.toContain(`href="/runs/${ui.runIds.flaky[1]}"`);
    const bad = await get("/pipelines/flaky/grid?runs=1001");
    expect(bad.status).toBe(400);
    expect(bad.body).toContain("runs 1001: expected a whole number from 1 to 1000");
  });

  it("carries no inline script and no style attribute, so a strict Content-Security-Policy holds", async () => {
    const tag = '<script src="/ui/live.js" defer=""></script>';
    for (const path of ["/", "/pipelines/notes", "/pipelines/flaky", "/pipelines/flaky/grid", `/runs/${ui.runIds.notes[1]}`, `/runs/${ui.runIds.flaky[1]}`]) {
      const { body } = await get(path);
      // A standards-mode page: without the doctype a browser lays it out in quirks mode.
      expect(body.startsWith("<!DOCTYPE html><html"), path).toBe(true);
      // The one script is the static live.js, empty in the page, once in the head (and the grid's grid.js).
      expect(body.split(tag).length, path).toBe(2);
      expect(body.indexOf(tag), path).toBeLessThan(body.indexOf("</head>"));
      // In tags only: the escaped text of a source or a log line may say "onerror=".
      expect(body.replace(tag, "").replace('<script src="/ui/grid.js" defer=""></script>', ""), path).not.toMatch(/<script|<[a-z][^>]*\s(?:style|on[a-z]+)=/i);
    }
  });

  it("serves live.js, and marks what it updates and the run buttons with data-* attributes", async () => {
    const js = await get("/ui/live.js");
    expect(js.status).toBe(200);
    expect(js.type).toMatch(/^text\/javascript/);
    expect(js.body).toContain("new EventSource(");
    expect(js.body).not.toMatch(/innerHTML|insertAdjacentHTML|outerHTML|document\.write/);
    const run = ui.runIds.notes[1];
    const notebook = (await get(`/pipelines/notes?run=${run}`)).body;
    expect(notebook).toContain(`data-live-run="${run}" data-run-state="success"`);
    expect(notebook).toMatch(/<span class="badge state-success" data-run-badge="">/);
    for (const cell of ["fetch_notes", "keep_table", "headline", "count"]) {
      expect(notebook).toContain(`id="cell-${cell}" data-cell="${cell}"`);
      expect(notebook).toContain(`data-post="/api/v1/pipelines/notes/cells/${cell}/runs" data-notebook="/pipelines/notes"`);
      expect(notebook).toContain(`data-post="/api/v1/pipelines/notes/runs" data-from="${cell}" data-notebook="/pipelines/notes"`);
    }
    expect(notebook.match(/data-cell-badge=""/g)?.length).toBe(4);
    expect(notebook).toMatch(/<span data-cell-tries="">1 try<\/span><span>took <b data-cell-duration="">/);
    // The run form: one input per param, typed by its default.
    expect(notebook).toContain('<form class="runform" data-post="/api/v1/pipelines/notes/runs" data-notebook="/pipelines/notes">');
    expect(notebook).toContain('<input type="number" step="any" name="n" data-type="number" value="3"/>');
    // Prefilled with what the shown run used: flaky's newest run had fail=true, its first fail=false.
    expect((await get("/pipelines/flaky")).body).toContain('<input type="checkbox" name="fail" data-type="boolean" checked=""/>');
    expect((await get(`/pipelines/flaky?run=${ui.runIds.flaky[0]}`)).body).toContain('<input type="checkbox" name="fail" data-type="boolean"/>');
    expect(notebook).toContain('<p class="action-error" data-action-error="" hidden=""></p>');
    // A pipeline never run offers the form and the buttons, and nothing for live.js to follow.
    const fresh = (await get("/pipelines/slow")).body;
    expect(fresh).toContain('<input type="text" step="any" name="label" data-type="string" value="demo"/>');
    expect(fresh).not.toContain("data-live-run");
    const runPage = (await get(`/runs/${run}`)).body;
    expect(runPage).toContain(`<h1 data-live-run="${run}" data-run-state="success">`);
    expect(runPage).toMatch(/<tr data-cell="fetch_notes"><td class="mono">fetch_notes<\/td><td><span class="badge state-\w+" data-cell-badge="">/);
    expect(runPage).toContain('<td class="num" data-cell-tries="">');
  });

  it("answers 404 with one line for unknown pipelines and runs", async () => {
    for (const [path, line] of [
      ["/pipelines/nope", "pipeline nope: no such pipeline"],
      ["/runs/9999", "run 9999: no such run"],
      ["/runs/abc", "run abc: no such run"],
      [`/pipelines/notes?run=${ui.runIds.flaky[0]}`, `run ${ui.runIds.flaky[0]}: no such run of pipeline notes`],
      ["/pipelines/notes?run=x1", "run x1: no such run"],
    ]) {
      const page = await get(path);
      expect(page.status, path).toBe(404);
      expect(page.body, path).toContain(`<p class="notfound">${line}</p>`);
    }
  });
});

describe("a notebook cell's log and output preview", () => {
  /** A cell's section of a notebook page. */
  const section = (html: string, cell: string) => html.slice(html.indexOf(`id="cell-${cell}"`)).split("<section")[0];

  it("shows under each cell the last 20 lines of its latest try, every level, escaped, linked to all its lines", async () => {
    const run = ui.runIds.flaky[3];
    const page = await get(`/pipelines/flaky?run=${run}`);
    const load = section(page.body, "load");
    expect(load).toContain("log · try 1 · last 20 of 250 lines");
    expect(load).toContain(`href="/runs/${run}?cell=load#logs" data-cell-log-all="">all 250 lines →</a>`);
    const messages = [...load.matchAll(/<td class="msg">([^<]*)<\/td>/g)].map((m) => m[1]);
    expect(messages).toEqual(Array.from({ length: 20 }, (_, i) => `loaded part ${231 + i}`));
    // The failed check's lines: its warning and its error, the error's <b> as text.
    const check = section(page.body, "check");
    expect(check).toContain("log · try 1 · 2 lines");
    expect(check).toContain('<tr class="level-warn"');
    expect(check).toContain('<td class="level">error</td><td class="msg">check failed: &lt;b&gt;x&lt;/b&gt; was 41');
    // The newest line when the page was drawn: live.js tails the run from there.
    const { lastSeq } = await ui.cellar.logTails(run);
    expect(page.body).toContain(`data-log-seq="${lastSeq}"`);
    // Never run in that run: no log.
    expect(section(page.body, "publish")).not.toContain("data-cell-log");
  });

  it("reads every cell's tail at once, the latest try's, up to a bound", async () => {
    const run = ui.runIds.flaky[0];
    const { cells, lastSeq } = await ui.cellar.logTails(run, { lines: 5 });
    const all = (await ui.cellar.logs(run, { limit: 1000 })).lines;
    expect(lastSeq).toBe(all.at(-1)!.seq);
    for (const [cell, tail] of cells) {
      const mine = all.filter((l) => l.cell === cell);
      const latest = Math.max(...mine.map((l) => l.tryNumber));
      const ofTry = mine.filter((l) => l.tryNumber === latest);
      expect(tail).toEqual({ tryNumber: latest, lines: ofTry.slice(-5), tryLines: ofTry.length, total: mine.length });
    }
    expect([...cells.keys()].sort()).toEqual([...new Set(all.map((l) => l.cell))].sort());
    expect([...(await ui.cellar.logTails(run, { cells: ["check"] })).cells.keys()]).toEqual(["check"]);
    await expect(ui.cellar.logTails(run, { lines: 0 })).rejects.toThrow("log tail lines 0: expected a whole number from 1 to 1000");
    await expect(ui.cellar.logTails(999_999)).rejects.toThrow(/run 999999: no such run/);
  });

  it("gives each done cell's preview in the run's API detail, the one the notebook shows", async () => {
    const run = ui.runIds.notes[1];
    const res = await fetch(`${ui.base}/api/v1/runs/${run}`);
    const cells = ((await res.json()) as { cells: Array<{ cell: string; state: string; preview: any }> }).cells;
    const by = Object.fromEntries(cells.map((c) => [c.cell, c]));
    expect(by.keep_table.preview).toEqual({
      kind: "table",
      name: "notes",
      rows: 3,
      sample: {
        columns: [{ name: "id", type: "INTEGER" }, { name: "title", type: "VARCHAR" }],
        rows: [["1", SCRIPT_OUTPUT], ["2", "note 2"], ["3", "note 3"]],
        hiddenColumns: 0,
      },
    });
    // A served-from-cache cell has its checkpoint's; a large output is cut in bytes as on the page.
    expect(by.fetch_notes.state).toBe("cached");
    expect(by.fetch_notes.preview.tree).toMatchObject({ kind: "branch", array: true, size: 3 });
    expect(by.count.preview).toMatchObject({ kind: "json", truncated: true, bytes: expect.any(Number) });
    expect(new TextEncoder().encode(by.count.preview.text).length).toBeLessThanOrEqual(4096);
    const failed = await (await fetch(`${ui.base}/api/v1/runs/${ui.runIds.flaky[1]}`)).json() as { cells: Array<{ cell: string; preview: unknown }> };
    expect(failed.cells.find((c) => c.cell === "check")!.preview).toBeNull();
  });

  it("serves a favicon, at its own path and at /favicon.ico", async () => {
    const page = await get("/pipelines/notes");
    expect(page.body).toContain('<link rel="icon" type="image/svg+xml" href="/ui/favicon.svg"/>');
    for (const path of ["/ui/favicon.svg", "/favicon.ico"]) {
      const icon = await get(path);
      expect(icon.status, path).toBe(200);
      expect(icon.type).toBe("image/svg+xml");
      expect(icon.body).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    }
  });
});

describe("cellCall", () => {
  const file = [
    "export default pipeline({ id: \"p\" })",
    "  .cell(\"a\", (x: string) => \")\" + `(${x}` /* ) */)",
    "  .cell(\"b\", { retries: 1 }, (ctx) => {",
    "    // a comment with a ( paren",
    "    return [1, 2];",
    "  });",
  ].join("\n");

  it("takes the .cell call on the call site's line up to its closing parenthesis, strings and comments skipped", () => {
    expect(cellCall(file, 2, "a")).toBe(".cell(\"a\", (x: string) => \")\" + `(${x}` /* ) */)");
    expect(cellCall(file, 3, "b")).toBe(".cell(\"b\", { retries: 1 }, (ctx) => {\n  // a comment with a ( paren\n  return [1, 2];\n})");
  });

  it("gives up when the line holds another cell or none, so the caller falls back to fn.toString()", () => {
    expect(cellCall(file, 2, "b")).toBeUndefined();
    expect(cellCall("const x = 1;", 1, "a")).toBeUndefined();
    expect(cellCall(".cell(\"a\", () => {", 1, "a")).toBeUndefined();
  });
});

describe("valueText", () => {
  it("shows a vector by its dimensions and a list by its length, never their elements, and cuts long text", () => {
    expect(valueText(new Float32Array(384))).toBe("vector · 384 dims");
    expect(valueText(Array(16).fill(0.5))).toBe("vector · 16 dims");
    expect(valueText([1, 2, 3])).toBe("[3 values]");
    expect(valueText(Array(20).fill("a"))).toBe("[20 values]");
    expect(valueText(null)).toBe("NULL");
    expect(valueText(12n)).toBe("12");
    expect(valueText({ a: 1n })).toBe('{"a":"1"}');
    expect(valueText(new Date("2026-05-03T00:00:00Z"))).toBe("2026-05-03T00:00:00.000Z");
    expect(valueText("x".repeat(500))).toBe(`${"x".repeat(160)}…`);
  });
});

describe("outputPreview", () => {
  it("shows a table by name and row count, and cuts JSON at 4 KB", () => {
    expect(outputPreview({ $table: "docs", sql: "\"p\".\"docs__r1\"", rows: 12, hash: "h" })).toEqual({ kind: "table", name: "docs", rows: 12 });
    expect(outputPreview([1])).toMatchObject({ kind: "json", text: "[\n  1\n]", truncated: false, bytes: 7 });
    const big = outputPreview({ s: "é".repeat(5000) });
    expect(big).toMatchObject({ kind: "json", truncated: true });
    // Cut at 4096 bytes, not characters: the 10 bytes before the string and 2043 two-byte characters.
    expect(big.kind === "json" && big.text).toBe(`{\n  "s": "${"é".repeat(2043)}`);
    // A character split by the cut is dropped, not shown as U+FFFD.
    const odd = outputPreview({ sx: "é".repeat(5000) });
    expect(odd.kind === "json" && odd.text).toBe(`{\n  "sx": "${"é".repeat(2042)}`);
    expect(big.kind === "json" && big.bytes).toBe(10_013);
  });
});

// A run's logs read by cursor and filter (kernel/run-logs.ts through the facade), the API's
// /api/v1/runs/{id}/logs and the run page's filter form and paging links.
async function call(path: string): Promise<{ status: number; body: any; text: string }> {
  const res = await fetch(ui.base + path);
  const text = await res.text();
  return { status: res.status, text, body: res.headers.get("content-type")?.includes("json") ? JSON.parse(text) : undefined };
}

/** Every page of a query, read forwards (after) or backwards (before, from the tail). */
async function allPages(runId: number, query: LogQuery, backwards = false): Promise<LogLine[]> {
  const pages: LogLine[][] = [];
  let page = await ui.cellar.logs(runId, backwards ? { ...query, tail: true } : query);
  for (let n = 0; n < 100; n++) {
    pages.push(page.lines);
    const cursor = backwards ? page.earlier : page.later;
    if (cursor === null) break;
    page = await ui.cellar.logs(runId, backwards ? { ...query, before: cursor } : { ...query, after: cursor });
  }
  return (backwards ? pages.reverse() : pages).flat();
}

const key = (l: LogLine) => `${l.seq} ${l.cell}#${l.tryNumber} ${l.level} ${l.message}`;

describe("a run's logs by cursor and filter", () => {
  it("pages forwards and backwards with no line twice and none missing, for each filter", async () => {
    // flaky's first run: 250 info lines of load, check's warning, publish's first try's error, then its success.
    const run = ui.runIds.flaky[0];
    const all = (await ui.cellar.show(run, { logs: true })).logs!;
    expect(all.length).toBe(252);
    expect(all.map((l) => l.seq)).toEqual([...all.map((l) => l.seq)].sort((a, b) => a - b));
    const filters: Array<[LogQuery, (l: LogLine) => boolean]> = [
      [{}, () => true],
      [{ cell: "load" }, (l) => l.cell === "load"],
      [{ level: "warn" }, (l) => l.level === "warn" || l.level === "error"],
      [{ errors: true }, (l) => l.level === "error"],
      [{ cell: "publish", tryNumber: 1 }, (l) => l.cell === "publish" && l.tryNumber === 1],
      [{ tryNumber: 2 }, (l) => l.tryNumber === 2],
    ];
    for (const [filter, keep] of filters) {
      const expected = all.filter(keep).map(key);
      expect((await allPages(run, { ...filter, limit: 37 })).map(key), JSON.stringify(filter)).toEqual(expected);
      expect((await allPages(run, { ...filter, limit: 37 }, true)).map(key), `${JSON.stringify(filter)} backwards`).toEqual(expected);
      expect((await ui.cellar.logs(run, { ...filter, limit: 1 })).matching).toBe(expected.length);
    }
    const warned = await ui.cellar.logs(run, { level: "warn" });
    expect(warned.lines.map((l) => `${l.cell}#${l.tryNumber} ${l.level}`)).toEqual(["check#1 warn", "publish#1 error"]);
    expect(warned).toMatchObject({ earlier: null, later: null, matching: 2 });
    // A page between two others links both ways, and the tail is the last lines.
    const middle = await ui.cellar.logs(run, { after: all[99].seq, limit: 50 });
    expect(middle.lines.map(key)).toEqual(all.slice(100, 150).map(key));
    expect(middle).toMatchObject({ earlier: all[100].seq, later: all[149].seq });
    expect((await ui.cellar.logs(run, { tail: true, limit: 3 })).lines.map(key)).toEqual(all.slice(-3).map(key));
  });

  it("refuses a bad query in one line naming it, and an unknown run", async () => {
    const run = ui.runIds.flaky[0];
    await expect(ui.cellar.logs(run, { level: "loud" as never })).rejects.toThrow('log level "loud": expected one of debug, info, warn, error');
    await expect(ui.cellar.logs(run, { limit: 0 })).rejects.toThrow("log limit 0: expected a whole number from 1 to 10000");
    await expect(ui.cellar.logs(run, { after: 1, tail: true })).rejects.toThrow("log page: give one of after, before and tail");
    await expect(ui.cellar.logs(999_999)).rejects.toThrow(/^run 999999: no such run in /);
  });

  it("serves them at /api/v1/runs/{id}/logs, validated, in the OpenAPI document", async () => {
    const run = ui.runIds.flaky[0];
    const first = await call(`/api/v1/runs/${run}/logs?cell=load&limit=100`);
    expect(first.status).toBe(200);
    expect(first.body.lines).toHaveLength(100);
    expect(first.body).toMatchObject({ earlier: null, later: first.body.lines[99].seq, matching: 250 });
    const next = await call(`/api/v1/runs/${run}/logs?cell=load&limit=100&after=${first.body.later}`);
    expect(next.body.lines[0].message).toBe("loaded part 101");
    expect(next.body.earlier).toBe(next.body.lines[0].seq);
    const errors = await call(`/api/v1/runs/${run}/logs?errors=1`);
    expect(errors.body.lines.map((l: any) => [l.cell, l.tryNumber, l.message])).toEqual([["publish", 1, "publish: the endpoint answered 503"]]);
    const tail = await call(`/api/v1/runs/${run}/logs?tail=1&limit=2&level=info`);
    expect(tail.body.lines.map((l: any) => l.cell)).toEqual(["check", "publish"]);
    expect((await call(`/api/v1/runs/${run}/logs?try=2`)).body).toEqual({ lines: [], earlier: null, later: null, matching: 0 });
    const bad = await call(`/api/v1/runs/${run}/logs?level=loud`);
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/^bad request: level: /);
    expect((await call(`/api/v1/runs/${run}/logs?after=3&before=9`)).body).toEqual({ error: "log page: give one of after, before and tail" });
    const missing = await call("/api/v1/runs/999999/logs");
    expect(missing.status).toBe(404);
    expect(missing.body.error).toMatch(/^run 999999: no such run in [^\n]+$/);
    const doc = (await call("/api/v1/openapi.json")).body;
    expect(Object.keys(doc.paths)).toContain("/runs/{id}/logs");
    expect(doc.paths["/runs/{id}/logs"].get.parameters.map((p: any) => p.name)).toEqual(expect.arrayContaining(["cell", "try", "level", "errors", "after", "before", "tail", "limit"]));
  });

  it("shows them on the run page with a filter form that works without JS, and paging links", async () => {
    const run = ui.runIds.flaky[3];
    const first = await call(`/runs/${run}`);
    expect(first.status).toBe(200);
    expect(first.text).toContain("200 of 252 lines");
    expect(first.text.match(/<tr class="level-/g)?.length).toBe(200);
    expect(first.text).toContain("loaded part 7 &lt;img src=x onerror=alert(2)&gt;");
    expect(first.text).toContain(`<form class="logfilter" method="get" action="/runs/${run}#logs">`);
    for (const cell of ["load", "check"]) expect(first.text).toContain(`<option value="${cell}">${cell}</option>`);
    expect(first.text).toContain('<option value="warn">warn and above</option>');
    expect(first.text).toContain('<input type="checkbox" name="errors" value="1"');
    expect(first.text).not.toContain("← earlier");
    const later = first.text.match(/href="(\/runs\/\d+\?after=(\d+)#logs)">later →/);
    expect(later).not.toBeNull();
    const second = await call(later![1]);
    expect(second.text).toContain("52 of 252 lines");
    expect(second.text).toContain(`href="/runs/${run}?before=`);
    expect(second.text).not.toContain("later →");

    // What the form submits: empty fields are "all"; the filter is kept in the paging links.
    const warn = await call(`/runs/${run}?cell=&try=&level=warn`);
    expect(warn.text).toContain("2 of 2 matching lines");
    expect(warn.text).toContain('<option value="warn" selected="">warn and above</option>');
    expect(warn.text.match(/<tr class="level-(warn|error)"/g)).toEqual(['<tr class="level-warn"', '<tr class="level-error"']);
    expect(warn.text).toContain(`<a href="/runs/${run}#logs">clear</a>`);
    const errorsOnly = await call(`/runs/${run}?cell=check&errors=1`);
    expect(errorsOnly.text).toContain("1 of 1 matching lines");
    expect(errorsOnly.text).toContain("check failed: &lt;b&gt;x&lt;/b&gt; was 41");
    const paged = await call(`/runs/${run}?cell=load&after=${later![2]}`);
    expect(paged.text).toContain(`href="/runs/${run}?cell=load&amp;before=`);
    expect((await call(`/runs/${run}?try=abc`)).status).toBe(400);
    // Each notebook cell that ran links to its lines there, under the tail of its log.
    const notebook = await call(`/pipelines/flaky?run=${run}`);
    expect(notebook.text).toContain(`<a class="cell-logs" href="/runs/${run}?cell=check#logs" data-cell-log-all="">in the run&#39;s log →</a>`);
    expect(notebook.text).not.toContain(`?cell=publish#logs`);
    expect((await call(`/runs/${run}?level=loud`)).text).toContain("level loud: expected one of debug, info, warn, error");
  });
});
