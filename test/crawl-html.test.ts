/**
 * Hostile HTML cannot stall a crawl: extraction time is linear in the page
 * (adversarial pages at 2× size take about 2× as long), the worst page crawled
 * through crawl_seeds from a real 127.0.0.1 server finishes quickly without
 * blocking the event loop for more than 250 ms, and the linear tree builder
 * emits the same events as htmlparser2's Parser on ordinary pages.
 */
import { readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { Parser } from "htmlparser2";
import { afterAll, describe, expect, it } from "vitest";
import { ADVERSARIAL, SIZES } from "../bench/crawl-html.bench.ts";
import { crawlSeeds } from "../cells/crawl.ts";
import { extractHtml } from "../cells/crawl/html.ts";
import { LinearParser } from "../cells/crawl/tree.ts";
import { Compute } from "../kernel/compute/devices.ts";
import { openCellar, pipeline } from "../kernel/mod.ts";
import { runtime } from "../kernel/runtime/mod.ts";
import { storesClosedAfterEach } from "./helpers.ts";
import { watchLoopBlocks } from "./fixtures/loop-blocks.ts";

const compute = new Compute({ devices: "cpu" });
afterAll(() => compute.close());
const newStore = storesClosedAfterEach();

/** The worst page of bench/crawl-html.bench.ts on the old parser: 1.2 MB, 31 s of CPU. */
const worst = (n: number) => ADVERSARIAL.unclosed_spans_mismatched_divs(n);

/**
 * The least CPU time of `times` runs: on a shared machine the wall clock also counts the time other processes
 * hold the core (the 2× page's ratio then ranged 2–5 under load), while CPU time stays within a few percent.
 */
function fastest(run: () => void, times = 5): number {
  let best = Infinity;
  for (let i = 0; i < times; i++) {
    const t0 = runtime.cpuTimeMs();
    run();
    best = Math.min(best, runtime.cpuTimeMs() - t0);
  }
  return best;
}

describe("hostile HTML", () => {
  it("extracts adversarial pages in time linear in their size (4× the page, about 4× the time)", () => {
    for (const name of ["unclosed_spans_mismatched_divs", "deep_nesting"]) {
      const n = SIZES[name] / 8;
      const small = ADVERSARIAL[name](n);
      const large = ADVERSARIAL[name](4 * n);
      extractHtml(small, "http://x/"); // warm-up
      const ratio = fastest(() => extractHtml(large, "http://x/")) / fastest(() => extractHtml(small, "http://x/"));
      // Quadratic work gives about 16, linear about 4. At 2× (4 against 2) a loaded CI host measured 3.34 for
      // linear work: the process's CPU time includes V8's GC threads, whose share grows with the larger page's heap.
      expect(ratio, name).toBeLessThan(8);
    }
  });

  it("crawls the worst page through crawl_seeds from a real server without blocking the event loop > 250 ms", async () => {
    const page = `<html><head><title>Hostile</title></head><body><p>Hello hostile world</p>${worst(100_000)}</body></html>`;
    const server = createServer((req, res) => {
      if (req.url === "/hostile.html") res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(page);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hostile.html`;
    const store = await newStore();
    const p = pipeline({
      id: "ingest",
      params: {
        seeds: url, maxDepth: 1, maxPages: 10, perHostConcurrency: 4, perHostDelayMs: 0, timeoutMs: 10_000,
        maxBytes: 10_485_760, userAgent: "CellarBot/0.1",
      },
    }).cell("crawl_seeds", { cache: false }, crawlSeeds);
    const cellar = openCellar({ db: store, compute });
    const watch = watchLoopBlocks(2);
    const t0 = performance.now();
    try {
      const result = await cellar.run(p, { date: "2026-05-03T00:00:00Z", new: true });
      const seconds = (performance.now() - t0) / 1000;
      const longest = watch.stop();
      expect(result.state).toBe("success");
      const docs = await store.query(`SELECT title, text FROM ${(result.outputs.get("crawl_seeds") as { documents: { sql: string } }).documents.sql}`);
      expect(docs).toEqual([{ title: "Hostile", text: "Hello hostile world\n\nstart" }]);
      expect(seconds).toBeLessThan(5);
      expect(longest).toBeLessThan(250);
    } finally {
      watch.stop();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("emits the same open, text and close events as htmlparser2's Parser on ordinary and tricky pages", () => {
    const events = (drive: (cbs: { onopentag(n: string, a: Record<string, string>): void; ontext(t: string): void; onclosetag(n: string): void }) => void) => {
      const out: string[] = [];
      let text = "";
      const flush = () => {
        if (text) out.push(`#${text}`);
        text = "";
      };
      drive({
        onopentag: (n, a) => (flush(), out.push(`<${n} ${JSON.stringify(a)}`)),
        ontext: (t) => void (text += t),
        onclosetag: (n) => (flush(), out.push(`</${n}`)),
      });
      flush();
      return out;
    };
    const pages = [
      "<p>one<p>two<div>three</p><br></br><form><form><input></form>",
      "<svg><foreignObject><p>x</p></foreignObject><clipPath/><![CDATA[svg text]]></svg><math><mi>x</mi></math>",
      "<table><tr><td>a<td>b<tr><th>c</table><ul><li>1<li>2</ul><a href=x>l<a href=y>m</a>",
      "<title>T &amp; t</title><script>if (a<b) x='</p>'</script><!-- <p> --><textarea><b></textarea>&lt;&#x41;&nbsp",
      "<div class=A CLASS=b hidden>x</DIV><IMAGE src=i><select><option>1<option>2</select><dd>d<dt>t",
    ];
    const docs = "/usr/share/doc/postgresql-doc-15/html";
    for (const f of readdirSync(docs).filter((f) => f.endsWith(".html")).sort().slice(0, 40)) pages.push(readFileSync(join(docs, f), "utf8"));
    for (const html of pages) {
      const theirs = events((cbs) => {
        const parser = new Parser(cbs);
        parser.write(html);
        parser.end();
      });
      const ours = events((cbs) => {
        const tree = new LinearParser(html, cbs);
        while (!tree.step(1_000)) { /* small slices: events must not depend on where the page is cut */ }
      });
      expect(ours).toEqual(theirs);
    }
  });
});
