// Fuzzed HTML (issue 14, item 3): cells/crawl/html.ts and extract.ts take any page a server sends. Any text —
// well-formed trees, tag soup, arbitrary Unicode — extracts without throwing, in bounded time, into a title on
// one line, links that are normalized, crawlable and without repeats, and text with nothing of the dropped
// elements; the async extraction agrees with the synchronous one.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { extractDocument } from "../../cells/crawl/extract.ts";
import { extractHtml, extractHtmlAsync, type HtmlPage } from "../../cells/crawl/html.ts";
import { normalizeUrl } from "../../cells/crawl/url.ts";
import { FUZZ_TIMEOUT, fuzz } from "./runs.ts";

const PAGE = "https://example.org/docs/a/page.html";
/** Generous: a page of these sizes takes well under 10 ms; only a super-linear blow-up comes near. */
const MAX_MS_PER_PAGE = 2_000;

const TAGS = ["p", "div", "span", "b", "a", "h1", "h2", "li", "ul", "table", "tr", "td", "pre", "br", "title", "head", "body", "html", "nav", "script", "style", "header", "footer", "svg", "template", "noscript", "textarea", "base", "meta", "area", "iframe", "math", "xmp", "plaintext", "option", "select"];
const ATTRS = ["href", "rel", "class", "role", "hidden", "aria-hidden", "name", "content", "id", "style", "onclick"];
const attrValue = fc.oneof(
  fc.constantFrom("nofollow", "robots", "noindex, nofollow", "NOINDEX", "navigation", "navheader x", "true", "", "/b.html", "../c.html?x=1#f", "//cdn.example.org/x", "javascript:void(0)", "mailto:a@b", "http://[::1]:80/", "%%34a", "file:///etc/passwd", " https://EXAMPLE.org:443/./z "),
  fc.string({ maxLength: 12 }),
);
const attribute = fc.tuple(fc.constantFrom(...ATTRS), attrValue, fc.constantFrom(`"`, `'`, "")).map(([name, value, q]) => (q === "" ? `${name}=${value.replace(/[\s>"'=<`]/g, "")}` : `${name}=${q}${value.replaceAll(q, "")}${q}`));
const text = fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom("&amp;", "&lt;", "&#0;", "&#x110000;", "&#xD800;", "&nbsp;", "&bogus;", "\u0000", "\uD800", "\r\n", "  \t ", "]]>", "<!--", "-->", "<![CDATA[x]]>", "<?php ?>", "<!DOCTYPE html>", "</", "<", "&"));

/** Tag soup: opening and closing tags in any order, attributes, text, comments and broken markup. */
const soup = fc.array(
  fc.oneof(
    fc.tuple(fc.constantFrom(...TAGS), fc.array(attribute, { maxLength: 3 }), fc.boolean()).map(([tag, attrs, self]) => `<${tag}${attrs.map((a) => ` ${a}`).join("")}${self ? "/" : ""}>`),
    fc.constantFrom(...TAGS).map((tag) => `</${tag}>`),
    text,
  ),
  { maxLength: 40 },
).map((parts) => parts.join(""));

/** Markers put only inside elements whose content is never text. */
const SECRET = "zzsecretzz";
const DROPPING = ["script", "style", "nav", "header", "footer", "template", "noscript", "svg", "aside"];
const escaped = fc.string({ maxLength: 12 }).map((s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replaceAll(SECRET, ""));
/** A well-formed tree, each element closed, its text escaped; some subtrees dropped (with the marker inside). */
const tree = fc.letrec<{ node: string }>((tie) => ({
  node: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    escaped,
    fc.tuple(fc.constantFrom("p", "div", "span", "b", "li", "td", "h2", "section", "article", "main"), fc.array(tie("node"), { maxLength: 4 })).map(([tag, kids]) => `<${tag}>${kids.join("")}</${tag}>`),
    fc.tuple(fc.constantFrom(...DROPPING), fc.array(tie("node"), { maxLength: 2 })).map(([tag, kids]) => `<${tag}>${tag === "script" || tag === "style" ? SECRET : `${SECRET}${kids.join("").replaceAll("<script>", "").replaceAll("<style>", "")}`}</${tag}>`),
  ),
})).node;

/** A well-formed tree of visible elements and words, with the words it shows in document order. */
const visibleWord = fc.stringMatching(/^[a-z]{1,8}$/);
const visibleTree = fc.letrec<{ node: { html: string; words: string[] } }>((tie) => ({
  node: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.array(visibleWord, { minLength: 1, maxLength: 3 }).map((words) => ({ html: ` ${words.join(" ")} `, words })),
    // Block elements and cells are written against their neighbours: the extraction must part their words.
    fc.tuple(fc.constantFrom("p", "div", "li", "td", "th", "h2", "section", "blockquote", "pre", "table", "br"), fc.array(tie("node"), { maxLength: 4 }))
      .map(([tag, kids]) => ({ html: tag === "br" ? "<br>" : `<${tag}>${kids.map((k) => k.html).join("")}</${tag}>`, words: tag === "br" ? [] : kids.flatMap((k) => k.words) })),
    fc.tuple(fc.constantFrom("span", "b", "i", "em", "a", "code"), fc.array(tie("node"), { maxLength: 3 }))
      .map(([tag, kids]) => ({ html: ` <${tag}>${kids.map((k) => k.html).join("")}</${tag}> `, words: kids.flatMap((k) => k.words) })),
    fc.tuple(fc.constantFrom(...DROPPING), fc.array(visibleWord, { maxLength: 2 })).map(([tag, words]) => ({ html: `<${tag}>${SECRET} ${words.join(" ")}</${tag}>`, words: [] as string[] })),
  ),
})).node;

const anyPage = fc.oneof(soup, fc.string({ maxLength: 200 }), fc.string({ unit: "grapheme", maxLength: 100 }), fc.string({ unit: "binary", maxLength: 100 }), tree);

function expectPage(page: HtmlPage): void {
  expect(page.title).not.toMatch(/[\n\r\t]/);
  expect(page.title).toBe(page.title.trim());
  expect(typeof page.text).toBe("string");
  expect(new Set(page.links).size).toBe(page.links.length);
  for (const link of page.links) {
    expect(normalizeUrl(link)).toBe(link);
    expect(["http:", "https:", "file:"]).toContain(new URL(link).protocol);
  }
  if (page.nofollow) expect(page.links).toEqual([]);
}

describe("HTML extraction", () => {
  it("extracts any page without throwing, in bounded time, into a one-line title and normalized, unique links", () => {
    fc.assert(
      fc.property(anyPage, (html) => {
        const started = performance.now();
        const page = extractHtml(html, PAGE);
        expect(performance.now() - started).toBeLessThan(MAX_MS_PER_PAGE);
        expectPage(page);
      }),
      fuzz(),
    );
  }, FUZZ_TIMEOUT);

  it("keeps nothing of script, style, nav and the other dropped elements in the text", () => {
    fc.assert(
      fc.property(fc.array(tree, { minLength: 1, maxLength: 4 }), (nodes) => {
        const page = extractHtml(`<html><body>${nodes.join("")}</body></html>`, PAGE);
        expect(page.text).not.toContain(SECRET);
      }),
      fuzz(),
    );
  }, FUZZ_TIMEOUT);

  it("keeps every visible word of a well-formed page, in document order, and none of the dropped ones", () => {
    fc.assert(
      fc.property(fc.array(visibleTree, { minLength: 1, maxLength: 4 }), (nodes) => {
        const page = extractHtml(`<html><head><title>t</title></head><body>${nodes.map((n) => n.html).join("")}</body></html>`, PAGE);
        expect(page.text.split(/\s+/).filter((w) => w !== "")).toEqual(nodes.flatMap((n) => n.words));
      }),
      fuzz(),
    );
  }, FUZZ_TIMEOUT);

  it("finds every followed link of a page, resolved against <base href>, once", () => {
    const href = fc.oneof(fc.webPath(), fc.webUrl(), fc.constantFrom("x.html", "../up.html", "?q=1", "#top", "", "mailto:a@b.org"));
    fc.assert(
      fc.property(fc.array(fc.tuple(href, fc.boolean()), { maxLength: 8 }), fc.option(fc.webUrl()), (links, base) => {
        const html = `${base ? `<base href="${base.replaceAll('"', "%22")}">` : ""}${links.map(([h, nofollow]) => `<a href="${h.replaceAll('"', "%22").replaceAll("&", "&amp;")}"${nofollow ? ' rel="nofollow"' : ""}>x</a>`).join(" ")}`;
        const page = extractHtml(html, PAGE);
        const baseUrl = (base === null ? undefined : normalizeUrl(base, PAGE)) ?? PAGE;
        const expected = [...new Set(links.filter(([, nofollow]) => !nofollow).map(([h]) => normalizeUrl(h, baseUrl)).filter((u): u is string => u !== undefined))];
        expect(page.links).toEqual(expected);
      }),
      fuzz(),
    );
  }, FUZZ_TIMEOUT);

  it("extracts the same page in slices (extractHtmlAsync) as at once", async () => {
    await fc.assert(
      fc.asyncProperty(anyPage, async (html) => {
        expect(await extractHtmlAsync(html, PAGE)).toEqual(extractHtml(html, PAGE));
      }),
      fuzz(),
    );
  }, FUZZ_TIMEOUT);

  it("reads markdown and plain text of any content into a title on one line and normalized links (extractDocument)", () => {
    const markdown = fc.array(fc.oneof(fc.string({ maxLength: 16 }), fc.constantFrom("# ", "## T #", "```", "~~~", "[a](b.md)", "[x](<y z.md>)", "![i](p.png)", "[r]: ../r.md", "<https://x.org/>", "\n", "\r\n", "Title\n===", "[a](javascript:x)", "[a](%%34a.md)")), { maxLength: 20 }).map((parts) => parts.join(""));
    fc.assert(
      fc.property(fc.constantFrom("markdown", "plain", "html") as fc.Arbitrary<"markdown" | "plain" | "html">, fc.oneof(markdown, fc.string({ maxLength: 100 })), (kind, source) => {
        const doc = extractDocument(kind, source, "file:///srv/docs/a.md");
        expect(doc.title).not.toMatch(/[\n\r]/);
        for (const link of doc.links) expect(normalizeUrl(link)).toBe(link);
        expect(new Set(doc.links).size).toBe(doc.links.length);
      }),
      fuzz(),
    );
  }, FUZZ_TIMEOUT);
});
