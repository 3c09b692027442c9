/**
 * crawl_seeds against real HTTP servers on 127.0.0.1 (node:http), real files and
 * a real DuckDB store: the PostgreSQL manual (Debian's postgresql-doc-15), and
 * one test per kind of bad input.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import iconv from "iconv-lite";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { crawlSeeds } from "../cells/crawl.ts";
import { decodeText } from "../cells/crawl/decode.ts";
import { extractHtml } from "../cells/crawl/html.ts";
import { resolveSeeds } from "../cells/crawl/seeds.ts";
import { normalizeUrl } from "../cells/crawl/url.ts";
import { Compute } from "../kernel/compute/devices.ts";
import { openCellar, pipeline, type ParamValue, type TableRef } from "../kernel/mod.ts";
import type { Store } from "../kernel/store/store.ts";
import { startStaticServer, type StaticServer } from "./fixtures/crawl/static-server.ts";
import { storesClosedAfterEach, tempDir } from "./helpers.ts";

const PG_DOCS = "/usr/share/doc/postgresql-doc-15/html";
const FIXTURES = join(import.meta.dirname, "fixtures/crawl");

const compute = new Compute({ devices: "cpu" });
afterAll(() => compute.close());
const newStore = storesClosedAfterEach();

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

interface CrawlResult {
  state: string;
  output: { documents: TableRef; failures: TableRef; fetched: number; unchanged: number; failed: number };
  error: string | null;
  logs: string[];
  store: Store;
}

/** Runs a one-cell pipeline with crawl_seeds, in `store` (a fresh one by default). */
async function crawl(params: Record<string, ParamValue>, store?: Store): Promise<CrawlResult> {
  const s = store ?? await newStore();
  const p = pipeline({
    id: "ingest",
    params: {
      seeds: "", maxDepth: 3, maxPages: 10_000, perHostConcurrency: 4, perHostDelayMs: 0, timeoutMs: 10_000,
      maxBytes: 10_485_760, userAgent: "CellarBot/0.1", ...params,
    },
  }).cell("crawl_seeds", { cache: false }, crawlSeeds);
  const cellar = openCellar({ db: s, compute });
  const logs: string[] = [];
  cellar.on((e) => e.type === "log" && logs.push(`${e.level}: ${e.message}`));
  const result = await cellar.run(p, { date: "2026-05-03T00:00:00Z", new: true });
  const detail = await cellar.show(result.runId);
  return {
    state: result.state,
    output: result.outputs.get("crawl_seeds") as CrawlResult["output"],
    error: detail.cells[0]?.error ?? null,
    logs,
    store: s,
  };
}

async function rows(r: CrawlResult, table: "documents" | "failures", order = "1"): Promise<Record<string, unknown>[]> {
  return await r.store.query(`SELECT * FROM ${r.output[table].sql} ORDER BY ${order}`);
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A node:http server on 127.0.0.1 answering by path; closed after the test. */
async function serve(routes: Record<string, Handler>, fallback?: Handler): Promise<{ url: string; server: Server; hits: Map<string, number> }> {
  const hits = new Map<string, number>();
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const route = routes[path] ?? fallback;
    if (route) route(req, res);
    else res.writeHead(404).end("not found");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  closers.push(() => new Promise((r) => {
    server.closeAllConnections();
    server.close(() => r());
  }));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, hits };
}

const html = (body: string) => (_req: IncomingMessage, res: ServerResponse) =>
  void res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(`<!doctype html><html><body>${body}</body></html>`);

