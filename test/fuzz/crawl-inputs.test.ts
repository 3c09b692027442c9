// Fuzzed crawl inputs (issue 14, item 3): the seeds param and seeds files (cells/crawl/seeds.ts), JSONL
// records (jsonl.ts) and local paths and their links (local.ts). A recording sink stands where the crawl
// cell's table sink goes (that one needs a cell's context): it only collects what the reader emits.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { readJsonl } from "../../cells/crawl/jsonl.ts";
import { isPlaceholder } from "../../cells/document.ts";
import { crawlLocal } from "../../cells/crawl/local.ts";
import { Budget, Progress } from "../../cells/crawl/progress.ts";
import { resolveSeeds } from "../../cells/crawl/seeds.ts";
import type { Sink } from "../../cells/crawl/sink.ts";
import type { Failure } from "../../cells/crawl/types.ts";
import { normalizeUrl } from "../../cells/crawl/url.ts";
import { expectOneLineError, FUZZ_TIMEOUT, fuzz, valueOrOneLineErrorAsync } from "./runs.ts";

interface Doc {
  id: string;
  url: string | null;
  title: string;
  text: string;
}

/** What a reader gave the sink: documents (ids unique, as the table sink keeps them) and failures. */
function recordingSink() {
  const documents: Doc[] = [];
  const failures: Failure[] = [];
  const ids = new Set<string>();
  const sink = {
    has: (id: string) => ids.has(id),
    document: (doc: Doc) => {
      expect(ids.has(doc.id), `document ${doc.id} stored twice`).toBe(false);
      ids.add(doc.id);
      documents.push(doc);
      return Promise.resolve();
    },
    failure: (f: Failure) => (failures.push(f), Promise.resolve()),
  };
  return { sink: sink as unknown as Sink, documents, failures };
}

const root = mkdtempSync(join(tmpdir(), "cellar-fuzz-crawl-"));
let serial = 0;
const fresh = (name: string) => {
  const dir = join(root, `c${++serial}`);
  mkdirSync(dir);
  return join(dir, name);
};

describe("JSONL records", () => {
  const idValue = fc.oneof(fc.string({ maxLength: 6 }), fc.integer({ min: -5, max: 1e6 }), fc.double(), fc.constantFrom("", " ", "a\nb", "1#2", null, true, [1], {}));
  const textValue = fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom("None", "null", "N/A", " ", "", "\u0000", "a\r\nb"), fc.constant(null), fc.integer());
  const record = fc.record({ id: idValue, title: textValue, text: textValue, url: fc.oneof(fc.webUrl(), fc.constant(null), fc.integer()) }, { requiredKeys: [] });
  const lineArb = fc.oneof(
    { weight: 4, arbitrary: record.map((r) => JSON.stringify(r)) },
    { weight: 1, arbitrary: fc.oneof(fc.string({ maxLength: 20 }), fc.json(), fc.constantFrom("", " ", "\r", "[1]", "null", '"x"', "{", '{"id":"a"\r,"text":"t"}', '{"id":1,"text":"x"}\r')) },
  );
  const bytesOf = (lines: string[], eol: string, end: string) => new TextEncoder().encode(lines.join(eol) + end);

  it("reads any file into documents and failures that each name their line, one per non-blank line", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(lineArb, { maxLength: 8 }), fc.constantFrom("\n", "\r\n"), fc.constantFrom("", "\n"), fc.option(fc.uint8Array({ maxLength: 6 })), async (lines, eol, end, junk) => {
        const path = fresh("docs.jsonl");
        const bytes = bytesOf(lines, eol, end);
        writeFileSync(path, junk ? Buffer.concat([bytes, junk]) : bytes);
        const { sink, documents, failures } = recordingSink();
        const read = await readJsonl({ path, given: "docs.jsonl" }, { sink, signal: new AbortController().signal, progress: new Progress(() => {}) });
        expect(read.documents).toBe(documents.length);
        for (const f of failures) {
          expect(f.detail).toMatch(/^line \d+: /);
          expect(f.detail).not.toMatch(/[\n\r]/);
          expect(Number(/^line (\d+)/.exec(f.detail)![1])).toBeLessThanOrEqual(read.lines);
        }
        for (const doc of documents) {
          expect(doc.id.startsWith("docs.jsonl#")).toBe(true);
          expect(doc.text.trim()).not.toBe("");
        }
        if (!junk) {
          const nonBlank = lines.join(eol).split("\n").filter((l) => l.replace(/\r$/, "").trim() !== "").length;
          expect(documents.length + failures.length).toBe(nonBlank);
        }
      }),
      fuzz(),
    );
  }, FUZZ_TIMEOUT);

  it("reads back the records written: id, title and text (a placeholder text is the title)", async () => {
    const good = fc.uniqueArray(fc.record({ id: fc.oneof(fc.string({ minLength: 1, maxLength: 6 }), fc.nat()), title: fc.string({ maxLength: 8 }), text: fc.string({ minLength: 1, maxLength: 20 }).filter((t) => !isPlaceholder(t)) }), { selector: (r) => String(r.id), maxLength: 6 });
    await fc.assert(
      fc.asyncProperty(good, async (records) => {
        const path = fresh("good.jsonl");
        writeFileSync(path, records.map((r) => JSON.stringify(r)).join("\n"));
        const { sink, documents, failures } = recordingSink();
        await readJsonl({ path, given: "g" }, { sink, signal: new AbortController().signal, progress: new Progress(() => {}) });
        expect(failures).toEqual([]);
        expect(documents.map((d) => [d.id, d.title, d.text])).toEqual(records.map((r) => [`g#${r.id}`, r.title, r.text]));
      }),
      fuzz(),
    );
  }, FUZZ_TIMEOUT);
});

