/**
 * The web crawl's page extractor (cells/crawl/page-extractor.ts): a small crawl never starts its worker;
 * a big one's pages come out of the worker exactly as they do on the main thread; a page that holds the
 * worker past its time bound is that page's `timeout` failure, its worker is stopped, and the pages
 * queued behind it are extracted by a new one; and the main thread's event loop keeps running meanwhile.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ADVERSARIAL } from "../bench/crawl-html.bench.ts";
import { PageExtractor } from "../cells/crawl/page-extractor.ts";
import { runtime } from "../kernel/runtime/mod.ts";
import { watchLoopBlocks } from "./fixtures/loop-blocks.ts";

const PG_DOCS = "/usr/share/doc/postgresql-doc-15/html";
const encode = (html: string) => new TextEncoder().encode(html);

/** Waits until the extractor sends pages to its worker (it has answered its probe page). */
async function workerUp(extractor: PageExtractor): Promise<void> {
  const until = performance.now() + 30_000;
  while (!extractor.inWorker) {
    if (performance.now() > until) throw new Error("the extraction worker did not start within 30 s");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("PageExtractor", () => {
  it("extracts on the main thread while the crawl is small, and never starts a worker", async () => {
    const extractor = new PageExtractor({ signal: new AbortController().signal, workerAfter: 24 });
    try {
      extractor.found(24);
      const r = await extractor.extract({ bytes: encode("<title>T</title><p>Hello</p>"), kind: "html", url: "http://x.org/" });
      expect(r).toMatchObject({ ok: true, doc: { title: "T", text: "Hello" } });
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(extractor.inWorker).toBe(false);
      expect(extractor.backlog).toBe(0);
    } finally {
      extractor.close();
    }
  });

  it("gives the same documents from its worker as from the main thread, decoding failures included", async () => {
    const pages = readdirSync(PG_DOCS).filter((f) => f.endsWith(".html")).sort().slice(0, 40)
      .map((f) => ({ bytes: new Uint8Array(readFileSync(join(PG_DOCS, f))), kind: "html" as const, url: `http://127.0.0.1/${f}` }));
    pages.push({ bytes: new Uint8Array([0xc3, 0x28, 0x3c]), kind: "html", url: "http://127.0.0.1/bad.html", charset: "utf-8" } as never);
    const inThread = new PageExtractor({ signal: new AbortController().signal, workerAfter: Infinity });
    const inWorker = new PageExtractor({ signal: new AbortController().signal, workerAfter: 0 });
    try {
      inWorker.found(1);
      await workerUp(inWorker);
      pages.push({ bytes: encode("<p>caf\u00e9 \u{1f600} \ud800</p>"), kind: "html", url: "http://127.0.0.1/utf.html" });
      const expected = await Promise.all(pages.map((p) => inThread.extract(p)));
      const got = await Promise.all(pages.map((p) => inWorker.extract(p)));
      expect(inWorker.inWorker).toBe(true);
      // The worker also hashes each text, as the sink would.
      for (const r of got) if (r.ok) expect(r.hash).toBe(runtime.sha256Hex(r.doc.text));
      expect(got.map((r) => (r.ok ? { ok: true, doc: r.doc } : r))).toEqual(expected);
      expect(got.at(-2)).toMatchObject({ ok: false, reason: "undecodable" });
      expect(expected.filter((r) => r.ok && r.doc.text.length > 100).length).toBe(40);
    } finally {
      inThread.close();
      inWorker.close();
    }
  });

  it("stops a worker held past a page's time bound, fails that page, and extracts the pages behind it in a new one", async () => {
    const extractor = new PageExtractor({ signal: new AbortController().signal, workerAfter: 0, baseMs: 150, msPerMb: 0 });
    let blocks: ReturnType<typeof watchLoopBlocks> | undefined;
    try {
      extractor.found(1);
      await workerUp(extractor);
      blocks = watchLoopBlocks(5);
      // About 1 s of parsing per MB even on the linear tree builder: far over a 150 ms bound.
      const hostile = encode(ADVERSARIAL.unclosed_spans_mismatched_divs(400_000));
      const t0 = performance.now();
      const [bad, good] = await Promise.all([
        extractor.extract({ bytes: hostile, kind: "html", url: "http://127.0.0.1/hostile.html" }),
        extractor.extract({ bytes: encode("<title>After</title><p>still here</p>"), kind: "html", url: "http://127.0.0.1/after.html" }),
      ]);
      const seconds = (performance.now() - t0) / 1000;
      expect(bad).toMatchObject({ ok: false, reason: "timeout" });
      expect(bad.ok ? "" : bad.detail).toMatch(/^extraction took over 150 ms; its worker was stopped$/);
      expect(good).toMatchObject({ ok: true, doc: { title: "After", text: "still here" } });
      expect(seconds).toBeLessThan(hostile.length / 1_048_576);
      expect(extractor.inWorker).toBe(true);
      const again = await extractor.extract({ bytes: encode("<p>third</p>"), kind: "html", url: "http://127.0.0.1/3.html" });
      expect(again).toMatchObject({ ok: true, doc: { text: "third" } });
      expect(blocks.stop()).toBeLessThan(250);
    } finally {
      blocks?.stop();
      extractor.close();
    }
  });

  it("fails the pages it holds with the crawl's abort", async () => {
    const controller = new AbortController();
    const extractor = new PageExtractor({ signal: controller.signal, workerAfter: 0 });
    extractor.found(1);
    await workerUp(extractor);
    const pending = extractor.extract({ bytes: encode(ADVERSARIAL.deep_nesting(200_000)), kind: "html", url: "http://127.0.0.1/deep.html" });
    controller.abort(new Error("cell cancelled"));
    await expect(pending).rejects.toThrow("cell cancelled");
    await expect(extractor.extract({ bytes: encode("<p>x</p>"), kind: "html", url: "http://127.0.0.1/x.html" })).rejects.toThrow("cell cancelled");
  });
});

describe("CELLAR_CRAWL_WORKER", () => {
  const saved = process.env.CELLAR_CRAWL_WORKER;
  const restore = () => (saved === undefined ? delete process.env.CELLAR_CRAWL_WORKER : (process.env.CELLAR_CRAWL_WORKER = saved));

  it("starts the worker for a big crawl with always, never with never, and refuses anything else in one line", async () => {
    try {
      process.env.CELLAR_CRAWL_WORKER = "never";
      const never = new PageExtractor({ signal: new AbortController().signal });
      never.found(10_000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(never.inWorker).toBe(false);
      never.close();
      process.env.CELLAR_CRAWL_WORKER = "always";
      const always = new PageExtractor({ signal: new AbortController().signal });
      always.found(24);
      expect(always.inWorker).toBe(false);
      always.found(25);
      await workerUp(always);
      always.close();
      process.env.CELLAR_CRAWL_WORKER = "sometimes";
      expect(() => new PageExtractor({ signal: new AbortController().signal })).toThrow(
        /^CELLAR_CRAWL_WORKER: expected always or never \(or unset: a worker on hosts of more than 2 cores\), got "sometimes"$/,
      );
    } finally {
      restore();
    }
  });
});