describe("the PostgreSQL manual served on 127.0.0.1", () => {
  it("crawls all 1,169 pages once each, then re-crawls them all with conditional requests answered 304", async () => {
    // Real pages we did not write; .ci/run installs them. Missing, the test fails rather than passing unseen.
    if (!existsSync(PG_DOCS)) throw new Error(`${PG_DOCS} is missing: apt-get install postgresql-doc-15`);
    const server: StaticServer = await startStaticServer(PG_DOCS);
    closers.push(() => server.close());
    const params = { seeds: `${server.url}/index.html`, maxDepth: 50 };
    const first = await crawl(params);
    expect(first.error).toBeNull();
    expect(first.output).toMatchObject({ fetched: 1169, unchanged: 0, failed: 0 });
    expect(first.output.documents.rows).toBe(1169);
    // Every page was requested exactly once, and nothing else but robots.txt.
    const pages = [...server.requests].filter(([path]) => path !== "/robots.txt");
    expect(pages.length).toBe(1169);
    expect(pages.every(([, n]) => n === 1)).toBe(true);

    const [stats] = await first.store.query(
      `SELECT count(DISTINCT id)::INT AS ids, count(*) FILTER (WHERE status = 'new')::INT AS new,
              count(*) FILTER (WHERE title = '' OR title IS NULL)::INT AS untitled,
              count(*) FILTER (WHERE etag IS NULL OR last_modified IS NULL)::INT AS unvalidated
       FROM ${first.output.documents.sql}`,
    );
    expect(stats).toEqual({ ids: 1169, new: 1169, untitled: 0, unvalidated: 0 });
    const [index] = await first.store.query(`SELECT * FROM ${first.output.documents.sql} WHERE id = ?`, [`${server.url}/index.html`]);
    expect(index.title).toBe("PostgreSQL 15.20 Documentation");
    expect(index.text).toContain("The PostgreSQL Global Development Group");
    expect(index.text).not.toContain("stylesheet");
    const [select] = await first.store.query(`SELECT title, text FROM ${first.output.documents.sql} WHERE id = ?`, [`${server.url}/sql-select.html`]);
    expect(select.title).toBe("SELECT");
    expect(select.text).toMatch(/^SELECT\n\nSELECT, TABLE, WITH — retrieve rows from a table or view/);
    // DocBook's navigation bars are chrome, not text.
    expect(select.text).not.toMatch(/^Prev\s+Up/m);

    // The second run, in the same store: every page request is conditional and answered 304.
    server.requests.clear();
    server.log.length = 0;
    const second = await crawl(params, first.store);
    expect(second.error).toBeNull();
    expect(second.output).toMatchObject({ fetched: 0, unchanged: 1169, failed: 0 });
    const again = server.log.filter((r) => r.path !== "/robots.txt");
    expect(again.length).toBe(1169);
    expect(again.every((r) => r.conditional && r.status === 304)).toBe(true);
    const [same] = await second.store.query(
      `SELECT count(*)::INT AS n, count(*) FILTER (WHERE b.status = 'unchanged')::INT AS unchanged,
              count(*) FILTER (WHERE a.text = b.text AND a.title = b.title AND a.content_hash = b.content_hash)::INT AS same
       FROM ${first.output.documents.sql} a JOIN ${second.output.documents.sql} b USING (id)`,
    );
    expect(same).toEqual({ n: 1169, unchanged: 1169, same: 1169 });
  });
});

describe("seeds", () => {
  it("refuses a seeds file with an unparseable line, naming the file and the line", async () => {
    const r = await crawl({ seeds: join(FIXTURES, "bad-line.seeds.txt") });
    expect(r.state).toBe("failed");
    expect(r.error).toMatch(/^seeds file \S*bad-line\.seeds\.txt line 3: "http:\/\/exa mple\.com\/" is not one seed \(it contains whitespace\); expected an http\(s\) URL/);
    expect(r.error).not.toContain("\n");
  });

  it("refuses an unsupported scheme, as a param and in a seeds file", async () => {
    const direct = await crawl({ seeds: "ftp://ftp.example.com/pub/" });
    expect(direct.state).toBe("failed");
    expect(direct.error).toMatch(/^param seeds \("ftp:\/\/ftp\.example\.com\/pub\/"\): .* unsupported scheme "ftp:"; expected an http\(s\) URL/);
    const inFile = await crawl({ seeds: join(FIXTURES, "ftp.seeds.txt") });
    expect(inFile.error).toMatch(/ftp\.seeds\.txt line 2: "ftp:\/\/ftp\.example\.com\/pub\/docs\/" has an unsupported scheme "ftp:"/);
  });

  it("refuses a path that does not exist and bad numeric params", async () => {
    expect((await crawl({ seeds: "no/such/place.jsonl" })).error).toMatch(/param seeds \("no\/such\/place\.jsonl"\): .* does not exist/);
    expect((await crawl({ seeds: join(FIXTURES, "docs.jsonl"), maxDepth: -1 })).error).toBe("param maxDepth: expected a whole number ≥ 0, got -1");
  });
});