describe("the seeds param and seeds files", () => {
  const dir = join(root, "seeds");
  mkdirSync(join(dir, "folder"), { recursive: true });
  mkdirSync(join(dir, "with space"), { recursive: true });
  for (const name of ["a.html", "b.md", "c.txt", "d.jsonl", "e.bin", "odd,name.html", "100%.html", "q#x.md", "with space/f.htm"]) writeFileSync(join(dir, name), "<p>x</p>\n");
  writeFileSync(join(dir, "list.seeds"), `https://example.org/\n# comment\n${join(dir, "a.html")}  # trailing\nfolder\n`);
  const local = fc.constantFrom("a.html", "b.md", "c.txt", "d.jsonl", "e.bin", "folder", "folder/", "nope.html", "odd,name.html", "100%.html", "q#x.md", "with space", "list.seeds", ".", "..", "").map((name) => join(dir, name));
  const piece = fc.oneof(
    local,
    local.map((p) => pathToFileURL(p).href),
    fc.webUrl({ withFragments: true, withQueryParameters: true }),
    fc.constantFrom("file:///tmp/a%0Ab.html", "file:///tmp/%E2%80%A8.md", "ftp://x.org/", "http://", "https://exa mple.org/", "HTTP://X.ORG", "file://", "file:///no/such", "mailto:a@b", "http://[::1", "https://x.org/?a=1,2", " "),
    fc.string({ maxLength: 10 }),
  );
  const param = fc.oneof(
    fc.array(piece, { minLength: 1, maxLength: 4 }).map((xs) => xs.join(",")),
    fc.array(piece, { maxLength: 3 }),
    fc.anything(),
  );

  it("reads any param into normalized, existing, deduplicated seeds, or refuses in one line naming the param or the file", async () => {
    await fc.assert(
      fc.asyncProperty(param, fc.constantFrom("auto", "list", "document") as fc.Arbitrary<"auto" | "list" | "document">, async (p, mode) => {
        const read = await valueOrOneLineErrorAsync(() => resolveSeeds(p, mode));
        if (!read.ok) {
          expect(read.error.message).toMatch(/^(param seeds|seeds file)/);
          return;
        }
        expect(read.value.length).toBeGreaterThan(0);
        const keys = read.value.map((s) => (s.kind === "http" ? s.url : `${s.kind}:${s.path}`));
        expect(new Set(keys).size).toBe(keys.length);
        for (const seed of read.value) {
          if (seed.kind === "http") expect(normalizeUrl(seed.url)).toBe(seed.url);
          else expect(seed.path.startsWith("/")).toBe(true);
          if (seed.kind === "jsonl") expect(seed.path).toMatch(/\.(jsonl|ndjson)$/);
        }
      }),
      fuzz(),
    );
  }, FUZZ_TIMEOUT);

  it("reads any seeds file into seeds or refuses it in one line naming the file, and the line when one is bad", async () => {
    const line = fc.oneof(piece, fc.constantFrom("# c", "   ", "x # c", "\t#", "https://x.org/#frag"));
    await fc.assert(
      fc.asyncProperty(fc.array(line, { maxLength: 5 }), fc.constantFrom("s.seeds", "s.txt", "seeds"), fc.constantFrom("\n", "\r\n"), async (lines, name, eol) => {
        const file = fresh(name);
        writeFileSync(file, lines.join(eol));
        const read = await valueOrOneLineErrorAsync(() => resolveSeeds(file));
        if (!read.ok) expect(read.error.message).toContain(file);
      }),
      fuzz(),
    );
  }, FUZZ_TIMEOUT);
});

