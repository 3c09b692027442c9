// A run's logs read by cursor and filter (kernel/run-logs.ts through the facade), the API's
// /api/v1/runs/{id}/logs and the run page's filter form and paging links, over the UI fixture's real store
// and HTTP on 127.0.0.1; and the migration that numbers the lines of a store written before `seq`.
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LogLine, LogQuery } from "../kernel/mod.ts";
import { MIGRATIONS } from "../kernel/store/schema.ts";
import { Store } from "../kernel/store/store.ts";
import { tempDir } from "./helpers.ts";
import { type UiFixture, uiFixture } from "./ui-fixture.ts";

let ui: UiFixture;
beforeAll(async () => {
  ui = await uiFixture();
}, 60_000);
afterAll(async () => await ui?.close());

async function get(path: string): Promise<{ status: number; body: any; text: string }> {
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
    const first = await get(`/api/v1/runs/${run}/logs?cell=load&limit=100`);
    expect(first.status).toBe(200);
    expect(first.body.lines).toHaveLength(100);
    expect(first.body).toMatchObject({ earlier: null, later: first.body.lines[99].seq, matching: 250 });
    const next = await get(`/api/v1/runs/${run}/logs?cell=load&limit=100&after=${first.body.later}`);
    expect(next.body.lines[0].message).toBe("loaded part 101");
    expect(next.body.earlier).toBe(next.body.lines[0].seq);
    const errors = await get(`/api/v1/runs/${run}/logs?errors=1`);
    expect(errors.body.lines.map((l: any) => [l.cell, l.tryNumber, l.message])).toEqual([["publish", 1, "publish: the endpoint answered 503"]]);
    const tail = await get(`/api/v1/runs/${run}/logs?tail=1&limit=2&level=info`);
    expect(tail.body.lines.map((l: any) => l.cell)).toEqual(["check", "publish"]);
    expect((await get(`/api/v1/runs/${run}/logs?try=2`)).body).toEqual({ lines: [], earlier: null, later: null, matching: 0 });
    const bad = await get(`/api/v1/runs/${run}/logs?level=loud`);
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/^bad request: level: /);
    expect((await get(`/api/v1/runs/${run}/logs?after=3&before=9`)).body).toEqual({ error: "log page: give one of after, before and tail" });
    const missing = await get("/api/v1/runs/999999/logs");
    expect(missing.status).toBe(404);
    expect(missing.body.error).toMatch(/^run 999999: no such run in [^\n]+$/);
    const doc = (await get("/api/v1/openapi.json")).body;
    expect(Object.keys(doc.paths)).toContain("/runs/{id}/logs");
    expect(doc.paths["/runs/{id}/logs"].get.parameters.map((p: any) => p.name)).toEqual(expect.arrayContaining(["cell", "try", "level", "errors", "after", "before", "tail", "limit"]));
  });

  it("shows them on the run page with a filter form that works without JS, and paging links", async () => {
    const run = ui.runIds.flaky[3];
    const first = await get(`/runs/${run}`);
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
    const second = await get(later![1]);
    expect(second.text).toContain("52 of 252 lines");
    expect(second.text).toContain(`href="/runs/${run}?before=`);
    expect(second.text).not.toContain("later →");

    // What the form submits: empty fields are "all"; the filter is kept in the paging links.
    const warn = await get(`/runs/${run}?cell=&try=&level=warn`);
    expect(warn.text).toContain("2 of 2 matching lines");
    expect(warn.text).toContain('<option value="warn" selected="">warn and above</option>');
    expect(warn.text.match(/<tr class="level-(warn|error)"/g)).toEqual(['<tr class="level-warn"', '<tr class="level-error"']);
    expect(warn.text).toContain(`<a href="/runs/${run}#logs">clear</a>`);
    const errorsOnly = await get(`/runs/${run}?cell=check&errors=1`);
    expect(errorsOnly.text).toContain("1 of 1 matching lines");
    expect(errorsOnly.text).toContain("check failed: &lt;b&gt;x&lt;/b&gt; was 41");
    const paged = await get(`/runs/${run}?cell=load&after=${later![2]}`);
    expect(paged.text).toContain(`href="/runs/${run}?cell=load&amp;before=`);
    expect((await get(`/runs/${run}?try=abc`)).status).toBe(400);
    expect((await get(`/runs/${run}?level=loud`)).text).toContain("level loud: expected one of debug, info, warn, error");
  });
});

describe("the logs migration", () => {
  it("numbers the lines of a store from before seq in the order they were shown, and new lines after them", async () => {
    const path = join(tempDir(), "old.duckdb");
    const instance = await DuckDBInstance.create(path);
    const conn = await instance.connect();
    const before = MIGRATIONS.findIndex((m) => m.includes("logs_by_seq"));
    for (const m of MIGRATIONS.slice(0, before)) await conn.run(m);
    await conn.run(`INSERT INTO cellar_meta VALUES ('schema_version', '${before}')`);
    // Written out of time order, as two cells' lines can be.
    await conn.run(`INSERT INTO logs VALUES (1, 'b', 1, '2026-05-01T00:00:02Z', 'info', 'third'), (1, 'a', 1, '2026-05-01T00:00:01Z', 'info', 'second'),
      (1, 'a', 1, '2026-05-01T00:00:00Z', 'warn', 'first')`);
    conn.closeSync();
    instance.closeSync();
    const store = await Store.open(path);
    try {
      await store.writer.write({ logs: [{ runId: 1, cell: "a", tryNumber: 2, ts: new Date("2026-04-01T00:00:00Z"), level: "info", message: "new" }] });
      const rows = await store.query("SELECT seq::INT AS seq, message FROM logs ORDER BY seq");
      expect(rows).toEqual([{ seq: 1, message: "first" }, { seq: 2, message: "second" }, { seq: 3, message: "third" }, { seq: 4, message: "new" }]);
    } finally {
      await store.close();
    }
  });
});