describe("JSONL datasets", () => {
  it("reads the default Cranfield corpus with ids <path>#<id>, and a re-run finds it unchanged", async () => {
    const first = await crawl({ seeds: "pipelines/data/cranfield/docs.jsonl" });
    // Two of the 1,400 Cranfield records (ids 471 and 995) have no text at all.
    expect(first.output).toMatchObject({ fetched: 1398, unchanged: 0, failed: 2 });
    expect((await rows(first, "failures", "detail")).map((f) => [f.reason, f.detail])).toEqual([
      ["empty", 'line 471: id "471" has no text and no title'],
      ["empty", 'line 995: id "995" has no text and no title'],
    ]);
    const [doc] = await first.store.query(`SELECT * FROM ${first.output.documents.sql} WHERE id = 'pipelines/data/cranfield/docs.jsonl#1'`);
    expect(doc.title).toBe("experimental investigation of the aerodynamics of a wing in a slipstream .");
    expect(doc.status).toBe("new");
    expect(doc.content_hash).toMatch(/^[0-9a-f]{64}$/);
    const second = await crawl({ seeds: "pipelines/data/cranfield/docs.jsonl" }, first.store);
    expect(second.output).toMatchObject({ fetched: 0, unchanged: 1398, failed: 2 });
  });

  it("records a line that is not JSON (and other bad lines) with its line number, and keeps the rest", async () => {
    const seed = join(FIXTURES, "docs.jsonl");
    const r = await crawl({ seeds: seed });
    expect(r.error).toBeNull();
    expect(r.output).toMatchObject({ fetched: 4, failed: 3 });
    // Line 5 has a title and no text: a document whose text is its title.
    expect((await rows(r, "documents", "id")).map((d) => [d.id, d.title, d.text, d.url])).toEqual([
      [`${seed}#3`, "", "A third, with a numeric id and no title.", "https://example.com/3"],
      [`${seed}#a`, "First", "The first document.", null],
      [`${seed}#d`, "No text", "No text", null],
      [`${seed}#e`, "Last", "The last document.", null],
    ]);
    const failures = await rows(r, "failures", "detail");
    expect(failures.map((f) => [f.url, f.reason])).toEqual([
      [seed, "invalid_json"],
      [seed, "invalid_record"],
      [seed, "duplicate_id"],
    ]);
    expect(failures[0].detail).toMatch(/^line 2: /);
    expect(failures[1].detail).toMatch(/^line 4: expected an object/);
    expect(failures[2].detail).toBe(`line 8: id "a" repeats line 1's; line 1's record is kept, this line's is skipped`);
  });

  it("fails the cell when no line of the dataset parses", async () => {
    const r = await crawl({ seeds: join(FIXTURES, "nothing.jsonl") });
    expect(r.state).toBe("failed");
    expect(r.error).toMatch(/^crawl_seeds: nothing was fetched: 0 documents .* 2 failures \((invalid_json 1, invalid_record 1|invalid_record 1, invalid_json 1)\)/);
  });
});

describe("local folders", () => {
  it("reads a directory's pages, markdown and text, dropping boilerplate, decoding charsets, skipping hidden files", async () => {
    const dir = join(FIXTURES, "local");
    const r = await crawl({ seeds: dir });
    expect(r.error).toBeNull();
    const base = pathToFileURL(dir).href;
    const docs = await rows(r, "documents", "id");
    expect(docs.map((d) => [d.id, d.title])).toEqual([
      [`${base}/guide.md`, "The guide"],
      [`${base}/index.html`, "Field notes"],
      [`${base}/notes/readme.txt`, "READ ME"],
      [`${base}/sub/page.htm`, "Café"],
    ]);
    const index = docs[1].text as string;
    expect(index).toBe("Field notes\n\nNotes from the field, kept as plain pages.\n\nThe guide\nRead me\nA Latin-1 page\nA page that is gone\nOutside the folder\nElsewhere");
    expect(docs[3].text).toBe("Café crème – “quoted”\n\nguide");
    // The link to a missing file is reported; links outside the folder and to other sites are not followed.
    expect((await rows(r, "failures")).map((f) => [f.url, f.reason])).toEqual([[`${base}/missing.html`, "not_found"]]);
  });

  it("follows local links from a file:// seed up to maxDepth", async () => {
    const index = pathToFileURL(join(FIXTURES, "local/index.html")).href;
    const base = pathToFileURL(join(FIXTURES, "local")).href;
    const shallow = await crawl({ seeds: index, maxDepth: 0 });
    expect((await rows(shallow, "documents")).map((d) => d.id)).toEqual([index]);
    const deep = await crawl({ seeds: index, maxDepth: 1 });
    expect((await rows(deep, "documents", "id")).map((d) => d.id)).toEqual([
      `${base}/guide.md`, index, `${base}/notes/readme.txt`, `${base}/sub/page.htm`,
    ]);
  });
});