describe("local paths", () => {
  /** File names as people make them: spaces, %, #, ?, unicode, dots; the kinds read and others. */
  const name = fc.tuple(fc.oneof(fc.string({ minLength: 1, maxLength: 6 }).map((s) => s.replaceAll("/", "_").replaceAll("\u0000", "_")), fc.constantFrom("a b", "100%", "%41", "q#x", "w?y", "é", "..x", "-", "x\ny")), fc.constantFrom(".html", ".md", ".txt", ".htm", ".markdown", ".bin", ""))
    .map(([base, ext]) => `${base}${ext}`).filter((n) => n !== "." && n !== "..");
  const tree = fc.uniqueArray(fc.tuple(fc.constantFrom("", "sub/", "sub/deeper/", ".hidden/"), name), { selector: ([d, n]) => `${d}${n}`, minLength: 1, maxLength: 8 });

  it("stores each real file once, under its normalized file:// URL inside the root, following links between them", async () => {
    await fc.assert(
      fc.asyncProperty(tree, fc.array(fc.nat(7), { maxLength: 8 }), async (files, linkTo) => {
        const dir = join(root, `local${++serial}`);
        const paths = files.map(([d, n]) => join(dir, d, n));
        for (const [i, path] of paths.entries()) {
          mkdirSync(join(path, ".."), { recursive: true });
          const target = paths[linkTo[i] ?? 0] ?? paths[0];
          const href = pathToFileURL(target).href.replace(pathToFileURL(dir).href, ".");
          writeFileSync(path, path.endsWith(".md") ? `# T\n\n[l](${href.replaceAll(")", "%29")})` : `<title>t</title><p>text ${i}</p><a href="${href.replaceAll('"', "%22")}">l</a>`);
        }
        const { sink, documents, failures } = recordingSink();
        const options = { maxDepth: 3, maxPages: 100, perHostConcurrency: 1, perHostDelayMs: 0, timeoutMs: 1000, maxBytes: 1 << 20, userAgent: "x", allowHosts: [] };
        await crawlLocal([{ path: dir, directory: true }], { options, signal: new AbortController().signal, sink, budget: new Budget(100), progress: new Progress(() => {}) });
        const rootUrl = `${pathToFileURL(dir).href}/`;
        for (const doc of documents) {
          expect(normalizeUrl(doc.id)).toBe(doc.id);
          expect(doc.id.startsWith(rootUrl)).toBe(true);
        }
        for (const f of failures) expect(f.reason).not.toBe("unreadable");
        // Every supported, visible file is stored (or failed as empty): none is lost; a hidden one only when linked to.
        const supported = files.filter(([, n]) => /\.(html|htm|md|markdown|txt)$/.test(n));
        const visible = supported.filter(([d, n]) => !d.startsWith(".") && !n.startsWith(".")).length;
        const stored = documents.length + failures.filter((f) => f.reason === "empty").length;
        expect(stored).toBeGreaterThanOrEqual(visible);
        expect(stored).toBeLessThanOrEqual(supported.length);
      }),
      fuzz({}, 0.3),
    );
  }, FUZZ_TIMEOUT);
});

describe("regressions", () => {
  it("a JSONL line that is not JSON, with a CR inside, fails with a one-line detail", async () => {
    const path = fresh("cr.jsonl");
    writeFileSync(path, '{"id": 1,\r"text": x}\n\r\u0000\n');
    const { sink, failures } = recordingSink();
    await readJsonl({ path, given: "cr.jsonl" }, { sink, signal: new AbortController().signal, progress: new Progress(() => {}) });
    expect(failures.map((f) => f.reason)).toEqual(["invalid_json", "invalid_json"]);
    for (const f of failures) expect(f.detail).not.toMatch(/[\n\r]/);
  });

  it("a file:// seed whose path has an escaped line break is named on one line", async () => {
    const err = await resolveSeeds(`file://${root}/no%0Asuch.html`).then(() => undefined, (e: unknown) => e);
    expectOneLineError(err, "no%0Asuch.html");
  });

  it("a seeds file whose name has a line break is named on one line", async () => {
    const file = fresh("bad\nname.seeds");
    writeFileSync(file, "ftp://x.org/\n");
    const err = await resolveSeeds(file).then(() => undefined, (e: unknown) => e);
    expectOneLineError(err, "bad\\nname.seeds");
  });
});
