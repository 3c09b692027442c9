/**
 * Issue 9 items 3, 6 and 13: local walks are safe (real symlinks, a real FIFO), a named .txt is a
 * document or a seeds list by a stated rule, a crawl stays on its seed's origin (two real servers on
 * 127.0.0.1), and a crawl that fetched nothing says why. Real files, real HTTP, real DuckDB stores.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { crawlSeeds } from "../cells/crawl.ts";
import { Compute } from "../kernel/compute/devices.ts";
import { openCellar, pipeline, type ParamValue, type TableRef } from "../kernel/mod.ts";
import { storesClosedAfterEach, tempDir } from "./helpers.ts";

const compute = new Compute({ devices: "cpu" });
afterAll(() => compute.close());
const newStore = storesClosedAfterEach();
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

async function crawl(params: Record<string, ParamValue>) {
  const s = await newStore();
  const p = pipeline({ id: "ingest", params: { seeds: "", ...params } }).cell("crawl_seeds", { cache: false }, crawlSeeds);
  const cellar = openCellar({ db: s, compute });
  const result = await cellar.run(p, { date: "2026-05-03T00:00:00Z", new: true });
  const detail = await cellar.show(result.runId, { logs: true });
  const output = result.outputs.get("crawl_seeds") as { documents: TableRef; failures: TableRef } | undefined;
  const q = async (t: "documents" | "failures") => output ? await s.query(`SELECT * FROM ${output[t].sql} ORDER BY 1`) : [];
  return {
    state: result.state, error: detail.cells[0]?.error ?? null, docs: await q("documents"), failures: await q("failures"),
    logs: detail.logs!.map((l) => l.message),
  };
}

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  closers.push(() => new Promise((r) => {
    server.closeAllConnections();
    server.close(() => r());
  }));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe("local folder seeds", () => {
  it("reads each real file once through symlink loops, and skips a FIFO unopened", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "a.md"), "# A\n\nalpha");
    mkdirSync(join(dir, "sub"));
    writeFileSync(join(dir, "sub/b.txt"), "beta");
    symlinkSync(".", join(dir, "self"));
    symlinkSync("..", join(dir, "sub/up"));
    symlinkSync("a.md", join(dir, "alias.md"));
    execFileSync("mkfifo", [join(dir, "pipe.md")]);
    const t0 = performance.now();
    const r = await crawl({ seeds: dir });
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(r.error).toBeNull();
    expect(r.docs.map((d) => d.title).sort()).toEqual(["A", "beta"]);
    expect(r.failures.map((f) => [String(f.url).replace(/^.*\//, ""), f.reason])).toEqual([["pipe.md", "not_a_file"]]);
  }, 20_000);

  it("reads a named .txt of prose as a document, one of seeds as a list, and refuses a mix", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "notes.txt"), "Some notes about things.\nMore of them.\n");
    writeFileSync(join(dir, "a.md"), "# A\n\nalpha");
    writeFileSync(join(dir, "list.txt"), "# seeds\na.md\n");
    writeFileSync(join(dir, "mixed.txt"), "a.md\nnot a seed\n");
    const doc = await crawl({ seeds: join(dir, "notes.txt") });
    expect(doc.error).toBeNull();
    expect(doc.docs.map((d) => d.text)).toEqual(["Some notes about things.\nMore of them."]);
    const list = await crawl({ seeds: join(dir, "list.txt") });
    expect(list.docs.map((d) => d.title)).toEqual(["A"]);
    const mixed = await crawl({ seeds: join(dir, "mixed.txt") });
    expect(mixed.error).toMatch(/^seeds file \S*mixed\.txt line 2: "not a seed" is not one seed.*; and line 1 is a seed, so .* is neither all seeds nor a document: .*seedsFile=list.*seedsFile=document/);
    const chosen = await crawl({ seeds: join(dir, "mixed.txt"), seedsFile: "document" });
    expect(chosen.docs.length).toBe(1);
  });
});

describe("the site", () => {
  it("does not follow a redirect to another port (off_site), unless allowHosts widens the site", async () => {
    const other = await serve((_req, res) => void res.writeHead(200, { "content-type": "text/html" }).end("<p>other server</p>"));
    const site = await serve((req, res) => {
      if (req.url === "/") res.writeHead(200, { "content-type": "text/html" }).end(`<p>home</p><a href="/go">go</a>`);
      else if (req.url === "/go") res.writeHead(302, { location: `${other}/page` }).end();
      else res.writeHead(404).end();
    });
    const r = await crawl({ seeds: `${site}/` });
    expect(r.docs.map((d) => d.id)).toEqual([`${site}/`]);
    expect(r.failures.map((f) => [f.url, f.reason])).toEqual([[`${site}/go`, "off_site"]]);
    const wide = await crawl({ seeds: `${site}/`, allowHosts: new URL(other).host });
    expect(wide.docs.map((d) => d.id).sort()).toEqual([`${site}/`, `${other}/page`].sort());
  });

  it("does not follow links to another port or host name, and says how many it left", async () => {
    let otherRequests = 0;
    const other = await serve((_req, res) => void (otherRequests++, res.writeHead(200, { "content-type": "text/html" }).end("<p>x</p>")));
    const site = await serve((req, res) => {
      const port = new URL(`http://${req.headers.host}`).port;
      if (req.url === "/") {
        res.writeHead(200, { "content-type": "text/html" })
          .end(`<p>home</p><a href="${other}/a">a</a><a href="http://localhost:${port}/b">b</a><a href="${other}/a">again</a>`);
      } else res.writeHead(404).end();
    });
    const r = await crawl({ seeds: `${site}/` });
    expect(r.docs.map((d) => d.id)).toEqual([`${site}/`]);
    expect(r.failures).toEqual([]);
    expect(otherRequests).toBe(0);
    expect(r.logs).toContain("2 links off the site (another scheme, host or port) not followed; allowHosts widens the site");
  });
});

describe("nothing fetched", () => {
  it("lists the first failures with URL and reason", async () => {
    const site = await serve((_req, res) => void res.writeHead(404).end());
    const r = await crawl({ seeds: `${site}/gone.html` });
    expect(r.state).toBe("failed");
    expect(r.error).toContain(`first failures: ${site}/gone.html: http_status (404 Not Found)`);
  });
});