describe("the web crawl", () => {
  it("records a host that refuses connections as 'connect'", async () => {
    const good = await serve({ "/": html("<p>fine</p>") });
    const closed = await serve({});
    const port = new URL(closed.url).port;
    await new Promise<void>((r) => {
      closed.server.closeAllConnections();
      closed.server.close(() => r());
    });
    const r = await crawl({ seeds: `${good.url}/, http://127.0.0.1:${port}/page.html` });
    expect(r.output).toMatchObject({ fetched: 1, failed: 1 });
    const [f] = await rows(r, "failures");
    expect(f).toMatchObject({ url: `http://127.0.0.1:${port}/page.html`, reason: "connect" });
    expect(f.detail).toMatch(/ECONNREFUSED/);
  });

  it("gives up on a page that never finishes after timeoutMs, and on one that never answers", async () => {
    const server = await serve({
      "/": html(`<a href="/hang">a</a> <a href="/silent">b</a>`),
      "/hang": (_req, res) => void res.writeHead(200, { "content-type": "text/html" }).write("<html><body><p>the start of a page"),
      "/silent": () => {},
    });
    const t0 = performance.now();
    const r = await crawl({ seeds: `${server.url}/`, timeoutMs: 400 });
    expect(performance.now() - t0).toBeLessThan(3_000);
    expect((await rows(r, "failures")).map((f) => [f.url, f.reason, f.detail])).toEqual([
      [`${server.url}/hang`, "timeout", "body not complete within 400 ms"],
      [`${server.url}/silent`, "timeout", "no response within 400 ms"],
    ]);
  });

  it("stops reading a 50 MB page at maxBytes ('too_large'), with or without a Content-Length", async () => {
    const FIFTY_MB = 50 * 1024 * 1024;
    let sent = 0;
    const server = await serve({
      "/": html(`<a href="/huge">huge</a> <a href="/declared">declared</a>`),
      "/huge": (_req, res) => {
        res.writeHead(200, { "content-type": "text/html" });
        const chunk = Buffer.alloc(64 * 1024, "a");
        const write = () => {
          while (sent < FIFTY_MB) {
            sent += chunk.length;
            if (!res.write(chunk)) return void res.once("drain", write);
          }
          res.end();
        };
        write();
      },
      "/declared": (_req, res) => {
        res.writeHead(200, { "content-type": "text/html", "content-length": FIFTY_MB });
        res.write("<html>");
      },
    });
    const r = await crawl({ seeds: `${server.url}/`, maxBytes: 1024 * 1024 });
    expect((await rows(r, "failures")).map((f) => [f.url, f.reason, f.detail])).toEqual([
      [`${server.url}/declared`, "too_large", `Content-Length ${FIFTY_MB} is over maxBytes 1048576`],
      [`${server.url}/huge`, "too_large", "body is over maxBytes 1048576; stopped reading"],
    ]);
    // The client hung up: the server could not write the whole 50 MB.
    expect(sent).toBeLessThan(FIFTY_MB / 2);
  });

  it("detects a redirect loop and too many redirects, and stores a redirected page under its final URL once", async () => {
    const to = (path: string) => (_req: IncomingMessage, res: ServerResponse) => void res.writeHead(301, { location: path }).end();
    const routes: Record<string, Handler> = {
      "/": html(`<a href="/a">loop</a> <a href="/r0">chain</a> <a href="/old">moved</a> <a href="/new">new</a>`),
      "/a": to("/b"),
      "/b": to("/a"),
      "/old": to("/new"),
      "/new": html("<p>the new page</p>"),
    };
    for (let i = 0; i < 8; i++) routes[`/r${i}`] = to(`/r${i + 1}`);
    const server = await serve(routes);
    const r = await crawl({ seeds: `${server.url}/` });
    expect((await rows(r, "failures")).map((f) => [f.url, f.reason])).toEqual([
      [`${server.url}/a`, "redirect_loop"],
      [`${server.url}/r0`, "too_many_redirects"],
    ]);
    expect((await rows(r, "failures", "reason"))[0].detail).toBe(`${server.url}/a → ${server.url}/b → ${server.url}/a`);
    expect((await rows(r, "documents", "id")).map((d) => d.id)).toEqual([`${server.url}/`, `${server.url}/new`]);
    expect(server.hits.get("/new")).toBe(1);
    expect(server.hits.get("/r5")).toBe(1);
    expect(server.hits.get("/r6")).toBeUndefined();
  });

  it("rejects binary served as text/html and invalid UTF-8 declared as UTF-8", async () => {
    const bytes = (type: string, body: Uint8Array) => (_req: IncomingMessage, res: ServerResponse) =>
      void res.writeHead(200, { "content-type": type }).end(body);
    const server = await serve({
      "/": html(`<a href="/binary">bin</a> <a href="/header">h</a> <a href="/meta">m</a> <a href="/image">i</a>`),
      "/binary": bytes("text/html", Uint8Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)),
      "/header": bytes("text/html; charset=utf-8", Buffer.concat([Buffer.from("<p>caf"), Buffer.from([0xe9, 0x20, 0xff]), Buffer.from("</p>")])),
      "/meta": bytes("text/html", Buffer.concat([Buffer.from('<meta charset="utf-8"><p>caf'), Buffer.from([0xc3, 0x28]), Buffer.from("</p>")])),
      "/image": bytes("image/png", Buffer.from([0x89, 0x50, 0x4e, 0x47])),
    });
    const r = await crawl({ seeds: `${server.url}/` });
    expect((await rows(r, "failures")).map((f) => [f.url, f.reason, f.detail])).toEqual([
      [`${server.url}/binary`, "not_text", "binary content (NUL or control bytes) where text was expected"],
      [`${server.url}/header`, "undecodable", "bytes are not valid utf-8 (declared by the Content-Type header)"],
      [`${server.url}/image`, "not_text", "content type image/png"],
      [`${server.url}/meta`, "undecodable", "bytes are not valid utf-8 (declared by the <meta charset>)"],
    ]);
  });

  it("decodes windows-1252 and Shift_JIS pages declared in the header, <meta charset> or <meta http-equiv>", async () => {
    const encoded = (type: string, text: string, charset: string) => (_req: IncomingMessage, res: ServerResponse) =>
      void res.writeHead(200, { "content-type": type }).end(iconv.encode(text, charset));
    const server = await serve({
      "/": html(`<a href="/cp1252">1</a> <a href="/sjis">2</a> <a href="/sjis-equiv">3</a> <a href="/latin1.txt">4</a>`),
      "/cp1252": encoded("text/html; charset=windows-1252", "<title>Café</title><p>Crème brûlée – “quoted” 50€</p>", "win1252"),
      "/sjis": encoded("text/html", '<head><meta charset="Shift_JIS"><title>日本語のページ</title></head><p>こんにちは、世界。</p>', "shift_jis"),
      "/sjis-equiv": encoded("text/html", '<meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS"><p>東京都</p>', "shift_jis"),
      "/latin1.txt": encoded("text/plain; charset=iso-8859-1", "Ærøskøbing\nsmørrebrød", "latin1"),
    });
    const r = await crawl({ seeds: `${server.url}/` });
    expect(r.output.failed).toBe(0);
    const docs = new Map((await rows(r, "documents")).map((d) => [String(d.id).slice(server.url.length), d]));
    expect(docs.get("/cp1252")).toMatchObject({ title: "Café", text: "Crème brûlée – “quoted” 50€" });
    expect(docs.get("/sjis")).toMatchObject({ title: "日本語のページ", text: "こんにちは、世界。" });
    expect(docs.get("/sjis-equiv")).toMatchObject({ text: "東京都" });
    expect(docs.get("/latin1.txt")).toMatchObject({ title: "Ærøskøbing", text: "Ærøskøbing\nsmørrebrød" });
  });

  it("obeys robots.txt: disallowed pages are recorded as 'robots' and never requested", async () => {
    const server = await serve({
      "/robots.txt": (_req, res) => void res.writeHead(200, { "content-type": "text/plain" })
        .end("User-agent: *\nDisallow: /private/\n\nUser-agent: OtherBot\nDisallow: /\n"),
      "/": html(`<a href="/private/secret.html">secret</a> <a href="/public.html">public</a>`),
      "/public.html": html("<p>public</p>"),
      "/private/secret.html": html("<p>secret</p>"),
    });
    const r = await crawl({ seeds: `${server.url}/, ${server.url}/private/other.html` });
    expect((await rows(r, "documents")).map((d) => d.id)).toEqual([`${server.url}/`, `${server.url}/public.html`]);
    expect((await rows(r, "failures")).map((f) => [f.url, f.reason])).toEqual([
      [`${server.url}/private/other.html`, "robots"],
      [`${server.url}/private/secret.html`, "robots"],
    ]);
    expect(server.hits.get("/private/secret.html")).toBeUndefined();
    expect(server.hits.get("/robots.txt")).toBe(1);
  });

  it("fails the cell when nothing at all was fetched, leaving no tables behind and its failures in the log", async () => {
    const server = await serve({});
    const r = await crawl({ seeds: `${server.url}/gone.html` });
    expect(r.state).toBe("failed");
    expect(r.error).toMatch(/^crawl_seeds: nothing was fetched: 0 documents \(0 new, 0 changed, 0 unchanged\), 1 failures \(http_status 1\) from 1 seed in .*; first failures: \S+\/gone\.html: http_status \(404 Not Found\)/);
    expect(await r.store.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'ingest'`)).toEqual([]);
    // The failures outlive the rolled-back tables in the run's log, where `cellar show --logs` and SQL find them.
    await r.store.writer.drain();
    const kept = await r.store.query(`SELECT message FROM logs WHERE cell = 'crawl_seeds' AND level = 'warn'`);
    expect(kept.map((row) => row.message)).toEqual([`failed: ${server.url}/gone.html: http_status (404 Not Found)`]);
  });

  it("normalizes URLs so that no page is fetched twice, and stays on the seed's site", async () => {
    const routes: Record<string, Handler> = {};
    const server = await serve(routes);
    const port = new URL(server.url).port;
    Object.assign(routes, {
      "/": html(`
        <a href="/a.html#top">1</a> <a href="/x/../a.html">2</a> <a href="HTTP://127.0.0.1:${port}/a.html">3</a>
        <a href="./a.html?">4</a> <a href="/%7Euser/">5</a> <a href="/~user/#x">6</a> <a href="/logo.png">7</a>
        <a href="mailto:x@example.com">8</a> <a href="javascript:void(0)">9</a> <a href="/skip.html" rel="nofollow">10</a>
        <a href="http://localhost:${port}/other.html">another site (by hostname)</a>`),
      "/a.html": html("<p>a</p>"),
      "/~user/": html("<p>user</p>"),
    });
    const r = await crawl({ seeds: `${server.url}/` });
    expect((await rows(r, "documents", "id")).map((d) => d.id)).toEqual([`${server.url}/`, `${server.url}/a.html`, `${server.url}/~user/`]);
    expect(Object.fromEntries(server.hits)).toEqual({ "/robots.txt": 1, "/": 1, "/a.html": 1, "/~user/": 1 });
  });

  it("stops at maxDepth and at maxPages", async () => {
    const routes: Record<string, Handler> = {};
    for (let i = 0; i < 6; i++) routes[`/${i}`] = html(`<p>page ${i}</p><a href="/${i + 1}">next</a>`);
    const server = await serve(routes);
    const deep = await crawl({ seeds: `${server.url}/0`, maxDepth: 2 });
    expect((await rows(deep, "documents", "id")).map((d) => d.id)).toEqual([0, 1, 2].map((i) => `${server.url}/${i}`));
    const many = await crawl({ seeds: `${server.url}/0`, maxDepth: 10, maxPages: 4 });
    expect(many.output.documents.rows).toBe(4);
    expect(many.logs).toContain("warn: maxPages 4 reached: links beyond it were not followed");
  });

  it("keeps to perHostConcurrency requests in flight per host, and spaces them by perHostDelayMs", async () => {
    const dir = tempDir("cellar-crawl-site-");
    const links = Array.from({ length: 20 }, (_, i) => `<a href="p${i}.html">${i}</a>`).join(" ");
    writeFileSync(join(dir, "index.html"), `<html><body><p>index</p>${links}</body></html>`);
    for (let i = 0; i < 20; i++) writeFileSync(join(dir, `p${i}.html`), `<html><body><p>page ${i}</p></body></html>`);
    const server = await startStaticServer(dir, { delayMs: 40 });
    closers.push(() => server.close());
    const two = await crawl({ seeds: `${server.url}/index.html`, perHostConcurrency: 2 });
    expect(two.output.fetched).toBe(21);
    expect(server.maxConcurrent).toBe(2);

    const spaced = await startStaticServer(dir);
    closers.push(() => spaced.close());
    const slow = await crawl({ seeds: `${spaced.url}/index.html`, perHostConcurrency: 4, perHostDelayMs: 60, maxPages: 5 });
    expect(slow.output.fetched).toBe(5);
    // 5 pages (after robots.txt) started at least 60 ms apart, although 4 could be in flight.
    const starts = spaced.log.filter((l) => l.path !== "/robots.txt").map((l) => l.at);
    expect(starts.length).toBe(5);
    // Spacing is kept where requests leave; where they arrive, one late arrival shortens the next gap
    // on a loaded machine, so each gap gets slack and their sum holds the delay.
    for (let i = 1; i < starts.length; i++) expect(starts[i] - starts[i - 1]).toBeGreaterThanOrEqual(40);
    expect(starts[4] - starts[0]).toBeGreaterThanOrEqual(4 * 60 - 5);
  });

  it("re-crawls: unchanged pages answered 304, a changed page refetched, a new page found through it", async () => {
    const dir = tempDir("cellar-crawl-recrawl-");
    mkdirSync(join(dir, "sub"));
    writeFileSync(join(dir, "index.html"), `<html><body><p>index</p><a href="a.html">a</a> <a href="sub/b.html">b</a></body></html>`);
    writeFileSync(join(dir, "a.html"), `<html><body><p>page a</p></body></html>`);
    writeFileSync(join(dir, "sub/b.html"), `<html><body><p>page b</p><a href="../a.html">a</a></body></html>`);
    const server = await startStaticServer(dir);
    closers.push(() => server.close());
    const first = await crawl({ seeds: `${server.url}/index.html` });
    expect(first.output).toMatchObject({ fetched: 3, unchanged: 0 });

    // b changes (and links to a new page c); its mtime moves so its validators change.
    writeFileSync(join(dir, "sub/b.html"), `<html><body><p>page b, revised</p><a href="c.html">c</a></body></html>`);
    writeFileSync(join(dir, "sub/c.html"), `<html><body><p>page c</p></body></html>`);
    const later = new Date(Date.now() + 5_000);
    const { utimesSync } = await import("node:fs");
    utimesSync(join(dir, "sub/b.html"), later, later);
    server.log.length = 0;
    const second = await crawl({ seeds: `${server.url}/index.html` }, first.store);
    expect(second.output).toMatchObject({ fetched: 2, unchanged: 2, failed: 0 });
    const status = Object.fromEntries((await rows(second, "documents")).map((d) => [String(d.id).slice(server.url.length), d.status]));
    expect(status).toEqual({ "/index.html": "unchanged", "/a.html": "unchanged", "/sub/b.html": "changed", "/sub/c.html": "new" });
    expect(server.log.filter((l) => l.path !== "/robots.txt").map((l) => [l.path, l.status, l.conditional]).sort()).toEqual([
      ["/a.html", 304, true],
      ["/index.html", 304, true],
      ["/sub/b.html", 200, true],
      ["/sub/c.html", 200, false],
    ]);
  });

  it("honours the cell's timeout through ctx.signal while requests are in flight", async () => {
    const server = await serve({ "/": () => {} });
    const s = await newStore();
    const p = pipeline({ id: "ingest", params: { seeds: `${server.url}/`, timeoutMs: 60_000 } })
      .cell("crawl_seeds", { cache: false, timeout: 300 }, crawlSeeds);
    const cellar = openCellar({ db: s, compute });
    const t0 = performance.now();
    const result = await cellar.run(p, { date: "2026-05-03T00:00:00Z", new: true });
    expect(performance.now() - t0).toBeLessThan(2_000);
    expect(result.state).toBe("failed");
    expect((await cellar.show(result.runId)).cells[0].error).toMatch(/timed out after 300ms$/);
  });
});

describe("helpers", () => {
  it("normalizes URLs: fragment, default port, case, dot segments, percent-encoding, empty query", () => {
    expect(normalizeUrl("HTTP://Example.COM:80/a/./b/../c%7e%2f?#top")).toBe("http://example.com/a/c~%2F");
    expect(normalizeUrl("https://example.com:443")).toBe("https://example.com/");
    expect(normalizeUrl("https://example.com:8443/x?b=1&a=2#f")).toBe("https://example.com:8443/x?b=1&a=2");
    expect(normalizeUrl("guide.html#intro", "https://example.com/docs/")).toBe("https://example.com/docs/guide.html");
    expect(normalizeUrl("mailto:someone@example.com")).toBeUndefined();
    expect(normalizeUrl("http://[bad")).toBeUndefined();
  });

  it("extracts text with a real parser: title kept, script/style/nav/header/footer and hidden chrome dropped", () => {
    const page = extractHtml(
      `<html><head><title> The  title </title><style>p{}</style><base href="https://x.org/docs/"></head><body>
       <header><a href="/home">Home</a></header><nav role="navigation">Menu</nav><div role="banner">Banner</div>
       <script>alert("<p>not text</p>")</script><noscript>enable JS</noscript>
       <h1>Heading</h1><p>One &amp; <i>two</i>&nbsp;three</p><pre>  code\n    indented</pre>
       <table><tr><td>a</td><td>b</td></tr></table><p hidden>secret</p><a href="next.html#s">next</a>
       <footer>Footer</footer></body></html>`,
      "https://x.org/docs/page.html",
    );
    expect(page.title).toBe("The title");
    expect(page.text).toBe("Heading\n\nOne & two three\n\n  code\n    indented\n\na b\n\nnext");
    expect(page.links).toEqual(["https://x.org/home", "https://x.org/docs/next.html"]);
    const robots = extractHtml(`<meta name="robots" content="noindex, nofollow"><a href="/x">x</a>`, "https://x.org/");
    expect(robots).toMatchObject({ noindex: true, nofollow: true, links: [] });
  });

  it("decodes by BOM, header, meta, XML declaration, and falls back to windows-1252 for undeclared non-UTF-8", () => {
    const bytes = (...parts: (string | number[])[]) => Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p, "latin1") : Buffer.from(p))));
    expect(decodeText(bytes([0xef, 0xbb, 0xbf], "caf", [0xc3, 0xa9]), "plain", "iso-8859-1")).toMatchObject({ ok: true, text: "café", charset: "utf-8" });
    expect(decodeText(bytes("<p>caf", [0xe9]), "html")).toMatchObject({ ok: true, text: "<p>café", charset: "windows-1252" });
    expect(decodeText(bytes("caf", [0xe9]), "plain")).toMatchObject({ ok: true, text: "café", charset: "windows-1252" });
    expect(decodeText(bytes("caf", [0xe9]), "plain", "utf-8")).toMatchObject({ ok: false, reason: "undecodable" });
    expect(decodeText(bytes("\u0000\u0001ELF"), "plain")).toMatchObject({ ok: false, reason: "not_text" });
    expect(decodeText(bytes('<?xml version="1.0" encoding="ISO-8859-1"?><p>', [0x80]), "html")).toMatchObject({ ok: true, text: '<?xml version="1.0" encoding="ISO-8859-1"?><p>€' });
    expect(decodeText(iconv.encode("Привет", "koi8-r"), "plain", "koi8-r")).toMatchObject({ ok: true, text: "Привет" });
    // A code page WHATWG TextDecoder does not know, decoded by iconv-lite.
    expect(decodeText(iconv.encode("│ box ┐", "cp437"), "plain", "cp437")).toMatchObject({ ok: true, text: "│ box ┐" });
  });

  it("splits a comma-separated seeds param without breaking a comma inside a URL", async () => {
    const seeds = await resolveSeeds(`https://example.com/search?q=a,b, ${join(FIXTURES, "docs.jsonl")} ,file://${join(FIXTURES, "local")}`);
    expect(seeds.map((s) => [s.kind, s.given])).toEqual([
      ["http", "https://example.com/search?q=a,b"],
      ["jsonl", join(FIXTURES, "docs.jsonl")],
      ["local", `file://${join(FIXTURES, "local")}`],
    ]);
  });
});
